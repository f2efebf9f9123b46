/* e2ee client: log lines for the application's log callback (never keys or message data). */
#include <stdio.h>

#include "client/client_internal.h"

void e2ee__client_log(struct e2ee_client *c, enum e2ee_log_level level, const char *fmt, ...)
{
    char line[E2EE__CLIENT_LOG_LINE_MAX];
    va_list ap;

    if (c && c->log_cb && level <= c->log_level) {
        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        c->log_cb(level, line, c->log_user_data);
    }
}
