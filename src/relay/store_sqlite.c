/*
 * e2ee relay store: the SQLite back end (WAL mode, exclusive lock, prepared statements).
 *
 * Every statement is prepared once at open. Each operation resets its statements before
 * returning, so no read transaction stays open between calls. Blobs and texts are bound
 * SQLITE_STATIC: the caller's buffers outlive the step.
 */
#include "relay/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/store_sqlite.h"

#define BUSY_TIMEOUT_MS 2000
#define CACHE_KIB 32768 /* page cache: 32 MiB */

enum stmt_id {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
    S_META_GET, S_META_SET,
    S_USER_GET, S_USER_INSERT, S_USER_DELETE, S_USER_LIST, S_USER_EXISTS,
    S_DEL_USER_PREKEYS, S_DEL_USER_INBOX, S_DEL_USER_SENT, S_DEL_USER_MEMBERS,
    S_DEL_USER_PAIRWISE,
    S_SPK_SET, S_OTPK_COUNT, S_OTPK_EXISTS, S_OTPK_PUT, S_OTPK_FIRST, S_OTPK_DELETE,
    S_INBOX_BUMP, S_INBOX_INSERT, S_INBOX_READ, S_INBOX_SCAN, S_INBOX_SUM, S_INBOX_DELETE,
    S_INBOX_ACKED,
    S_SENT_GET, S_SENT_PUT, S_SENT_PRUNE,
    S_GROUP_GET, S_GROUP_PUT, S_DEL_GROUP_LOG, S_DEL_GROUP_PAIRWISE, S_DEL_GROUP_MEMBERS,
    S_GROUP_LOAD, S_GROUP_MEMBERS,
    S_MEMBER_ADD, S_MEMBER_REMOVE, S_DEL_MEMBER_PAIRWISE, S_MEMBER_CURSOR,
    S_DEL_MEMBER_PAIRWISE_UPTO, S_GROUPS_OF,
    S_GLOG_INSERT, S_PAIRWISE_INSERT, S_GLOG_READ, S_GLOG_SCAN, S_GLOG_GC, S_PAIRWISE_GC,
    S_COUNT_INBOX, S_COUNT_GLOG,
    S_COUNT
};

