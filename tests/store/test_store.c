/*
 * Store operations, one area per test, on an in-memory store (the same code as a file store):
 * identity, prekeys, sessions, sender keys, groups, members, distribution marks, peers, seen
 * ids, outgoing queue, cursors, meta, transactions, argument and length limits.
 */
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"
#include "testutil.h"

static int setup(void **state)
{
    struct e2ee__store *st = NULL;
    if (e2ee__store_open(&st, NULL) != E2EE_OK)
        return -1;
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    e2ee__store_close(*state);
    return 0;
}

static const uint8_t REC_A[] = {1, 2, 3, 4, 5};
static const uint8_t REC_B[] = {9, 8, 7};

/* Asserts that a handed-out blob equals want, then frees it. */
static void expect_blob(uint8_t *got, size_t len, const uint8_t *want, size_t want_len)
{
    assert_non_null(got);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, want_len);
    e2ee__store_blob_free(got, len);
}

static void add_group(struct e2ee__store *st, const char *id, uint64_t epoch)
{
    struct e2ee__store_group g = {.epoch = epoch, .joined = 1};
    strcpy(g.id, id);
    strcpy(g.owner, "alice");
    assert_int_equal(e2ee__store_group_put(st, &g), E2EE_OK);
}

static void test_open_memory(void **state)
{
    struct e2ee__store *st = *state;
    assert_int_equal(e2ee__store_schema_version(st), E2EE__STORE_SCHEMA_VERSION);
    assert_int_equal(e2ee__store_in_transaction(st), 0);
    assert_int_equal(e2ee__store_open(NULL, NULL), E2EE_ERR_ARG);
    struct e2ee__store *other = (struct e2ee__store *)1;
    assert_int_equal(e2ee__store_open_version(&other, NULL, 0), E2EE_ERR_ARG);
    assert_null(other);
    assert_int_equal(e2ee__store_open_version(&other, NULL, E2EE__STORE_SCHEMA_VERSION + 1),
                     E2EE_ERR_ARG);
    e2ee__store_close(NULL);
    e2ee__store_blob_free(NULL, 10);
    e2ee__store_strv_free(NULL, 3);
    e2ee__store_outq_free(NULL, 3);
}

