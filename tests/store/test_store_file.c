/*
 * Store files: persistence across close and reopen, file mode and WAL, migration from an older
 * schema, refusal of newer schemas, foreign, garbage and damaged files, and a second handle
 * waiting on the busy timeout instead of failing.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_fixture.h"
#include "testutil.h"

/* Offsets in the SQLite file header (https://www.sqlite.org/fileformat.html). */
#define HDR_USER_VERSION 60
#define HDR_APPLICATION_ID 68
#define SQLITE_PAGE 4096

static const uint8_t REC[] = {0x10, 0x20, 0x30};

static int setup(void **state)
{
    struct sf_dir *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    sf_dir_make(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    sf_dir_remove(*state);
    free(*state);
    return 0;
}

static void fill(struct e2ee__store *st)
{
    struct e2ee__store_group g = {.epoch = 3, .joined = 1};
    enum e2ee__store_peer_status ps;
    uint32_t first = 0;

    strcpy(g.id, "g1");
    strcpy(g.owner, "alice");
    assert_int_equal(e2ee__store_identity_put(st, REC, sizeof REC), E2EE_OK);
    assert_int_equal(e2ee__store_signed_prekey_put(st, 1, REC, sizeof REC, 5), E2EE_OK);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 2, &first), E2EE_OK);
    assert_int_equal(e2ee__store_prekey_put(st, first, REC, sizeof REC), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC, sizeof REC), E2EE_OK);
    assert_int_equal(e2ee__store_group_put(st, &g), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, "g1", "bob"), E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_put(st, "g1", "bob", 1, REC, sizeof REC), E2EE_OK);
    assert_int_equal(e2ee__store_own_sender_key_put(st, "g1", 3, REC, sizeof REC), E2EE_OK);
    assert_int_equal(e2ee__store_distribution_mark(st, "g1", "bob", 1, 42), E2EE_OK);
    assert_int_equal(e2ee__store_peer_observe(st, "bob", REC, sizeof REC, 9, &ps), E2EE_OK);
    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, "m0", 9), E2EE_OK);
    assert_int_equal(e2ee__store_outq_add(st, "out1", 1, "bob", REC, sizeof REC, 9, NULL),
                     E2EE_OK);
    assert_int_equal(e2ee__store_cursor_advance(st, "direct", 12), E2EE_OK);
    assert_int_equal(e2ee__store_meta_put(st, "user_id", (const uint8_t *)"alice", 5), E2EE_OK);
}

/* rec and len are passed by address: the call that fills them is the first argument. */
static void expect_rec(int rc, uint8_t **rec, size_t *len)
{
    assert_int_equal(rc, E2EE_OK);
    assert_int_equal(*len, sizeof REC);
    assert_memory_equal(*rec, REC, sizeof REC);
    e2ee__store_blob_free(*rec, *len);
    *rec = NULL;
    *len = 0;
}

static void check_filled(struct e2ee__store *st)
{
    uint8_t *rec = NULL;
    size_t len = 0, n = 0;
    uint64_t seq = 0;
    int seen = 0;
    uint32_t first = 0;
    struct e2ee__store_group g;
    struct e2ee__store_outgoing o;
    struct e2ee__store_peer p;
    char **users = NULL;

    expect_rec(e2ee__store_identity_get(st, &rec, &len), &rec, &len);
    expect_rec(e2ee__store_signed_prekey_get(st, 1, &rec, &len), &rec, &len);
    expect_rec(e2ee__store_prekey_get(st, 1, &rec, &len), &rec, &len);
    expect_rec(e2ee__store_session_get(st, "bob", 1, &rec, &len), &rec, &len);
    expect_rec(e2ee__store_sender_key_get(st, "g1", "bob", 1, &rec, &len), &rec, &len);
    expect_rec(e2ee__store_own_sender_key_get(st, "g1", &seq, &rec, &len), &rec, &len);
    assert_int_equal(seq, 3);
    assert_int_equal(e2ee__store_group_get(st, "g1", &g), E2EE_OK);
    assert_int_equal(g.epoch, 3);
    assert_string_equal(g.owner, "alice");
    assert_int_equal(e2ee__store_member_lacking(st, "g1", 42, &users, &n), E2EE_OK);
    assert_int_equal(n, 0);
    e2ee__store_strv_free(users, n);
    assert_int_equal(e2ee__store_peer_get(st, "bob", &p), E2EE_OK);
    assert_int_equal(p.first_seen, 9);
    assert_int_equal(e2ee__store_seen_check(st, "bob", 1, "m0", &seen), E2EE_OK);
    assert_int_equal(seen, 1);
    assert_int_equal(e2ee__store_outq_get(st, "out1", &o), E2EE_OK);
    assert_memory_equal(o.payload, REC, sizeof REC);
    e2ee__store_outgoing_cleanup(&o);
    assert_int_equal(e2ee__store_cursor_get(st, "direct", &seq), E2EE_OK);
    assert_int_equal(seq, 12);
    assert_int_equal(e2ee__store_meta_get(st, "user_id", &rec, &len), E2EE_OK);
    assert_memory_equal(rec, "alice", 5);
    e2ee__store_blob_free(rec, len);
    /* the prekey id counter persisted too */
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 1, &first), E2EE_OK);
    assert_int_equal(first, 3);
}

