/* inst.c - the agent's view of the instance lifecycle (the table is common/lifecycle.c),
 * the power states, the guard and the record codec. Must stay pure: it decides, it never
 * acts. */
#include "inst.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "net.h"
#include "proto.h"

const char *
inst_vm_name(enum inst_vm vm)
{
	return lc_vm_name((enum lc_vm)vm);
}

const char *
inst_task_name(enum inst_task task)
{
	return lc_task_name((enum lc_task)task);
}

const char *
inst_power_name(enum hvd_power_state p)
{
	switch (p) {
	case HVD_POWER_RUNNING: return "running";
	case HVD_POWER_PAUSED: return "paused";
	case HVD_POWER_SHUTDOWN: return "shutdown";
	case HVD_POWER_CRASHED: return "crashed";
	case HVD_POWER_SUSPENDED: return "suspended";
	case HVD_POWER_NOSTATE: break;
	}
	return "nostate";
}

const char *
inst_cmd_name(enum inst_cmd cmd)
{
	return lc_cmd_name((enum lc_cmd)cmd);
}

int
inst_vm_parse(const char *s)
{
	return lc_vm_parse(s);
}

int
inst_task_parse(const char *s)
{
	return lc_task_parse(s);
}

int
inst_power_parse(const char *s)
{
	static const enum hvd_power_state all[] = {HVD_POWER_NOSTATE, HVD_POWER_RUNNING,
						   HVD_POWER_PAUSED,  HVD_POWER_SHUTDOWN,
						   HVD_POWER_CRASHED, HVD_POWER_SUSPENDED};

	for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
		if (strcmp(s, inst_power_name(all[i])) == 0)
			return (int)all[i];
	return -1;
}

int
inst_cmd_parse(const char *s)
{
	return lc_cmd_parse(s);
}

bool
inst_cmd_reserved(const char *s)
{
	return net_is_command(s);
}

const char *
inst_cmd_driver_op(enum inst_cmd cmd)
{
	return lc_cmd_driver_op((enum lc_cmd)cmd);
}

bool
inst_cmd_readonly(enum inst_cmd cmd)
{
	return lc_cmd_readonly((enum lc_cmd)cmd);
}

enum inst_task
inst_task_for(enum inst_cmd cmd, bool hard)
{
	return (enum inst_task)lc_task_for((enum lc_cmd)cmd, hard);
}

int
inst_guard(const struct inst *in, enum inst_cmd cmd, bool hard, const char **ret_code,
	   struct hv_error *err)
{
	if (in->task != TASK_NONE && !inst_cmd_readonly(cmd)) {
		*ret_code = PROTO_E_TASK_IN_FLIGHT;
		return hv_error_set(err, -EBUSY, "uuid",
				    "instance %s: cannot %s while task %s is in flight", in->uuid,
				    inst_cmd_name(cmd), inst_task_name(in->task));
	}
	if (!lc_allowed((enum lc_cmd)cmd, hard, (enum lc_vm)in->vm)) {
		*ret_code = PROTO_E_INVALID_STATE;
		return hv_error_set(err, -EBUSY, "uuid",
				    "instance %s: cannot %s%s while vm_state is %s", in->uuid,
				    inst_cmd_name(cmd),
				    cmd == CMD_REBOOT ? (hard ? " (hard)" : " (soft)") : "",
				    inst_vm_name(in->vm));
	}
	return 0;
}

enum inst_vm
inst_vm_after(const struct inst *in, enum inst_cmd cmd, bool power_on)
{
	switch (cmd) {
	case CMD_SPAWN: return power_on ? VM_ACTIVE : VM_STOPPED;
	case CMD_DESTROY: return VM_DELETED;
	case CMD_REBOOT:
	case CMD_START:
	case CMD_UNPAUSE:
	case CMD_RESUME:
	case CMD_REBUILD:
	case CMD_UNRESCUE: return VM_ACTIVE;
	case CMD_STOP: return VM_STOPPED;
	case CMD_PAUSE: return VM_PAUSED;
	case CMD_SUSPEND: return VM_SUSPENDED;
	case CMD_RESIZE: return VM_RESIZED;
	case CMD_CONFIRM_RESIZE:
	case CMD_REVERT_RESIZE: return in->vm_before_resize;
	case CMD_RESCUE: return VM_RESCUED;
	case CMD_SNAPSHOT:
	case CMD_CONSOLE_LOG:
	case CMD_GET_CONSOLE:
	case CMD_SET_ADMIN_PASSWORD:
	case CMD_N: break;
	}
	return in->vm;
}

enum inst_vm
inst_vm_from_power(enum hvd_power_state p)
{
	switch (p) {
	case HVD_POWER_RUNNING: return VM_ACTIVE;
	case HVD_POWER_PAUSED: return VM_PAUSED;
	case HVD_POWER_SUSPENDED: return VM_SUSPENDED;
	case HVD_POWER_SHUTDOWN: return VM_STOPPED;
	case HVD_POWER_CRASHED:
	case HVD_POWER_NOSTATE: break;
	}
	return VM_ERROR;
}

enum inst_sync
inst_sync_decide(const struct inst *in, bool found, enum hvd_power_state seen, bool from_event,
		 enum inst_vm *ret_vm)
{
	*ret_vm = in->vm;
	if (in->task != TASK_NONE && !from_event)
		return INST_SYNC_SKIP;
	if (!found)
		seen = HVD_POWER_NOSTATE;
	if (seen == in->power)
		return INST_SYNC_NOTHING;
	if (in->task == TASK_NONE && in->vm == VM_ACTIVE &&
	    (seen == HVD_POWER_SHUTDOWN || seen == HVD_POWER_CRASHED))
		*ret_vm = VM_STOPPED;
	return found ? INST_SYNC_POWER : INST_SYNC_MISSING;
}

