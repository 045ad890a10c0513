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
#include <unistd.h>

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

/* What recovery decided for one interrupted command. */
struct outcome {
	const char *action;
	int rc;
	bool removed;
	struct hv_error err;
	json_t *data; /* the RESULT's data, owned; NULL when none */
};

/* Whether the hypervisor has uuid: 1 (its state in *info), 0 (it has not) or -errno when it
 * cannot say (a lost connection): then nothing is destroyed or completed on a guess. */
static int
listed(struct agent *a, const char *uuid, struct hvd_instance_info *info)
{
	struct hv_error derr = {0};
	int r;

	info->struct_size = sizeof *info;
	r = a->ops->get_instance(a->host, uuid, info, &derr);
	return r >= 0 ? 1 : r == -ENOENT ? 0 : r;
}

static void
drop_drive(struct agent *a, const char *uuid)
{
	char drive[PATH_MAX + 64];

	if (!a->drive_dir[0])
		return;
	agent_drive_path(a, uuid, drive, sizeof drive);
	unlink(drive);
}

/* A spawn the hypervisor finished (the guest is there, in the power state asked, and no
 * injection was pending) is done: the agent died before journaling it. Anything else is
 * a half spawn: its leftovers go and the instance is in error (its secrets are gone, so it
 * cannot be redone). Decided from the hypervisor's list, not the journal alone. */
static void
recover_spawn(struct agent *a, struct inst *in, const json_t *req, struct outcome *o)
{
	struct hvd_instance_info info;
	json_t *pw = json_object_get(req, "power_on");
	bool power_on = !json_is_false(pw);
	bool injects =
		a->inj && ((a->o.inject_key && json_is_string(json_object_get(req, "key_data"))) ||
			   (a->o.inject_password && json_object_get(req, "admin_pass_redacted")));
	int there = listed(a, in->uuid, &info);
	struct hv_error derr = {0};

	if (there == 1 && !injects &&
	    info.power_state == (power_on ? HVD_POWER_RUNNING : HVD_POWER_SHUTDOWN)) {
		in->vm = inst_vm_after(in, CMD_SPAWN, power_on);
		in->launched_at_ms = proto_now_ms();
		json_decref(in->fault);
		in->fault = NULL;
		o->rc = 0;
		o->action = "completed";
		return;
	}
	if (there == 1)
		a->ops->destroy(a->host, in->uuid, true, &derr);
	if (there >= 0) /* with the hypervisor away, a running guest may still use it */
		drop_drive(a, in->uuid);
	in->vm = VM_ERROR;
	json_decref(in->fault);
	in->fault = json_pack("{s:s, s:s}", "code", PROTO_E_INTERRUPTED, "message", o->err.message);
	o->action = "set_error";
}

/* A delete finishes; the driver is called only when the guest is still there, so a delete
 * that reached the hypervisor before the crash is not sent twice. */
static void
recover_destroy(struct agent *a, struct inst *in, struct outcome *o)
{
	struct hvd_instance_info info;
	struct hv_error derr = {0};

	o->rc = listed(a, in->uuid, &info) != 0 ? a->ops->destroy(a->host, in->uuid, true, &derr)
						: 0;
	if (o->rc == -ENOENT)
		o->rc = 0;
	o->removed = o->rc == 0;
	o->action = o->removed ? "deleted" : "cleared";
	if (o->rc < 0)
		o->err = derr;
	else
		drop_drive(a, in->uuid);
}

/* A resize the hypervisor holds (resize pending) is done: the journal takes the new
 * flavor and keeps the old one for confirm or revert, as a finished resize does. */
static void
recover_resize(struct agent *a, struct inst *in, const json_t *req, struct outcome *o)
{
	struct hvd_instance_info info;
	struct hv_error perr = {0};
	const char *code;
	struct req r;

	if (listed(a, in->uuid, &info) != 1)
		return;
	if (!info.resize_pending) {
		in->vm = inst_vm_from_power(info.power_state);
		return;
	}
	if (req_parse(req, &r, &code, &perr) < 0) {
		req_release(&r);
		return;
	}
	json_t *spec = inst_spec(in);
	json_decref(in->old_flavor);
	in->old_flavor = json_incref(json_object_get(spec, "flavor"));
	json_object_set(spec, "flavor", json_object_get(r.spec, "flavor"));
	inst_set_spec(in, spec); /* without memory the old spec stays */
	json_decref(spec);
	in->vm_before_resize = in->vm;
	in->vm = inst_vm_after(in, CMD_RESIZE, true);
	o->rc = 0;
	o->action = "completed";
	req_release(&r);
}

/* A snapshot the image store recorded is done (its RESULT names the image). One never
 * recorded leaves no half image behind: its data file goes, and the controller may ask
 * again under a new cmd_id. */
