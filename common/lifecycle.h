/* lifecycle.h - nova's instance lifecycle as one table (docs/protocol.md §6.5): the
 * vm_states, the task_states, the commands, which command may start from which vm_state,
 * the task_state it runs under and the driver op it needs. The agent enforces it
 * (agent/inst.c) and hvcentral's service layer refuses early with the same rule, so the two
 * cannot disagree. Pure: no I/O, no allocation, never logs; must never grow a second copy
 * of the table anywhere else. */
#ifndef HV_LIFECYCLE_H
#define HV_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

enum lc_vm {
	LC_VM_BUILDING,
	LC_VM_ACTIVE,
	LC_VM_PAUSED,
	LC_VM_SUSPENDED,
	LC_VM_STOPPED,
	LC_VM_RESCUED,
	LC_VM_RESIZED,
	LC_VM_ERROR,
	LC_VM_DELETED,
	LC_VM_N,
};

enum lc_task {
	LC_TASK_NONE,
	LC_TASK_SPAWNING,
	LC_TASK_DELETING,
	LC_TASK_REBOOTING,
	LC_TASK_REBOOTING_HARD,
	LC_TASK_POWERING_OFF,
	LC_TASK_POWERING_ON,
	LC_TASK_PAUSING,
	LC_TASK_UNPAUSING,
	LC_TASK_SUSPENDING,
	LC_TASK_RESUMING,
	LC_TASK_RESIZE_MIGRATING,
	LC_TASK_RESIZE_CONFIRMING,
	LC_TASK_RESIZE_REVERTING,
	LC_TASK_REBUILDING,
	LC_TASK_RESCUING,
	LC_TASK_UNRESCUING,
	LC_TASK_IMAGE_SNAPSHOT,
	LC_TASK_UPDATING_PASSWORD,
	LC_TASK_N,
};

/* The protocol's instance commands (their wire names are lc_cmd_name's). */
enum lc_cmd {
	LC_CMD_SPAWN,
	LC_CMD_DESTROY,
	LC_CMD_REBOOT,
	LC_CMD_STOP,
	LC_CMD_START,
	LC_CMD_PAUSE,
	LC_CMD_UNPAUSE,
	LC_CMD_SUSPEND,
	LC_CMD_RESUME,
	LC_CMD_RESIZE,
	LC_CMD_CONFIRM_RESIZE,
	LC_CMD_REVERT_RESIZE,
	LC_CMD_REBUILD,
	LC_CMD_RESCUE,
	LC_CMD_UNRESCUE,
	LC_CMD_SNAPSHOT,
	LC_CMD_CONSOLE_LOG,
	LC_CMD_GET_CONSOLE,
	LC_CMD_SET_ADMIN_PASSWORD,
	LC_CMD_N,
};

/* Names as on the wire; "error" / NULL (no task) / "unknown" when out of range. */
const char *lc_vm_name(enum lc_vm vm);
const char *lc_task_name(enum lc_task task);
const char *lc_cmd_name(enum lc_cmd cmd);
/* -> enum value, or -1 when unknown. lc_task_parse(NULL) is LC_TASK_NONE. */
int lc_vm_parse(const char *s);
int lc_task_parse(const char *s);
int lc_cmd_parse(const char *s);

/* The driver op a command needs ("power_off" for stop), for capability checks. */
const char *lc_cmd_driver_op(enum lc_cmd cmd);
/* Read-only commands run beside a task in flight and set no task_state. */
bool lc_cmd_readonly(enum lc_cmd cmd);
/* task_state while cmd runs (LC_TASK_NONE for read-only commands); hard selects a hard
 * reboot. */
enum lc_task lc_task_for(enum lc_cmd cmd, bool hard);
/* May cmd start from vm? Only the table: whether a task is in flight is the caller's. */
bool lc_allowed(enum lc_cmd cmd, bool hard, enum lc_vm vm);
/* The vm_states cmd may start from, '|'-separated in enum order ("active|stopped"), for
 * error messages; "any state" when every state is allowed. Truncates to size. */
void lc_allowed_text(enum lc_cmd cmd, bool hard, char *buf, size_t size);

#endif