static void test_identity(void **state)
{
    struct e2ee__store *st = *state;
    uint8_t *rec = (uint8_t *)1;
    size_t len = 99;

    assert_int_equal(e2ee__store_identity_get(st, &rec, &len), E2EE_ERR_NOT_FOUND);
    assert_null(rec);
    assert_int_equal(len, 0);
    assert_int_equal(e2ee__store_identity_put(st, REC_A, sizeof REC_A), E2EE_OK);
    assert_int_equal(e2ee__store_identity_put(st, REC_B, sizeof REC_B), E2EE_ERR_EXISTS);
    assert_int_equal(e2ee__store_identity_get(st, &rec, &len), E2EE_OK);
    expect_blob(rec, len, REC_A, sizeof REC_A);
    assert_int_equal(e2ee__store_identity_put(NULL, REC_A, 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_identity_put(st, NULL, 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_identity_get(st, NULL, &len), E2EE_ERR_ARG);
}

static void test_signed_prekeys(void **state)
{
    struct e2ee__store *st = *state;
    uint8_t *rec = NULL;
    size_t len = 0, removed = 0;
    uint32_t id = 0;
    int64_t created = 0;

    assert_int_equal(e2ee__store_signed_prekey_latest(st, &id, &rec, &len, &created),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_signed_prekey_put(st, 7, REC_A, sizeof REC_A, 100), E2EE_OK);
    assert_int_equal(e2ee__store_signed_prekey_put(st, 8, REC_B, sizeof REC_B, 200), E2EE_OK);
    assert_int_equal(e2ee__store_signed_prekey_put(st, 3, REC_A, 2, 50), E2EE_OK);
    assert_int_equal(e2ee__store_signed_prekey_put(st, 7, REC_B, sizeof REC_B, 300),
                     E2EE_ERR_EXISTS);

    assert_int_equal(e2ee__store_signed_prekey_get(st, 7, &rec, &len), E2EE_OK);
    expect_blob(rec, len, REC_A, sizeof REC_A);
    assert_int_equal(e2ee__store_signed_prekey_latest(st, &id, &rec, &len, &created), E2EE_OK);
    assert_int_equal(id, 8);
    assert_int_equal(created, 200);
    expect_blob(rec, len, REC_B, sizeof REC_B);

    /* prune keeps the latest even when it is older than the cut-off */
    assert_int_equal(e2ee__store_signed_prekey_prune(st, 150, &removed), E2EE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(e2ee__store_signed_prekey_get(st, 7, &rec, &len), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_signed_prekey_prune(st, 1000, &removed), E2EE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(e2ee__store_signed_prekey_get(st, 8, &rec, &len), E2EE_OK);
    e2ee__store_blob_free(rec, len);

    assert_int_equal(e2ee__store_signed_prekey_delete(st, 8), E2EE_OK);
    assert_int_equal(e2ee__store_signed_prekey_delete(st, 8), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_signed_prekey_latest(st, NULL, &rec, &len, NULL),
                     E2EE_ERR_NOT_FOUND);
}

static void test_one_time_prekeys(void **state)
{
    struct e2ee__store *st = *state;
    uint32_t first = 0, again = 0;
    uint8_t *rec = NULL;
    size_t len = 0, count = 0;

    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 10, &first), E2EE_OK);
    assert_int_equal(first, 1);
    for (uint32_t i = 0; i < 10; i++) {
        uint8_t r[4] = {(uint8_t)i, 0xaa, 0xbb, 0xcc};
        assert_int_equal(e2ee__store_prekey_put(st, first + i, r, sizeof r), E2EE_OK);
    }
    assert_int_equal(e2ee__store_prekey_put(st, 3, REC_A, sizeof REC_A), E2EE_ERR_EXISTS);
    assert_int_equal(e2ee__store_prekey_count(st, &count), E2EE_OK);
    assert_int_equal(count, 10);

    /* use: read, then delete; a second use finds nothing */
    assert_int_equal(e2ee__store_prekey_get(st, 4, &rec, &len), E2EE_OK);
    assert_int_equal(len, 4);
    assert_int_equal(rec[0], 3);
    e2ee__store_blob_free(rec, len);
    assert_int_equal(e2ee__store_prekey_delete(st, 4), E2EE_OK);
    assert_int_equal(e2ee__store_prekey_get(st, 4, &rec, &len), E2EE_ERR_NOT_FOUND);
    assert_null(rec);
    assert_int_equal(e2ee__store_prekey_delete(st, 4), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_prekey_count(st, &count), E2EE_OK);
    assert_int_equal(count, 9);

    /* ids are never handed out twice, even after every prekey was deleted */
    for (uint32_t i = 1; i <= 10; i++)
        assert_int_equal(e2ee__store_prekey_delete(st, i), i == 4 ? E2EE_ERR_NOT_FOUND : E2EE_OK);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 5, &again), E2EE_OK);
    assert_int_equal(again, 11);

    /* the 32-bit id space ends at UINT32_MAX */
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, UINT32_MAX - 15 - 10, &again), E2EE_OK);
    assert_int_equal(again, 16);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 11, &again), E2EE_ERR_RANGE);
    assert_int_equal(again, 0);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 10, &again), E2EE_OK);
    assert_int_equal(again, UINT32_MAX - 9);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 1, &again), E2EE_ERR_RANGE);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 0, &again), E2EE_ERR_ARG);
}

static void test_sessions(void **state)
{
    struct e2ee__store *st = *state;
    uint8_t *rec = NULL;
    size_t len = 0, removed = 0;

    assert_int_equal(e2ee__store_session_get(st, "bob", 1, &rec, &len), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC_A, sizeof REC_A), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 2, REC_B, sizeof REC_B), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "carol", 1, REC_B, sizeof REC_B), E2EE_OK);
    /* put replaces */
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC_B, 2), E2EE_OK);
    assert_int_equal(e2ee__store_session_get(st, "bob", 1, &rec, &len), E2EE_OK);
    expect_blob(rec, len, REC_B, 2);
    /* ids compare byte for byte */
    assert_int_equal(e2ee__store_session_get(st, "Bob", 1, &rec, &len), E2EE_ERR_NOT_FOUND);

    assert_int_equal(e2ee__store_session_delete(st, "bob", 2), E2EE_OK);
    assert_int_equal(e2ee__store_session_delete(st, "bob", 2), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_session_put(st, "bob", 3, REC_A, 1), E2EE_OK);
    assert_int_equal(e2ee__store_session_delete_user(st, "bob", &removed), E2EE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(e2ee__store_session_get(st, "carol", 1, &rec, &len), E2EE_OK);
    e2ee__store_blob_free(rec, len);

    assert_int_equal(e2ee__store_session_put(st, "bob", 0, REC_A, 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_session_get(st, "bob", 0, &rec, &len), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC_A, 0), E2EE_ERR_LENGTH);
}

