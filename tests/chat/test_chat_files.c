/*
 * e2ee-chat /sendfile and --download-dir, against a real e2ee-relay: a binary file direct
 * and to a group, arriving byte for byte in new files (never overwriting one); no download
 * folder; and crafted file messages from a client of the public API whose names try to
 * leave the folder, which must show as plain binary data and write nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "chatproc.h"
#include "clienttest.h"
#include "testutil.h"

static struct rt_relay g_relay;
static char g_dir[256];      /* files to send */
static char g_dl[300];       /* bob's download folder */

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/e2ee-chatfiles-%d", (int)getpid());
    snprintf(g_dl, sizeof g_dl, "%s/downloads", g_dir);
    if (mkdir(g_dir, 0700) != 0 || mkdir(g_dl, 0700) != 0)
        return -1;
    return rt_relay_start(&g_relay, NULL);
}

static int teardown(void **state)
{
    char cmd[600];
    (void)state;
    rt_relay_cleanup(&g_relay);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct chatproc *start_connected(const char *name, const char *const *args)
{
    struct chatproc *p = cp_start(g_relay.url, name, args);
    char pat[256];
    snprintf(pat, sizeof pat, "connected %s*", g_relay.url);
    cp_expect(p, pat, CP_WAIT_MS);
    return p;
}

static void expectf(struct chatproc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expectf(struct chatproc *p, const char *fmt, ...)
{
    char pat[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pat, sizeof pat, fmt, ap);
    va_end(ap);
    cp_expect(p, pat, CP_WAIT_MS);
}

static void assert_file(const char *path, const uint8_t *want, size_t len)
{
    size_t got_len = 0;
    char *got = tu_read_file(path, &got_len);
    struct stat st;
    assert_non_null(got);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(got);
}

static void test_sendfile(void **state)
{
    const char *const dl_args[] = {"--download-dir", g_dl, NULL};
    struct chatproc *b = start_connected("sf-bob", dl_args);
    struct chatproc *a = start_connected("sf-alice", NULL);
    uint8_t content[256 * 3];
    char path[400], saved[400];
    FILE *f;
    (void)state;

    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (uint8_t)(i * 7);
    snprintf(path, sizeof path, "%s/notes.bin", g_dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, sizeof content, f), sizeof content);
    fclose(f);

    /* direct, twice: the second one gets a new name */
    cp_say(a, "/sendfile sf-bob %s", path);
    cp_expect(a, "sending * to sf-bob", CP_WAIT_MS);
    expectf(b, "file sf-alice: notes.bin, 768 bytes, saved %s/notes.bin", g_dl);
    cp_expect(a, "ack * delivered sf-bob", CP_WAIT_MS);
    cp_say(a, "/sendfile sf-bob %s", path);
    expectf(b, "file sf-alice: notes.bin, 768 bytes, saved %s/notes.bin.1", g_dl);
    snprintf(saved, sizeof saved, "%s/notes.bin", g_dl);
    assert_file(saved, content, sizeof content);
    snprintf(saved, sizeof saved, "%s/notes.bin.1", g_dl);
    assert_file(saved, content, sizeof content);

    /* to a group */
    cp_say(a, "/create sf-team");
    cp_expect(a, "joined sf-team*", CP_WAIT_MS);
    cp_say(b, "/join sf-team");
    cp_expect(a, "member-joined sf-team sf-bob*", CP_WAIT_MS);
    cp_say(a, "/sendfile #sf-team %s", path);
    cp_expect(a, "sending * to group sf-team", CP_WAIT_MS);
    expectf(b, "group-file sf-team sf-alice: notes.bin, 768 bytes, saved %s/notes.bin.2", g_dl);

    /* alice has no download folder: told, nothing written */
    snprintf(path, sizeof path, "%s/downloads/notes.bin.1", g_dir);
    cp_say(b, "/sendfile sf-alice %s", path);
    cp_expect(a, "file sf-bob: notes.bin.1, 768 bytes, not saved", CP_WAIT_MS);

    /* what cannot be sent */
    cp_say(a, "/sendfile sf-bob %s/missing", g_dir);
    cp_expect(a, "error file: */missing: No such file or directory", CP_WAIT_MS);
    cp_say(a, "/sendfile sf-bob %s", g_dir);
    cp_expect(a, "error file: *: not a regular file", CP_WAIT_MS);
    cp_say(a, "/sendfile sf-bob");
    cp_expect(a, "error usage: /sendfile *", CP_WAIT_MS);

    cp_close_input(a);
    cp_close_input(b);
    assert_int_equal(cp_wait_exit(a, CP_WAIT_MS), 0);
    assert_int_equal(cp_wait_exit(b, CP_WAIT_MS), 0);
    cp_free(a);
    cp_free(b);
}

/* A file message built by hand: magic, name length (big endian), name, content. */
static size_t crafted(uint8_t *out, const char *name, size_t name_len, const char *content)
{
    size_t n = 0, clen = strlen(content);
    memcpy(out, "E2EEFILE", 8);
    out[8] = (uint8_t)(name_len >> 8);
    out[9] = (uint8_t)name_len;
    n = 10;
    memcpy(out + n, name, strlen(name));
    n += strlen(name);
    memcpy(out + n, content, clen);
    return n + clen;
}

static void test_hostile_names(void **state)
{
    const char *const dl_args[] = {"--download-dir", g_dl, NULL};
    static const char *const names[] = {"../evil", "a/b", "..", ".", "", "x\ny", "c\\d"};
    struct chatproc *b = start_connected("hn-bob", dl_args);
    struct ct_client *m = ct_client_new(&g_relay, "hn-mallory", NULL);
    uint8_t msg[512];
    char id[E2EE_MSG_ID_SIZE], pat[128], path[400];
    size_t len;
    struct stat st;
    (void)state;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        len = crafted(msg, names[i], strlen(names[i]), "payload");
        assert_int_equal(e2ee_client_send_direct_binary(m->c, "hn-bob", msg, len, id), E2EE_OK);
        snprintf(pat, sizeof pat, "direct-binary hn-mallory: %zu bytes", len);
        cp_expect(b, pat, CP_WAIT_MS);
    }
    /* a name length past the end of the message */
    len = crafted(msg, "short", 200, "");
    assert_int_equal(e2ee_client_send_direct_binary(m->c, "hn-bob", msg, len, id), E2EE_OK);
    snprintf(pat, sizeof pat, "direct-binary hn-mallory: %zu bytes", len);
    cp_expect(b, pat, CP_WAIT_MS);

    snprintf(path, sizeof path, "%s/evil", g_dir);
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(cp_count(b, "*file*", 0), 0);
    cp_close_input(b);
    assert_int_equal(cp_wait_exit(b, CP_WAIT_MS), 0);
    cp_free(b);
    ct_client_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sendfile),
        cmocka_unit_test(test_hostile_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
