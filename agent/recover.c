/* recover.c - restart recovery: the instance table read back from the journal, and every
 * command the journal holds as accepted finished (redriven, set to error or cleared) and
 * answered, before the loop runs. Runs on the loop thread before any worker exists, so it
 * is the one place besides setup allowed to call the driver there. Must never act on a
 * command without journaling its result. */
#include "agent-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "loader.h"
#include "log.h"
#include "vec.h"

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

/* What the hypervisor lists (driver list_instances). */
struct listing {
	struct sync_entry *e;
	size_t n, cap;
	int rc;
};

static void
list_cb(void *ctx, const struct hvd_instance_info *info)
{
	struct listing *l = ctx;

	if (HV_GROW(l->e, l->cap, l->n + 1) < 0) {
		l->rc = -ENOMEM;
		return;
	}
	snprintf(l->e[l->n].uuid, sizeof l->e[l->n].uuid, "%s", info->uuid);
	l->e[l->n++].power = info->power_state;
}

static int
list_all(const struct hvd_driver *d, struct hvd_host *host, struct listing *l, struct hv_error *err)
{
	int r = d->list_instances(host, list_cb, l, err);

	if (r >= 0 && l->rc < 0)
		r = hv_error_set(err, l->rc, NULL, "out of memory");
	return r < 0 ? r : 0;
}

int
agent_check_fresh_journal(struct agent *a, struct hv_error *err)
{
	struct listing l = {0};
	int r;

	if (!journal_fresh(a->jn))
		return 0;
	if ((r = list_all(a->ops, a->host, &l, err)) < 0) {
		free(l.e);
		return r;
	}
	if (l.n)
		r = hv_error_set(err, -ENODATA, "state_dir",
				 "journal %s is missing or empty, but the hypervisor has %zu "
				 "instance(s) (%s, ...): starting fresh would forget them. Restore "
				 "the journal, or run hvagent --rebuild-journal to rebuild it from "
				 "the hypervisor's list",
				 journal_path(a->jn), l.n, l.e[0].uuid);
	free(l.e);
	return r;
}

/* Moves the damaged journal's files aside (kept for a post-mortem, never deleted). */
static int
set_aside(const char *state_dir, FILE *out, struct hv_error *err)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	long long now = (long long)time(NULL);

	for (int i = 0; i < 3; i++) {
		char from[PATH_MAX + 32], to[PATH_MAX + 64];

		snprintf(from, sizeof from, "%s/journal.sqlite%s", state_dir, sfx[i]);
		snprintf(to, sizeof to, "%s/journal.sqlite%s.damaged-%lld", state_dir, sfx[i], now);
		if (rename(from, to) < 0) {
			if (errno == ENOENT)
				continue;
			return hv_error_set(err, -errno, "state_dir", "moving %s aside: %s", from,
					    strerror(errno));
		}
		fprintf(out, "hvagent: kept the damaged %s as %s\n", from, to);
	}
	return 0;
}

int
agent_rebuild_journal(const struct agent_opts *o, FILE *out, struct hv_error *err)
{
	const struct hvd_driver *d = hv_driver_ops(o->driver);
	struct hvd_host *host = NULL;
	struct journal *jn = NULL;
	struct listing l = {0};
	struct hv_error jerr = {0};
	int r = journal_open(o->state_dir, &jn, &jerr);

	if (r >= 0 && !journal_fresh(jn)) {
		r = hv_error_set(err, -EEXIST, NULL,
				 "journal %s opens cleanly: not replaced (move it aside first to "
				 "rebuild it from the hypervisor's list)",
				 journal_path(jn));
		journal_free(jn);
		return r;
	}
	if (r == -EUCLEAN) {
		fprintf(out, "hvagent: %s\n", jerr.message);
		if ((r = set_aside(o->state_dir, out, err)) < 0)
			return r;
		r = journal_open(o->state_dir, &jn, &jerr);
	}
	if (r < 0) {
		*err = jerr;
		return r;
	}
	if ((r = agent_open_host(o, &host, err)) < 0 || (r = list_all(d, host, &l, err)) < 0)
		goto out;
	if ((r = journal_begin(jn, err)) < 0)
		goto out;
	for (size_t i = 0; i < l.n && r >= 0; i++) {
		struct inst *in = inst_new(l.e[i].uuid);
		json_t *rec;

		if (!in) {
			r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
			break;
		}
		/* flavor, image and ports are unknown here: the controller's records hold them */
		in->power = l.e[i].power;
		in->vm = inst_vm_from_power(l.e[i].power);
		in->updated_ms = proto_now_ms();
		rec = inst_to_json(in);
		r = journal_inst_put(jn, in->uuid, rec, err);
		json_decref(rec);
		inst_free(in);
	}
	if (r < 0)
		journal_rollback(jn);
	else if ((r = journal_commit(jn, err)) >= 0)
		fprintf(out,
			"hvagent: rebuilt %s with %zu instance(s) from the hypervisor's list\n",
			journal_path(jn), l.n);
out:
	if (host)
		d->close(host);
	if (r < 0)
		journal_discard(jn); /* a half-built journal must not pass for a real one */
	else
		journal_free(jn);
	free(l.e);
	return r;
}
