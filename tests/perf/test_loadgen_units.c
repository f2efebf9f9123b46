/*
 * e2ee-loadgen unit tests: the bounded protobuf reader (fields of every wire type, every
 * truncation refused, bad wire types and overlong varints refused, nothing read past the
 * end) and the latency histogram (exact below 64 us, within its bucket width above, max).
 */
#include <stdlib.h>
#include <string.h>

#include "loadgen.h"
#include "testutil.h"

/* field 1 varint 300, field 2 bytes "abc", field 3 fixed64, field 4 fixed32 */
static const uint8_t k_msg[] = {0x08, 0xac, 0x02, 0x12, 0x03, 'a', 'b', 'c',
                                0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 9, 8, 7, 6};

static void reads_each_wire_type(void **state)
{
    (void)state;
    struct lg_pb b;
    struct lg_pbf f;
    lg_pb_init(&b, k_msg, sizeof k_msg);
    assert_int_equal(lg_pb_next(&b, &f), 1);
    assert_int_equal(f.num, 1);
    assert_int_equal(f.wt, 0);
    assert_int_equal(f.v, 300);
    assert_int_equal(lg_pb_next(&b, &f), 1);
    assert_int_equal(f.num, 2);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.data, "abc", 3);
    assert_int_equal(lg_pb_next(&b, &f), 1);
    assert_int_equal(f.wt, 1);
    assert_int_equal(f.v, 0x0807060504030201ull);
    assert_int_equal(lg_pb_next(&b, &f), 1);
    assert_int_equal(f.wt, 5);
    assert_int_equal(f.v, 0x06070809u);
    assert_int_equal(lg_pb_next(&b, &f), 0);
}

/* Every proper prefix that cuts a field is refused; whole fields before it are read. */
static void truncations_refused(void **state)
{
    (void)state;
    static const size_t field_ends[] = {3, 8, 17, 22};
    for (size_t cut = 0; cut < sizeof k_msg; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan catches over-reads */
        assert_non_null(copy);
        memcpy(copy, k_msg, cut);
        struct lg_pb b;
        struct lg_pbf f;
        size_t whole = 0;
        int r;
        for (size_t i = 0; i < 4; i++)
            whole += field_ends[i] <= cut;
        lg_pb_init(&b, copy, cut);
        for (size_t i = 0; i < whole; i++)
            assert_int_equal(lg_pb_next(&b, &f), 1);
        r = lg_pb_next(&b, &f);
        int at_boundary = cut == 0 || cut == 3 || cut == 8 || cut == 17;
        assert_int_equal(r, at_boundary ? 0 : -1);
        free(copy);
    }
}

static void bad_input_refused(void **state)
{
    (void)state;
    struct lg_pb b;
    struct lg_pbf f;
    static const uint8_t group_wt[] = {0x0b, 0x00};         /* wire type 3 */
    static const uint8_t field0[] = {0x00, 0x01};           /* field number 0 */
    static const uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t too_long[] = {0x12, 0x05, 'a', 'b'}; /* length past the end */
    lg_pb_init(&b, group_wt, sizeof group_wt);
    assert_int_equal(lg_pb_next(&b, &f), -1);
    lg_pb_init(&b, field0, sizeof field0);
    assert_int_equal(lg_pb_next(&b, &f), -1);
    lg_pb_init(&b, overlong, sizeof overlong);
    assert_int_equal(lg_pb_next(&b, &f), -1);
    lg_pb_init(&b, too_long, sizeof too_long);
    assert_int_equal(lg_pb_next(&b, &f), -1);
}

static void varint_round_trip(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint8_t buf[11];
        buf[0] = 0x08;
        size_t n = lg_pb_put_varint(buf + 1, vals[i]);
        struct lg_pb b;
        struct lg_pbf f;
        lg_pb_init(&b, buf, n + 1);
        assert_int_equal(lg_pb_next(&b, &f), 1);
        assert_true(f.v == vals[i]);
        assert_int_equal(lg_pb_next(&b, &f), 0);
    }
}

static void hist_quantiles(void **state)
{
    (void)state;
    struct lg_hist *h = calloc(1, sizeof *h);
    assert_non_null(h);
    assert_int_equal(lg_hist_quantile(h, 0.5), 0);
    for (uint64_t v = 0; v < 64; v++)
        lg_hist_add(h, v);
    assert_int_equal(lg_hist_quantile(h, 0.5), 32); /* exact below 64 */
    memset(h, 0, sizeof *h);
    /* 1..100000 us: each quantile within one bucket (1/32) above the true value */
    for (uint64_t v = 1; v <= 100000; v++)
        lg_hist_add(h, v);
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < 4; i++) {
        double truth = qs[i] * 100000;
        double got = (double)lg_hist_quantile(h, qs[i]);
        assert_true(got >= truth - 1);
        assert_true(got <= truth * (1 + 1.0 / 32) + 1);
    }
    assert_int_equal(lg_hist_quantile(h, 1.0), 100000); /* never above the max seen */
    assert_int_equal(h->max, 100000);
    lg_hist_add(h, UINT64_MAX / 2); /* beyond the last bucket: counted there */
    assert_int_equal(h->n, 100001);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_each_wire_type),
        cmocka_unit_test(truncations_refused),
        cmocka_unit_test(bad_input_refused),
        cmocka_unit_test(varint_round_trip),
        cmocka_unit_test(hist_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
