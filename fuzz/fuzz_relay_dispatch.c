/*
 * Fuzz target: the relay's request handling in-process (fuzz_relay.h): a real relay state
 * over a SQLite store in memory, three logged-in users (alice, bob, carol) and one
 * connection that has not logged in. The input is a program of steps:
 *
 *   u8 op, then for op kind 0: u16 length (little-endian) and that many bytes
 *   op & 3   the connection (0..2 the users, 3 the stranger)
 *   op >> 6  0: the bytes are one incoming frame; 1: the connection drops and comes back;
 *            2: it acks everything delivered to it; 3: housekeeping (log trimming)
 *
 * Every frame the relay sends must decode as a ServerFrame within the limit it announces
 * (checked in fuzz_relay.c), and the relay must survive whatever comes.
 */
#include "fuzz.h"
#include "fuzz_relay.h"

#define MAX_STEPS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_relay h;
    struct fz_in in = {data, size};
    fz_relay_open(&h, NULL, NULL);
    for (int i = 0; i < MAX_STEPS && in.n; i++) {
        uint8_t op = fz_u8(&in);
        int conn = op & 3;
        const uint8_t *frame = NULL;
        size_t len = 0;
        switch (op >> 6) {
        case 0:
            len = fz_bytes(&in, fz_u16(&in), &frame);
            fz_relay_send(&h, conn, frame, len);
            break;
        case 1:
            fz_relay_reconnect(&h, conn);
            break;
        case 2:
            fz_relay_ack_all(&h, conn);
            break;
        default:
            fz_relay_housekeeping(&h);
            break;
        }
    }
    fz_relay_close(&h);
    return 0;
}
