/*
 * The skipped-message-key store on its own: lookup, removal, the per-chain and total caps
 * with oldest-first eviction, forgetting a chain, and growth that keeps every key.
 */
#include <string.h>

#include "proto/skipped.h"
#include "testutil.h"

static void key_of(uint8_t pub[32], int chain)
{
    memset(pub, 0, 32);
    pub[0] = (uint8_t)chain;
    pub[31] = (uint8_t)(chain * 7 + 1);
}

static void mk_of(uint8_t mk[32], int chain, uint32_t n)
{
    memset(mk, 0, 32);
    mk[0] = (uint8_t)chain;
    memcpy(mk + 1, &n, sizeof n);
}

static void push(e2ee__skipped_keys *s, int chain, uint32_t n)
{
    uint8_t pub[32], mk[32];
    key_of(pub, chain);
    mk_of(mk, chain, n);
    assert_int_equal(e2ee__skipped_reserve(s, 1), E2EE_OK);
    e2ee__skipped_push(s, pub, n, mk);
}

static int has(const e2ee__skipped_keys *s, int chain, uint32_t n)
{
    uint8_t pub[32], mk[32];
    key_of(pub, chain);
    uint16_t i = e2ee__skipped_find(s, pub, n);
    if (i == E2EE_SKIPPED_NIL)
        return 0;
    mk_of(mk, chain, n);
    assert_memory_equal(s->e[i].mk, mk, 32);
    return 1;
}

static void take(e2ee__skipped_keys *s, int chain, uint32_t n)
{
    uint8_t pub[32];
    key_of(pub, chain);
    uint16_t i = e2ee__skipped_find(s, pub, n);
    assert_int_not_equal(i, E2EE_SKIPPED_NIL);
    e2ee__skipped_remove(s, i);
}

/* Walks the arrival list both ways and checks its length. */
static void check_list(const e2ee__skipped_keys *s)
{
    size_t n = 0;
    uint16_t prev = E2EE_SKIPPED_NIL;
    for (uint16_t i = s->head; i != E2EE_SKIPPED_NIL; i = s->e[i].next) {
        assert_int_equal(s->e[i].prev, prev);
        prev = i;
        n++;
    }
    assert_int_equal(prev, s->tail);
    assert_int_equal(n, s->count);
}

static void test_find_remove(void **state)
{
    (void)state;
    e2ee__skipped_keys s;
    e2ee__skipped_init(&s);
    assert_false(has(&s, 1, 0));
    for (uint32_t n = 0; n < 100; n++)
        push(&s, 1, n * 3);
    assert_true(s.cap >= 100 && s.cap < E2EE_RATCHET_MAX_SKIP_TOTAL);
    for (uint32_t n = 0; n < 300; n++)
        assert_int_equal(has(&s, 1, n), n % 3 == 0);
    assert_false(has(&s, 2, 0));
    take(&s, 1, 150);
    take(&s, 1, 0);
    take(&s, 1, 297);
    assert_false(has(&s, 1, 150));
    assert_int_equal(s.count, 97);
    check_list(&s);
    /* pushing an existing key replaces it rather than duplicating it */
    push(&s, 1, 3);
    assert_int_equal(s.count, 97);
    check_list(&s);
    e2ee__skipped_cleanup(&s);
    assert_int_equal(s.count, 0);
    assert_null(s.e);
}

static void test_per_chain_cap(void **state)
{
    (void)state;
    e2ee__skipped_keys s;
    e2ee__skipped_init(&s);
    push(&s, 9, 0); /* an older chain, untouched by chain 1's cap */
    for (uint32_t n = 0; n < E2EE_RATCHET_MAX_SKIP_PER_CHAIN + 5; n++)
        push(&s, 1, n);
    assert_int_equal(s.count, E2EE_RATCHET_MAX_SKIP_PER_CHAIN + 1);
    for (uint32_t n = 0; n < 5; n++)
        assert_false(has(&s, 1, n));
    assert_true(has(&s, 1, 5));
    assert_true(has(&s, 9, 0));
    /* removing the chain's oldest key moves the eviction point along */
    take(&s, 1, 5);
    push(&s, 1, 5000);
    push(&s, 1, 5001);
    assert_false(has(&s, 1, 6));
    assert_true(has(&s, 1, 7));
    check_list(&s);
    e2ee__skipped_cleanup(&s);
}

static void test_total_cap_and_drop(void **state)
{
    (void)state;
    e2ee__skipped_keys s;
    e2ee__skipped_init(&s);
    for (int chain = 1; chain <= 2; chain++) {
        for (uint32_t n = 0; n < E2EE_RATCHET_MAX_SKIP_PER_CHAIN; n++)
            push(&s, chain, n);
    }
    assert_int_equal(s.count, E2EE_RATCHET_MAX_SKIP_TOTAL);
    assert_int_equal(s.cap, E2EE_RATCHET_MAX_SKIP_TOTAL);
    for (uint32_t n = 0; n < 3; n++)
        push(&s, 3, n);
    assert_int_equal(s.count, E2EE_RATCHET_MAX_SKIP_TOTAL);
    for (uint32_t n = 0; n < 3; n++)
        assert_false(has(&s, 1, n)); /* the oldest keys of all went */
    assert_true(has(&s, 1, 3));
    assert_true(has(&s, 2, 0));
    assert_true(has(&s, 3, 2));
    /* forgetting a chain only removes the oldest run, and only when it is that chain's */
    uint8_t pub[32];
    key_of(pub, 2);
    e2ee__skipped_drop_chain(&s, pub);
    assert_true(has(&s, 2, 0));
    key_of(pub, 1);
    e2ee__skipped_drop_chain(&s, pub);
    assert_int_equal(s.count, E2EE_RATCHET_MAX_SKIP_PER_CHAIN + 3);
    assert_false(has(&s, 1, 500));
    assert_true(has(&s, 2, 999));
    check_list(&s);
    /* reserve never goes past the total cap */
    assert_int_equal(e2ee__skipped_reserve(&s, 100000), E2EE_OK);
    assert_int_equal(s.cap, E2EE_RATCHET_MAX_SKIP_TOTAL);
    e2ee__skipped_cleanup(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_remove),
        cmocka_unit_test(test_per_chain_cap),
        cmocka_unit_test(test_total_cap_and_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
