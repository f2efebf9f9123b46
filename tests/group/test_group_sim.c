/*
 * Simulated groups: members of groups of 3 to 50 send messages that every other member
 * receives in a random order with duplicates; membership churn with rotation (a removed
 * member holding every old key reads nothing new, a joiner reads nothing older), messages in
 * flight across a rotation inside the transition window, and their expiry after it.
 */
#include "group_test.h"

#define MAXM 64
#define GROUP "sim-group"

struct member {
    char id[16];
    int in_group;
    e2ee__sender_key *key;                    /* own sender key */
    e2ee__sender_key_record *rec[MAXM];       /* rec[j]: this member's record of member j */
};

struct sent {
    int from;
    uint8_t to[MAXM]; /* members at the time it was sent (sender excluded) */
    char text[48];
    struct gt_msg msg;
};

struct sim {
    struct tu_drbg drbg;
    int n;
    uint64_t epoch, now;
    struct member m[MAXM];
    struct sent *sent;
    size_t n_sent, cap_sent;
};

static void sim_init(struct sim *s, int n_total, int n_members, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    tu_drbg_init(&s->drbg, seed);
    s->n = n_total;
    s->epoch = 1;
    s->now = 1000000;
    for (int i = 0; i < n_total; i++) {
        snprintf(s->m[i].id, sizeof s->m[i].id, "user%02d", i);
        s->m[i].in_group = i < n_members;
    }
}

/* Member i hands its current key to member j over their (simulated) pairwise session. */
static void give_key(struct sim *s, int i, int j)
{
    struct member *to = &s->m[j];
    if (!to->rec[i])
        to->rec[i] = gt_record(GROUP, s->m[i].id, NULL);
    assert_int_equal(gt_distribute(to->rec[i], s->m[i].key, s->now), E2EE_OK);
}

/* A membership change: new epoch; every member makes a new key and hands it to the others. */
static void sim_rotate_all(struct sim *s)
{
    s->epoch++;
    for (int i = 0; i < s->n; i++) {
        if (!s->m[i].in_group)
            continue;
        e2ee__rng rng = gt_rng(&s->drbg);
        e2ee__sender_key *k = NULL;
        if (s->m[i].key)
            assert_int_equal(e2ee__sender_key_rotate(&k, s->m[i].key, s->epoch, &rng), E2EE_OK);
        else
            assert_int_equal(e2ee__sender_key_new(&k, GROUP, s->m[i].id, 1, s->epoch, &rng),
                             E2EE_OK);
        e2ee__sender_key_free(s->m[i].key);
        s->m[i].key = k;
        for (int j = 0; j < s->n; j++)
            if (j != i && s->m[j].in_group)
                give_key(s, i, j);
    }
}

static void sim_send(struct sim *s, int from)
{
    if (s->n_sent == s->cap_sent) {
        s->cap_sent = s->cap_sent ? 2 * s->cap_sent : 256;
        s->sent = realloc(s->sent, s->cap_sent * sizeof *s->sent);
        assert_non_null(s->sent);
    }
    struct sent *x = &s->sent[s->n_sent++];
    memset(x, 0, sizeof *x);
    x->from = from;
    snprintf(x->text, sizeof x->text, "from %d #%zu epoch %llu", from, s->n_sent,
             (unsigned long long)s->epoch);
    x->msg = gt_encrypt(s->m[from].key, x->text);
    for (int j = 0; j < s->n; j++)
        x->to[j] = j != from && s->m[j].in_group;
}

/* Result of member j receiving message k. */
static int receive(struct sim *s, int j, size_t k)
{
    struct sent *x = &s->sent[k];
    e2ee__sender_key_record *r = s->m[j].rec[x->from];
    if (!r)
        return E2EE_ERR_UNKNOWN_KEY; /* no record at all: the client's own answer */
    return gt_decrypt(r, x->msg.buf, x->msg.len, s->now, x->text);
}

/*
 * Every addressee of messages [first, last) receives them in a random order, about a fifth
 * of them twice or more: the first copy opens, every later one is a duplicate.
 */
static void deliver_shuffled(struct sim *s, size_t first, size_t last)
{
    size_t cap = 3 * (last - first) + 1;
    size_t *q = malloc(cap * sizeof *q);
    uint8_t *seen = calloc(last - first + 1, 1);
    assert_non_null(q);
    assert_non_null(seen);
    for (int j = 0; j < s->n; j++) {
        size_t n = 0;
        memset(seen, 0, last - first + 1);
        for (size_t k = first; k < last; k++) {
            if (!s->sent[k].to[j])
                continue;
            q[n++] = k;
            while (tu_drbg_below(&s->drbg, 5) == 0 && n < cap)
                q[n++] = k;
        }
        for (size_t i = n; i > 1; i--) {
            size_t r = tu_drbg_below(&s->drbg, (uint32_t)i), t = q[i - 1];
            q[i - 1] = q[r];
            q[r] = t;
        }
        for (size_t i = 0; i < n; i++) {
            int rc = receive(s, j, q[i]);
            if (seen[q[i] - first])
                assert_int_equal(rc, E2EE_ERR_DUPLICATE);
            else
                assert_int_equal(rc, E2EE_OK);
            seen[q[i] - first] = 1;
        }
    }
    free(seen);
    free(q);
}

