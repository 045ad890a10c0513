/* exec.c - the workers: each pops a job, makes the driver (or netfilter) calls it needs and
 * hands it back to the loop over inproc. Commands run through one function each, found in
 * a table keyed by the command. Must never touch struct agent beyond what setup fixed
 * (ops, host, options, store, injector, net), never journal, never send, never log; it
 * wipes a command's secrets before the job goes back. */
#include "agent-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "drive.h"
#include "fault.h"
#include "json.h"
#include "loader.h"
#include "vec.h"

static void
sync_cb(void *ctx, const struct hvd_instance_info *info)
{
	struct job *j = ctx;

	if (HV_GROW(j->entries, j->cap_entries, j->n_entries + 1) < 0)
		return;
	snprintf(j->entries[j->n_entries].uuid, 37, "%s", info->uuid);
	j->entries[j->n_entries++].power = info->power_state;
}

void
agent_drive_path(const struct agent *a, const char *uuid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.config", a->drive_dir, uuid);
}

/* Spawn and rebuild with injection: the driver left the guest defined and stopped; write
 * the key and/or the password hash into its root disk, then start it when `start`. The
 * instance stays defined (and goes to error) when injection fails. */
static int
inject_and_start(struct agent *a, struct job *j, bool key, bool password, bool start)
{
	const struct hvd_driver *d = a->ops;
	const char *project = json_string_value(json_object_get(j->spec, "project_id"));
	char *disk = NULL, *format = NULL;
	int r;

	if (!d->root_disk)
		return hv_error_set(
			&j->err, -EOPNOTSUPP, "guest",
			"[guest] injection is on but the %s driver cannot expose a root disk",
			d->name);
	if ((r = d->root_disk(a->host, j->req.uuid, &disk, &format, &j->err)) < 0)
		return r;
	r = injector_run(a->inj, project, disk, format, key ? j->req.key_data : NULL,
			 password ? j->req.secret : NULL, &j->err);
	free(disk);
	free(format);
	if (r < 0)
		return r;
	j->data = json_pack("{s:{s:b, s:b}}", "injected", "key", key, "password", password);
	if (start)
		r = d->power_on(a->host, j->req.uuid, &j->err);
	return r;
}

/* What spawn and rebuild both decide from the request and the host's [guest] settings. */
struct custom {
	bool drive;    /* the instance has a config drive */
	bool key;      /* inject the key into the root disk */
	bool password; /* inject the password hash into the root disk */
};

static struct custom
custom_of(struct agent *a, struct job *j)
{
	return (struct custom){
		.drive = json_is_true(json_object_get(j->spec, "config_drive")) ||
			 a->o.force_config_drive,
		.key = a->inj && a->o.inject_key && j->req.key_data,
		.password = a->inj && a->o.inject_password && j->req.secret,
	};
}

/* Builds the config drive from the request's key, password and user data (spawn), or again
 * for a rebuild (keeping the old drive's user data when the rebuild gives none). */
static int
drive_build(struct agent *a, struct job *j, bool rebuild, char *drive, size_t size)
{
	struct drive_secrets sec = {j->req.secret, j->req.key_data, j->req.user_data,
				    j->req.user_data_len};

	agent_drive_path(a, j->req.uuid, drive, size);
	if (agent_mkdir_searchable(a->drive_dir) < 0)
		return hv_error_set(&j->err, -errno, "config_drive_dir", "creating %s: %s",
				    a->drive_dir, strerror(errno));
	return rebuild ? drive_rewrite(j->spec, j->req.uuid, &sec, drive, &j->err)
		       : drive_write(j->spec, j->req.uuid, &sec, drive, &j->err);
}

/* One function per command. Each runs on a worker with the job's view (spawn, resize,
 * rebuild, rescue: built and resolved on the loop thread) and returns >= 0 or -errno with
 * j->err set. */

static int
cmd_spawn(struct agent *a, struct job *j)
{
	struct hvd_instance_spec *spec = &j->view.spec;
	struct custom c = custom_of(a, j);
	char drive[PATH_MAX + 64];
	int r;

	/* a disk evacuated on shared storage is the guest's own: nothing is written into it */
	spec->reuse_disk = j->req.reuse_disk;
	if (spec->reuse_disk)
		c.key = c.password = false;
	/* injected guests start only once their disk is written */
	spec->power_on = j->req.power_on && !c.key && !c.password;
	if (c.drive) {
		if ((r = drive_build(a, j, false, drive, sizeof drive)) < 0)
			return r;
		spec->config_drive_path = drive;
	}
	r = a->ops->spawn(a->host, spec, &j->err);
	spec->config_drive_path = NULL; /* drive is gone with this frame */
	if (r < 0 && c.drive)
		unlink(drive); /* nothing is left behind on failure */
	if (r >= 0 && (c.key || c.password))
		r = inject_and_start(a, j, c.key, c.password, j->req.power_on);
	return r;
}