static void test_sender_keys(void **state)
{
    struct e2ee__store *st = *state;
    uint8_t *rec = NULL;
    size_t len = 0, removed = 0;
    uint64_t epoch = 0;

    /* group-scoped records need the group */
    assert_int_equal(e2ee__store_sender_key_put(st, "g1", "bob", 1, REC_A, sizeof REC_A),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_own_sender_key_put(st, "g1", 1, REC_A, sizeof REC_A),
                     E2EE_ERR_NOT_FOUND);
    add_group(st, "g1", 4);
    add_group(st, "g2", 1);

    assert_int_equal(e2ee__store_sender_key_put(st, "g1", "bob", 1, REC_A, sizeof REC_A),
                     E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_put(st, "g1", "bob", 2, REC_B, sizeof REC_B),
                     E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_put(st, "g2", "bob", 1, REC_B, sizeof REC_B),
                     E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_put(st, "g1", "bob", 1, REC_B, 1), E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_get(st, "g1", "bob", 1, &rec, &len), E2EE_OK);
    expect_blob(rec, len, REC_B, 1);
    assert_int_equal(e2ee__store_sender_key_get(st, "g1", "carol", 1, &rec, &len),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_sender_key_delete(st, "g1", "bob", 2), E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_delete(st, "g1", "bob", 2), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_sender_key_delete_user(st, "g1", "bob", &removed), E2EE_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(e2ee__store_sender_key_get(st, "g2", "bob", 1, &rec, &len), E2EE_OK);
    e2ee__store_blob_free(rec, len);

    /* own sender key with its epoch */
    assert_int_equal(e2ee__store_own_sender_key_get(st, "g1", &epoch, &rec, &len),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_own_sender_key_put(st, "g1", 4, REC_A, sizeof REC_A), E2EE_OK);
    assert_int_equal(e2ee__store_own_sender_key_put(st, "g1", 5, REC_B, sizeof REC_B), E2EE_OK);
    assert_int_equal(e2ee__store_own_sender_key_get(st, "g1", &epoch, &rec, &len), E2EE_OK);
    assert_int_equal(epoch, 5);
    expect_blob(rec, len, REC_B, sizeof REC_B);
    assert_int_equal(e2ee__store_own_sender_key_put(st, "g1", (uint64_t)INT64_MAX + 1, REC_A, 1),
                     E2EE_ERR_RANGE);
    assert_int_equal(e2ee__store_own_sender_key_put(st, "g2", 1, REC_A, 1), E2EE_OK);
    assert_int_equal(e2ee__store_own_sender_key_delete(st, "g2"), E2EE_OK);
    assert_int_equal(e2ee__store_own_sender_key_delete(st, "g2"), E2EE_ERR_NOT_FOUND);

    /* deleting a group deletes its keys */
    assert_int_equal(e2ee__store_sender_key_put(st, "g1", "dave", 1, REC_A, 1), E2EE_OK);
    assert_int_equal(e2ee__store_group_delete(st, "g1"), E2EE_OK);
    assert_int_equal(e2ee__store_sender_key_get(st, "g1", "dave", 1, &rec, &len),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_own_sender_key_get(st, "g1", NULL, &rec, &len),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_sender_key_get(st, "g2", "bob", 1, &rec, &len), E2EE_OK);
    e2ee__store_blob_free(rec, len);
}

static void test_groups(void **state)
{
    struct e2ee__store *st = *state;
    struct e2ee__store_group g, *list = NULL;
    size_t n = 0;
    char **users = NULL;

    assert_int_equal(e2ee__store_group_get(st, "g1", &g), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_group_list(st, &list, &n), E2EE_OK);
    assert_int_equal(n, 0);
    free(list);

    add_group(st, "zeta", 2);
    add_group(st, "alpha", 9);
    assert_int_equal(e2ee__store_member_add(st, "alpha", "bob"), E2EE_OK);

    /* update keeps the members */
    memset(&g, 0, sizeof g);
    strcpy(g.id, "alpha");
    strcpy(g.owner, "carol");
    g.epoch = 10;
    g.joined = 0;
    assert_int_equal(e2ee__store_group_put(st, &g), E2EE_OK);
    assert_int_equal(e2ee__store_group_get(st, "alpha", &g), E2EE_OK);
    assert_string_equal(g.owner, "carol");
    assert_int_equal(g.epoch, 10);
    assert_int_equal(g.joined, 0);
    assert_int_equal(e2ee__store_member_list(st, "alpha", &users, &n), E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(users[0], "bob");
    e2ee__store_strv_free(users, n);

    assert_int_equal(e2ee__store_group_list(st, &list, &n), E2EE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "alpha");
    assert_string_equal(list[1].id, "zeta");
    assert_int_equal(list[1].epoch, 2);
    assert_int_equal(list[1].joined, 1);
    free(list);

    g.epoch = (uint64_t)INT64_MAX + 1;
    assert_int_equal(e2ee__store_group_put(st, &g), E2EE_ERR_RANGE);
    assert_int_equal(e2ee__store_group_delete(st, "alpha"), E2EE_OK);
    assert_int_equal(e2ee__store_group_delete(st, "alpha"), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_member_list(st, "alpha", &users, &n), E2EE_ERR_NOT_FOUND);
}

static void expect_ids(char **got, size_t n, const char *const *want, size_t want_n)
{
    assert_int_equal(n, want_n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
    e2ee__store_strv_free(got, n);
}

static void test_members_and_distribution(void **state)
{
    struct e2ee__store *st = *state;
    char **users = NULL;
    size_t n = 0;
    int is_member = -1;

    assert_int_equal(e2ee__store_member_add(st, "g", "bob"), E2EE_ERR_NOT_FOUND);
    add_group(st, "g", 1);
    assert_int_equal(e2ee__store_member_add(st, "g", "carol"), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, "g", "bob"), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, "g", "bob"), E2EE_ERR_EXISTS);
    assert_int_equal(e2ee__store_member_check(st, "g", "bob", &is_member), E2EE_OK);
    assert_int_equal(is_member, 1);
    assert_int_equal(e2ee__store_member_check(st, "g", "dave", &is_member), E2EE_OK);
    assert_int_equal(is_member, 0);
    assert_int_equal(e2ee__store_member_list(st, "g", &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"bob", "carol"}, 2);

    /* distribution: everyone lacks key 77 until marked; a new key id resets that */
    assert_int_equal(e2ee__store_member_lacking(st, "g", 77, &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"bob", "carol"}, 2);
    assert_int_equal(e2ee__store_distribution_mark(st, "g", "carol", 1, 77), E2EE_OK);
    assert_int_equal(e2ee__store_member_lacking(st, "g", 77, &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"bob"}, 1);
    assert_int_equal(e2ee__store_member_lacking(st, "g", 78, &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"bob", "carol"}, 2);
    assert_int_equal(e2ee__store_distribution_mark(st, "g", "dave", 1, 77), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_distribution_mark(st, "g", "bob", 0, 77), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_member_lacking(st, "nope", 77, &users, &n),
                     E2EE_ERR_NOT_FOUND);

    /* set: drops bob (and his marks), keeps carol's mark, adds dave and erin */
    assert_int_equal(e2ee__store_distribution_mark(st, "g", "bob", 1, 77), E2EE_OK);
    const char *set[] = {"erin", "carol", "dave", "erin"};
    assert_int_equal(e2ee__store_member_set(st, "g", set, 4), E2EE_OK);
    assert_int_equal(e2ee__store_member_list(st, "g", &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"carol", "dave", "erin"}, 3);
    assert_int_equal(e2ee__store_member_lacking(st, "g", 77, &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"dave", "erin"}, 2);
    assert_int_equal(e2ee__store_member_add(st, "g", "bob"), E2EE_OK);
    assert_int_equal(e2ee__store_member_lacking(st, "g", 77, &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"bob", "dave", "erin"}, 3);

    /* a set with an invalid id changes nothing */
    const char *bad[] = {"x", ""};
    assert_int_equal(e2ee__store_member_set(st, "g", bad, 2), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_member_set(st, "nope", set, 1), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_member_list(st, "g", &users, &n), E2EE_OK);
    assert_int_equal(n, 4);
    e2ee__store_strv_free(users, n);

    assert_int_equal(e2ee__store_member_remove(st, "g", "carol"), E2EE_OK);
    assert_int_equal(e2ee__store_member_remove(st, "g", "carol"), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_member_set(st, "g", NULL, 0), E2EE_OK);
    assert_int_equal(e2ee__store_member_list(st, "g", &users, &n), E2EE_OK);
    assert_int_equal(n, 0);
    e2ee__store_strv_free(users, n);
}

static void test_peers(void **state)
{
    struct e2ee__store *st = *state;
    enum e2ee__store_peer_status status = 0;
    struct e2ee__store_peer p;
    const uint8_t k1[32] = {1}, k2[32] = {2};
    char **users = NULL;
    size_t n = 0;

    assert_int_equal(e2ee__store_peer_get(st, "bob", &p), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_peer_observe(st, "bob", k1, sizeof k1, 1000, &status), E2EE_OK);
    assert_int_equal(status, E2EE__STORE_PEER_NEW);
    assert_int_equal(e2ee__store_peer_observe(st, "bob", k1, sizeof k1, 2000, &status), E2EE_OK);
    assert_int_equal(status, E2EE__STORE_PEER_SAME);

    /* a changed key is kept apart, not trusted */
    assert_int_equal(e2ee__store_peer_observe(st, "bob", k2, sizeof k2, 3000, &status), E2EE_OK);
    assert_int_equal(status, E2EE__STORE_PEER_CHANGED);
    assert_int_equal(e2ee__store_peer_get(st, "bob", &p), E2EE_OK);
    assert_string_equal(p.user, "bob");
    assert_int_equal(p.changed, 1);
    assert_int_equal(p.first_seen, 1000);
    assert_int_equal(p.trusted_len, 32);
    assert_memory_equal(p.trusted_key, k1, 32);
    assert_int_equal(p.pending_len, 32);
    assert_memory_equal(p.pending_key, k2, 32);
    /* still changed when seen again */
    assert_int_equal(e2ee__store_peer_observe(st, "bob", k2, 16, 3001, &status), E2EE_OK);
    assert_int_equal(status, E2EE__STORE_PEER_CHANGED);

    /* trusting the new key */
    assert_int_equal(e2ee__store_peer_trust(st, "bob", k2, sizeof k2, 4000), E2EE_OK);
    assert_int_equal(e2ee__store_peer_get(st, "bob", &p), E2EE_OK);
    assert_int_equal(p.changed, 0);
    assert_int_equal(p.pending_len, 0);
    assert_int_equal(p.first_seen, 1000);
    assert_memory_equal(p.trusted_key, k2, 32);
    assert_int_equal(e2ee__store_peer_observe(st, "bob", k2, sizeof k2, 5000, &status), E2EE_OK);
    assert_int_equal(status, E2EE__STORE_PEER_SAME);

    /* trust of an unknown user creates it */
    assert_int_equal(e2ee__store_peer_trust(st, "amy", k1, sizeof k1, 6000), E2EE_OK);
    assert_int_equal(e2ee__store_peer_list(st, &users, &n), E2EE_OK);
    expect_ids(users, n, (const char *const[]){"amy", "bob"}, 2);
    assert_int_equal(e2ee__store_peer_delete(st, "amy"), E2EE_OK);
    assert_int_equal(e2ee__store_peer_delete(st, "amy"), E2EE_ERR_NOT_FOUND);

    uint8_t big[E2EE__STORE_KEY_MAX + 1] = {0};
    assert_int_equal(e2ee__store_peer_observe(st, "bob", big, sizeof big, 1, &status),
                     E2EE_ERR_TOO_LARGE);
    assert_int_equal(e2ee__store_peer_observe(st, "bob", big, 0, 1, &status), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_peer_observe(st, "bob", k1, 32, 1, NULL), E2EE_ERR_ARG);
}

static void test_seen(void **state)
{
    struct e2ee__store *st = *state;
    int seen = -1;
    size_t removed = 0, count = 0;
    char id[16];

    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, "m1", 100), E2EE_OK);
    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, "m1", 101), E2EE_ERR_EXISTS);
    assert_int_equal(e2ee__store_seen_add(st, "bob", 2, "m1", 102), E2EE_OK);
    assert_int_equal(e2ee__store_seen_add(st, "carol", 1, "m1", 103), E2EE_OK);
    assert_int_equal(e2ee__store_seen_check(st, "bob", 1, "m1", &seen), E2EE_OK);
    assert_int_equal(seen, 1);
    assert_int_equal(e2ee__store_seen_check(st, "bob", 1, "m2", &seen), E2EE_OK);
    assert_int_equal(seen, 0);

    /* by age */
    assert_int_equal(e2ee__store_seen_prune(st, 102, 1000, &removed), E2EE_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(e2ee__store_seen_check(st, "bob", 1, "m1", &seen), E2EE_OK);
    assert_int_equal(seen, 0);

    /* by count: the oldest go first, ties broken by insertion order, exactly keep_max stay */
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "x%d", i);
        assert_int_equal(e2ee__store_seen_add(st, "dave", 1, id, 500 + i / 4), E2EE_OK);
    }
    assert_int_equal(e2ee__store_seen_count(st, &count), E2EE_OK);
    assert_int_equal(count, 22);
    assert_int_equal(e2ee__store_seen_prune(st, 0, 7, &removed), E2EE_OK);
    assert_int_equal(removed, 15);
    assert_int_equal(e2ee__store_seen_count(st, &count), E2EE_OK);
    assert_int_equal(count, 7);
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "x%d", i);
        assert_int_equal(e2ee__store_seen_check(st, "dave", 1, id, &seen), E2EE_OK);
        assert_int_equal(seen, i >= 13);
    }
    assert_int_equal(e2ee__store_seen_prune(st, 0, 0, &removed), E2EE_OK);
    assert_int_equal(removed, 7);
    assert_int_equal(e2ee__store_seen_add(st, "dave", 0, "m", 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_seen_add(st, "dave", 1, "", 1), E2EE_ERR_LENGTH);
}