static const char *const k_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT req",
    [S_RELEASE] = "RELEASE req",
    [S_ROLLBACK_TO] = "ROLLBACK TO req",
    [S_META_GET] = "SELECT value FROM meta WHERE key=?1",
    [S_META_SET] = "INSERT INTO meta(key,value) VALUES(?1,?2)"
                   " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
    [S_USER_GET] = "SELECT device,sign_pk,dh_pk,dh_sig,spk_id,spk_pk,spk_sig,inbox_head,"
                   "inbox_acked,queued_msgs,queued_bytes,created_ms FROM users WHERE uid=?1",
    [S_USER_INSERT] = "INSERT INTO users(uid,device,sign_pk,dh_pk,dh_sig,created_ms)"
                      " VALUES(?1,?2,?3,?4,?5,?6)",
    [S_USER_DELETE] = "DELETE FROM users WHERE uid=?1",
    [S_USER_LIST] = "SELECT uid FROM users WHERE uid>?1 ORDER BY uid LIMIT ?2",
    [S_USER_EXISTS] = "SELECT 1 FROM users WHERE uid=?1",
    [S_DEL_USER_PREKEYS] = "DELETE FROM prekeys WHERE uid=?1",
    [S_DEL_USER_INBOX] = "DELETE FROM inbox WHERE uid=?1",
    [S_DEL_USER_SENT] = "DELETE FROM sent_ids WHERE sender=?1",
    [S_DEL_USER_MEMBERS] = "DELETE FROM members WHERE uid=?1",
    [S_DEL_USER_PAIRWISE] = "DELETE FROM group_pairwise WHERE uid=?1",
    [S_SPK_SET] = "UPDATE users SET spk_id=?2, spk_pk=?3, spk_sig=?4 WHERE uid=?1",
    [S_OTPK_COUNT] = "SELECT COUNT(*) FROM prekeys WHERE uid=?1",
    [S_OTPK_EXISTS] = "SELECT 1 FROM prekeys WHERE uid=?1 AND id=?2",
    [S_OTPK_PUT] = "INSERT OR REPLACE INTO prekeys(uid,id,pk) VALUES(?1,?2,?3)",
    [S_OTPK_FIRST] = "SELECT id,pk FROM prekeys WHERE uid=?1 ORDER BY id LIMIT 1",
    [S_OTPK_DELETE] = "DELETE FROM prekeys WHERE uid=?1 AND id=?2",
    [S_INBOX_BUMP] = "UPDATE users SET inbox_head=inbox_head+1, queued_msgs=queued_msgs+1,"
                     " queued_bytes=queued_bytes+?2 WHERE uid=?1 AND"
                     " (?3=0 OR (queued_msgs<?4 AND queued_bytes+?2<=?5)) RETURNING inbox_head",
    [S_INBOX_INSERT] = "INSERT INTO inbox(uid,seq,kind,peer,peer_device,cmid,at_ms,size,data)"
                       " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [S_INBOX_READ] = "SELECT seq,kind,peer,peer_device,cmid,at_ms,data FROM inbox"
                     " WHERE uid=?1 AND seq>?2 ORDER BY seq LIMIT ?3",
    [S_INBOX_SCAN] = "SELECT seq,peer,peer_device,cmid,size FROM inbox"
                     " WHERE uid=?1 AND seq>?2 AND seq<=?3 AND kind=1 ORDER BY seq",
    [S_INBOX_SUM] = "SELECT COUNT(*),COALESCE(SUM(size),0) FROM inbox WHERE uid=?1 AND seq<=?2",
    [S_INBOX_DELETE] = "DELETE FROM inbox WHERE uid=?1 AND seq<=?2",
    [S_INBOX_ACKED] = "UPDATE users SET inbox_acked=MAX(inbox_acked,?2),"
                      " queued_msgs=queued_msgs-?3, queued_bytes=queued_bytes-?4 WHERE uid=?1",
    [S_SENT_GET] = "SELECT gid,recipient,seq FROM sent_ids WHERE sender=?1 AND cmid=?2",
    [S_SENT_PUT] = "INSERT OR REPLACE INTO sent_ids(sender,cmid,gid,recipient,seq,at_ms)"
                   " VALUES(?1,?2,?3,?4,?5,?6)",
    [S_SENT_PRUNE] = "DELETE FROM sent_ids WHERE at_ms<?1",
    [S_GROUP_GET] = "SELECT owner,epoch,head,deleted,created_ms FROM groups WHERE gid=?1",
    [S_GROUP_PUT] = "INSERT INTO groups(gid,owner,epoch,head,deleted,created_ms)"
                    " VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(gid) DO UPDATE SET"
                    " owner=excluded.owner, epoch=excluded.epoch, head=excluded.head,"
                    " deleted=excluded.deleted, created_ms=excluded.created_ms",
    [S_DEL_GROUP_LOG] = "DELETE FROM group_log WHERE gid=?1",
    [S_DEL_GROUP_PAIRWISE] = "DELETE FROM group_pairwise WHERE gid=?1",
    [S_DEL_GROUP_MEMBERS] = "DELETE FROM members WHERE gid=?1",
    [S_GROUP_LOAD] = "SELECT gid,owner,epoch,head,created_ms FROM groups WHERE deleted=0"
                     " ORDER BY gid",
    [S_GROUP_MEMBERS] = "SELECT uid,cursor,joined_seq FROM members WHERE gid=?1"
                        " ORDER BY joined_seq,uid",
    [S_MEMBER_ADD] = "INSERT INTO members(gid,uid,cursor,joined_seq) VALUES(?1,?2,?3,?4)",
    [S_MEMBER_REMOVE] = "DELETE FROM members WHERE gid=?1 AND uid=?2",
    [S_DEL_MEMBER_PAIRWISE] = "DELETE FROM group_pairwise WHERE gid=?1 AND uid=?2",
    [S_MEMBER_CURSOR] = "UPDATE members SET cursor=?3 WHERE gid=?1 AND uid=?2",
    [S_DEL_MEMBER_PAIRWISE_UPTO] = "DELETE FROM group_pairwise WHERE gid=?1 AND uid=?2"
                                   " AND seq<=?3",
    [S_GROUPS_OF] = "SELECT gid FROM members WHERE uid=?1 ORDER BY gid",
    [S_GLOG_INSERT] = "INSERT INTO group_log(gid,seq,kind,sender,sender_device,cmid,epoch,"
                      "at_ms,size,data,extra) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [S_PAIRWISE_INSERT] = "INSERT OR REPLACE INTO group_pairwise(gid,seq,uid,payload)"
                          " VALUES(?1,?2,?3,?4)",
    [S_GLOG_READ] = "SELECT l.seq,l.kind,l.sender,l.sender_device,l.cmid,l.epoch,l.at_ms,"
                    "l.data,l.extra,p.payload FROM group_log l LEFT JOIN group_pairwise p"
                    " ON p.gid=l.gid AND p.uid=?4 AND p.seq=l.seq"
                    " WHERE l.gid=?1 AND l.seq>?2 ORDER BY l.seq LIMIT ?3",
    [S_GLOG_SCAN] = "SELECT seq,sender,sender_device,cmid,size FROM group_log"
                    " WHERE gid=?1 AND seq>?2 AND seq<=?3 AND kind=4 AND sender<>?4"
                    " ORDER BY seq",
    [S_GLOG_GC] = "DELETE FROM group_log WHERE gid=?1 AND seq<=?2",
    [S_PAIRWISE_GC] = "DELETE FROM group_pairwise WHERE gid=?1 AND seq<=?2",
    [S_COUNT_INBOX] = "SELECT COUNT(*) FROM inbox",
    [S_COUNT_GLOG] = "SELECT COUNT(*) FROM group_log",
};

struct sq_store {
    struct e2ee__rstore base; /* first: the relay holds a pointer to it */
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
};

static const uint8_t k_empty[1];

static struct sq_store *sq(struct e2ee__rstore *st)
{
    return (struct sq_store *)st;
}

/* Returns statement id, reset and with its bindings cleared. */
static sqlite3_stmt *stmt(struct sq_store *s, enum stmt_id id)
{
    sqlite3_stmt *t = s->st[id];
    sqlite3_reset(t);
    sqlite3_clear_bindings(t);
    return t;
}

static void bind_text(sqlite3_stmt *t, int i, const char *v)
{
    sqlite3_bind_text(t, i, v ? v : "", -1, SQLITE_STATIC);
}

static void bind_blob(sqlite3_stmt *t, int i, const uint8_t *p, size_t n)
{
    sqlite3_bind_blob64(t, i, n ? p : k_empty, n, SQLITE_STATIC);
}

static void bind_u64(sqlite3_stmt *t, int i, uint64_t v)
{
    sqlite3_bind_int64(t, i, (sqlite3_int64)v);
}