static int
cmd_destroy(struct agent *a, struct job *j)
{
	char drive[PATH_MAX + 64];
	int r = a->ops->destroy(a->host, j->req.uuid, j->req.delete_disks, &j->err);

	if (r == -ENOENT)
		r = 0; /* gone is what was asked */
	agent_drive_path(a, j->req.uuid, drive, sizeof drive);
	if (r == 0 && a->drive_dir[0])
		unlink(drive);
	return r;
}

static int
cmd_reboot(struct agent *a, struct job *j)
{
	return a->ops->reboot(a->host, j->req.uuid, j->req.hard ? HVD_REBOOT_HARD : HVD_REBOOT_SOFT,
			      a->o.reboot_timeout_s, &j->err);
}

static int
cmd_stop(struct agent *a, struct job *j)
{
	return a->ops->power_off(a->host, j->req.uuid,
				 j->req.timeout_given ? j->req.timeout_s : a->o.shutdown_timeout_s,
				 &j->err);
}

static int
cmd_start(struct agent *a, struct job *j)
{
	return a->ops->power_on(a->host, j->req.uuid, &j->err);
}

static int
cmd_pause(struct agent *a, struct job *j)
{
	return a->ops->pause(a->host, j->req.uuid, &j->err);
}

static int
cmd_unpause(struct agent *a, struct job *j)
{
	return a->ops->unpause(a->host, j->req.uuid, &j->err);
}

static int
cmd_suspend(struct agent *a, struct job *j)
{
	return a->ops->suspend(a->host, j->req.uuid, &j->err);
}

static int
cmd_resume(struct agent *a, struct job *j)
{
	return a->ops->resume(a->host, j->req.uuid, &j->err);
}

/* the new definition keeps the image's recorded properties (kernel, video) */
static int
cmd_resize(struct agent *a, struct job *j)
{
	char drive[PATH_MAX + 64];
	int r;

	/* the new definition keeps the instance's config drive */
	agent_drive_path(a, j->req.uuid, drive, sizeof drive);
	if (a->drive_dir[0] && access(drive, F_OK) == 0)
		j->view.spec.config_drive_path = drive;
	r = a->ops->resize(a->host, &j->view.spec, &j->err);
	j->view.spec.config_drive_path = NULL;
	return r;
}

static int
cmd_confirm_resize(struct agent *a, struct job *j)
{
	return a->ops->confirm_resize(a->host, j->req.uuid, &j->err);
}

static int
cmd_revert_resize(struct agent *a, struct job *j)
{
	return a->ops->revert_resize(a->host, j->req.uuid, &j->err);
}

/* Rebuild customizes the new root disk exactly as spawn does: the config drive is built
 * again with the rebuild's key and password, and the key and password are injected when
 * the host injects. The guest is stopped first so the driver leaves it off until then. */
static int
cmd_rebuild(struct agent *a, struct job *j)
{
	struct hvd_instance_spec *spec = &j->view.spec;
	struct custom c = custom_of(a, j);
	bool start = spec->power_on;
	char drive[PATH_MAX + 64];
	int r;

	if (c.drive) {
		if ((r = drive_build(a, j, true, drive, sizeof drive)) < 0)
			return r;
		spec->config_drive_path = drive; /* the new definition keeps the cdrom */
	}
	if (c.key || c.password) {
		struct hvd_instance_info info = {.struct_size = sizeof info};

		if ((r = a->ops->get_instance(a->host, j->req.uuid, &info, &j->err)) < 0)
			goto out;
		if (info.power_state != HVD_POWER_SHUTDOWN &&
		    (r = a->ops->power_off(a->host, j->req.uuid, a->o.shutdown_timeout_s,
					   &j->err)) < 0)
			goto out;
		spec->power_on = false;
	}
	r = a->ops->rebuild(a->host, spec, &j->err);
	if (r >= 0 && (c.key || c.password))
		r = inject_and_start(a, j, c.key, c.password, start);
out:
	spec->config_drive_path = NULL;
	spec->power_on = start;
	return r;
}

static int
cmd_rescue(struct agent *a, struct job *j)
{
	return a->ops->rescue(a->host, j->req.uuid, &j->view.spec.image, &j->err);
}

static int
cmd_unrescue(struct agent *a, struct job *j)
{
	return a->ops->unrescue(a->host, j->req.uuid, &j->err);
}