static void test_outq(void **state)
{
    struct e2ee__store *st = *state;
    struct e2ee__store_outgoing *items = NULL, o;
    size_t n = 0, changed = 0;
    int64_t seq1 = 0, seq2 = 0, seq3 = 0;

    assert_int_equal(e2ee__store_outq_add(st, "m1", 1, "bob", REC_A, sizeof REC_A, 10, &seq1),
                     E2EE_OK);
    assert_int_equal(e2ee__store_outq_add(st, "m2", 2, "group-1", REC_B, sizeof REC_B, 11, &seq2),
                     E2EE_OK);
    assert_int_equal(e2ee__store_outq_add(st, "m3", 1, "carol", NULL, 0, 12, &seq3), E2EE_OK);
    assert_true(seq1 < seq2 && seq2 < seq3);
    assert_int_equal(e2ee__store_outq_add(st, "m2", 1, "bob", REC_A, 1, 13, NULL),
                     E2EE_ERR_EXISTS);

    assert_int_equal(e2ee__store_outq_list(st, E2EE__STORE_OUT_ANY, 10, &items, &n), E2EE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(items[0].msg_id, "m1");
    assert_int_equal(items[0].kind, 1);
    assert_string_equal(items[0].target, "bob");
    assert_int_equal(items[0].payload_len, sizeof REC_A);
    assert_memory_equal(items[0].payload, REC_A, sizeof REC_A);
    assert_int_equal(items[0].state, E2EE__STORE_OUT_PENDING);
    assert_int_equal(items[0].created, 10);
    assert_int_equal(items[0].seq, seq1);
    assert_string_equal(items[1].target, "group-1");
    assert_int_equal(items[2].payload_len, 0);
    assert_non_null(items[2].payload);
    e2ee__store_outq_free(items, n);

    /* limit and state filter */
    assert_int_equal(e2ee__store_outq_list(st, E2EE__STORE_OUT_ANY, 2, &items, &n), E2EE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[1].msg_id, "m2");
    e2ee__store_outq_free(items, n);
    assert_int_equal(e2ee__store_outq_set_state(st, "m2", E2EE__STORE_OUT_INFLIGHT), E2EE_OK);
    assert_int_equal(e2ee__store_outq_set_state(st, "m9", E2EE__STORE_OUT_INFLIGHT),
                     E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_outq_set_state(st, "m2", 7), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_outq_list(st, E2EE__STORE_OUT_PENDING, 10, &items, &n), E2EE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].msg_id, "m1");
    assert_string_equal(items[1].msg_id, "m3");
    e2ee__store_outq_free(items, n);
    assert_int_equal(e2ee__store_outq_list(st, E2EE__STORE_OUT_INFLIGHT, 10, &items, &n),
                     E2EE_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].msg_id, "m2");
    e2ee__store_outq_free(items, n);
    assert_int_equal(e2ee__store_outq_list(st, E2EE__STORE_OUT_ANY, 0, &items, &n), E2EE_OK);
    assert_int_equal(n, 0);
    e2ee__store_outq_free(items, n);

    /* after a reconnect, in-flight messages go back to pending, keeping their place */
    assert_int_equal(e2ee__store_outq_set_state(st, "m1", E2EE__STORE_OUT_INFLIGHT), E2EE_OK);
    assert_int_equal(e2ee__store_outq_set_state_all(st, E2EE__STORE_OUT_INFLIGHT,
                                                    E2EE__STORE_OUT_PENDING, &changed),
                     E2EE_OK);
    assert_int_equal(changed, 2);
    assert_int_equal(e2ee__store_outq_get(st, "m2", &o), E2EE_OK);
    assert_int_equal(o.state, E2EE__STORE_OUT_PENDING);
    assert_int_equal(o.kind, 2);
    assert_memory_equal(o.payload, REC_B, sizeof REC_B);
    e2ee__store_outgoing_cleanup(&o);
    assert_null(o.payload);

    /* acked by the relay */
    assert_int_equal(e2ee__store_outq_remove(st, "m1"), E2EE_OK);
    assert_int_equal(e2ee__store_outq_remove(st, "m1"), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_outq_get(st, "m1", &o), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_outq_count(st, &n), E2EE_OK);
    assert_int_equal(n, 2);

    /* a new message goes after the others, even after removals */
    assert_int_equal(e2ee__store_outq_add(st, "m1", 1, "bob", REC_A, 1, 14, &seq1), E2EE_OK);
    assert_true(seq1 > seq3);
    assert_int_equal(e2ee__store_outq_list(st, E2EE__STORE_OUT_ANY, 10, &items, &n), E2EE_OK);
    assert_int_equal(n, 3);
    assert_string_equal(items[2].msg_id, "m1");
    e2ee__store_outq_free(items, n);
}