static uint64_t col_u64(sqlite3_stmt *t, int i)
{
    return (uint64_t)sqlite3_column_int64(t, i);
}

/* Copies a text column into a fixed buffer (ids are at most E2EE_RELAY_ID_MAX bytes). */
static void col_id(sqlite3_stmt *t, int i, char out[E2EE_RELAY_ID_BUF])
{
    const unsigned char *v = sqlite3_column_text(t, i);
    snprintf(out, E2EE_RELAY_ID_BUF, "%s", v ? (const char *)v : "");
}

/* Copies a blob column of exactly n bytes; 0 on success, -1 when the length differs. */
static int col_fixed(sqlite3_stmt *t, int i, uint8_t *out, size_t n)
{
    const void *p = sqlite3_column_blob(t, i);
    if ((size_t)sqlite3_column_bytes(t, i) != n || !p)
        return -1;
    memcpy(out, p, n);
    return 0;
}

/* Runs a statement that returns no row. */
static int run(sqlite3_stmt *t)
{
    int rc = sqlite3_step(t);
    sqlite3_reset(t);
    return rc == SQLITE_DONE ? E2EE_OK : E2EE_ERR_STORE;
}

static int run_id(struct sq_store *s, enum stmt_id id, const char *a)
{
    sqlite3_stmt *t = stmt(s, id);
    bind_text(t, 1, a);
    return run(t);
}

static int run_id2(struct sq_store *s, enum stmt_id id, const char *a, const char *b)
{
    sqlite3_stmt *t = stmt(s, id);
    bind_text(t, 1, a);
    bind_text(t, 2, b);
    return run(t);
}

static int run_id_u64(struct sq_store *s, enum stmt_id id, const char *a, uint64_t v)
{
    sqlite3_stmt *t = stmt(s, id);
    bind_text(t, 1, a);
    bind_u64(t, 2, v);
    return run(t);
}

/* ---- transactions ---- */

static int op_begin(struct e2ee__rstore *st) { return run(stmt(sq(st), S_BEGIN)); }
static int op_commit(struct e2ee__rstore *st) { return run(stmt(sq(st), S_COMMIT)); }
static int op_savepoint(struct e2ee__rstore *st) { return run(stmt(sq(st), S_SAVEPOINT)); }
static int op_release(struct e2ee__rstore *st) { return run(stmt(sq(st), S_RELEASE)); }

static int op_rollback(struct e2ee__rstore *st)
{
    struct sq_store *s = sq(st);
    /* A failed COMMIT may have rolled back already; ROLLBACK then fails harmlessly. */
    if (sqlite3_get_autocommit(s->db))
        return E2EE_OK;
    return run(stmt(s, S_ROLLBACK));
}

static int op_rollback_to(struct e2ee__rstore *st)
{
    int rc = run(stmt(sq(st), S_ROLLBACK_TO));
    int rc2 = op_release(st);
    return rc != E2EE_OK ? rc : rc2;
}

/* ---- meta ---- */

static int op_meta_get(struct e2ee__rstore *st, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *t = stmt(sq(st), S_META_GET);
    int rc = E2EE_ERR_NOT_FOUND;
    if (cap)
        out[0] = '\0';
    bind_text(t, 1, key);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(t, 0);
        rc = E2EE_ERR_LENGTH;
        if (v && strlen((const char *)v) < cap) {
            memcpy(out, v, strlen((const char *)v) + 1);
            rc = E2EE_OK;
        }
    } else if (r != SQLITE_DONE) {
        rc = E2EE_ERR_STORE;
    }
    sqlite3_reset(t);
    return rc;
}

static int op_meta_set(struct e2ee__rstore *st, const char *key, const char *value)
{
    return run_id2(sq(st), S_META_SET, key, value);
}

/* ---- users ---- */

static int read_user(sqlite3_stmt *t, struct e2ee__rs_user *u)
{
    u->device = (uint32_t)sqlite3_column_int64(t, 0);
    if (col_fixed(t, 1, u->sign_pk, sizeof u->sign_pk) ||
        col_fixed(t, 2, u->dh_pk, sizeof u->dh_pk) ||
        col_fixed(t, 3, u->dh_sig, sizeof u->dh_sig))
        return E2EE_ERR_CORRUPT;
    u->has_spk = sqlite3_column_type(t, 4) != SQLITE_NULL;
    if (u->has_spk) {
        u->spk_id = (uint32_t)sqlite3_column_int64(t, 4);
        if (col_fixed(t, 5, u->spk_pk, sizeof u->spk_pk) ||
            col_fixed(t, 6, u->spk_sig, sizeof u->spk_sig))
            return E2EE_ERR_CORRUPT;
    }
    u->inbox_head = col_u64(t, 7);
    u->inbox_acked = col_u64(t, 8);
    u->queued_msgs = col_u64(t, 9);
    u->queued_bytes = col_u64(t, 10);
    u->created_ms = sqlite3_column_int64(t, 11);
    return E2EE_OK;
}

static int op_user_get(struct e2ee__rstore *st, const char *uid, struct e2ee__rs_user *out)
{
    sqlite3_stmt *t = stmt(sq(st), S_USER_GET);
    int rc = E2EE_ERR_NOT_FOUND;
    memset(out, 0, sizeof *out);
    bind_text(t, 1, uid);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW) {
        snprintf(out->uid, sizeof out->uid, "%s", uid);
        rc = read_user(t, out);
    } else if (r != SQLITE_DONE) {
        rc = E2EE_ERR_STORE;
    }
    sqlite3_reset(t);
    return rc;
}