static void test_persistence(void **state)
{
    struct sf_dir *d = *state;
    char path[128], wal[160];
    struct stat sb;

    strcpy(path, sf_path(d, "alice.db"));
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct e2ee__store *st = sf_open(path);
    fill(st);
    /* WAL mode: the log file exists while the store is open */
    assert_true(sf_size(wal) > 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    e2ee__store_close(st);

    st = sf_open(path);
    check_filled(st);
    e2ee__store_close(st);
}

static void test_uncommitted_lost_on_close(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    uint8_t *rec = NULL;
    size_t len = 0;

    strcpy(path, sf_path(d, "tx.db"));
    struct e2ee__store *st = sf_open(path);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC, 1), E2EE_OK);
    assert_int_equal(e2ee__store_begin(st), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC, sizeof REC), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "carol", 1, REC, sizeof REC), E2EE_OK);
    e2ee__store_close(st); /* never committed */

    st = sf_open(path);
    assert_int_equal(e2ee__store_session_get(st, "bob", 1, &rec, &len), E2EE_OK);
    assert_int_equal(len, 1);
    e2ee__store_blob_free(rec, len);
    assert_int_equal(e2ee__store_session_get(st, "carol", 1, &rec, &len), E2EE_ERR_NOT_FOUND);
    e2ee__store_close(st);
}

