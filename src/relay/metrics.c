/* e2ee relay: metrics in the Prometheus text exposition format. */
#include "relay/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2ee/error.h"

/* Upper bounds of the commit latency buckets, microseconds. */
static const uint64_t k_bucket_us[E2EE_RMETRICS_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

void e2ee__rmetrics_refusal(struct e2ee__rmetrics *m, int code)
{
    if (code < 0 && code > -E2EE_RMETRICS_CODES)
        m->refusals[-code]++;
}

void e2ee__rmetrics_commit(struct e2ee__rmetrics *m, uint64_t us, size_t requests)
{
    m->commits++;
    m->commit_us_sum += us;
    m->committed_requests += requests;
    for (int i = 0; i < E2EE_RMETRICS_BUCKETS; i++) {
        if (us <= k_bucket_us[i])
            m->commit_buckets[i]++;
    }
}

struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

static void metric(struct sbuf *b, const char *name, const char *type, const char *help,
                   uint64_t v)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
        (unsigned long long)v);
}

static void histogram(struct sbuf *b, const struct e2ee__rmetrics *m)
{
    const char *n = "e2ee_relay_store_commit_seconds";
    put(b, "# HELP %s Time to commit one batch transaction.\n# TYPE %s histogram\n", n, n);
    for (int i = 0; i < E2EE_RMETRICS_BUCKETS; i++)
        put(b, "%s_bucket{le=\"%g\"} %llu\n", n, (double)k_bucket_us[i] / 1e6,
            (unsigned long long)m->commit_buckets[i]);
    put(b, "%s_bucket{le=\"+Inf\"} %llu\n", n, (unsigned long long)m->commits);
    put(b, "%s_sum %.6f\n%s_count %llu\n", n, (double)m->commit_us_sum / 1e6, n,
        (unsigned long long)m->commits);
}

static void refusals(struct sbuf *b, const struct e2ee__rmetrics *m)
{
    const char *n = "e2ee_relay_refusals_total";
    put(b, "# HELP %s Requests refused, by result code.\n# TYPE %s counter\n", n, n);
    for (int i = 1; i < E2EE_RMETRICS_CODES; i++) {
        if (m->refusals[i])
            put(b, "%s{reason=\"%s\"} %llu\n", n, e2ee_errname(-i),
                (unsigned long long)m->refusals[i]);
    }
}

int e2ee__rmetrics_render(const struct e2ee__rmetrics *m, const struct e2ee__rmetrics_gauges *g,
                          char **out, size_t *len)
{
    struct sbuf b = {malloc(4096), 0, 4096, 0};
    *out = NULL;
    *len = 0;
    if (!b.p)
        return -1;
    metric(&b, "e2ee_relay_connections", "gauge", "Open WebSocket connections.", g->connections);
    metric(&b, "e2ee_relay_authenticated_users", "gauge", "Logged-in users.", g->authenticated);
    metric(&b, "e2ee_relay_groups", "gauge", "Live groups.", g->groups);
    metric(&b, "e2ee_relay_queued_messages", "gauge",
           "Stored items not yet acked: inbox items plus group log entries.",
           g->queued_inbox + g->queued_group);
    metric(&b, "e2ee_relay_queued_inbox_items", "gauge", "Inbox items stored, not acked.",
           g->queued_inbox);
    metric(&b, "e2ee_relay_queued_group_entries", "gauge", "Group log entries stored.",
           g->queued_group);
    metric(&b, "e2ee_relay_unsent_bytes", "gauge", "Bytes queued in connections, unwritten.",
           g->unsent_bytes);
    metric(&b, "e2ee_relay_connections_total", "counter", "Connections accepted.",
           m->connections_total);
    metric(&b, "e2ee_relay_logins_total", "counter", "Successful logins.", m->logins_total);
    metric(&b, "e2ee_relay_registrations_total", "counter", "Users registered (first login).",
           m->registrations_total);
    metric(&b, "e2ee_relay_frames_in_total", "counter", "Frames received.", m->frames_in);
    metric(&b, "e2ee_relay_frames_out_total", "counter", "Frames sent.", m->frames_out);
    metric(&b, "e2ee_relay_bytes_in_total", "counter", "Frame bytes received.", m->bytes_in);
    metric(&b, "e2ee_relay_bytes_out_total", "counter", "Frame bytes sent.", m->bytes_out);
    metric(&b, "e2ee_relay_deliveries_total", "counter", "Stored items written to clients.",
           m->deliveries);
    metric(&b, "e2ee_relay_direct_messages_total", "counter", "Direct messages stored.",
           m->direct_messages);
    metric(&b, "e2ee_relay_group_messages_total", "counter", "Group messages stored.",
           m->group_messages);
    metric(&b, "e2ee_relay_store_commits_total", "counter", "Batch transactions committed.",
           m->commits);
    metric(&b, "e2ee_relay_store_commit_failures_total", "counter",
           "Batch transactions that failed to commit.", m->commit_failures);
    metric(&b, "e2ee_relay_store_committed_requests_total", "counter",
           "Requests made durable by a commit (requests per commit = this / commits).",
           m->committed_requests);
    histogram(&b, m);
    metric(&b, "e2ee_relay_closes_total", "counter", "Connections closed by the relay.",
           m->closes_total);
    refusals(&b, m);
    if (b.failed) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