static void
recover_snapshot(struct agent *a, const json_t *req, struct outcome *o)
{
	struct imgstore_image *img = NULL;
	struct hv_error perr = {0};
	char dest[PATH_MAX + 80];
	const char *code;
	struct req r;
	int g;

	if (!a->store)
		return;
	if (req_parse(req, &r, &code, &perr) < 0) {
		req_release(&r);
		return;
	}
	g = imgstore_get(a->store, r.image_id, &img, &perr);
	if (g >= 0) {
		o->data =
			agent_image_data(img->id, img->format, img->properties, img->n_properties);
		o->rc = 0;
		o->action = "completed";
	} else if (g == -ENOENT &&
		   imgstore_data_path(a->store, r.image_id, dest, sizeof dest, &perr) >= 0) {
		unlink(dest);
	}
	imgstore_image_free(img);
	req_release(&r);
}

static void
recover_inst_cmd(struct agent *a, struct inst *in, enum inst_cmd cmd, const json_t *req,
		 struct outcome *o)
{
	const struct hvd_driver *d = a->ops;
	struct hv_error derr = {0};
	struct hvd_instance_info info = {.struct_size = sizeof info};

	switch (cmd) {
	case CMD_SPAWN: recover_spawn(a, in, req, o); break;
	case CMD_REBUILD:
		in->vm = VM_ERROR;
		o->action = "set_error";
		break;
	case CMD_DESTROY: recover_destroy(a, in, o); break;
	case CMD_RESIZE: recover_resize(a, in, req, o); break;
	case CMD_REBOOT:
		o->rc = d->reboot ? d->reboot(a->host, in->uuid, HVD_REBOOT_HARD,
					      a->o.reboot_timeout_s, &derr)
				  : -EOPNOTSUPP;
		goto redriven;
	case CMD_STOP:
		o->rc = d->power_off(a->host, in->uuid, a->o.shutdown_timeout_s, &derr);
		goto redriven;
	case CMD_START:
		o->rc = d->power_on(a->host, in->uuid, &derr);
redriven:
		o->action = "redriven";
		if (o->rc >= 0)
			in->vm = cmd == CMD_STOP ? VM_STOPPED : VM_ACTIVE;
		else
			o->err = derr;
		break;
	case CMD_SNAPSHOT: recover_snapshot(a, req, o); break;
	default:
		if (d->get_instance(a->host, in->uuid, &info, &derr) >= 0 &&
		    !inst_cmd_readonly(cmd) && cmd != CMD_SET_ADMIN_PASSWORD)
			in->vm = inst_vm_from_power(info.power_state);
		break;
	}
}

static void
recover_cmd(void *ctx, const struct journal_cmd *c)
{
	struct agent *a = ctx;
	struct inst *in = agent_find_inst(a, c->uuid);
	int cmd = inst_cmd_parse(c->command);
	struct outcome o = {.action = "cleared", .rc = -EINTR};
	enum inst_task task = in ? in->task : TASK_NONE;

	hv_error_set(&o.err, -EINTR, NULL, "the agent restarted while %s ran", c->command);
	if (net_is_command(c->command)) {
		/* the firewall was rewritten from the journaled state at start: the command's
		 * effect, if any, is undone; the controller may send it again under a new cmd_id */
		json_t *res = json_pack("{s:s, s:s, s:n, s:s, s:o, s:n}", "cmd_id", c->cmd_id,
					"command", c->command, "uuid", "status", "error", "error",
					proto_error_body(PROTO_E_INTERRUPTED, &o.err), "instance");

		hv_log(HV_LOG_NOTICE, NULL, c->cmd_id, "recovered interrupted %s: not applied",
		       c->command);
		agent_finish(a, NULL, false, c->cmd_id, NULL, res, NULL);
		return;
	}
	if (in && cmd >= 0 && (!in->cmd_id[0] || strcmp(in->cmd_id, c->cmd_id) == 0)) {
		struct hv_error derr = {0};
		struct hvd_instance_info info = {.struct_size = sizeof info};

		recover_inst_cmd(a, in, (enum inst_cmd)cmd, c->request, &o);
		if (!o.removed) {
			if (a->ops->get_instance(a->host, in->uuid, &info, &derr) >= 0)
				in->power = info.power_state;
			else
				in->power = HVD_POWER_NOSTATE;
		}
		in->task = TASK_NONE;
		in->cmd_id[0] = '\0';
		agent_touch(a, in);
	} else if (cmd == CMD_DESTROY) {
		o.rc = 0; /* the instance is already gone */
	}
	hv_log(HV_LOG_NOTICE, c->uuid, c->cmd_id, "recovered interrupted %s: %s", c->command,
	       o.action);
	{
		json_t *res = agent_result_body(
			o.removed ? NULL : in, c->cmd_id, cmd >= 0 ? (enum inst_cmd)cmd : CMD_N,
			c->uuid, o.rc < 0 ? o.rc : 0,
			o.rc < 0 ? proto_code_for_errno(o.rc, PROTO_MAP_COMMAND) : NULL, &o.err,
			o.data);
		json_decref(o.data);

		agent_finish(a, o.removed ? NULL : in, o.removed, c->cmd_id, NULL, res, NULL);
	}
	if (in && task != TASK_NONE)
		agent_emit_event(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "recovered",
					      "uuid", c->uuid, "task_state",
					      inst_task_name(task) ?: "", "action", o.action,
					      "cmd_id", c->cmd_id));
	if (o.removed)
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
