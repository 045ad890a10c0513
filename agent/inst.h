/* inst.h - the instance model (nova's vm_state / task_state / power_state) and the pure
 * rules of which command may run from which state and where it leads; the table itself is
 * common/lifecycle.c, shared with hvcentral. No I/O, no driver calls, no logging: the agent
 * core asks these functions and acts on the answer. */
#ifndef HV_AGENT_INST_H
#define HV_AGENT_INST_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/driver.h>
#include <hvagent/error.h>

#include "lifecycle.h"

/* The agent's names for the common lifecycle enums (common/lifecycle.h), value for value,
 * so the agent's code reads as before and converts to the lc_ enums without a cast. */
enum inst_vm {
	VM_BUILDING = LC_VM_BUILDING,
	VM_ACTIVE = LC_VM_ACTIVE,
	VM_PAUSED = LC_VM_PAUSED,
	VM_SUSPENDED = LC_VM_SUSPENDED,
	VM_STOPPED = LC_VM_STOPPED,
	VM_RESCUED = LC_VM_RESCUED,
	VM_RESIZED = LC_VM_RESIZED,
	VM_ERROR = LC_VM_ERROR,
	VM_DELETED = LC_VM_DELETED,
	VM_N = LC_VM_N,
};

enum inst_task {
	TASK_NONE = LC_TASK_NONE,
	TASK_SPAWNING = LC_TASK_SPAWNING,
	TASK_DELETING = LC_TASK_DELETING,
	TASK_REBOOTING = LC_TASK_REBOOTING,
	TASK_REBOOTING_HARD = LC_TASK_REBOOTING_HARD,
	TASK_POWERING_OFF = LC_TASK_POWERING_OFF,
	TASK_POWERING_ON = LC_TASK_POWERING_ON,
	TASK_PAUSING = LC_TASK_PAUSING,
	TASK_UNPAUSING = LC_TASK_UNPAUSING,
	TASK_SUSPENDING = LC_TASK_SUSPENDING,
	TASK_RESUMING = LC_TASK_RESUMING,
	TASK_RESIZE_MIGRATING = LC_TASK_RESIZE_MIGRATING,
	TASK_RESIZE_CONFIRMING = LC_TASK_RESIZE_CONFIRMING,
	TASK_RESIZE_REVERTING = LC_TASK_RESIZE_REVERTING,
	TASK_REBUILDING = LC_TASK_REBUILDING,
	TASK_RESCUING = LC_TASK_RESCUING,
	TASK_UNRESCUING = LC_TASK_UNRESCUING,
	TASK_IMAGE_SNAPSHOT = LC_TASK_IMAGE_SNAPSHOT,
	TASK_UPDATING_PASSWORD = LC_TASK_UPDATING_PASSWORD,
	TASK_N = LC_TASK_N,
};

enum inst_cmd {
	CMD_SPAWN = LC_CMD_SPAWN,
	CMD_DESTROY = LC_CMD_DESTROY,
	CMD_REBOOT = LC_CMD_REBOOT,
	CMD_STOP = LC_CMD_STOP,
	CMD_START = LC_CMD_START,
	CMD_PAUSE = LC_CMD_PAUSE,
	CMD_UNPAUSE = LC_CMD_UNPAUSE,
	CMD_SUSPEND = LC_CMD_SUSPEND,
	CMD_RESUME = LC_CMD_RESUME,
	CMD_RESIZE = LC_CMD_RESIZE,
	CMD_CONFIRM_RESIZE = LC_CMD_CONFIRM_RESIZE,
	CMD_REVERT_RESIZE = LC_CMD_REVERT_RESIZE,
	CMD_REBUILD = LC_CMD_REBUILD,
	CMD_RESCUE = LC_CMD_RESCUE,
	CMD_UNRESCUE = LC_CMD_UNRESCUE,
	CMD_SNAPSHOT = LC_CMD_SNAPSHOT,
	CMD_CONSOLE_LOG = LC_CMD_CONSOLE_LOG,
	CMD_GET_CONSOLE = LC_CMD_GET_CONSOLE,
	CMD_SET_ADMIN_PASSWORD = LC_CMD_SET_ADMIN_PASSWORD,
	CMD_N = LC_CMD_N,
};

/* What an instance's flavor claims of the host (the report sums them). */
struct inst_usage {
	int64_t vcpus, ram_mb, disk_gb;
};

