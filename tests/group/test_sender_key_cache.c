/*
 * The skipped-key cache against a reference model: random puts, finds, removals and
 * evictions (including strided iterations that collide under a naive hash), the entry cap,
 * reservation semantics and the sorted export.
 */
#include "group_test.h"
#include "proto/sender_key_cache.h"

#define SPAN 30000u

struct model {
    uint8_t have[SPAN];
    uint32_t count;
};

static void seed_of(uint32_t it, uint8_t seed[E2EE_SENDER_KEY_SEED_LEN])
{
    for (int i = 0; i < E2EE_SENDER_KEY_SEED_LEN; i++)
        seed[i] = (uint8_t)(it * 31u + (uint32_t)i * 7u);
}

static void check_all(const e2ee__skcache *c, const struct model *m)
{
    assert_int_equal(c->count, m->count);
    uint8_t want[E2EE_SENDER_KEY_SEED_LEN];
    for (uint32_t it = 0; it < SPAN; it++) {
        const uint8_t *got = e2ee__skcache_find(c, it);
        if (m->have[it]) {
            assert_non_null(got);
            seed_of(it, want);
            assert_memory_equal(got, want, sizeof want);
        } else {
            assert_null(got);
        }
    }
    if (c->count)
        assert_true(c->cap >= 2 * c->count); /* load factor at most 1/2 */
    else
        assert_null(c->slots);
}

static void put(e2ee__skcache *c, struct model *m, uint32_t it)
{
    uint8_t seed[E2EE_SENDER_KEY_SEED_LEN];
    seed_of(it, seed);
    int rc = e2ee__skcache_put(c, it, seed);
    if (m->have[it]) {
        assert_int_equal(rc, E2EE_ERR_EXISTS);
    } else if (m->count == E2EE_SENDER_KEY_MAX_SKIPPED) {
        assert_int_equal(rc, E2EE_ERR_LIMIT);
    } else {
        assert_int_equal(rc, E2EE_OK);
        m->have[it] = 1;
        m->count++;
    }
}

static void evict(e2ee__skcache *c, struct model *m, uint32_t below)
{
    e2ee__skcache_evict_below(c, below);
    e2ee__skcache_trim(c);
    for (uint32_t it = 0; it < below && it < SPAN; it++) {
        m->count -= m->have[it];
        m->have[it] = 0;
    }
}

static void test_random_against_model(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    e2ee__skcache c;
    e2ee__skcache_init(&c);
    struct tu_drbg d;
    tu_drbg_init(&d, 2024);
    uint32_t low = 0;
    for (int step = 0; step < 20000; step++) {
        uint32_t op = tu_drbg_below(&d, 100);
        uint32_t it = low + tu_drbg_below(&d, 4000) % (SPAN - low);
        if (op < 60) {
            put(&c, &m, it);
        } else if (op < 85) {
            e2ee__skcache_remove(&c, it);
            m.count -= m.have[it];
            m.have[it] = 0;
        } else if (op < 87 && low + 50 < SPAN - 4000) {
            low += tu_drbg_below(&d, 50);
            evict(&c, &m, low);
        } else {
            assert_int_equal(e2ee__skcache_find(&c, it) != NULL, m.have[it]);
        }
        if (step % 1000 == 0)
            check_all(&c, &m);
    }
    check_all(&c, &m);
    e2ee__skcache_clear(&c);
    assert_int_equal(c.count, 0);
    assert_null(c.slots);
}

/* Strides that all share low bits: the multiplicative hash still spreads them. */
static void test_strided(void **state)
{
    (void)state;
    static const uint32_t strides[] = {1, 2, 16, 64, 256, 1024, 4096};
    for (size_t s = 0; s < sizeof strides / sizeof strides[0]; s++) {
        static struct model m;
        memset(&m, 0, sizeof m);
        e2ee__skcache c;
        e2ee__skcache_init(&c);
        uint32_t n = SPAN / strides[s] < 1500 ? SPAN / strides[s] : 1500;
        for (uint32_t i = 0; i < n; i++)
            put(&c, &m, i * strides[s]);
        check_all(&c, &m);
        for (uint32_t i = 0; i < n; i += 2) { /* every other one removed */
            e2ee__skcache_remove(&c, i * strides[s]);
            m.have[i * strides[s]] = 0;
            m.count--;
        }
        check_all(&c, &m);
        evict(&c, &m, (n / 2) * strides[s]);
        check_all(&c, &m);
        e2ee__skcache_clear(&c);
    }
}