struct inst *
inst_new(const char *uuid)
{
	struct inst *in = calloc(1, sizeof *in);

	if (!in)
		return NULL;
	snprintf(in->uuid, sizeof in->uuid, "%s", uuid);
	in->vm = VM_BUILDING;
	in->vm_before_resize = VM_ACTIVE;
	return in;
}

void
inst_free(struct inst *in)
{
	if (!in)
		return;
	free(in->spec);
	json_decref(in->old_flavor);
	json_decref(in->fault);
	free(in);
}

/* The parts of a record that come from the request. */
static const char *const spec_keys[] = {"name",  "hostname", "flavor",       "image",
					"ports", "metadata", "config_drive", NULL};

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *
inst_spec(const struct inst *in)
{
	json_t *o = in->spec ? json_loads(in->spec, 0, NULL) : NULL;

	return json_is_object(o) ? o : (json_decref(o), json_object());
}

int
inst_set_spec(struct inst *in, const json_t *spec)
{
	char *text = hj_dump(spec);
	json_t *f = json_object_get(spec, "flavor");

	if (!text)
		return -ENOMEM;
	free(in->spec);
	in->spec = text;
	in->use.vcpus = json_integer_value(json_object_get(f, "vcpus"));
	in->use.ram_mb = json_integer_value(json_object_get(f, "ram_mb"));
	in->use.disk_gb = json_integer_value(json_object_get(f, "root_gb")) +
			  json_integer_value(json_object_get(f, "ephemeral_gb"));
	return 0;
}

json_t *
inst_to_json(const struct inst *in)
{
	json_t *o = json_object(), *spec = inst_spec(in);

	json_object_set_new(o, "uuid", json_string(in->uuid));
	for (int i = 0; spec_keys[i]; i++) {
		json_t *v = json_object_get(spec, spec_keys[i]);

		json_object_set(o, spec_keys[i], v ? v : json_null());
	}
	json_decref(spec);
	json_object_set_new(o, "vm_state", json_string(inst_vm_name(in->vm)));
	json_object_set_new(o, "task_state", str_or_null(inst_task_name(in->task)));
	json_object_set_new(o, "power_state", json_string(inst_power_name(in->power)));
	json_object_set_new(o, "old_flavor",
			    in->old_flavor ? json_deep_copy(in->old_flavor) : json_null());
	json_object_set_new(o, "fault", in->fault ? json_deep_copy(in->fault) : json_null());
	json_object_set_new(o, "launched_at_ms", json_integer(in->launched_at_ms));
	json_object_set_new(o, "updated_ms", json_integer(in->updated_ms));
	if (in->task != TASK_NONE && in->cmd_id[0])
		json_object_set_new(o, "task_cmd_id", json_string(in->cmd_id));
	if (in->vm == VM_RESIZED)
		json_object_set_new(o, "vm_state_before_resize",
				    json_string(inst_vm_name(in->vm_before_resize)));
	return o;
}

int
inst_from_json(const json_t *rec, struct inst **ret, struct hv_error *err)
{
	const char *uuid = NULL, *vm = NULL, *task = NULL, *power = "nostate", *before = NULL;
	struct inst *in;
	json_t *v;
	int r;

	*ret = NULL;
	if ((r = hj_uuid(rec, "record", "uuid", 0, &uuid, err)) < 0 ||
	    (r = hj_str(rec, "record", "vm_state", 0, 32, &vm, err)) < 0 ||
	    (r = hj_str(rec, "record", "task_state", HJ_OPTIONAL, 32, &task, err)) < 0 ||
	    (r = hj_str(rec, "record", "power_state", HJ_OPTIONAL, 32, &power, err)) < 0 ||
	    (r = hj_str(rec, "record", "vm_state_before_resize", HJ_OPTIONAL, 32, &before, err)) <
		    0)
		return r;
	if (inst_vm_parse(vm) < 0 || inst_task_parse(task) < 0 || inst_power_parse(power) < 0)
		return hv_error_set(err, -EINVAL, "record", "record %s: unknown state", uuid);
	in = inst_new(uuid);
	if (!in)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	in->vm = (enum inst_vm)inst_vm_parse(vm);
	in->task = (enum inst_task)inst_task_parse(task);
	in->power = (enum hvd_power_state)inst_power_parse(power);
	if (before && inst_vm_parse(before) >= 0)
		in->vm_before_resize = (enum inst_vm)inst_vm_parse(before);
	json_t *spec = json_object();
	for (int i = 0; spec_keys[i]; i++) {
		v = json_object_get(rec, spec_keys[i]);
		if (v && !json_is_null(v))
			json_object_set(spec, spec_keys[i], v);
	}
	r = inst_set_spec(in, spec);
	json_decref(spec);
	if (r < 0) {
		inst_free(in);
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	v = json_object_get(rec, "task_cmd_id");
	if (json_is_string(v) && proto_id_valid(json_string_value(v)))
		snprintf(in->cmd_id, sizeof in->cmd_id, "%s", json_string_value(v));
	v = json_object_get(rec, "old_flavor");
	if (json_is_object(v))
		in->old_flavor = json_deep_copy(v);
	v = json_object_get(rec, "fault");
	if (json_is_object(v))
		in->fault = json_deep_copy(v);
	in->launched_at_ms = json_integer_value(json_object_get(rec, "launched_at_ms"));
	in->updated_ms = json_integer_value(json_object_get(rec, "updated_ms"));
	*ret = in;
	return 0;
}
