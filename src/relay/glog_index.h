/*
 * e2ee relay: an in-memory index of the messages of one group's log: for each group
 * message its seq, its size and its sender (a member id of the group cache). With it, a
 * member's ack counts the messages it covers (its backlog shrinks by them) without reading
 * the store, and a restart computes every member's backlog with one read of the log.
 *
 * The index holds the messages with seq > `from`, in seq order, at most
 * E2EE_RELAY_GLOG_INDEX_MAX of them (the oldest are dropped and `from` moves up): a count
 * over a range that starts before `from` is refused and the caller reads the store.
 * Membership events are not indexed (they are not counted). Single-threaded.
 */
#ifndef E2EE_RELAY_GLOG_INDEX_H
#define E2EE_RELAY_GLOG_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define E2EE_RELAY_GLOG_INDEX_MAX 65536 /* messages per group (16 bytes each) */
#define E2EE_RELAY_GLOG_INDEX_MIN 64
#define E2EE_RELAY_MID_NONE UINT32_MAX  /* sender no longer a member */

struct e2ee__rglog_ent {
    uint64_t seq;
    uint32_t len;
    uint32_t sender; /* member id */
};

struct e2ee__rglog_index {
    struct e2ee__rglog_ent *ring;
    size_t cap;   /* power of two, or 0 */
    size_t head;  /* index of the oldest entry */
    size_t n;
    uint64_t from; /* complete for seq > from */
};

/* Empty index, complete for seq > from. */
void e2ee__rglog_index_init(struct e2ee__rglog_index *x, uint64_t from);
void e2ee__rglog_index_cleanup(struct e2ee__rglog_index *x);
/* Appends a message (seq above every indexed one). When full, or out of memory, the
 * oldest entry goes (and `from` moves up): the index stays correct, only shorter. */
void e2ee__rglog_index_push(struct e2ee__rglog_index *x, uint64_t seq, uint32_t len,
                            uint32_t sender);
/* Drops the entries with seq <= upto (the log was trimmed there). */
void e2ee__rglog_index_trim(struct e2ee__rglog_index *x, uint64_t upto);
/* Counts the messages with seq in (after, upto] not sent by `exclude`. 0, or -1 when the
 * index does not cover the range (after < from). */
int e2ee__rglog_index_count(const struct e2ee__rglog_index *x, uint64_t after, uint64_t upto,
                            uint32_t exclude, uint64_t *msgs, uint64_t *bytes);

#endif