static void test_migration_from_v1(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    char **users = NULL;
    size_t n = 0;
    uint8_t *rec = NULL;
    size_t len = 0;
    struct e2ee__store_group g = {.epoch = 1, .joined = 1};

    strcpy(path, sf_path(d, "old.db"));
    struct e2ee__store *st = NULL;
    assert_int_equal(e2ee__store_open_version(&st, path, 1), E2EE_OK);
    assert_int_equal(e2ee__store_schema_version(st), 1);
    strcpy(g.id, "g1");
    strcpy(g.owner, "alice");
    assert_int_equal(e2ee__store_group_put(st, &g), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, "g1", "bob"), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, "g1", "carol"), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC, sizeof REC), E2EE_OK);
    /* the v1 schema really lacks the v2 table */
    assert_int_equal(e2ee__store_distribution_mark(st, "g1", "bob", 1, 5), E2EE_ERR_STORE);
    e2ee__store_close(st);

    st = sf_open(path);
    assert_int_equal(e2ee__store_schema_version(st), E2EE__STORE_SCHEMA_VERSION);
    expect_rec(e2ee__store_session_get(st, "bob", 1, &rec, &len), &rec, &len);
    assert_int_equal(e2ee__store_distribution_mark(st, "g1", "bob", 1, 5), E2EE_OK);
    assert_int_equal(e2ee__store_member_lacking(st, "g1", 5, &users, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(users[0], "carol");
    e2ee__store_strv_free(users, n);
    e2ee__store_close(st);

    /* opening a newer store asking for an older version neither fails nor downgrades */
    assert_int_equal(e2ee__store_open_version(&st, path, 1), E2EE_OK);
    assert_int_equal(e2ee__store_schema_version(st), E2EE__STORE_SCHEMA_VERSION);
    e2ee__store_close(st);
}

/* Schema 3: the events kept until delivered, on a store written by schema 2, in order, across
 * a close (a process that died); deleting outside a transaction is committed at once. */
static void test_pending_events_from_v2(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    struct e2ee__store *st = NULL;
    struct e2ee__store_event *ev = NULL;
    const uint8_t a[] = {1, 2, 3}, b[] = {4, 5};
    int64_t sa = 0, sb = 0;
    size_t n = 0;

    strcpy(path, sf_path(d, "v2.db"));
    assert_int_equal(e2ee__store_open_version(&st, path, 2), E2EE_OK);
    assert_int_equal(e2ee__store_event_add(st, a, sizeof a, &sa), E2EE_ERR_STORE);
    e2ee__store_close(st);

    st = sf_open(path);
    assert_int_equal(e2ee__store_schema_version(st), E2EE__STORE_SCHEMA_VERSION);
    assert_int_equal(e2ee__store_event_add(st, NULL, 0, &sa), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_begin(st), E2EE_OK);
    assert_int_equal(e2ee__store_event_add(st, a, sizeof a, &sa), E2EE_OK);
    assert_int_equal(e2ee__store_event_add(st, b, sizeof b, &sb), E2EE_OK);
    assert_int_equal(e2ee__store_commit(st), E2EE_OK);
    assert_true(sa > 0 && sb > sa);
    e2ee__store_close(st);

    st = sf_open(path);
    assert_int_equal(e2ee__store_event_list(st, 0, 10, &ev, &n), E2EE_OK);
    assert_int_equal(n, 2);
    assert_true(ev[0].seq == sa && ev[0].len == sizeof a && memcmp(ev[0].record, a, sizeof a) == 0);
    assert_true(ev[1].seq == sb && ev[1].len == sizeof b && memcmp(ev[1].record, b, sizeof b) == 0);
    e2ee__store_event_free(ev, n);
    assert_int_equal(e2ee__store_event_list(st, sa, 10, &ev, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].seq, sb);
    e2ee__store_event_free(ev, n);
    assert_int_equal(e2ee__store_event_delete(st, sa), E2EE_OK);
    assert_int_equal(e2ee__store_event_delete(st, sa), E2EE_ERR_NOT_FOUND);
    e2ee__store_close(st);

    st = sf_open(path);
    assert_int_equal(e2ee__store_event_count(st, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(e2ee__store_event_list(st, 0, 10, &ev, &n), E2EE_OK);
    assert_true(n == 1 && ev[0].seq == sb);
    e2ee__store_event_free(ev, n);
    /* a new row never reuses a deleted position */
    assert_int_equal(e2ee__store_event_delete(st, sb), E2EE_OK);
    assert_int_equal(e2ee__store_event_add(st, a, sizeof a, &sa), E2EE_OK);
    assert_true(sa > sb);
    e2ee__store_close(st);
}

static void test_newer_schema_refused(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    const uint8_t v99[4] = {0, 0, 0, 99};
    struct e2ee__store *st = NULL;

    strcpy(path, sf_path(d, "new.db"));
    st = sf_open(path);
    e2ee__store_close(st);
    sf_patch(path, HDR_USER_VERSION, v99, sizeof v99);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_VERSION);
    assert_null(st);
}

static void test_foreign_database_refused(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    const uint8_t other_app[4] = {0x12, 0x34, 0x56, 0x78}, zero[4] = {0};
    struct e2ee__store *st = NULL;

    strcpy(path, sf_path(d, "foreign.db"));
    st = sf_open(path);
    e2ee__store_close(st);
    /* an SQLite file of another application */
    sf_patch(path, HDR_APPLICATION_ID, other_app, sizeof other_app);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_CORRUPT);
    assert_null(st);
    /* an SQLite file with tables but no application id at all */
    sf_patch(path, HDR_APPLICATION_ID, zero, sizeof zero);
    sf_patch(path, HDR_USER_VERSION, zero, sizeof zero);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_CORRUPT);
    assert_null(st);
}

static void test_garbage_file_refused(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    uint8_t junk[3 * SQLITE_PAGE];
    struct tu_drbg rng;
    struct e2ee__store *st = NULL;

    strcpy(path, sf_path(d, "junk.db"));
    tu_drbg_init(&rng, 7);
    tu_drbg_bytes(&rng, junk, sizeof junk);
    sf_write(path, junk, sizeof junk);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_CORRUPT);
    assert_null(st);
    /* the file was left as it was */
    uint8_t *after = (uint8_t *)tu_read_file(path, NULL);
    assert_non_null(after);
    assert_memory_equal(after, junk, sizeof junk);
    free(after);

    /* a text file */
    const char text[] = "user_id = alice\nthis is not a database\n";
    sf_write(path, text, sizeof text - 1);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_CORRUPT);

    /* an empty file becomes a new store */
    sf_write(path, "", 0);
    st = sf_open(path);
    assert_int_equal(e2ee__store_schema_version(st), E2EE__STORE_SCHEMA_VERSION);
    e2ee__store_close(st);
}