static int op_user_create(struct e2ee__rstore *st, const struct e2ee__rs_user *u)
{
    sqlite3_stmt *t = stmt(sq(st), S_USER_INSERT);
    bind_text(t, 1, u->uid);
    sqlite3_bind_int64(t, 2, u->device);
    bind_blob(t, 3, u->sign_pk, sizeof u->sign_pk);
    bind_blob(t, 4, u->dh_pk, sizeof u->dh_pk);
    bind_blob(t, 5, u->dh_sig, sizeof u->dh_sig);
    sqlite3_bind_int64(t, 6, u->created_ms);
    int r = sqlite3_step(t);
    sqlite3_reset(t);
    if (r == SQLITE_DONE)
        return E2EE_OK;
    return (r & 0xff) == SQLITE_CONSTRAINT ? E2EE_ERR_EXISTS : E2EE_ERR_STORE;
}

static int op_user_delete(struct e2ee__rstore *st, const char *uid)
{
    static const enum stmt_id steps[] = {S_DEL_USER_PREKEYS, S_DEL_USER_INBOX, S_DEL_USER_SENT,
                                         S_DEL_USER_MEMBERS, S_DEL_USER_PAIRWISE, S_USER_DELETE};
    int rc = E2EE_OK;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && rc == E2EE_OK; i++)
        rc = run_id(sq(st), steps[i], uid);
    return rc;
}

static int op_user_list(struct e2ee__rstore *st, const char *after, uint32_t limit,
                        e2ee__rs_str_cb cb, void *arg)
{
    sqlite3_stmt *t = stmt(sq(st), S_USER_LIST);
    int rc = E2EE_OK, r;
    bind_text(t, 1, after);
    sqlite3_bind_int64(t, 2, limit);
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(t, 0);
        if (cb(arg, v ? (const char *)v : ""))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

/* ---- prekeys ---- */

static int op_spk_set(struct e2ee__rstore *st, const char *uid, uint32_t id,
                      const uint8_t pk[E2EE_RELAY_KEY_LEN], const uint8_t sig[E2EE_RELAY_SIG_LEN])
{
    sqlite3_stmt *t = stmt(sq(st), S_SPK_SET);
    bind_text(t, 1, uid);
    sqlite3_bind_int64(t, 2, id);
    bind_blob(t, 3, pk, E2EE_RELAY_KEY_LEN);
    bind_blob(t, 4, sig, E2EE_RELAY_SIG_LEN);
    return run(t);
}

static int op_otpk_count(struct e2ee__rstore *st, const char *uid, uint32_t *n)
{
    sqlite3_stmt *t = stmt(sq(st), S_OTPK_COUNT);
    int rc = E2EE_ERR_STORE;
    *n = 0;
    bind_text(t, 1, uid);
    if (sqlite3_step(t) == SQLITE_ROW) {
        *n = (uint32_t)sqlite3_column_int64(t, 0);
        rc = E2EE_OK;
    }
    sqlite3_reset(t);
    return rc;
}

static int otpk_exists(struct sq_store *s, const char *uid, uint32_t id, int *yes)
{
    sqlite3_stmt *t = stmt(s, S_OTPK_EXISTS);
    bind_text(t, 1, uid);
    sqlite3_bind_int64(t, 2, id);
    int r = sqlite3_step(t);
    sqlite3_reset(t);
    *yes = r == SQLITE_ROW;
    return r == SQLITE_ROW || r == SQLITE_DONE ? E2EE_OK : E2EE_ERR_STORE;
}

static int op_otpk_add(struct e2ee__rstore *st, const char *uid, size_t n, const uint32_t *ids,
                       const uint8_t (*pks)[E2EE_RELAY_KEY_LEN], uint32_t max)
{
    struct sq_store *s = sq(st);
    uint32_t have = 0;
    size_t fresh = 0;
    int rc = op_otpk_count(st, uid, &have);
    for (size_t i = 0; i < n && rc == E2EE_OK; i++) {
        int yes = 0;
        rc = otpk_exists(s, uid, ids[i], &yes);
        fresh += !yes;
    }
    if (rc != E2EE_OK)
        return rc;
    if ((uint64_t)have + fresh > max)
        return E2EE_ERR_LIMIT;
    for (size_t i = 0; i < n && rc == E2EE_OK; i++) {
        sqlite3_stmt *t = stmt(s, S_OTPK_PUT);
        bind_text(t, 1, uid);
        sqlite3_bind_int64(t, 2, ids[i]);
        bind_blob(t, 3, pks[i], E2EE_RELAY_KEY_LEN);
        rc = run(t);
    }
    return rc;
}

static int op_otpk_clear(struct e2ee__rstore *st, const char *uid)
{
    return run_id(sq(st), S_DEL_USER_PREKEYS, uid);
}

static int op_otpk_take(struct e2ee__rstore *st, const char *uid, uint32_t *id,
                        uint8_t pk[E2EE_RELAY_KEY_LEN])
{
    struct sq_store *s = sq(st);
    sqlite3_stmt *t = stmt(s, S_OTPK_FIRST);
    int rc = E2EE_ERR_NOT_FOUND;
    *id = 0;
    bind_text(t, 1, uid);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW) {
        *id = (uint32_t)sqlite3_column_int64(t, 0);
        rc = col_fixed(t, 1, pk, E2EE_RELAY_KEY_LEN) ? E2EE_ERR_CORRUPT : E2EE_OK;
    } else if (r != SQLITE_DONE) {
        rc = E2EE_ERR_STORE;
    }
    sqlite3_reset(t);
    if (rc != E2EE_OK)
        return rc;
    t = stmt(s, S_OTPK_DELETE);
    bind_text(t, 1, uid);
    sqlite3_bind_int64(t, 2, *id);
    return run(t);
}

