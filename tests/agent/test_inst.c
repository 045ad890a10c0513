/* test_inst.c - the instance state machine: which action runs from which state, and where
 * it leads. The rules are nova's, so the tests read like its guide. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inst.h"
#include "proto.h"

static struct inst *
make(enum inst_vm vm, enum inst_task task)
{
	struct inst *in = inst_new("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f");

	in->vm = vm;
	in->task = task;
	return in;
}

static void
pause_is_only_allowed_from_active(void **state)
{
	const char *code = NULL;
	struct hv_error err = {0};

	for (int vm = 0; vm < VM_N; vm++) {
		struct inst *in = make((enum inst_vm)vm, TASK_NONE);
		int r = inst_guard(in, CMD_PAUSE, false, &code, &err);

		if (vm == VM_ACTIVE) {
			assert_int_equal(r, 0);
		} else {
			assert_int_equal(r, -EBUSY);
			assert_string_equal(code, PROTO_E_INVALID_STATE);
		}
		inst_free(in);
	}
}

static void
a_task_in_flight_refuses_another_action_with_a_clear_error(void **state)
{
	struct inst *in = make(VM_ACTIVE, TASK_REBOOTING);
	const char *code = NULL;
	struct hv_error err = {0};

	assert_int_equal(inst_guard(in, CMD_STOP, false, &code, &err), -EBUSY);
	assert_string_equal(code, PROTO_E_TASK_IN_FLIGHT);
	assert_non_null(strstr(err.message, "cannot stop while task rebooting is in flight"));
	/* reading the console never waits for a task */
	assert_int_equal(inst_guard(in, CMD_CONSOLE_LOG, false, &code, &err), 0);
	inst_free(in);
}

static void
a_hard_reboot_rescues_what_a_soft_reboot_cannot(void **state)
{
	struct inst *in = make(VM_ERROR, TASK_NONE);
	const char *code = NULL;
	struct hv_error err = {0};

	assert_int_equal(inst_guard(in, CMD_REBOOT, false, &code, &err), -EBUSY);
	assert_non_null(strstr(err.message, "reboot (soft) while vm_state is error"));
	assert_int_equal(inst_guard(in, CMD_REBOOT, true, &code, &err), 0);
	assert_int_equal(inst_task_for(CMD_REBOOT, true), TASK_REBOOTING_HARD);
	assert_int_equal(inst_task_for(CMD_REBOOT, false), TASK_REBOOTING);
	inst_free(in);
}

static void
resize_waits_for_confirm_or_revert_and_returns_to_the_old_state(void **state)
{
	struct inst *in = make(VM_STOPPED, TASK_NONE);
	const char *code = NULL;
	struct hv_error err = {0};

	assert_int_equal(inst_guard(in, CMD_RESIZE, false, &code, &err), 0);
	assert_int_equal(inst_vm_after(in, CMD_RESIZE, true), VM_RESIZED);
	in->vm_before_resize = in->vm;
	in->vm = VM_RESIZED;
	assert_int_equal(inst_guard(in, CMD_START, false, &code, &err), -EBUSY);
	assert_int_equal(inst_guard(in, CMD_REVERT_RESIZE, false, &code, &err), 0);
	assert_int_equal(inst_vm_after(in, CMD_REVERT_RESIZE, true), VM_STOPPED);
	assert_int_equal(inst_vm_after(in, CMD_CONFIRM_RESIZE, true), VM_STOPPED);
	inst_free(in);
}

static void
each_action_leads_to_its_stable_state(void **state)
{
	struct inst *in = make(VM_ACTIVE, TASK_NONE);

	assert_int_equal(inst_vm_after(in, CMD_PAUSE, true), VM_PAUSED);
	assert_int_equal(inst_vm_after(in, CMD_SUSPEND, true), VM_SUSPENDED);
	assert_int_equal(inst_vm_after(in, CMD_STOP, true), VM_STOPPED);
	assert_int_equal(inst_vm_after(in, CMD_RESCUE, true), VM_RESCUED);
	assert_int_equal(inst_vm_after(in, CMD_SNAPSHOT, true), VM_ACTIVE);
	assert_int_equal(inst_vm_after(in, CMD_SPAWN, false), VM_STOPPED);
	assert_int_equal(inst_vm_after(in, CMD_DESTROY, true), VM_DELETED);
	assert_int_equal(inst_task_for(CMD_SNAPSHOT, false), TASK_IMAGE_SNAPSHOT);
	assert_int_equal(inst_task_for(CMD_GET_CONSOLE, false), TASK_NONE);
	inst_free(in);
}

static void
names_round_trip_and_netfilter_commands_are_reserved(void **state)
{
	for (int c = 0; c < CMD_N; c++)
		assert_int_equal(inst_cmd_parse(inst_cmd_name((enum inst_cmd)c)), c);
	for (int v = 0; v < VM_N; v++)
		assert_int_equal(inst_vm_parse(inst_vm_name((enum inst_vm)v)), v);
	for (int t = 0; t < TASK_N; t++)
		assert_int_equal(inst_task_parse(inst_task_name((enum inst_task)t)), t);
	assert_int_equal(inst_power_parse("crashed"), HVD_POWER_CRASHED);
	assert_int_equal(inst_cmd_parse("fip_associate"), -1);
	assert_true(inst_cmd_reserved("fip_associate"));
	assert_false(inst_cmd_reserved("frobnicate"));
	assert_string_equal(inst_cmd_driver_op(CMD_STOP), "power_off");
}

