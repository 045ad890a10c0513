/* test_lifecycle.c - the one lifecycle table (common/lifecycle.c): every command from every
 * vm_state, written out here as protocol §6.5 states it, so a change to the table is a
 * change to this list too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lifecycle.h"

/* Allowed vm_states as '|'-separated names, "*" for every state; task; driver op;
 * read-only. */
static const struct {
	const char *cmd;
	bool hard;
	const char *from;
	const char *task;
	const char *driver_op;
	bool readonly;
} expect[] = {
	{"spawn", false, "", "spawning", "spawn", false},
	{"destroy", false, "*", "deleting", "destroy", false},
	{"reboot", false, "active", "rebooting", "reboot", false},
	{"reboot", true, "active|paused|suspended|stopped|error", "rebooting_hard", "reboot",
	 false},
	{"stop", false, "active|rescued|error", "powering_off", "power_off", false},
	{"start", false, "stopped", "powering_on", "power_on", false},
	{"pause", false, "active", "pausing", "pause", false},
	{"unpause", false, "paused", "unpausing", "unpause", false},
	{"suspend", false, "active", "suspending", "suspend", false},
	{"resume", false, "suspended", "resuming", "resume", false},
	{"resize", false, "active|stopped", "resize_migrating", "resize", false},
	{"confirm_resize", false, "resized", "resize_confirming", "confirm_resize", false},
	{"revert_resize", false, "resized", "resize_reverting", "revert_resize", false},
	{"rebuild", false, "active|stopped|error", "rebuilding", "rebuild", false},
	{"rescue", false, "active|stopped|error", "rescuing", "rescue", false},
	{"unrescue", false, "rescued", "unrescuing", "unrescue", false},
	{"snapshot", false, "active|paused|suspended|stopped", "image_snapshot", "snapshot", false},
	{"console_log", false, "active|paused|suspended|stopped|rescued|resized|error|deleted",
	 NULL, "console_log", true},
	{"get_console", false, "active", NULL, "get_console", true},
	{"set_admin_password", false, "active", "updating_password", "set_admin_password", false},
};

static const char *const vms[] = {"building", "active",  "paused", "suspended", "stopped",
				  "rescued",  "resized", "error",  "deleted"};

static bool
listed(const char *list, const char *word)
{
	size_t n = strlen(word);

	if (strcmp(list, "*") == 0)
		return true;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, "|");

		if (len == n && strncmp(p, word, n) == 0)
			return true;
		p += len + (p[len] == '|');
	}
	return false;
}

static void
every_command_from_every_vm_state(void **state)
{
	(void)state;
	assert_int_equal(sizeof expect / sizeof expect[0], LC_CMD_N + 1); /* + hard reboot */
	assert_int_equal(sizeof vms / sizeof vms[0], LC_VM_N);
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		int cmd = lc_cmd_parse(expect[i].cmd);

		assert_true(cmd >= 0);
		for (size_t v = 0; v < LC_VM_N; v++) {
			int vm = lc_vm_parse(vms[v]);
			bool want = listed(expect[i].from, vms[v]);

			assert_int_equal(vm, (int)v);
			if (lc_allowed(cmd, expect[i].hard, vm) != want)
				fail_msg("%s%s from %s: expected %s", expect[i].cmd,
					 expect[i].hard ? " (hard)" : "", vms[v],
					 want ? "allowed" : "refused");
		}
	}
}

static void
each_command_runs_under_its_task_and_driver_op(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
		int cmd = lc_cmd_parse(expect[i].cmd);
		const char *task = lc_task_name(lc_task_for(cmd, expect[i].hard));

		if (expect[i].task)
			assert_string_equal(task, expect[i].task);
		else
			assert_null(task);
		assert_string_equal(lc_cmd_driver_op(cmd), expect[i].driver_op);
		assert_int_equal(lc_cmd_readonly(cmd), expect[i].readonly);
		assert_string_equal(lc_cmd_name(cmd), expect[i].cmd);
	}
}

static void
names_round_trip_and_unknowns_are_refused(void **state)
{
	(void)state;
	for (int t = 1; t < LC_TASK_N; t++)
		assert_int_equal(lc_task_parse(lc_task_name(t)), t);
	assert_int_equal(lc_task_parse(NULL), LC_TASK_NONE);
	assert_int_equal(lc_task_parse("dancing"), -1);
	assert_int_equal(lc_vm_parse("frozen"), -1);
	assert_int_equal(lc_cmd_parse("frobnicate"), -1);
	assert_int_equal(lc_cmd_parse(NULL), -1);
	assert_string_equal(lc_vm_name(LC_VM_N), "error");
	assert_string_equal(lc_cmd_name(LC_CMD_N), "unknown");
	assert_false(lc_allowed(LC_CMD_N, false, LC_VM_ACTIVE));
	assert_false(lc_allowed(LC_CMD_PAUSE, false, LC_VM_N));
}

static void
the_allowed_list_reads_as_the_error_message_shows_it(void **state)
{
	char buf[128];

	(void)state;
	lc_allowed_text(LC_CMD_PAUSE, false, buf, sizeof buf);
	assert_string_equal(buf, "active");
	lc_allowed_text(LC_CMD_STOP, false, buf, sizeof buf);
	assert_string_equal(buf, "active|rescued|error");
	lc_allowed_text(LC_CMD_REBOOT, true, buf, sizeof buf);
	assert_string_equal(buf, "active|paused|suspended|stopped|error");
	lc_allowed_text(LC_CMD_DESTROY, false, buf, sizeof buf);
	assert_string_equal(buf, "any state");
	lc_allowed_text(LC_CMD_STOP, false, buf, 8);
	assert_string_equal(buf, "active|");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_command_from_every_vm_state),
		cmocka_unit_test(each_command_runs_under_its_task_and_driver_op),
		cmocka_unit_test(names_round_trip_and_unknowns_are_refused),
		cmocka_unit_test(the_allowed_list_reads_as_the_error_message_shows_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