static void test_cursors_and_meta(void **state)
{
    struct e2ee__store *st = *state;
    uint64_t seq = 99;
    uint8_t *val = NULL;
    size_t len = 0;

    assert_int_equal(e2ee__store_cursor_get(st, "direct", &seq), E2EE_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(e2ee__store_cursor_advance(st, "direct", 41), E2EE_OK);
    assert_int_equal(e2ee__store_cursor_advance(st, "direct", 17), E2EE_OK);
    assert_int_equal(e2ee__store_cursor_advance(st, "group:g1", 5), E2EE_OK);
    assert_int_equal(e2ee__store_cursor_get(st, "direct", &seq), E2EE_OK);
    assert_int_equal(seq, 41);
    assert_int_equal(e2ee__store_cursor_get(st, "group:g1", &seq), E2EE_OK);
    assert_int_equal(seq, 5);
    assert_int_equal(e2ee__store_cursor_advance(st, "direct", (uint64_t)INT64_MAX), E2EE_OK);
    assert_int_equal(e2ee__store_cursor_advance(st, "direct", (uint64_t)INT64_MAX + 1),
                     E2EE_ERR_RANGE);
    assert_int_equal(e2ee__store_cursor_get(st, "direct", &seq), E2EE_OK);
    assert_true(seq == (uint64_t)INT64_MAX);

    assert_int_equal(e2ee__store_meta_get(st, "user_id", &val, &len), E2EE_ERR_NOT_FOUND);
    assert_int_equal(e2ee__store_meta_put(st, "user_id", (const uint8_t *)"alice", 5), E2EE_OK);
    assert_int_equal(e2ee__store_meta_put(st, "empty", NULL, 0), E2EE_OK);
    assert_int_equal(e2ee__store_meta_get(st, "user_id", &val, &len), E2EE_OK);
    expect_blob(val, len, (const uint8_t *)"alice", 5);
    assert_int_equal(e2ee__store_meta_put(st, "user_id", (const uint8_t *)"bob", 3), E2EE_OK);
    assert_int_equal(e2ee__store_meta_get(st, "user_id", &val, &len), E2EE_OK);
    expect_blob(val, len, (const uint8_t *)"bob", 3);
    assert_int_equal(e2ee__store_meta_get(st, "empty", &val, &len), E2EE_OK);
    assert_int_equal(len, 0);
    e2ee__store_blob_free(val, len);
    assert_int_equal(e2ee__store_meta_delete(st, "empty"), E2EE_OK);
    assert_int_equal(e2ee__store_meta_delete(st, "empty"), E2EE_ERR_NOT_FOUND);

    /* the store's own keys are out of reach */
    assert_int_equal(e2ee__store_meta_put(st, "store.prekey_next_id", REC_A, 1), E2EE_ERR_ARG);
    assert_int_equal(e2ee__store_meta_get(st, "store.prekey_next_id", &val, &len), E2EE_ERR_ARG);
}

static void test_transactions(void **state)
{
    struct e2ee__store *st = *state;
    uint8_t *rec = NULL;
    size_t len = 0;
    int seen = 0;

    assert_int_equal(e2ee__store_commit(st), E2EE_ERR_STATE);
    assert_int_equal(e2ee__store_rollback(st), E2EE_ERR_STATE);

    /* "state change + message acceptance" rolled back together */
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC_A, sizeof REC_A), E2EE_OK);
    assert_int_equal(e2ee__store_begin(st), E2EE_OK);
    assert_int_equal(e2ee__store_in_transaction(st), 1);
    assert_int_equal(e2ee__store_begin(st), E2EE_ERR_STATE);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC_B, sizeof REC_B), E2EE_OK);
    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, "m1", 1), E2EE_OK);
    assert_int_equal(e2ee__store_cursor_advance(st, "direct", 3), E2EE_OK);
    assert_int_equal(e2ee__store_rollback(st), E2EE_OK);
    assert_int_equal(e2ee__store_in_transaction(st), 0);
    assert_int_equal(e2ee__store_session_get(st, "bob", 1, &rec, &len), E2EE_OK);
    expect_blob(rec, len, REC_A, sizeof REC_A);
    assert_int_equal(e2ee__store_seen_check(st, "bob", 1, "m1", &seen), E2EE_OK);
    assert_int_equal(seen, 0);

    /* and committed together */
    assert_int_equal(e2ee__store_begin(st), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, REC_B, sizeof REC_B), E2EE_OK);
    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, "m1", 1), E2EE_OK);
    /* a failed operation inside leaves the transaction usable */
    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, "m1", 1), E2EE_ERR_EXISTS);
    assert_int_equal(e2ee__store_member_add(st, "nope", "bob"), E2EE_ERR_NOT_FOUND);
    /* so do the internal savepoints of multi-statement operations */
    uint32_t first = 0;
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 3, &first), E2EE_OK);
    assert_int_equal(e2ee__store_commit(st), E2EE_OK);
    assert_int_equal(e2ee__store_session_get(st, "bob", 1, &rec, &len), E2EE_OK);
    expect_blob(rec, len, REC_B, sizeof REC_B);
    assert_int_equal(e2ee__store_seen_check(st, "bob", 1, "m1", &seen), E2EE_OK);
    assert_int_equal(seen, 1);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 1, &first), E2EE_OK);
    assert_int_equal(first, 4);

    /* a rolled-back allocation hands the same ids out again */
    assert_int_equal(e2ee__store_begin(st), E2EE_OK);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 2, &first), E2EE_OK);
    assert_int_equal(first, 5);
    assert_int_equal(e2ee__store_rollback(st), E2EE_OK);
    assert_int_equal(e2ee__store_prekey_alloc_ids(st, 2, &first), E2EE_OK);
    assert_int_equal(first, 5);
}