static void
a_record_survives_the_journal_round_trip(void **state)
{
	struct inst *in = make(VM_RESIZED, TASK_RESIZE_CONFIRMING), *back = NULL;
	struct hv_error err = {0};
	json_t *rec, *rec2;

	in->power = HVD_POWER_RUNNING;
	in->vm_before_resize = VM_STOPPED;
	json_t *spec =
		json_pack("{s:s, s:{s:s, s:i}}", "name", "web", "flavor", "name", "m1", "vcpus", 2);
	assert_int_equal(inst_set_spec(in, spec), 0);
	json_decref(spec);
	assert_int_equal(in->use.vcpus, 2);
	in->old_flavor = json_pack("{s:s, s:i}", "name", "m0", "vcpus", 1);
	snprintf(in->cmd_id, sizeof in->cmd_id, "c-77");
	rec = inst_to_json(in);
	assert_string_equal(json_string_value(json_object_get(rec, "task_state")),
			    "resize_confirming");
	assert_int_equal(inst_from_json(rec, &back, &err), 0);
	assert_int_equal(back->vm, VM_RESIZED);
	assert_int_equal(back->vm_before_resize, VM_STOPPED);
	assert_int_equal(back->task, TASK_RESIZE_CONFIRMING);
	assert_string_equal(back->cmd_id, "c-77");
	rec2 = inst_to_json(back);
	assert_true(json_equal(rec, rec2));
	json_decref(rec);
	json_decref(rec2);
	inst_free(in);
	inst_free(back);
}

static void
the_periodic_sync_leaves_an_instance_with_a_task_in_flight_alone(void **state)
{
	struct inst *in = make(VM_ACTIVE, TASK_REBOOTING);
	enum inst_vm vm;

	in->power = HVD_POWER_RUNNING;
	assert_int_equal(inst_sync_decide(in, true, HVD_POWER_SHUTDOWN, false, &vm),
			 INST_SYNC_SKIP);
	/* the hypervisor's own event is still recorded, but vm_state stays the task's */
	assert_int_equal(inst_sync_decide(in, true, HVD_POWER_SHUTDOWN, true, &vm),
			 INST_SYNC_POWER);
	assert_int_equal(vm, VM_ACTIVE);
	inst_free(in);
}

static void
a_guest_that_shut_down_by_itself_is_stopped_not_restarted(void **state)
{
	struct inst *in = make(VM_ACTIVE, TASK_NONE);
	enum inst_vm vm;

	in->power = HVD_POWER_RUNNING;
	assert_int_equal(inst_sync_decide(in, true, HVD_POWER_SHUTDOWN, false, &vm),
			 INST_SYNC_POWER);
	assert_int_equal(vm, VM_STOPPED);
	assert_int_equal(inst_sync_decide(in, true, HVD_POWER_CRASHED, true, &vm), INST_SYNC_POWER);
	assert_int_equal(vm, VM_STOPPED);
	assert_int_equal(inst_sync_decide(in, true, HVD_POWER_RUNNING, false, &vm),
			 INST_SYNC_NOTHING);
	in->vm = VM_PAUSED;
	in->power = HVD_POWER_PAUSED;
	assert_int_equal(inst_sync_decide(in, true, HVD_POWER_RUNNING, false, &vm),
			 INST_SYNC_POWER);
	assert_int_equal(vm, VM_PAUSED);
	inst_free(in);
}

static void
an_instance_the_hypervisor_lost_shows_nostate(void **state)
{
	struct inst *in = make(VM_ACTIVE, TASK_NONE);
	enum inst_vm vm;

	in->power = HVD_POWER_RUNNING;
	assert_int_equal(inst_sync_decide(in, false, HVD_POWER_RUNNING, false, &vm),
			 INST_SYNC_MISSING);
	in->power = HVD_POWER_NOSTATE;
	assert_int_equal(inst_sync_decide(in, false, HVD_POWER_RUNNING, false, &vm),
			 INST_SYNC_NOTHING);
	inst_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pause_is_only_allowed_from_active),
		cmocka_unit_test(a_task_in_flight_refuses_another_action_with_a_clear_error),
		cmocka_unit_test(a_hard_reboot_rescues_what_a_soft_reboot_cannot),
		cmocka_unit_test(resize_waits_for_confirm_or_revert_and_returns_to_the_old_state),
		cmocka_unit_test(each_action_leads_to_its_stable_state),
		cmocka_unit_test(names_round_trip_and_netfilter_commands_are_reserved),
		cmocka_unit_test(a_record_survives_the_journal_round_trip),
		cmocka_unit_test(the_periodic_sync_leaves_an_instance_with_a_task_in_flight_alone),
		cmocka_unit_test(a_guest_that_shut_down_by_itself_is_stopped_not_restarted),
		cmocka_unit_test(an_instance_the_hypervisor_lost_shows_nostate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