static void test_cap_reserve_export(void **state)
{
    (void)state;
    static struct model m;
    memset(&m, 0, sizeof m);
    e2ee__skcache c;
    e2ee__skcache_init(&c);
    /* descending inserts, so that the export has to sort */
    for (uint32_t i = E2EE_SENDER_KEY_MAX_SKIPPED; i > 0; i--)
        put(&c, &m, 5000 + i * 3);
    assert_int_equal(c.count, E2EE_SENDER_KEY_MAX_SKIPPED);
    assert_true(c.cap <= E2EE__SKCACHE_MAX_CAP);
    put(&c, &m, 1); /* the cap refuses a 2001st key */
    assert_int_equal(e2ee__skcache_reserve(&c, E2EE_SENDER_KEY_MAX_SKIPPED + 1), E2EE_ERR_RANGE);
    uint8_t *out = malloc((size_t)c.count * E2EE__SKCACHE_ENTRY_WIRE_LEN);
    assert_non_null(out);
    assert_int_equal(e2ee__skcache_export(&c, out), E2EE_OK);
    uint8_t want[E2EE_SENDER_KEY_SEED_LEN];
    for (uint32_t k = 0; k < c.count; k++) {
        const uint8_t *p = out + (size_t)k * E2EE__SKCACHE_ENTRY_WIRE_LEN;
        uint32_t it = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        assert_int_equal(it, 5000 + (k + 1) * 3);
        seed_of(it, want);
        assert_memory_equal(p + 4, want, sizeof want);
    }
    free(out);
    /* eviction keeps the table (room reserved beforehand survives), trim frees it */
    evict(&c, &m, UINT32_MAX - 1);
    assert_int_equal(c.count, 0);
    assert_null(c.slots);
    assert_int_equal(e2ee__skcache_reserve(&c, 100), E2EE_OK);
    uint32_t cap = c.cap;
    assert_true(cap >= 200);
    uint8_t seed[E2EE_SENDER_KEY_SEED_LEN] = {0};
    e2ee__skcache_put_reserved(&c, 7, seed);
    e2ee__skcache_evict_below(&c, 8);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.cap, cap);
    for (uint32_t i = 0; i < 100; i++)
        e2ee__skcache_put_reserved(&c, 100 + i, seed);
    assert_int_equal(c.count, 100);
    assert_int_equal(c.cap, cap); /* no reallocation */
    e2ee__skcache_put_reserved(&c, UINT32_MAX, seed); /* the empty marker is refused */
    assert_int_equal(c.count, 100);
    assert_int_equal(e2ee__skcache_put(&c, UINT32_MAX, seed), E2EE_ERR_ARG);
    e2ee__skcache_clear(&c);
}

/*
 * Many small tables (16 slots, up to 8 entries): probe runs that wrap around the end of the
 * table and chains of backward shifts are frequent here, rare in large sparse tables.
 */
static void test_small_tables(void **state)
{
    (void)state;
    static struct model m;
    struct tu_drbg d;
    tu_drbg_init(&d, 16);
    for (int round = 0; round < 20000; round++) {
        memset(m.have, 0, 256);
        m.count = 0;
        e2ee__skcache c;
        e2ee__skcache_init(&c);
        uint32_t n = 1 + tu_drbg_below(&d, 8);
        for (uint32_t i = 0; i < n; i++)
            put(&c, &m, tu_drbg_below(&d, 256));
        if (round & 1) {
            evict(&c, &m, tu_drbg_below(&d, 256));
        } else {
            for (uint32_t i = 0; i < 3; i++) {
                uint32_t it = tu_drbg_below(&d, 256);
                e2ee__skcache_remove(&c, it);
                m.count -= m.have[it];
                m.have[it] = 0;
            }
        }
        assert_int_equal(c.count, m.count);
        for (uint32_t it = 0; it < 256; it++)
            assert_int_equal(e2ee__skcache_find(&c, it) != NULL, m.have[it]);
        e2ee__skcache_clear(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_strided),
        cmocka_unit_test(test_small_tables),
        cmocka_unit_test(test_cap_reserve_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