static void test_limits(void **state)
{
    struct e2ee__store *st = *state;
    const size_t max = E2EE__STORE_ID_MAX;
    char longest[E2EE__STORE_ID_MAX + 1];
    uint8_t *rec = NULL;
    size_t len = 0;

    strcpy(longest, sf_id(max, 'u'));
    assert_int_equal(e2ee__store_session_put(st, longest, 1, REC_A, 1), E2EE_OK);
    assert_int_equal(e2ee__store_session_get(st, longest, 1, &rec, &len), E2EE_OK);
    e2ee__store_blob_free(rec, len);
    assert_int_equal(e2ee__store_session_put(st, sf_id(max + 1, 'u'), 1, REC_A, 1),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_session_get(st, sf_id(max + 1, 'u'), 1, &rec, &len),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_session_put(st, "", 1, REC_A, 1), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_session_put(st, NULL, 1, REC_A, 1), E2EE_ERR_ARG);

    /* every id-taking operation checks */
    struct e2ee__store_group g = {.epoch = 1};
    strcpy(g.id, longest);
    strcpy(g.owner, "o");
    assert_int_equal(e2ee__store_group_put(st, &g), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, longest, longest), E2EE_OK);
    assert_int_equal(e2ee__store_member_add(st, longest, sf_id(max + 1, 'm')), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_sender_key_put(st, longest, sf_id(max + 1, 's'), 1, REC_A, 1),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_outq_add(st, sf_id(max + 1, 'i'), 1, "bob", REC_A, 1, 1, NULL),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_outq_add(st, "i", 1, sf_id(max + 1, 't'), REC_A, 1, 1, NULL),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_seen_add(st, "bob", 1, sf_id(max + 1, 'x'), 1),
                     E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_cursor_advance(st, sf_id(max + 1, 'c'), 1), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_meta_put(st, sf_id(max + 1, 'k'), REC_A, 1), E2EE_ERR_LENGTH);
    assert_int_equal(e2ee__store_peer_trust(st, sf_id(max + 1, 'p'), REC_A, 1, 1),
                     E2EE_ERR_LENGTH);

    /* blob limits */
    uint8_t *big = calloc(1, E2EE__STORE_RECORD_MAX + 1);
    assert_non_null(big);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, big, E2EE__STORE_RECORD_MAX), E2EE_OK);
    assert_int_equal(e2ee__store_session_put(st, "bob", 1, big, E2EE__STORE_RECORD_MAX + 1),
                     E2EE_ERR_TOO_LARGE);
    assert_int_equal(e2ee__store_identity_put(st, big, E2EE__STORE_RECORD_MAX + 1),
                     E2EE_ERR_TOO_LARGE);
    assert_int_equal(e2ee__store_outq_add(st, "big", 1, "bob", big, E2EE__STORE_PAYLOAD_MAX + 1,
                                          1, NULL),
                     E2EE_ERR_TOO_LARGE);
    assert_int_equal(e2ee__store_meta_put(st, "k", big, E2EE__STORE_META_MAX + 1),
                     E2EE_ERR_TOO_LARGE);
    assert_int_equal(e2ee__store_session_get(st, "bob", 1, &rec, &len), E2EE_OK);
    assert_int_equal(len, E2EE__STORE_RECORD_MAX);
    e2ee__store_blob_free(rec, len);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signed_prekeys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_time_prekeys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_members_and_distribution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursors_and_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
