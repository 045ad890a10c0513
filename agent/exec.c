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
#include "json.h"
#include "loader.h"
#include "vec.h"

/* Console output may hold any byte; JSON strings must be UTF-8. */
static json_t *json_text(const char *s, size_t len)
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

static void sync_cb(void *ctx, const struct hvd_instance_info *info)
{
	struct job *j = ctx;

	if (j->n_entries == j->cap_entries) {
		size_t cap = j->cap_entries ? j->cap_entries * 2 : 64;
		struct sync_entry *n = realloc(j->entries, cap * sizeof *n);

		if (!n)
			return;
		j->entries = n;
		j->cap_entries = cap;
	}
	snprintf(j->entries[j->n_entries].uuid, 37, "%s", info->uuid);
	j->entries[j->n_entries++].power = info->power_state;
}

/* A spec for resize/rebuild/rescue: the instance's spec with the request's part merged. */
static int run_view(struct agent *a, struct job *j, struct req_spec_view *v)
{
	return req_spec_view(j->spec, j->req.uuid, a->image_store, v, &j->err);
}

/* The view of a command that names an image, that image resolved through the store
 * (required: as the host's rule says; else only when the store has it). */
static int run_image_view(struct agent *a, struct job *j, struct req_spec_view *v,
			  struct agent_image *ai, bool required)
{
	int r = run_view(a, j, v);

	memset(ai, 0, sizeof *ai);
	if (r < 0)
		return r;
	if (!v->spec.image.id) {
		v->spec.image.path = NULL;
		return 0;
	}
	r = agent_image_resolve(a->store, required && a->o.image_store_required, "body.image",
				&v->spec.image, ai, &j->err);
	if (r < 0) {
		agent_image_release(ai);
		req_spec_view_release(v);
	}
	return r;
}

static void drive_path(struct agent *a, const char *uuid, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.config", a->drive_dir, uuid);
}

/* Spawn with injection: the driver defined the guest stopped; write the key and/or the
 * password hash into its root disk, then start it when asked. The instance stays defined
 * (and goes to error) when injection fails. */
