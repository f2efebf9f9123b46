/* e2ee benchmarks: timing helpers shared by the bench programs. */
#ifndef E2EE_BENCHUTIL_H
#define E2EE_BENCHUTIL_H

#include <stdint.h>

/* Monotonic time in nanoseconds. */
uint64_t bu_now_ns(void);

/*
 * Runs fn(arg) in batches until at least min_seconds have passed (and at least one batch)
 * and returns operations per second. fn performs `batch` operations per call.
 */
double bu_rate(void (*fn)(void *arg, unsigned batch), void *arg, unsigned batch,
               double min_seconds);

/* Seconds each figure is measured for: env E2EE_BENCH_SECONDS, default 1.0. */
double bu_seconds(void);

/* Prints the machine line (CPU model, cores) once, as a comment line starting with '#'. */
void bu_print_machine(const char *program);

#endif
