#include <criterion/criterion.h>

#include "sl_parse.h"

Test(parse, plain_numbers) {
    double v;
    cr_assert_eq(sl_parse_double("1e9", &v), 0);
    cr_assert_eq(v, 1e9);
}