static int inject_and_start(struct agent *a, struct job *j, bool key, bool password)
{
	const struct hvd_driver *d = a->ops;
	const char *project = json_string_value(json_object_get(j->spec, "project_id"));
	char *disk = NULL, *format = NULL;
	int r;

	if (!d->root_disk)
		return hv_error_set(&j->err, -EOPNOTSUPP, "guest",
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
	if (j->req.power_on)
		r = d->power_on(a->host, j->req.uuid, &j->err);
	return r;
}

static void run_cmd(struct agent *a, struct job *j)
{
	const struct hvd_driver *d = a->ops;
	struct hvd_host *h = a->host;
	const char *uuid = j->req.uuid;
	struct hv_error *err = &j->err;
	struct req_spec_view v;
	int r = 0;

	if (j->deadline_ms && proto_now_ms() > j->deadline_ms) {
		j->rc = hv_error_set(err, -ETIME, "header.deadline_ms",
				     "deadline passed while the command waited for a worker");
		return;
	}
#define NEED(op) if (!d->op) { r = hv_error_set(err, -EOPNOTSUPP, "command", \
	"the %s driver does not support %s", d->name, inst_cmd_name(j->req.cmd)); break; }
	switch (j->req.cmd) {
	case CMD_SPAWN: {
		bool want = json_is_true(json_object_get(j->spec, "config_drive")) ||
			    a->o.force_config_drive;
		char drive[PATH_MAX + 64];
		struct agent_image ai;
		bool key = a->inj && a->o.inject_key && j->req.key_data;
		bool password = a->inj && a->o.inject_password && j->req.secret;

		if ((r = run_image_view(a, j, &v, &ai, true)) < 0)
			break;
		/* injected guests start only once their disk is written */
		v.spec.power_on = j->req.power_on && !key && !password;
		if (want) {
			struct drive_secrets sec = { j->req.secret, j->req.key_data, j->req.user_data,
						     j->req.user_data_len };

			drive_path(a, uuid, drive, sizeof drive);
			if (mkdir(a->drive_dir, 0700) < 0 && errno != EEXIST)
				r = hv_error_set(err, -errno, "config_drive_dir", "creating %s: %s",
						 a->drive_dir, strerror(errno));
			else
				r = drive_write(j->spec, uuid, &sec, drive, err);
			if (r < 0) {
				agent_image_release(&ai);
				req_spec_view_release(&v);
				break;
			}
			v.spec.config_drive_path = drive;
		}
		r = d->spawn(h, &v.spec, err);
		if (r < 0 && want)
			unlink(drive); /* nothing is left behind on failure */
		if (r >= 0 && (key || password))
			r = inject_and_start(a, j, key, password);
		agent_image_release(&ai);
		req_spec_view_release(&v);
		break;
	}
	case CMD_DESTROY: {
		char drive[PATH_MAX + 64];

		r = d->destroy(h, uuid, j->req.delete_disks, err);
		if (r == -ENOENT)
			r = 0; /* gone is what was asked */
		drive_path(a, uuid, drive, sizeof drive);
		if (r == 0 && a->drive_dir[0])
			unlink(drive);
		break;
	}
	case CMD_REBOOT:
		NEED(reboot);
		r = d->reboot(h, uuid, j->req.hard ? HVD_REBOOT_HARD : HVD_REBOOT_SOFT,
			      a->o.reboot_timeout_s, err);
		break;
	case CMD_STOP:
		r = d->power_off(h, uuid, j->req.timeout_given ? j->req.timeout_s : a->o.shutdown_timeout_s,
				 err);
		break;
	case CMD_START: r = d->power_on(h, uuid, err); break;
	case CMD_PAUSE: NEED(pause); r = d->pause(h, uuid, err); break;
	case CMD_UNPAUSE: NEED(unpause); r = d->unpause(h, uuid, err); break;
	case CMD_SUSPEND: NEED(suspend); r = d->suspend(h, uuid, err); break;
	case CMD_RESUME: NEED(resume); r = d->resume(h, uuid, err); break;
	case CMD_RESIZE: {
		/* the new definition keeps the image's recorded properties (kernel, video) */
		struct agent_image ai;

		NEED(resize);
		if ((r = run_image_view(a, j, &v, &ai, false)) < 0)
			break;
		r = d->resize(h, &v.spec, err);
		agent_image_release(&ai);
		req_spec_view_release(&v);
		break;
	}
	case CMD_CONFIRM_RESIZE: NEED(confirm_resize); r = d->confirm_resize(h, uuid, err); break;
	case CMD_REVERT_RESIZE: NEED(revert_resize); r = d->revert_resize(h, uuid, err); break;
	case CMD_REBUILD: {
		struct agent_image ai;

		NEED(rebuild);
		if ((r = run_image_view(a, j, &v, &ai, true)) < 0)
			break;
		r = d->rebuild(h, &v.spec, err);
		agent_image_release(&ai);
		req_spec_view_release(&v);
		break;
	}
	case CMD_RESCUE: {
		struct agent_image ai;

		NEED(rescue);
		if ((r = run_image_view(a, j, &v, &ai, true)) < 0)
			break;
		r = d->rescue(h, uuid, &v.spec.image, err);
		agent_image_release(&ai);
		req_spec_view_release(&v);
		break;
	}
	case CMD_UNRESCUE: NEED(unrescue); r = d->unrescue(h, uuid, err); break;
	case CMD_SNAPSHOT: {
		char dest[PATH_MAX + 80];
		json_t *base = json_object_get(json_object_get(j->spec, "image"), "id");
		const char *format = j->req.format[0] ? j->req.format : "qcow2";
		struct imgstore_image *old = NULL;
		/* the guide's table 2.10: what a snapshot image records about its origin */
		struct hvd_kv props[] = {
			{ "image_type", "snapshot" },
			{ "instance_uuid", uuid },
			{ "base_image_ref", json_is_string(base) ? json_string_value(base) : "" },
		};

		NEED(snapshot);
		if (!a->store) {
			r = hv_error_set(err, -EINVAL, "image_store",
					 "snapshot needs an image store ([DEFAULT] image_store)");
			break;
		}
		if (!imgstore_id_valid(j->req.image_id)) {
			r = hv_error_set(err, -EINVAL, "body.image_id",
					 "body.image_id: '%s' cannot name an image in the store "
					 "(allowed: [A-Za-z0-9._-], not starting with '.')", j->req.image_id);
			break;
		}
		if (imgstore_get(a->store, j->req.image_id, &old, err) == 0) {
			imgstore_image_free(old);
			r = hv_error_set(err, -EEXIST, "body.image_id",
					 "body.image_id: image '%s' already exists in the image store",
					 j->req.image_id);
			break;
		}
		hv_error_clear(err);
		if ((r = imgstore_data_path(a->store, j->req.image_id, dest, sizeof dest, err)) < 0)
			break;
		unlink(dest); /* a leftover of a snapshot that died before its sidecar */
		r = d->snapshot(h, uuid, dest, format, err);
		if (r >= 0) {
			r = imgstore_commit(a->store, j->req.image_id, format, props,
					    sizeof props / sizeof props[0], err);
			if (r < 0)
				unlink(dest);
		}
		if (r >= 0)
			j->data = json_pack("{s:{s:s, s:s, s:{s:s, s:s, s:s}}}", "image", "id",
					    j->req.image_id, "format", format, "properties",
					    "image_type", "snapshot", "instance_uuid", uuid,
					    "base_image_ref", props[2].value);
		break;
	}
	case CMD_CONSOLE_LOG: {
		char *text = NULL;

		NEED(console_log);
		r = d->console_log(h, uuid, j->req.max_bytes, &text, err);
		if (r >= 0) {
			size_t len = text ? strlen(text) : 0;

			if (len > j->req.max_bytes) {
				memmove(text, text + len - j->req.max_bytes, j->req.max_bytes + 1);
				len = j->req.max_bytes;
			}
			j->data = json_pack("{s:o}", "output", json_text(text ? text : "", len));
		}
		free(text);
		break;
	}
	case CMD_GET_CONSOLE: {
		struct hvd_console c = { .struct_size = sizeof c };

		NEED(get_console);
		r = d->get_console(h, uuid, j->req.console, &c, err);
		if (r >= 0) {
			c.host[sizeof c.host - 1] = c.password[sizeof c.password - 1] = '\0';
			j->data = json_pack("{s:s, s:s, s:I}", "type",
					    c.type == HVD_CONSOLE_SERIAL ? "serial" : "vnc", "host",
					    c.host, "port", (json_int_t)c.port);
			if (c.password[0]) {
				json_object_set_new(j->data, "password", json_string(c.password));
				j->data_secret = true;
			}
		}
		explicit_bzero(&c, sizeof c);
		break;
	}
	case CMD_SET_ADMIN_PASSWORD:
		NEED(set_admin_password);
		r = d->set_admin_password(h, uuid, j->req.user, j->req.secret ? j->req.secret : "",
					  err);
		break;
	case CMD_N:
		r = -EINVAL;
		break;
	}
