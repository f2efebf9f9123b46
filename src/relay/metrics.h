/*
 * e2ee relay: counters and gauges, rendered in the Prometheus text format for /metrics.
 * docs/RELAY.md lists every metric. Single-threaded (the service thread).
 */
#ifndef E2EE_RELAY_METRICS_H
#define E2EE_RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define E2EE_RMETRICS_CODES 160  /* refusal counters for codes 0..-159 */
#define E2EE_RMETRICS_BUCKETS 12 /* commit latency histogram buckets (+Inf aside) */

struct e2ee__rmetrics {
    uint64_t connections_total;
    uint64_t logins_total;
    uint64_t registrations_total;
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out;
    uint64_t deliveries;          /* stored items written to connections */
    uint64_t direct_messages;     /* stored */
    uint64_t group_messages;      /* stored */
    uint64_t commits;
    uint64_t commit_failures;
    uint64_t committed_requests;  /* requests whose writes a commit made durable */
    uint64_t commit_us_sum;
    uint64_t commit_buckets[E2EE_RMETRICS_BUCKETS];
    uint64_t refusals[E2EE_RMETRICS_CODES]; /* index -code */
    uint64_t closes_total;        /* connections the relay closed with a code */
};

/* Values read at render time. */
struct e2ee__rmetrics_gauges {
    uint64_t connections;
    uint64_t authenticated;
    uint64_t groups;
    uint64_t queued_inbox;        /* inbox items stored, not acked */
    uint64_t queued_group;        /* group log entries stored */
    uint64_t unsent_bytes;        /* queued in connections, not yet written */
};

void e2ee__rmetrics_refusal(struct e2ee__rmetrics *m, int code);
void e2ee__rmetrics_commit(struct e2ee__rmetrics *m, uint64_t us, size_t requests);

/* Renders everything into a new malloc'd text (*out, *len). 0 or -1 (out of memory). */
int e2ee__rmetrics_render(const struct e2ee__rmetrics *m, const struct e2ee__rmetrics_gauges *g,
                          char **out, size_t *len);

#endif