/* ---- inbox ---- */

static int user_exists(struct sq_store *s, const char *uid)
{
    sqlite3_stmt *t = stmt(s, S_USER_EXISTS);
    bind_text(t, 1, uid);
    int r = sqlite3_step(t);
    sqlite3_reset(t);
    if (r == SQLITE_ROW)
        return E2EE_OK;
    return r == SQLITE_DONE ? E2EE_ERR_NOT_FOUND : E2EE_ERR_STORE;
}

static int op_inbox_append(struct e2ee__rstore *st, const char *uid, const struct e2ee__rs_item *it,
                           const struct e2ee__rs_limits *lim, uint64_t *seq)
{
    struct sq_store *s = sq(st);
    sqlite3_stmt *t = stmt(s, S_INBOX_BUMP);
    int rc;
    *seq = 0;
    bind_text(t, 1, uid);
    bind_u64(t, 2, it->len);
    sqlite3_bind_int(t, 3, lim != NULL);
    bind_u64(t, 4, lim ? lim->max_msgs : 0);
    bind_u64(t, 5, lim ? lim->max_bytes : 0);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW)
        *seq = col_u64(t, 0);
    /* RETURNING: step to the end so the update is complete before reset */
    while (r == SQLITE_ROW)
        r = sqlite3_step(t);
    sqlite3_reset(t);
    if (r != SQLITE_DONE)
        return E2EE_ERR_STORE;
    if (*seq == 0) {
        rc = user_exists(s, uid);
        return rc == E2EE_OK ? E2EE_ERR_QUEUE_FULL : rc;
    }
    t = stmt(s, S_INBOX_INSERT);
    bind_text(t, 1, uid);
    bind_u64(t, 2, *seq);
    sqlite3_bind_int(t, 3, it->kind);
    bind_text(t, 4, it->peer);
    sqlite3_bind_int64(t, 5, it->peer_device);
    bind_u64(t, 6, it->cmid);
    sqlite3_bind_int64(t, 7, it->at_ms);
    bind_u64(t, 8, it->len);
    bind_blob(t, 9, it->data, it->len);
    rc = run(t);
    if (rc != E2EE_OK)
        *seq = 0;
    return rc;
}

static int op_inbox_read(struct e2ee__rstore *st, const char *uid, uint64_t after, uint32_t max,
                         e2ee__rs_item_cb cb, void *arg)
{
    sqlite3_stmt *t = stmt(sq(st), S_INBOX_READ);
    int rc = E2EE_OK, r;
    bind_text(t, 1, uid);
    bind_u64(t, 2, after);
    sqlite3_bind_int64(t, 3, max);
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        struct e2ee__rs_item it = {0};
        it.seq = col_u64(t, 0);
        it.kind = sqlite3_column_int(t, 1);
        it.peer = (const char *)sqlite3_column_text(t, 2);
        it.peer_device = (uint32_t)sqlite3_column_int64(t, 3);
        it.cmid = col_u64(t, 4);
        it.at_ms = sqlite3_column_int64(t, 5);
        it.data = sqlite3_column_blob(t, 6);
        it.len = (size_t)sqlite3_column_bytes(t, 6);
        if (!it.peer)
            it.peer = "";
        if (cb(arg, &it))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

static int op_inbox_scan(struct e2ee__rstore *st, const char *uid, uint64_t after, uint64_t upto,
                         e2ee__rs_item_cb cb, void *arg)
{
    sqlite3_stmt *t = stmt(sq(st), S_INBOX_SCAN);
    int rc = E2EE_OK, r;
    bind_text(t, 1, uid);
    bind_u64(t, 2, after);
    bind_u64(t, 3, upto);
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        struct e2ee__rs_item it = {0};
        it.kind = E2EE_RS_DIRECT;
        it.seq = col_u64(t, 0);
        it.peer = (const char *)sqlite3_column_text(t, 1);
        it.peer_device = (uint32_t)sqlite3_column_int64(t, 2);
        it.cmid = col_u64(t, 3);
        it.len = (size_t)sqlite3_column_int64(t, 4);
        if (!it.peer)
            it.peer = "";
        if (cb(arg, &it))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

static int op_inbox_ack(struct e2ee__rstore *st, const char *uid, uint64_t upto)
{
    struct sq_store *s = sq(st);
    sqlite3_stmt *t = stmt(s, S_INBOX_SUM);
    uint64_t n = 0, bytes = 0;
    bind_text(t, 1, uid);
    bind_u64(t, 2, upto);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW) {
        n = col_u64(t, 0);
        bytes = col_u64(t, 1);
    }
    sqlite3_reset(t);
    if (r != SQLITE_ROW)
        return E2EE_ERR_STORE;
    int rc = run_id_u64(s, S_INBOX_DELETE, uid, upto);
    if (rc != E2EE_OK)
        return rc;
    t = stmt(s, S_INBOX_ACKED);
    bind_text(t, 1, uid);
    bind_u64(t, 2, upto);
    bind_u64(t, 3, n);
    bind_u64(t, 4, bytes);
    return run(t);
}

/* ---- sender message ids ---- */

static int op_sent_get(struct e2ee__rstore *st, const char *sender, uint64_t cmid,
                       char gid[E2EE_RELAY_ID_BUF], char to[E2EE_RELAY_ID_BUF], uint64_t *seq)
{
    sqlite3_stmt *t = stmt(sq(st), S_SENT_GET);
    int rc = E2EE_ERR_NOT_FOUND;
    gid[0] = '\0';
    to[0] = '\0';
    *seq = 0;
    bind_text(t, 1, sender);
    bind_u64(t, 2, cmid);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW) {
        col_id(t, 0, gid);
        col_id(t, 1, to);
        *seq = col_u64(t, 2);
        rc = E2EE_OK;
    } else if (r != SQLITE_DONE) {
        rc = E2EE_ERR_STORE;
    }
    sqlite3_reset(t);
    return rc;
}

