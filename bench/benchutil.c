/* e2ee benchmarks: timing helpers. */
#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t bu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double bu_rate(void (*fn)(void *arg, unsigned batch), void *arg, unsigned batch,
               double min_seconds)
{
    fn(arg, batch); /* warm-up */
    uint64_t start = bu_now_ns(), end, ops = 0;
    do {
        fn(arg, batch);
        ops += batch;
        end = bu_now_ns();
    } while ((double)(end - start) < min_seconds * 1e9);
    return (double)ops * 1e9 / (double)(end - start);
}

double bu_seconds(void)
{
    const char *s = getenv("E2EE_BENCH_SECONDS");
    double v = s ? atof(s) : 0;
    return v > 0 ? v : 1.0;
}

void bu_print_machine(const char *program)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    snprintf(model, sizeof model, "%s", c + 2);
                    model[strcspn(model, "\n")] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    printf("# %s on %s, %ld cores online\n", program, model, sysconf(_SC_NPROCESSORS_ONLN));
}
