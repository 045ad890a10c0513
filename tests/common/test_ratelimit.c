/* test_ratelimit.c - lines a peer can provoke are bounded: a burst per window, and the ones
 * held back are counted into the next line let through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

static void
a_burst_passes_then_lines_are_held_back_and_counted(void **state)
{
	struct hv_ratelimit rl = {.burst = 3, .window_ms = 1000};
	unsigned held = 99;
	for (int i = 0; i < 3; i++) {
		assert_true(hv_ratelimit_ok(&rl, 5000 + i, &held));
		assert_int_equal(held, 0);
	}
	for (int i = 0; i < 7; i++)
		assert_false(hv_ratelimit_ok(&rl, 5500, &held));
	/* the next window lets a line through and says how many were held back */
	assert_true(hv_ratelimit_ok(&rl, 6000, &held));
	assert_int_equal(held, 7);
	assert_true(hv_ratelimit_ok(&rl, 6001, &held));
	assert_int_equal(held, 0);
}

static void
a_clock_that_goes_back_starts_a_new_window(void **state)
{
	struct hv_ratelimit rl = {.burst = 1, .window_ms = 1000};
	unsigned held = 0;
	assert_true(hv_ratelimit_ok(&rl, 10000, &held));
	assert_false(hv_ratelimit_ok(&rl, 10001, &held));
	assert_true(hv_ratelimit_ok(&rl, 2000, &held));
	assert_int_equal(held, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_burst_passes_then_lines_are_held_back_and_counted),
		cmocka_unit_test(a_clock_that_goes_back_starts_a_new_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
