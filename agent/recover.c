/* recover.c - restart recovery: the instance table read back from the journal, and every
 * command the journal holds as accepted finished (redriven, set to error or cleared) and
 * answered, before the loop runs. Runs on the loop thread before any worker exists, so it
 * is the one place besides setup allowed to call the driver there. Must never act on a
 * command without journaling its result. */
#include "agent-priv.h"

#include <errno.h>
#include <string.h>

#include "log.h"

static void
load_inst(void *ctx, const json_t *rec)
{
	struct agent *a = ctx;
	struct inst *in = NULL;
	struct hv_error err = {0};

	if (inst_from_json(rec, &in, &err) < 0) {
		hv_log(HV_LOG_ERR, NULL, NULL, "journal: skipping a record: %s", err.message);
		return;
	}
	if (agent_add_inst(a, in) < 0)
		inst_free(in);
}

static void
recover_cmd(void *ctx, const struct journal_cmd *c)
{
	struct agent *a = ctx;
	struct inst *in = agent_find_inst(a, c->uuid);
	int cmd = inst_cmd_parse(c->command);
	struct hv_error err = {0};
	const char *action = "cleared";
	bool removed = false;
	int rc = -EINTR;
	enum inst_task task = in ? in->task : TASK_NONE;

	hv_error_set(&err, -EINTR, NULL, "the agent restarted while %s ran", c->command);
	if (net_is_command(c->command)) {
		/* the firewall was rewritten from the journaled state at start: the command's
		 * effect, if any, is undone; the controller may send it again under a new cmd_id */
		json_t *res = json_pack("{s:s, s:s, s:n, s:s, s:o, s:n}", "cmd_id", c->cmd_id,
					"command", c->command, "uuid", "status", "error", "error",
					proto_error_body(PROTO_E_INTERRUPTED, &err), "instance");

		hv_log(HV_LOG_NOTICE, NULL, c->cmd_id, "recovered interrupted %s: not applied",
		       c->command);
		agent_finish(a, NULL, false, c->cmd_id, NULL, res, NULL);
		return;
	}
	if (in && cmd >= 0 && (!in->cmd_id[0] || strcmp(in->cmd_id, c->cmd_id) == 0)) {
		const struct hvd_driver *d = a->ops;
		struct hv_error derr = {0};
		struct hvd_instance_info info = {.struct_size = sizeof info};

		switch (cmd) {
		case CMD_SPAWN:
			d->destroy(a->host, in->uuid, true, &derr); /* leftovers of a half spawn */
			in->vm = VM_ERROR;
			json_decref(in->fault);
			in->fault = json_pack("{s:s, s:s}", "code", PROTO_E_INTERRUPTED, "message",
					      err.message);
			action = "set_error";
			break;
		case CMD_REBUILD:
			in->vm = VM_ERROR;
			action = "set_error";
			break;
		case CMD_DESTROY:
			rc = d->destroy(a->host, in->uuid, true, &derr);
			if (rc == -ENOENT)
				rc = 0;
			removed = rc == 0;
			action = removed ? "deleted" : "cleared";
			if (rc < 0)
				err = derr;
			break;
		case CMD_REBOOT:
			rc = d->reboot ? d->reboot(a->host, in->uuid, HVD_REBOOT_HARD,
						   a->o.reboot_timeout_s, &derr)
				       : -EOPNOTSUPP;
			goto redriven;
		case CMD_STOP:
			rc = d->power_off(a->host, in->uuid, a->o.shutdown_timeout_s, &derr);
			goto redriven;
		case CMD_START:
			rc = d->power_on(a->host, in->uuid, &derr);
redriven:
			action = "redriven";
			if (rc >= 0)
				in->vm = cmd == CMD_STOP ? VM_STOPPED : VM_ACTIVE;
			else
				err = derr;
			break;
		default:
			if (d->get_instance(a->host, in->uuid, &info, &derr) >= 0 &&
			    !inst_cmd_readonly((enum inst_cmd)cmd) && cmd != CMD_SNAPSHOT &&
			    cmd != CMD_SET_ADMIN_PASSWORD)
				in->vm = inst_vm_from_power(info.power_state);
			break;
		}
		if (!removed) {
			info.struct_size = sizeof info;
			if (d->get_instance(a->host, in->uuid, &info, &derr) >= 0)
				in->power = info.power_state;
			else
				in->power = HVD_POWER_NOSTATE;
		}
		in->task = TASK_NONE;
		in->cmd_id[0] = '\0';
		agent_touch(a, in);
	} else if (cmd == CMD_DESTROY) {
		rc = 0; /* the instance is already gone */
	}
	hv_log(HV_LOG_NOTICE, c->uuid, c->cmd_id, "recovered interrupted %s: %s", c->command,
	       action);
	{
		json_t *res = agent_result_body(
			removed ? NULL : in, c->cmd_id, cmd >= 0 ? (enum inst_cmd)cmd : CMD_N,
			c->uuid, rc < 0 ? rc : 0,
			rc < 0 ? proto_code_for_errno(rc, PROTO_MAP_COMMAND) : NULL, &err, NULL);

		agent_finish(a, removed ? NULL : in, removed, c->cmd_id, NULL, res, NULL);
	}
	if (in && task != TASK_NONE)
		agent_emit_event(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "recovered",
					      "uuid", c->uuid, "task_state",
					      inst_task_name(task) ?: "", "action", action,
					      "cmd_id", c->cmd_id));
	if (removed)
		agent_remove_inst(a, in);
}

int
agent_load_insts(struct agent *a, struct hv_error *err)
{
	return journal_inst_foreach(a->jn, load_inst, a, err);
}

void
agent_recover(struct agent *a)
{
	struct hv_error err = {0};

	journal_cmd_foreach(a->jn, JOURNAL_ACCEPTED, recover_cmd, a, &err);
	/* a task without a journaled command (cannot happen unless edited by hand) */
	for (size_t i = 0; i < a->n_insts; i++) {
		struct inst *in = a->insts[i];

		if (in->task != TASK_NONE) {
			in->task = TASK_NONE;
			in->cmd_id[0] = '\0';
			agent_touch(a, in);
			json_t *rec = inst_to_json(in);

			journal_inst_put(a->jn, in->uuid, rec, NULL);
			json_decref(rec);
		}
	}
	if (a->n_insts)
		hv_log(HV_LOG_INFO, NULL, NULL, "journal: %zu instances known", a->n_insts);
}
