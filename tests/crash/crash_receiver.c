/*
 * The receiving client of test_crash_client, in a process of its own so that the test can
 * SIGKILL it at any moment. It connects as USER with a file store and writes every message
 * callback to the delivery log ("begin", then DELAY_US of work, then "end"; crashtest.h).
 *
 *   crash_receiver URL USER STORE LOG DELAY_US
 *
 * It runs until killed. Exit status 2: bad arguments or the client could not be created.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "crashtest.h"

struct recv_ctx {
    int fd;
    unsigned delay_us;
};

static void on_event(const struct e2ee_event *ev, void *user)
{
    const struct recv_ctx *x = user;
    cr_log_event(x->fd, ev, x->delay_us);
}

static void on_log(enum e2ee_log_level level, const char *line, void *user)
{
    (void)user;
    if (level == E2EE_LOG_ERROR || getenv("E2EE_CRASH_TEST_LOG"))
        fprintf(stderr, "[receiver %d] %s\n", (int)level, line);
}

int main(int argc, char **argv)
{
    struct e2ee_client_config cfg;
    struct recv_ctx x;
    e2ee_client *c = NULL;
    int rc;

    if (argc != 6) {
        fprintf(stderr, "usage: crash_receiver URL USER STORE LOG DELAY_US\n");
        return 2;
    }
    x.fd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    x.delay_us = (unsigned)strtoul(argv[5], NULL, 10);
    if (x.fd < 0) {
        perror("crash_receiver: log");
        return 2;
    }
    cr_log_line(x.fd, "start");
    e2ee_client_config_init(&cfg);
    cfg.relay_url = argv[1];
    cfg.user_id = argv[2];
    cfg.store_path = argv[3];
    cfg.reconnect_min_ms = 50;
    cfg.reconnect_max_ms = 400;
    cfg.event_cb = on_event;
    cfg.user_data = &x;
    cfg.log_cb = on_log;
    cfg.log_level = E2EE_LOG_DEBUG;
    rc = e2ee_client_new(&c, &cfg);
    if (rc == E2EE_OK)
        rc = e2ee_client_connect(c);
    if (rc == E2EE_OK)
        rc = e2ee_client_loop_forever(c);
    fprintf(stderr, "crash_receiver: %s\n", e2ee_errname(rc));
    e2ee_client_free(c);
    close(x.fd);
    return 2;
}
