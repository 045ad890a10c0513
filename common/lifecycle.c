/* lifecycle.c - the one table of nova's instance lifecycle (docs/protocol.md §6.5). Must
 * stay pure: it answers, it never acts. */
#include "lifecycle.h"

#include <stdio.h>
#include <string.h>

static const char *const vm_names[LC_VM_N] = {
	[LC_VM_BUILDING] = "building",   [LC_VM_ACTIVE] = "active",   [LC_VM_PAUSED] = "paused",
	[LC_VM_SUSPENDED] = "suspended", [LC_VM_STOPPED] = "stopped", [LC_VM_RESCUED] = "rescued",
	[LC_VM_RESIZED] = "resized",     [LC_VM_ERROR] = "error",     [LC_VM_DELETED] = "deleted",
};

static const char *const task_names[LC_TASK_N] = {
	[LC_TASK_NONE] = NULL,
	[LC_TASK_SPAWNING] = "spawning",
	[LC_TASK_DELETING] = "deleting",
	[LC_TASK_REBOOTING] = "rebooting",
	[LC_TASK_REBOOTING_HARD] = "rebooting_hard",
	[LC_TASK_POWERING_OFF] = "powering_off",
	[LC_TASK_POWERING_ON] = "powering_on",
	[LC_TASK_PAUSING] = "pausing",
	[LC_TASK_UNPAUSING] = "unpausing",
	[LC_TASK_SUSPENDING] = "suspending",
	[LC_TASK_RESUMING] = "resuming",
	[LC_TASK_RESIZE_MIGRATING] = "resize_migrating",
	[LC_TASK_RESIZE_CONFIRMING] = "resize_confirming",
	[LC_TASK_RESIZE_REVERTING] = "resize_reverting",
	[LC_TASK_REBUILDING] = "rebuilding",
	[LC_TASK_RESCUING] = "rescuing",
	[LC_TASK_UNRESCUING] = "unrescuing",
	[LC_TASK_IMAGE_SNAPSHOT] = "image_snapshot",
	[LC_TASK_UPDATING_PASSWORD] = "updating_password",
};

#define M(v) (1u << (v))
#define ANY_VM ((1u << LC_VM_N) - 1)

/* One row per command. A spawn starts from no instance at all: no vm_state allows it. */
static const struct {
	const char *name;
	const char *driver_op;
	unsigned allowed; /* vm_state mask */
	enum lc_task task;
	bool readonly;
} cmds[LC_CMD_N] = {
	[LC_CMD_SPAWN] = {"spawn", "spawn", 0, LC_TASK_SPAWNING, false},
	[LC_CMD_DESTROY] = {"destroy", "destroy", ANY_VM, LC_TASK_DELETING, false},
	[LC_CMD_REBOOT] = {"reboot", "reboot", M(LC_VM_ACTIVE), LC_TASK_REBOOTING, false},
	[LC_CMD_STOP] = {"stop", "power_off", M(LC_VM_ACTIVE) | M(LC_VM_RESCUED) | M(LC_VM_ERROR),
			 LC_TASK_POWERING_OFF, false},
	[LC_CMD_START] = {"start", "power_on", M(LC_VM_STOPPED), LC_TASK_POWERING_ON, false},
	[LC_CMD_PAUSE] = {"pause", "pause", M(LC_VM_ACTIVE), LC_TASK_PAUSING, false},
	[LC_CMD_UNPAUSE] = {"unpause", "unpause", M(LC_VM_PAUSED), LC_TASK_UNPAUSING, false},
	[LC_CMD_SUSPEND] = {"suspend", "suspend", M(LC_VM_ACTIVE), LC_TASK_SUSPENDING, false},
	[LC_CMD_RESUME] = {"resume", "resume", M(LC_VM_SUSPENDED), LC_TASK_RESUMING, false},
	[LC_CMD_RESIZE] = {"resize", "resize", M(LC_VM_ACTIVE) | M(LC_VM_STOPPED),
			   LC_TASK_RESIZE_MIGRATING, false},
	[LC_CMD_CONFIRM_RESIZE] = {"confirm_resize", "confirm_resize", M(LC_VM_RESIZED),
				   LC_TASK_RESIZE_CONFIRMING, false},
	[LC_CMD_REVERT_RESIZE] = {"revert_resize", "revert_resize", M(LC_VM_RESIZED),
				  LC_TASK_RESIZE_REVERTING, false},
	[LC_CMD_REBUILD] = {"rebuild", "rebuild",
			    M(LC_VM_ACTIVE) | M(LC_VM_STOPPED) | M(LC_VM_ERROR), LC_TASK_REBUILDING,
			    false},
	[LC_CMD_RESCUE] = {"rescue", "rescue", M(LC_VM_ACTIVE) | M(LC_VM_STOPPED) | M(LC_VM_ERROR),
			   LC_TASK_RESCUING, false},
	[LC_CMD_UNRESCUE] = {"unrescue", "unrescue", M(LC_VM_RESCUED), LC_TASK_UNRESCUING, false},
	[LC_CMD_SNAPSHOT] = {"snapshot", "snapshot",
			     M(LC_VM_ACTIVE) | M(LC_VM_STOPPED) | M(LC_VM_PAUSED) |
				     M(LC_VM_SUSPENDED),
			     LC_TASK_IMAGE_SNAPSHOT, false},
	[LC_CMD_CONSOLE_LOG] = {"console_log", "console_log", ANY_VM & ~M(LC_VM_BUILDING),
				LC_TASK_NONE, true},
	[LC_CMD_GET_CONSOLE] = {"get_console", "get_console", M(LC_VM_ACTIVE), LC_TASK_NONE, true},
	[LC_CMD_SET_ADMIN_PASSWORD] = {"set_admin_password", "set_admin_password", M(LC_VM_ACTIVE),
				       LC_TASK_UPDATING_PASSWORD, false},
};