static void test_damaged_store_refused(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    struct e2ee__store *st = NULL;
    size_t len = 0;

    strcpy(path, sf_path(d, "damaged.db"));
    st = sf_open(path);
    fill(st);
    e2ee__store_close(st);
    char *bytes = tu_read_file(path, &len);
    assert_non_null(bytes);
    assert_true(len >= 4 * SQLITE_PAGE);

    /* scramble every page but the header page */
    for (size_t i = SQLITE_PAGE; i < len; i++)
        bytes[i] = (char)(bytes[i] ^ 0x5a);
    sf_write(path, bytes, len);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_CORRUPT);
    assert_null(st);

    /* truncated to its header page */
    sf_write(path, bytes, SQLITE_PAGE);
    assert_int_equal(e2ee__store_open(&st, path), E2EE_ERR_CORRUPT);
    assert_null(st);
    free(bytes);
}

static void test_unopenable_path(void **state)
{
    struct sf_dir *d = *state;
    struct e2ee__store *st = NULL;
    /* a folder is not a store */
    assert_int_equal(e2ee__store_open(&st, d->dir), E2EE_ERR_STORE);
    assert_null(st);
    assert_int_equal(e2ee__store_open(&st, sf_path(d, "missing/dir/x.db")), E2EE_ERR_STORE);
    assert_null(st);
}

static int file_contains(const char *path, const uint8_t *pat, size_t n)
{
    size_t len = 0;
    char *bytes = tu_read_file(path, &len);
    int found = 0;
    assert_non_null(bytes);
    for (size_t i = 0; i + n <= len && !found; i++)
        found = memcmp(bytes + i, pat, n) == 0;
    free(bytes);
    return found;
}

/* Deleted secrets (a used one-time prekey, an acknowledged plaintext) are overwritten in the
 * file, not just unlinked from the b-tree. */
static void test_deleted_secrets_overwritten(void **state)
{
    struct sf_dir *d = *state;
    char path[128];
    uint8_t secret[200], plain[300];
    struct e2ee__store *st;

    for (size_t i = 0; i < sizeof secret; i++)
        secret[i] = (uint8_t)("PREKEY-SECRET-"[i % 14]);
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (uint8_t)("plaintext-msg-"[i % 14]);
    strcpy(path, sf_path(d, "wipe.db"));
    st = sf_open(path);
    assert_int_equal(e2ee__store_prekey_put(st, 1, secret, sizeof secret), E2EE_OK);
    assert_int_equal(e2ee__store_outq_add(st, "m1", 1, "bob", plain, sizeof plain, 1, NULL),
                     E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC, sizeof REC), E2EE_OK);
    e2ee__store_close(st);
    /* the check can fail: both are in the file now */
    assert_true(file_contains(path, secret, 32));
    assert_true(file_contains(path, plain, 32));

    st = sf_open(path);
    assert_int_equal(e2ee__store_prekey_delete(st, 1), E2EE_OK);
    assert_int_equal(e2ee__store_outq_remove(st, "m1"), E2EE_OK);
    e2ee__store_close(st);
    assert_false(file_contains(path, secret, 32));
    assert_false(file_contains(path, plain, 32));
}

struct holder {
    const char *path;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int locked;
};

/* Holds the write lock of the store for a while, then commits. */
static void *hold_lock(void *arg)
{
    struct holder *h = arg;
    struct e2ee__store *st = NULL;
    const struct timespec pause = {0, 200 * 1000 * 1000};

    if (e2ee__store_open(&st, h->path) != E2EE_OK || e2ee__store_begin(st) != E2EE_OK ||
        e2ee__store_session_put(st, "holder", 1, REC, sizeof REC) != E2EE_OK)
        abort();
    pthread_mutex_lock(&h->mu);
    h->locked = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    nanosleep(&pause, NULL);
    if (e2ee__store_commit(st) != E2EE_OK)
        abort();
    e2ee__store_close(st);
    return NULL;
}

static void test_busy_timeout_waits(void **state)
{
    struct sf_dir *d = *state;
    struct holder h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    char path[128];
    pthread_t t;
    uint8_t *rec = NULL;
    size_t len = 0;

    strcpy(path, sf_path(d, "busy.db"));
    struct e2ee__store *st = sf_open(path);
    h.path = path;
    assert_int_equal(pthread_create(&t, NULL, hold_lock, &h), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.locked)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    /* the other handle holds the write lock: this write waits for it instead of failing */
    assert_int_equal(e2ee__store_session_put(st, "waiter", 1, REC, sizeof REC), E2EE_OK);
    pthread_join(t, NULL);
    expect_rec(e2ee__store_session_get(st, "holder", 1, &rec, &len), &rec, &len);
    e2ee__store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncommitted_lost_on_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_events_from_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_store_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unopenable_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_timeout_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_secrets_overwritten, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
