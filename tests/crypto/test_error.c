/* Every error code has a distinct name and a description. */
#include <string.h>

#include "e2ee/error.h"
#include "testutil.h"

static void test_every_code_named(void **state)
{
    (void)state;
    int named = 0;
    for (int c = 0; c >= -200; c--) {
        const char *n = e2ee_errname(c);
        if (strcmp(n, "E2EE_ERR_UNKNOWN") == 0) {
            assert_string_equal(e2ee_strerror(c), "unknown error");
            continue;
        }
        named++;
        assert_true(strlen(e2ee_strerror(c)) > 0);
        for (int d = c - 1; d >= -200; d--)
            assert_string_not_equal(n, e2ee_errname(d));
    }
    assert_true(named > 40);
    assert_string_equal(e2ee_errname(E2EE_ERR_AUTH), "E2EE_ERR_AUTH");
    assert_string_equal(e2ee_strerror(E2EE_OK), "success");
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_code_named)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