/* A hard reboot is the way out of most states, as in nova. */
static const unsigned hard_reboot_allowed =
	M(LC_VM_ACTIVE) | M(LC_VM_STOPPED) | M(LC_VM_PAUSED) | M(LC_VM_SUSPENDED) | M(LC_VM_ERROR);

const char *
lc_vm_name(enum lc_vm vm)
{
	return (unsigned)vm < LC_VM_N ? vm_names[vm] : "error";
}

const char *
lc_task_name(enum lc_task task)
{
	return (unsigned)task < LC_TASK_N ? task_names[task] : NULL;
}

const char *
lc_cmd_name(enum lc_cmd cmd)
{
	return (unsigned)cmd < LC_CMD_N ? cmds[cmd].name : "unknown";
}

int
lc_vm_parse(const char *s)
{
	for (int i = 0; s && i < LC_VM_N; i++)
		if (strcmp(s, vm_names[i]) == 0)
			return i;
	return -1;
}

int
lc_task_parse(const char *s)
{
	if (!s)
		return LC_TASK_NONE;
	for (int i = 1; i < LC_TASK_N; i++)
		if (strcmp(s, task_names[i]) == 0)
			return i;
	return -1;
}

int
lc_cmd_parse(const char *s)
{
	for (int i = 0; s && i < LC_CMD_N; i++)
		if (strcmp(s, cmds[i].name) == 0)
			return i;
	return -1;
}

const char *
lc_cmd_driver_op(enum lc_cmd cmd)
{
	return (unsigned)cmd < LC_CMD_N ? cmds[cmd].driver_op : NULL;
}

bool
lc_cmd_readonly(enum lc_cmd cmd)
{
	return (unsigned)cmd < LC_CMD_N && cmds[cmd].readonly;
}

enum lc_task
lc_task_for(enum lc_cmd cmd, bool hard)
{
	if (cmd == LC_CMD_REBOOT && hard)
		return LC_TASK_REBOOTING_HARD;
	return (unsigned)cmd < LC_CMD_N ? cmds[cmd].task : LC_TASK_NONE;
}

static unsigned
allowed_mask(enum lc_cmd cmd, bool hard)
{
	if ((unsigned)cmd >= LC_CMD_N)
		return 0;
	return cmd == LC_CMD_REBOOT && hard ? hard_reboot_allowed : cmds[cmd].allowed;
}

bool
lc_allowed(enum lc_cmd cmd, bool hard, enum lc_vm vm)
{
	return (unsigned)vm < LC_VM_N && (allowed_mask(cmd, hard) & M(vm));
}

void
lc_allowed_text(enum lc_cmd cmd, bool hard, char *buf, size_t size)
{
	unsigned mask = allowed_mask(cmd, hard);
	size_t n = 0;

	if (!size)
		return;
	buf[0] = '\0';
	if (mask == ANY_VM) {
		snprintf(buf, size, "any state");
		return;
	}
	for (int v = 0; v < LC_VM_N && n < size; v++) {
		if (!(mask & M(v)))
			continue;
		int w = snprintf(buf + n, size - n, "%s%s", n ? "|" : "", vm_names[v]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}
