/*
 * e2ee example: a group echo bot. Joins GROUP (creating it when it does not exist) and
 * answers every text of the other members with "echo: TEXT", until SIGINT or SIGTERM.
 * Only the public API (e2ee/e2ee.h); the client runs its own loop thread.
 *
 *   e2ee-example-echo-bot RELAY_URL USER STORE_FILE GROUP
 */
#include <e2ee/e2ee.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CALL_TIMEOUT_MS 10000
#define REPLY_MAX (E2EE_TEXT_MAX + 1)

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* Runs on the client's loop thread; e2ee_client_send_group() may be called from here. */
static void on_event(const struct e2ee_event *ev, void *user_data)
{
    static char reply[REPLY_MAX];
    e2ee_client *c = *(e2ee_client **)user_data;

    if (ev->type == E2EE_EVENT_GROUP_TEXT) {
        snprintf(reply, sizeof reply, "echo: %s", (const char *)ev->group_msg.data);
        if (e2ee_client_send_group(c, ev->group_msg.group, reply, NULL) != E2EE_OK)
            fprintf(stderr, "echo to %s failed\n", ev->group_msg.group);
    } else if (ev->type == E2EE_EVENT_MEMBER_JOIN) {
        printf("%s joined %s\n", ev->member.user, ev->member.group);
    } else if (ev->type == E2EE_EVENT_E2EE_ERROR) {
        fprintf(stderr, "dropped a message: %s\n", ev->e2ee_error.text);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct e2ee_client_config cfg;
    e2ee_client *c = NULL;
    int rc;

    if (argc != 5) {
        fprintf(stderr, "usage: %s RELAY_URL USER STORE_FILE GROUP\n", argv[0]);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    e2ee_client_config_init(&cfg);
    cfg.relay_url = argv[1];
    cfg.user_id = argv[2];
    cfg.store_path = argv[3];
    cfg.event_cb = on_event;
    cfg.user_data = &c;
    rc = e2ee_client_new(&c, &cfg);
    if (rc == E2EE_OK)
        rc = e2ee_client_loop_start(c);
    if (rc == E2EE_OK)
        rc = e2ee_client_connect(c);
    if (rc == E2EE_OK)
        rc = e2ee_client_join_group_wait(c, argv[4], CALL_TIMEOUT_MS);
    if (rc == E2EE_ERR_NO_SUCH_GROUP)
        rc = e2ee_client_create_group_wait(c, argv[4], CALL_TIMEOUT_MS);
    if (rc == E2EE_ERR_EXISTS) /* a member already (a restart) */
        rc = E2EE_OK;
    if (rc != E2EE_OK) {
        fprintf(stderr, "cannot start: %s\n", e2ee_strerror(rc));
        e2ee_client_free(c);
        return 1;
    }
    printf("echoing in %s\n", argv[4]);
    fflush(stdout);
    while (!g_stop)
        pause();
    e2ee_client_loop_stop(c);
    e2ee_client_free(c);
    return 0;
}
