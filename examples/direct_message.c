/*
 * e2ee example: a direct message. Sends TEXT to PEER and waits until it is delivered; without
 * TEXT, prints the direct messages that arrive. Only the public API (e2ee/e2ee.h).
 *
 *   e2ee-example-dm RELAY_URL USER STORE_FILE PEER [TEXT]
 *   e2ee-example-dm ws://127.0.0.1:8765 alice alice.e2ee bob "hello bob"
 */
#include <e2ee/e2ee.h>
#include <stdio.h>
#include <string.h>

#define WAIT_ROUNDS 300 /* 100 ms each: give up after 30 s */

struct app {
    char msg_id[E2EE_MSG_ID_SIZE];
    int done;   /* 1: delivered; -1: failed */
    int listen; /* no TEXT: print what arrives */
};

static void on_event(const struct e2ee_event *ev, void *user_data)
{
    struct app *app = user_data;
    switch (ev->type) {
    case E2EE_EVENT_CONNECT:
        printf("connected%s\n", ev->connect.registered ? " (new user registered)" : "");
        break;
    case E2EE_EVENT_DISCONNECT:
        printf("disconnected: %s\n", e2ee_strerror(ev->disconnect.code));
        break;
    case E2EE_EVENT_DIRECT_TEXT:
        printf("%s: %s\n", ev->direct.from, (const char *)ev->direct.data);
        break;
    case E2EE_EVENT_MESSAGE_ACK:
        if (strcmp(ev->ack.msg_id, app->msg_id) != 0)
            break;
        if (ev->ack.state == E2EE_ACK_SENT)
            printf("sent\n");
        else if (ev->ack.state == E2EE_ACK_DELIVERED)
            app->done = 1;
        else
            app->done = -1;
        break;
    case E2EE_EVENT_PEER_IDENTITY_CHANGED:
        printf("warning: %s has a new identity key (%s)\n", ev->identity.user,
               ev->identity.new_fingerprint);
        break;
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    struct e2ee_client_config cfg;
    struct app app = {.listen = argc == 5};
    e2ee_client *c = NULL;
    int rc;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s RELAY_URL USER STORE_FILE PEER [TEXT]\n", argv[0]);
        return 2;
    }
    e2ee_client_config_init(&cfg);
    cfg.relay_url = argv[1];
    cfg.user_id = argv[2];
    cfg.store_path = argv[3];
    cfg.event_cb = on_event;
    cfg.user_data = &app;
    rc = e2ee_client_new(&c, &cfg);
    if (rc != E2EE_OK) {
        fprintf(stderr, "cannot start: %s\n", e2ee_strerror(rc));
        return 1;
    }
    e2ee_client_connect(c);
    if (!app.listen) {
        rc = e2ee_client_send_direct(c, argv[4], argv[5], app.msg_id);
        if (rc != E2EE_OK)
            fprintf(stderr, "cannot send: %s\n", e2ee_strerror(rc));
    }
    /* this thread runs the client: events arrive inside e2ee_client_loop() */
    for (int i = 0; rc == E2EE_OK && i < WAIT_ROUNDS && (app.listen || !app.done); i++)
        rc = e2ee_client_loop(c, 100);
    if (!app.listen)
        printf("%s\n", app.done > 0 ? "delivered" : "not delivered");
    e2ee_client_free(c);
    return app.listen || app.done > 0 ? 0 : 1;
}