json_t *
agent_image_data(const char *id, const char *format, const struct hvd_kv *props, size_t n)
{
	json_t *p = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(p, props[i].key, json_string(props[i].value));
	return json_pack("{s:{s:s, s:s, s:o}}", "image", "id", id, "format", format, "properties",
			 p);
}

static int
cmd_snapshot(struct agent *a, struct job *j)
{
	const char *uuid = j->req.uuid, *id = j->req.image_id;
	struct hv_error *err = &j->err;
	char dest[PATH_MAX + 80];
	json_t *base = json_object_get(json_object_get(j->spec, "image"), "id");
	const char *format = j->req.format[0] ? j->req.format : "qcow2";
	/* the guide's table 2.10: what a snapshot image records about its origin */
	struct hvd_kv props[] = {
		{"image_type", "snapshot"},
		{"instance_uuid", uuid},
		{"base_image_ref", json_is_string(base) ? json_string_value(base) : ""},
	};
	int r;

	if (!a->store)
		return hv_error_set(err, -EINVAL, "image_store",
				    "snapshot needs an image store ([DEFAULT] image_store)");
	/* checked when accepted; again here, as another snapshot may have taken the id since */
	if ((r = agent_image_id_free(a->store, id, err)) < 0)
		return r;
	if ((r = imgstore_data_path(a->store, id, dest, sizeof dest, err)) < 0)
		return r;
	unlink(dest); /* a leftover of a snapshot that died before its sidecar */
	r = a->ops->snapshot(a->host, uuid, dest, format, err);
	if (r >= 0)
		hv_fault_at("snapshot", "data_written"); /* the image store does not know it */
	if (r >= 0) {
		r = imgstore_commit(a->store, id, format, props, sizeof props / sizeof props[0],
				    err);
		if (r < 0)
			unlink(dest);
	}
	if (r >= 0)
		j->data = agent_image_data(id, format, props, sizeof props / sizeof props[0]);
	if (r >= 0) { /* what the controller checks when it takes the snapshot (IMAGE_GET) */
		char sha[65];
		uint64_t size = 0;
		json_t *im = json_object_get(j->data, "image");

		if (imgstore_hash(a->store, id, sha, &size, NULL) == 0) {
			json_object_set_new(im, "sha256", json_string(sha));
			json_object_set_new(im, "size", json_integer((json_int_t)size));
		}
	}
	return r;
}

/* Console output may hold any byte; JSON strings must be UTF-8. */
static json_t *
json_text(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	char *copy;

	if (v)
		return v;
	copy = malloc(len + 1);
	if (!copy)
		return json_null();
	for (size_t i = 0; i < len; i++)
		copy[i] = ((unsigned char)s[i] >= 0x80 || s[i] == '\0') ? '?' : s[i];
	v = json_stringn(copy, len);
	free(copy);
	return v ? v : json_null();
}

static int
cmd_console_log(struct agent *a, struct job *j)
{
	char *text = NULL;
	int r = a->ops->console_log(a->host, j->req.uuid, j->req.max_bytes, &text, &j->err);

	if (r >= 0) {
		size_t len = text ? strlen(text) : 0;

		if (len > j->req.max_bytes) {
			memmove(text, text + len - j->req.max_bytes, j->req.max_bytes + 1);
			len = j->req.max_bytes;
		}
		j->data = json_pack("{s:o}", "output", json_text(text ? text : "", len));
	}
	free(text);
	return r;
}

static int
cmd_get_console(struct agent *a, struct job *j)
{
	struct hvd_console c = {.struct_size = sizeof c};
	int r = a->ops->get_console(a->host, j->req.uuid, j->req.console, &c, &j->err);

	if (r >= 0) {
		c.host[sizeof c.host - 1] = c.password[sizeof c.password - 1] = '\0';
		j->data = json_pack("{s:s, s:s, s:I}", "type",
				    c.type == HVD_CONSOLE_SERIAL ? "serial" : "vnc", "host", c.host,
				    "port", (json_int_t)c.port);
		if (c.password[0]) {
			json_object_set_new(j->data, "password", json_string(c.password));
			j->data_secret = true;
		}
	}
	explicit_bzero(&c, sizeof c);
	return r;
}

static int
cmd_set_admin_password(struct agent *a, struct job *j)
{
	return a->ops->set_admin_password(a->host, j->req.uuid, j->req.user,
					  j->req.secret ? j->req.secret : "", &j->err);
}