/* One instance as the agent knows it. spec holds what the controller asked for (name,
 * hostname, flavor, image, ports, metadata, config_drive), never a secret, as compact JSON
 * text: a host keeps thousands and reads one only when a command needs it (a parsed tree
 * costs ~8x the text); use inst_spec / inst_set_spec. */
struct inst {
	char uuid[37];
	enum inst_vm vm;
	enum inst_task task;
	enum hvd_power_state power;
	enum inst_vm vm_before_resize;
	char *spec;            /* owned, NULL for none */
	struct inst_usage use; /* from spec's flavor, kept by inst_set_spec */
	json_t *old_flavor;    /* owned, NULL unless resized */
	json_t *fault;         /* owned, NULL unless a failure set vm_state error */
	int64_t launched_at_ms;
	int64_t updated_ms;
	char cmd_id[65]; /* the command whose task is in flight, "" when none */
	bool dirty;      /* changed since the last DELTA (agent bookkeeping) */
};

const char *inst_vm_name(enum inst_vm vm);
const char *inst_task_name(enum inst_task task); /* NULL for TASK_NONE */
const char *inst_power_name(enum hvd_power_state p);
const char *inst_cmd_name(enum inst_cmd cmd);
/* -> enum value, or -1 when unknown. */
int inst_vm_parse(const char *s);
int inst_task_parse(const char *s); /* NULL -> TASK_NONE */
int inst_power_parse(const char *s);
int inst_cmd_parse(const char *s);
/* Netfilter commands the protocol reserves (answered "unsupported" until implemented). */
bool inst_cmd_reserved(const char *s);
/* The driver op a command needs ("power_off" for stop), for capability checks. */
const char *inst_cmd_driver_op(enum inst_cmd cmd);
/* Read-only commands run beside a task in flight and set no task_state. */
bool inst_cmd_readonly(enum inst_cmd cmd);

/* May cmd run on an existing instance now? 0 when yes; otherwise -EBUSY with *ret_code =
 * PROTO_E_TASK_IN_FLIGHT or PROTO_E_INVALID_STATE and err saying why. hard selects hard
 * reboot. Existence (spawn of a known uuid, anything else of an unknown one) is the
 * caller's business. */
int inst_guard(const struct inst *in, enum inst_cmd cmd, bool hard, const char **ret_code,
	       struct hv_error *err);
/* task_state while cmd runs (TASK_NONE for read-only commands). */
enum inst_task inst_task_for(enum inst_cmd cmd, bool hard);
/* vm_state after cmd succeeded, given the state before it (and, for spawn, power_on). */
enum inst_vm inst_vm_after(const struct inst *in, enum inst_cmd cmd, bool power_on);
/* vm_state that matches an observed power state, for recovery of an interrupted task. */
enum inst_vm inst_vm_from_power(enum hvd_power_state p);

/* What an observation of the hypervisor (a lifecycle event, the periodic sync) does to an
 * instance. */
enum inst_sync {
	INST_SYNC_NOTHING, /* already consistent */
	INST_SYNC_SKIP,    /* a task is in flight: the task owns the instance (periodic sync) */
	INST_SYNC_POWER,   /* record the new power_state (and *ret_vm) */
	INST_SYNC_MISSING, /* the hypervisor does not know it: power_state nostate */
};
/* found: the hypervisor listed the instance; seen: its power state. from_event: a lifecycle
 * event (recorded even during a task, since it is what the hypervisor says happened; only
 * vm_state is left to the task). *ret_vm receives the vm_state to keep: nova's rule, a
 * guest that stopped or crashed on its own while active becomes stopped, never restarted. */
enum inst_sync inst_sync_decide(const struct inst *in, bool found, enum hvd_power_state seen,
				bool from_event, enum inst_vm *ret_vm);

struct inst *inst_new(const char *uuid);
void inst_free(struct inst *in);
/* The protocol's instance record (docs/protocol.md 8.1). New reference. */
/* The spec as a new object (an empty one when there is none; NULL without memory). */
json_t *inst_spec(const struct inst *in);
/* Replaces the spec with spec's text (spec borrowed); -ENOMEM leaves it as it was. */
int inst_set_spec(struct inst *in, const json_t *spec);
json_t *inst_to_json(const struct inst *in);
/* Reads a record written by inst_to_json (the journal). */
int inst_from_json(const json_t *rec, struct inst **ret, struct hv_error *err);

#endif