static void sim_free(struct sim *s)
{
    for (int i = 0; i < s->n; i++) {
        e2ee__sender_key_free(s->m[i].key);
        for (int j = 0; j < s->n; j++)
            e2ee__sender_key_record_free(s->m[i].rec[j]);
    }
    for (size_t k = 0; k < s->n_sent; k++)
        gt_msg_free(&s->sent[k].msg);
    free(s->sent);
}

static void run_group(int n, int per_member, uint64_t seed)
{
    static struct sim s;
    sim_init(&s, n, n, seed);
    s.epoch = 0;
    sim_rotate_all(&s);
    /* senders interleaved at random */
    int left[MAXM];
    int total = 0;
    for (int i = 0; i < n; i++) {
        left[i] = per_member;
        total += per_member;
    }
    while (total) {
        int i = (int)tu_drbg_below(&s.drbg, (uint32_t)n);
        if (!left[i])
            continue;
        sim_send(&s, i);
        left[i]--;
        total--;
    }
    deliver_shuffled(&s, 0, s.n_sent);
    /* every record advanced exactly past each sender's messages, no key left behind */
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            if (i != j) {
                assert_int_equal(s.m[j].rec[i]->states[0]->iteration, (uint32_t)per_member);
                assert_int_equal(s.m[j].rec[i]->states[0]->skipped.count, 0);
            }
    sim_free(&s);
}

static void test_groups_3_to_50(void **state)
{
    (void)state;
    run_group(3, 30, 3);
    run_group(4, 20, 4);
    run_group(7, 12, 7);
    run_group(12, 8, 12);
    run_group(25, 5, 25);
    run_group(50, 3, 50);
}

static void test_churn_leave_and_join(void **state)
{
    (void)state;
    static struct sim s;
    sim_init(&s, 7, 6, 99); /* users 0..5 members; 6 joins later */
    s.epoch = 0;
    sim_rotate_all(&s);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 6; i++)
            sim_send(&s, i);
    size_t phase_a = s.n_sent;

    /* user 5 is removed: the others rotate and hand new keys to the remaining members only */
    s.m[5].in_group = 0;
    s.now += 1000;
    sim_rotate_all(&s);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 5; i++)
            sim_send(&s, i);
    size_t phase_b = s.n_sent;
    /* messages sent before the rotation arrive after it, inside the window: they open */
    deliver_shuffled(&s, 0, phase_b);
    /* the removed member holds every old key, and still reads nothing sent after it left */
    for (size_t k = phase_a; k < phase_b; k++)
        assert_int_equal(receive(&s, 5, k), E2EE_ERR_UNKNOWN_KEY);

    /* user 6 joins: everyone rotates again; the joiner reads nothing sent before */
    s.m[6].in_group = 1;
    s.now += 1000;
    sim_rotate_all(&s);
    for (int i = 0; i < 5; i++)
        sim_send(&s, i);
    sim_send(&s, 6);
    size_t phase_c = s.n_sent;
    for (size_t k = 0; k < phase_b; k++)
        assert_int_equal(receive(&s, 6, k), E2EE_ERR_UNKNOWN_KEY);
    assert_int_equal(receive(&s, 5, phase_c - 2), E2EE_ERR_UNKNOWN_KEY);
    deliver_shuffled(&s, phase_b, phase_c);

    /* past the window the epoch-1 keys are wiped: a late copy is refused as expired. The
     * leaver never rotated, so its key is still the current one in the others' records: the
     * client drops the record of a member who left (here, once the window has passed). */
    s.now += E2EE_SENDER_KEY_WINDOW_MS_DEFAULT;
    for (int j = 0; j < 5; j++) {
        e2ee__sender_key_record_free(s.m[j].rec[5]);
        s.m[j].rec[5] = NULL;
    }
    for (size_t k = 0; k < phase_a; k++)
        for (int j = 0; j < 5; j++)
            if (s.sent[k].to[j])
                assert_int_equal(receive(&s, j, k), s.sent[k].from == 5 ? E2EE_ERR_UNKNOWN_KEY
                                                                       : E2EE_ERR_KEY_EXPIRED);
    /* the current keys are untouched by time */
    for (size_t k = phase_b; k < phase_c; k++)
        for (int j = 0; j < 7; j++)
            if (s.sent[k].to[j])
                assert_int_equal(receive(&s, j, k), E2EE_ERR_DUPLICATE);
    sim_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_3_to_50),
        cmocka_unit_test(test_churn_leave_and_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