/* Keyed by the command, so reordering enum inst_cmd cannot swap commands. */
static int (*const commands[CMD_N])(struct agent *a, struct job *j) = {
	[CMD_SPAWN] = cmd_spawn,
	[CMD_DESTROY] = cmd_destroy,
	[CMD_REBOOT] = cmd_reboot,
	[CMD_STOP] = cmd_stop,
	[CMD_START] = cmd_start,
	[CMD_PAUSE] = cmd_pause,
	[CMD_UNPAUSE] = cmd_unpause,
	[CMD_SUSPEND] = cmd_suspend,
	[CMD_RESUME] = cmd_resume,
	[CMD_RESIZE] = cmd_resize,
	[CMD_CONFIRM_RESIZE] = cmd_confirm_resize,
	[CMD_REVERT_RESIZE] = cmd_revert_resize,
	[CMD_REBUILD] = cmd_rebuild,
	[CMD_RESCUE] = cmd_rescue,
	[CMD_UNRESCUE] = cmd_unrescue,
	[CMD_SNAPSHOT] = cmd_snapshot,
	[CMD_CONSOLE_LOG] = cmd_console_log,
	[CMD_GET_CONSOLE] = cmd_get_console,
	[CMD_SET_ADMIN_PASSWORD] = cmd_set_admin_password,
};

/* Secrets are used once: gone before the result travels anywhere. */
/* A command whose deadline passed in the queue is not run (docs/protocol.md, "expired"). */
static int
check_deadline(struct job *j)
{
	if (j->deadline_ms && proto_now_ms() > j->deadline_ms)
		return hv_error_set(&j->err, -ETIME, "header.deadline_ms",
				    "deadline passed while the command waited for a worker");
	return 0;
}

static void
run_cmd(struct agent *a, struct job *j)
{
	enum inst_cmd cmd = j->req.cmd;
	struct hv_error *err = &j->err;
	int r;

	if ((j->rc = check_deadline(j)) < 0)
		return;
	if ((unsigned)cmd >= CMD_N || !commands[cmd])
		r = -EINVAL;
	else if (!hv_driver_supports(a->drv, inst_cmd_driver_op(cmd)))
		r = hv_error_set(err, -EOPNOTSUPP, "command", "the %s driver does not support %s",
				 a->ops->name, inst_cmd_name(cmd));
	else if (j->prep_rc < 0)
		r = j->prep_rc; /* the view or its image failed on the loop thread; err says why */
	else
		r = commands[cmd](a, j);
	if (r >= 0)
		hv_fault_at(inst_cmd_name(cmd), "after_driver"); /* acted, nothing journaled */
	req_wipe_secrets(&j->req);
	j->rc = r < 0 ? r : 0;
	if (r < 0 && err->code == 0)
		hv_error_set(err, r, NULL, "%s failed: %s", inst_cmd_name(cmd), strerror(-r));
	if (!(cmd == CMD_DESTROY && r >= 0)) {
		struct hv_error ignored = {0};

		j->info.struct_size = sizeof j->info;
		j->have_info = a->ops->get_instance(a->host, j->req.uuid, &j->info, &ignored) >= 0;
	}
}

static void
run_job(struct agent *a, struct job *j)
{
	switch (j->kind) {
	case JOB_CMD: run_cmd(a, j); break;
	case JOB_STATS:
		j->stats.struct_size = sizeof j->stats;
		j->rc = a->ops->host_stats(a->host, &j->stats, &j->err);
		break;
	case JOB_SYNC: j->rc = a->ops->list_instances(a->host, sync_cb, j, &j->err); break;
	case JOB_NET:
		if ((j->rc = check_deadline(j)) < 0)
			break;
		j->rc = net_run(a->net, j->net_body, &j->err);
		if (j->rc >= 0)
			hv_fault_at(json_string_value(json_object_get(j->net_body, "command")),
				    "applied");
		if (j->rc >= 0) {
			j->rc = 0;
			j->net_state = net_state(a->net);
		}
		break;
	case JOB_NET_RESYNC: j->rc = net_resync(a->net, &j->err); break;
	case JOB_NET_TAPS: j->rc = net_taps(a->net, &j->err); break;
	}
}

void *
agent_worker_main(void *arg)
{
	struct worker *w = arg;
	void *push = zmq_socket(w->a->zctx, ZMQ_PUSH);
	int linger = -1; /* a finished job must reach the loop */
	struct job *j;

	zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
	zmq_connect(push, RESULTS_ENDPOINT);
	while ((j = agent_queue_pop(w->q))) {
		run_job(w->a, j);
		if (zmq_send(push, &j, sizeof j, 0) != sizeof j)
			agent_job_free(
				j); /* context terminating: the journal still says "accepted" */
	}
	zmq_close(push);
	return NULL;
}
