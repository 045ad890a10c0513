/* test_fault.c - named fault points: HV_FAULT parses strictly, a point fires on the hit it
 * names and no other, and hv_fault() dies as kill -9 does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault.h"

static void
unset_fires_nothing(void **state)
{
	unsetenv("HV_FAULT");
	assert_int_equal(hv_fault_init(), 0);
	assert_false(hv_fault_hit("spawn_defined"));
	hv_fault("spawn_defined"); /* returns */
}

static void
a_point_fires_on_the_hit_it_names(void **state)
{
	setenv("HV_FAULT", "reboot,spawn_defined@3", 1);
	assert_int_equal(hv_fault_init(), 0);
	assert_false(hv_fault_hit("spawn_defined"));
	assert_false(hv_fault_hit("spawn_defined"));
	assert_true(hv_fault_hit("spawn_defined"));
	assert_false(hv_fault_hit("spawn_defined"));
	assert_true(hv_fault_hit("reboot"));
	assert_false(hv_fault_hit("delete"));
	assert_false(hv_fault_hit("spawn"));
}

static void
a_list_that_does_not_parse_is_refused_and_fires_nothing(void **state)
{
	static const char *bad[] = {"Spawn",  "spawn@", "spawn@0",  "spawn@x", "spawn,",
				    ",spawn", "a b",    "spawn@3x", "spawn;rm"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("HV_FAULT", bad[i], 1);
		assert_int_equal(hv_fault_init(), -22);
		assert_false(hv_fault_hit("spawn"));
	}
}

static void
hv_fault_dies_as_kill_9(void **state)
{
	setenv("HV_FAULT", "delete", 1);
	assert_int_equal(hv_fault_init(), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hv_fault("reboot"); /* not listed: returns */
		hv_fault("delete");
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), 9);
}

static void
a_point_at_a_moment_of_a_command_is_named_command_moment(void **state)
{
	setenv("HV_FAULT", "resize_after_driver", 1);
	assert_int_equal(hv_fault_init(), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		hv_fault_at("resize", "accepted"); /* another moment: returns */
		hv_fault_at("spawn", "after_driver");
		hv_fault_at(NULL, "after_driver");
		hv_fault_at("resize", "after_driver");
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), 9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unset_fires_nothing),
		cmocka_unit_test(a_point_fires_on_the_hit_it_names),
		cmocka_unit_test(a_list_that_does_not_parse_is_refused_and_fires_nothing),
		cmocka_unit_test(hv_fault_dies_as_kill_9),
		cmocka_unit_test(a_point_at_a_moment_of_a_command_is_named_command_moment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
