/* test_registry.c - host liveness as nova's service group: up, suspect after missed
 * reports, down after the down time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <hvagent/error.h>

#include "registry.h"

static void
a_host_heard_from_recently_is_up(void **state)
{
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	assert_int_equal(reg_state_at(100000, 100000, &iv), REG_UP);
	assert_int_equal(reg_state_at(100000, 129999, &iv), REG_UP);
}

static void
three_missed_reports_make_a_host_suspect(void **state)
{
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	assert_int_equal(reg_state_at(100000, 130000, &iv), REG_SUSPECT);
	assert_int_equal(reg_state_at(100000, 159999, &iv), REG_SUSPECT);
}

static void
sixty_seconds_of_silence_make_a_host_down(void **state)
{
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	assert_int_equal(reg_state_at(100000, 160000, &iv), REG_DOWN);
	assert_string_equal(reg_state_name(reg_state_at(100000, 999999, &iv)), "down");
}

static void
a_host_never_heard_from_is_down(void **state)
{
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	assert_int_equal(reg_state_at(0, 5, &iv), REG_DOWN);
}

static void
a_clock_going_backwards_keeps_the_host_up(void **state)
{
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	assert_int_equal(reg_state_at(200000, 100000, &iv), REG_UP);
}

static void
short_intervals_for_tests_are_honoured(void **state)
{
	struct reg_intervals iv = {.report_ms = 500, .suspect_ms = 1500, .down_ms = 3000};
	assert_int_equal(reg_intervals_check(&iv, NULL), 0);
	assert_int_equal(reg_state_at(1000, 2400, &iv), REG_UP);
	assert_int_equal(reg_state_at(1000, 2500, &iv), REG_SUSPECT);
	assert_int_equal(reg_state_at(1000, 4000, &iv), REG_DOWN);
}

static void
down_before_suspect_is_refused_naming_the_key(void **state)
{
	struct reg_intervals iv = {.report_ms = 1000, .suspect_ms = 5000, .down_ms = 2000};
	struct hv_error err = {0};
	assert_int_equal(reg_intervals_check(&iv, &err), -EINVAL);
	assert_string_equal(err.field, "down_after");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_host_heard_from_recently_is_up),
		cmocka_unit_test(three_missed_reports_make_a_host_suspect),
		cmocka_unit_test(sixty_seconds_of_silence_make_a_host_down),
		cmocka_unit_test(a_host_never_heard_from_is_down),
		cmocka_unit_test(a_clock_going_backwards_keeps_the_host_up),
		cmocka_unit_test(short_intervals_for_tests_are_honoured),
		cmocka_unit_test(down_before_suspect_is_refused_naming_the_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