static int op_sent_put(struct e2ee__rstore *st, const char *sender, uint64_t cmid,
                       const char *gid, const char *to, uint64_t seq, int64_t at_ms)
{
    sqlite3_stmt *t = stmt(sq(st), S_SENT_PUT);
    bind_text(t, 1, sender);
    bind_u64(t, 2, cmid);
    bind_text(t, 3, gid);
    bind_text(t, 4, to);
    bind_u64(t, 5, seq);
    sqlite3_bind_int64(t, 6, at_ms);
    return run(t);
}

static int op_sent_prune(struct e2ee__rstore *st, int64_t before_ms)
{
    sqlite3_stmt *t = stmt(sq(st), S_SENT_PRUNE);
    sqlite3_bind_int64(t, 1, before_ms);
    return run(t);
}

/* ---- groups ---- */

static int op_group_get(struct e2ee__rstore *st, const char *gid, struct e2ee__rs_group *out)
{
    sqlite3_stmt *t = stmt(sq(st), S_GROUP_GET);
    int rc = E2EE_ERR_NOT_FOUND;
    memset(out, 0, sizeof *out);
    bind_text(t, 1, gid);
    int r = sqlite3_step(t);
    if (r == SQLITE_ROW) {
        snprintf(out->gid, sizeof out->gid, "%s", gid);
        col_id(t, 0, out->owner);
        out->epoch = col_u64(t, 1);
        out->head = col_u64(t, 2);
        out->deleted = sqlite3_column_int(t, 3);
        out->created_ms = sqlite3_column_int64(t, 4);
        rc = E2EE_OK;
    } else if (r != SQLITE_DONE) {
        rc = E2EE_ERR_STORE;
    }
    sqlite3_reset(t);
    return rc;
}

static int op_group_put(struct e2ee__rstore *st, const struct e2ee__rs_group *g)
{
    sqlite3_stmt *t = stmt(sq(st), S_GROUP_PUT);
    bind_text(t, 1, g->gid);
    bind_text(t, 2, g->owner);
    bind_u64(t, 3, g->epoch);
    bind_u64(t, 4, g->head);
    sqlite3_bind_int(t, 5, g->deleted != 0);
    sqlite3_bind_int64(t, 6, g->created_ms);
    return run(t);
}

static int op_group_remove(struct e2ee__rstore *st, const struct e2ee__rs_group *g)
{
    struct e2ee__rs_group tomb = *g;
    tomb.deleted = 1;
    int rc = op_group_put(st, &tomb);
    if (rc == E2EE_OK)
        rc = run_id(sq(st), S_DEL_GROUP_LOG, g->gid);
    if (rc == E2EE_OK)
        rc = run_id(sq(st), S_DEL_GROUP_PAIRWISE, g->gid);
    if (rc == E2EE_OK)
        rc = run_id(sq(st), S_DEL_GROUP_MEMBERS, g->gid);
    return rc;
}

