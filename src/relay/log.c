/* e2ee relay: log lines on stderr. */
#include "relay/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int g_level = E2EE_RLOG_INFO;
static const char *const k_names[] = {"error", "warn", "info", "debug"};

void e2ee__rlog_set_level(int level)
{
    if (level >= E2EE_RLOG_ERROR && level <= E2EE_RLOG_DEBUG)
        g_level = level;
}

int e2ee__rlog_enabled(int level)
{
    return level <= g_level;
}

int e2ee__rlog_parse_level(const char *s)
{
    for (int i = 0; s && i < 4; i++) {
        if (strcmp(s, k_names[i]) == 0)
            return i;
    }
    return -1;
}

void e2ee__rlog(int level, const char *fmt, ...)
{
    static const char *const upper[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    char line[1024], stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    if (level > g_level || level < 0)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, ts.tv_nsec / 1000000L, upper[level], line);
}
