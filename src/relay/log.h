/*
 * e2ee relay: logging. One line per event of note on stderr:
 *   2024-05-01T12:00:00.123Z INFO login user=alice registered=1
 * Levels error < warn < info < debug. Callers never pass keys, signatures, ciphertext or
 * payload bytes: only ids, counts, codes and sizes.
 */
#ifndef E2EE_RELAY_LOG_H
#define E2EE_RELAY_LOG_H

enum e2ee__rlog_level {
    E2EE_RLOG_ERROR = 0,
    E2EE_RLOG_WARN = 1,
    E2EE_RLOG_INFO = 2,
    E2EE_RLOG_DEBUG = 3,
};

void e2ee__rlog_set_level(int level);
int e2ee__rlog_enabled(int level);
/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int e2ee__rlog_parse_level(const char *s);
void e2ee__rlog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define RLOG_ERROR(...) e2ee__rlog(E2EE_RLOG_ERROR, __VA_ARGS__)
#define RLOG_WARN(...) e2ee__rlog(E2EE_RLOG_WARN, __VA_ARGS__)
#define RLOG_INFO(...) e2ee__rlog(E2EE_RLOG_INFO, __VA_ARGS__)
#define RLOG_DEBUG(...)                                 \
    do {                                                \
        if (e2ee__rlog_enabled(E2EE_RLOG_DEBUG))        \
            e2ee__rlog(E2EE_RLOG_DEBUG, __VA_ARGS__);   \
    } while (0)

#endif