static int load_members(struct sq_store *s, const char *gid, e2ee__rs_member_cb mcb, void *arg)
{
    sqlite3_stmt *t = stmt(s, S_GROUP_MEMBERS);
    int rc = E2EE_OK, r;
    bind_text(t, 1, gid);
    while ((r = sqlite3_step(t)) == SQLITE_ROW && rc == E2EE_OK) {
        struct e2ee__rs_member m;
        memset(&m, 0, sizeof m);
        snprintf(m.gid, sizeof m.gid, "%s", gid);
        col_id(t, 0, m.uid);
        m.cursor = col_u64(t, 1);
        m.joined_seq = col_u64(t, 2);
        rc = mcb(arg, &m);
    }
    if (rc == E2EE_OK && r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

/* Groups are read into a list first: the members query cannot run while the group query
 * is stepping on the same statement set. */
static int op_group_load(struct e2ee__rstore *st, e2ee__rs_group_cb gcb, e2ee__rs_member_cb mcb,
                         void *arg)
{
    struct sq_store *s = sq(st);
    sqlite3_stmt *t = stmt(s, S_GROUP_LOAD);
    struct e2ee__rs_group *list = NULL;
    size_t n = 0, cap = 0;
    int rc = E2EE_OK, r;
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct e2ee__rs_group *nl = realloc(list, ncap * sizeof *nl);
            if (!nl) {
                rc = E2EE_ERR_NOMEM;
                break;
            }
            list = nl;
            cap = ncap;
        }
        struct e2ee__rs_group *g = &list[n++];
        memset(g, 0, sizeof *g);
        col_id(t, 0, g->gid);
        col_id(t, 1, g->owner);
        g->epoch = col_u64(t, 2);
        g->head = col_u64(t, 3);
        g->created_ms = sqlite3_column_int64(t, 4);
    }
    if (rc == E2EE_OK && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    for (size_t i = 0; i < n && rc == E2EE_OK; i++) {
        rc = gcb(arg, &list[i]);
        if (rc == E2EE_OK)
            rc = load_members(s, list[i].gid, mcb, arg);
    }
    free(list);
    return rc;
}

static int op_member_add(struct e2ee__rstore *st, const struct e2ee__rs_member *m)
{
    sqlite3_stmt *t = stmt(sq(st), S_MEMBER_ADD);
    bind_text(t, 1, m->gid);
    bind_text(t, 2, m->uid);
    bind_u64(t, 3, m->cursor);
    bind_u64(t, 4, m->joined_seq);
    return run(t);
}

static int op_member_remove(struct e2ee__rstore *st, const char *gid, const char *uid)
{
    int rc = run_id2(sq(st), S_MEMBER_REMOVE, gid, uid);
    if (rc == E2EE_OK)
        rc = run_id2(sq(st), S_DEL_MEMBER_PAIRWISE, gid, uid);
    return rc;
}

static int op_member_set_cursor(struct e2ee__rstore *st, const char *gid, const char *uid,
                                uint64_t cursor)
{
    static const enum stmt_id ids[] = {S_MEMBER_CURSOR, S_DEL_MEMBER_PAIRWISE_UPTO};
    int rc = E2EE_OK;
    for (size_t i = 0; i < 2 && rc == E2EE_OK; i++) {
        sqlite3_stmt *t = stmt(sq(st), ids[i]);
        bind_text(t, 1, gid);
        bind_text(t, 2, uid);
        bind_u64(t, 3, cursor);
        rc = run(t);
    }
    return rc;
}

static int op_groups_of(struct e2ee__rstore *st, const char *uid, e2ee__rs_str_cb cb, void *arg)
{
    sqlite3_stmt *t = stmt(sq(st), S_GROUPS_OF);
    int rc = E2EE_OK, r;
    bind_text(t, 1, uid);
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(t, 0);
        if (cb(arg, v ? (const char *)v : ""))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

/* ---- group log ---- */

static int op_glog_append(struct e2ee__rstore *st, const char *gid, const struct e2ee__rs_item *it)
{
    sqlite3_stmt *t = stmt(sq(st), S_GLOG_INSERT);
    bind_text(t, 1, gid);
    bind_u64(t, 2, it->seq);
    sqlite3_bind_int(t, 3, it->kind);
    bind_text(t, 4, it->peer);
    sqlite3_bind_int64(t, 5, it->peer_device);
    bind_u64(t, 6, it->cmid);
    bind_u64(t, 7, it->epoch);
    sqlite3_bind_int64(t, 8, it->at_ms);
    bind_u64(t, 9, it->len);
    bind_blob(t, 10, it->data, it->len);
    if (it->extra)
        bind_blob(t, 11, it->extra, it->extra_len);
    return run(t);
}

static int op_glog_pairwise(struct e2ee__rstore *st, const char *gid, uint64_t seq,
                            const char *uid, const uint8_t *data, size_t len)
{
    sqlite3_stmt *t = stmt(sq(st), S_PAIRWISE_INSERT);
    bind_text(t, 1, gid);
    bind_u64(t, 2, seq);
    bind_text(t, 3, uid);
    bind_blob(t, 4, data, len);
    return run(t);
}

static int op_glog_read(struct e2ee__rstore *st, const char *gid, uint64_t after, uint32_t max,
                        const char *reader, e2ee__rs_item_cb cb, void *arg)
{
    sqlite3_stmt *t = stmt(sq(st), S_GLOG_READ);
    int rc = E2EE_OK, r;
    bind_text(t, 1, gid);
    bind_u64(t, 2, after);
    sqlite3_bind_int64(t, 3, max);
    bind_text(t, 4, reader);
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        struct e2ee__rs_item it = {0};
        it.seq = col_u64(t, 0);
        it.kind = sqlite3_column_int(t, 1);
        it.peer = (const char *)sqlite3_column_text(t, 2);
        it.peer_device = (uint32_t)sqlite3_column_int64(t, 3);
        it.cmid = col_u64(t, 4);
        it.epoch = col_u64(t, 5);
        it.at_ms = sqlite3_column_int64(t, 6);
        it.data = sqlite3_column_blob(t, 7);
        it.len = (size_t)sqlite3_column_bytes(t, 7);
        if (sqlite3_column_type(t, 8) != SQLITE_NULL) {
            it.extra = sqlite3_column_blob(t, 8);
            it.extra_len = (size_t)sqlite3_column_bytes(t, 8);
        }
        if (sqlite3_column_type(t, 9) != SQLITE_NULL) {
            it.pairwise = sqlite3_column_blob(t, 9);
            it.pairwise_len = (size_t)sqlite3_column_bytes(t, 9);
        }
        if (!it.peer)
            it.peer = "";
        if (cb(arg, &it))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

static int op_glog_scan(struct e2ee__rstore *st, const char *gid, uint64_t after, uint64_t upto,
                        const char *exclude, e2ee__rs_item_cb cb, void *arg)
{
    sqlite3_stmt *t = stmt(sq(st), S_GLOG_SCAN);
    int rc = E2EE_OK, r;
    bind_text(t, 1, gid);
    bind_u64(t, 2, after);
    bind_u64(t, 3, upto);
    bind_text(t, 4, exclude);
    while ((r = sqlite3_step(t)) == SQLITE_ROW) {
        struct e2ee__rs_item it = {0};
        it.kind = E2EE_RS_GROUP_MESSAGE;
        it.seq = col_u64(t, 0);
        it.peer = (const char *)sqlite3_column_text(t, 1);
        it.peer_device = (uint32_t)sqlite3_column_int64(t, 2);
        it.cmid = col_u64(t, 3);
        it.len = (size_t)sqlite3_column_int64(t, 4);
        if (!it.peer)
            it.peer = "";
        if (cb(arg, &it))
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE)
        rc = E2EE_ERR_STORE;
    sqlite3_reset(t);
    return rc;
}

static int op_glog_gc(struct e2ee__rstore *st, const char *gid, uint64_t upto)
{
    int rc = run_id_u64(sq(st), S_GLOG_GC, gid, upto);
    if (rc == E2EE_OK)
        rc = run_id_u64(sq(st), S_PAIRWISE_GC, gid, upto);
    return rc;
}

static int count_one(struct sq_store *s, enum stmt_id id, uint64_t *n)
{
    sqlite3_stmt *t = stmt(s, id);
    int r = sqlite3_step(t);
    *n = r == SQLITE_ROW ? col_u64(t, 0) : 0;
    sqlite3_reset(t);
    return r == SQLITE_ROW ? E2EE_OK : E2EE_ERR_STORE;
}

static int op_counts(struct e2ee__rstore *st, uint64_t *inbox_items, uint64_t *glog_items)
{
    int rc = count_one(sq(st), S_COUNT_INBOX, inbox_items);
    if (rc == E2EE_OK)
        rc = count_one(sq(st), S_COUNT_GLOG, glog_items);
    return rc;
}

/* ---- open and close ---- */

static void op_close(struct e2ee__rstore *st)
{
    struct sq_store *s = sq(st);
    if (!s)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db)
        sqlite3_close(s->db);
    free(s);
}

static const struct e2ee__rstore_ops k_ops = {
    .close = op_close,
    .begin = op_begin,
    .commit = op_commit,
    .rollback = op_rollback,
    .savepoint = op_savepoint,
    .release = op_release,
    .rollback_to = op_rollback_to,
    .meta_get = op_meta_get,
    .meta_set = op_meta_set,
    .user_get = op_user_get,
    .user_create = op_user_create,
    .user_delete = op_user_delete,
    .user_list = op_user_list,
    .spk_set = op_spk_set,
    .otpk_add = op_otpk_add,
    .otpk_clear = op_otpk_clear,
    .otpk_count = op_otpk_count,
    .otpk_take = op_otpk_take,
    .inbox_append = op_inbox_append,
    .inbox_read = op_inbox_read,
    .inbox_scan = op_inbox_scan,
    .inbox_ack = op_inbox_ack,
    .sent_get = op_sent_get,
    .sent_put = op_sent_put,
    .sent_prune = op_sent_prune,
    .group_get = op_group_get,
    .group_put = op_group_put,
    .group_remove = op_group_remove,
    .group_load = op_group_load,
    .member_add = op_member_add,
    .member_remove = op_member_remove,
    .member_set_cursor = op_member_set_cursor,
    .groups_of = op_groups_of,
    .glog_append = op_glog_append,
    .glog_pairwise = op_glog_pairwise,
    .glog_read = op_glog_read,
    .glog_scan = op_glog_scan,
    .glog_gc = op_glog_gc,
    .counts = op_counts,
};

static int pragmas(sqlite3 *db, enum e2ee__rs_sync sync, char *err, size_t cap)
{
    char sql[256];
    char *msg = NULL;
    /* EXCLUSIVE before WAL: WAL without shared memory, and the lock keeps a second relay
     * (or anything else) from writing the store under this one. */
    snprintf(sql, sizeof sql,
             "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;"
             " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-%d;",
             sync == E2EE_RS_SYNC_NORMAL ? "NORMAL" : "FULL", CACHE_KIB);
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, cap, "%s%s",
                 (rc & 0xff) == SQLITE_BUSY ? "store locked (is another relay using it?): " : "",
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return E2EE_ERR_STORE;
    }
    return E2EE_OK;
}

/* Takes the exclusive lock now (a write transaction), so a second relay fails at once. */
static int lock_now(sqlite3 *db, char *err, size_t cap)
{
    char *msg = NULL;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, cap, "cannot lock the store (is another relay using it?): %s",
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return E2EE_ERR_STORE;
    }
    return E2EE_OK;
}