#undef NEED
	/* secrets are used once: gone before the result travels anywhere */
	if (j->req.secret) {
		explicit_bzero(j->req.secret, strlen(j->req.secret));
		free(j->req.secret);
		j->req.secret = NULL;
	}
	if (j->req.user_data) {
		explicit_bzero(j->req.user_data, j->req.user_data_len);
		free(j->req.user_data);
		j->req.user_data = NULL;
	}
	j->rc = r < 0 ? r : 0;
	if (r < 0 && err->code == 0)
		hv_error_set(err, r, NULL, "%s failed: %s", inst_cmd_name(j->req.cmd), strerror(-r));
	if (!(j->req.cmd == CMD_DESTROY && r >= 0)) {
		struct hv_error ignored = { 0 };

		j->info.struct_size = sizeof j->info;
		j->have_info = d->get_instance(h, uuid, &j->info, &ignored) >= 0;
	}
}

static void run_job(struct agent *a, struct job *j)
{
	switch (j->kind) {
	case JOB_CMD:
		run_cmd(a, j);
		break;
	case JOB_STATS:
		j->stats.struct_size = sizeof j->stats;
		j->rc = a->ops->host_stats(a->host, &j->stats, &j->err);
		break;
	case JOB_SYNC:
		j->rc = a->ops->list_instances(a->host, sync_cb, j, &j->err);
		break;
	case JOB_NET:
		if (j->deadline_ms && proto_now_ms() > j->deadline_ms) {
			j->rc = hv_error_set(&j->err, -ETIME, "header.deadline_ms",
					     "deadline passed while the command waited for a worker");
			break;
		}
		j->rc = net_run(a->net, j->net_body, &j->err);
		if (j->rc >= 0) {
			j->rc = 0;
			j->net_state = net_state(a->net);
		}
		break;
	case JOB_NET_RESYNC:
		j->rc = net_resync(a->net, &j->err);
		break;
	}
}

void *agent_worker_main(void *arg)
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
			agent_job_free(j); /* context terminating: the journal still says "accepted" */
	}
	zmq_close(push);
	return NULL;
}