static int prepare_all(struct sq_store *s, char *err, size_t cap)
{
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, k_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, cap, "prepare %d: %s", i, sqlite3_errmsg(s->db));
            return E2EE_ERR_STORE;
        }
    }
    return E2EE_OK;
}

int e2ee__rstore_sqlite_open(const char *path, enum e2ee__rs_sync sync, struct e2ee__rstore **out,
                             char *errmsg, size_t errcap)
{
    char dummy[8];
    char *err = errmsg && errcap ? errmsg : dummy;
    size_t cap = errmsg && errcap ? errcap : sizeof dummy;
    struct sq_store *s = NULL;
    int rc = E2EE_ERR_ARG, from = 0;
    err[0] = '\0';
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (!path || !*path)
        goto done;
    rc = E2EE_ERR_NOMEM;
    s = calloc(1, sizeof *s);
    if (!s)
        goto done;
    s->base.ops = &k_ops;
    rc = E2EE_ERR_STORE;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, cap, "cannot open %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    rc = pragmas(s->db, sync, err, cap);
    if (rc == E2EE_OK)
        rc = lock_now(s->db, err, cap);
    if (rc == E2EE_OK)
        rc = e2ee__rstore_migrate(s->db, &from, err, cap);
    if (rc == E2EE_OK)
        rc = prepare_all(s, err, cap);
done:
    if (rc != E2EE_OK) {
        op_close(s ? &s->base : NULL);
        return rc;
    }
    *out = &s->base;
    return E2EE_OK;
}
