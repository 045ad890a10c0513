/* link.c - the agent side of HVA/1 (docs/protocol.md): what hvcentral does with each
 * message an authenticated agent sends. HELLO is welcomed, SNAPSHOT/DELTA mirror the
 * host's instances into the store (a sequence gap or an unknown boot asks RESYNC), REPORT
 * records the host's resources, EVENT and RESULT are acknowledged, and RESULT/ERROR/ACK
 * move the command journal on. A host's messages touch only its own instances and
 * commands. Every decision is taken from the store, so a restarted hvcentral carries on
 * where it stopped. Must never send a command itself (journal.c does) and never logs: what
 * it refuses, the daemon logs (ctl_take_refused). */
#include "ctl-priv.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "vec.h"

#define SEEN_WRITE_MS 1000

/* A string member of a received body, or def when absent or not a string. */
static const char *
str_or(const json_t *o, const char *key, const char *def)
{
	const char *v = def;
	if (hj_str(o, "body", key, HJ_OPTIONAL, 0, &v, NULL) < 0)
		return def;
	return v;
}

int
ctl_send_simple(struct ctl *c, const char *host_id, enum proto_type type, const char *corr_id,
		json_t *body)
{
	struct proto_msg m = {.type = type, .body = body};
	proto_header_init(&m.hdr, host_id, NULL);
	if (corr_id)
		snprintf(m.hdr.corr_id, sizeof m.hdr.corr_id, "%s", corr_id);
	int r = c->send(c->cb, host_id, &m);
	json_decref(body);
	return r;
}

static void
fault_text(json_t *rec, char *buf, size_t size)
{
	json_t *f = json_object_get(rec, "fault");
	const char *code = json_string_value(json_object_get(f, "code"));
	const char *msg = json_string_value(json_object_get(f, "message"));
	if (json_is_object(f))
		snprintf(buf, size, "%s: %s", code ? code : "error", msg ? msg : "");
	else
		buf[0] = '\0';
}

/* A part of a host's message that is refused (a record, removal or result for what another
 * host owns; a report that does not check out): never applied, counted for the daemon to
 * log (ctl_take_refused). */
void
ctl_refuse(struct ctl *c, const struct hv_error *why)
{
	if (c->n_refused++ == 0)
		c->refused = *why;
}

unsigned
ctl_take_refused(struct ctl *c, struct hv_error *ret)
{
	unsigned n = c->n_refused;
	if (n && ret)
		*ret = c->refused;
	c->n_refused = 0;
	return n;
}

static void
apply_record(struct ctl *c, const char *host, json_t *rec, int64_t now)
{
	const char *uuid = NULL, *vm = NULL, *power = NULL, *task = NULL, *name = NULL;
	struct hv_error e;
	if (hj_uuid(rec, "instance", "uuid", HJ_REQUIRED, &uuid, &e) < 0 ||
	    hj_str(rec, "instance", "vm_state", HJ_REQUIRED, 32, &vm, &e) < 0 ||
	    hj_str(rec, "instance", "power_state", HJ_OPTIONAL, 32, &power, &e) < 0 ||
	    hj_str(rec, "instance", "task_state", HJ_OPTIONAL, 32, &task, &e) < 0 ||
	    hj_str(rec, "instance", "name", HJ_OPTIONAL, 255, &name, &e) < 0)
		return; /* a record we cannot read changes nothing */
	char fault[512];
	fault_text(rec, fault, sizeof fault);
	int r = store_instance_report_state(c->store, host, uuid, vm, task ? task : "", power,
					    fault, now, &e);
	if (r == -EPERM && store_instance_take_leftover(c->store, uuid, host, &c->scratch) > 0)
		return; /* evacuated from here: its destroy is journaled to this host already */
	if (r == -EPERM)
		ctl_refuse(c, &e);
	if (r != -ENOENT)
		return;
	/* an instance the controller did not create (built before a store was lost, or by
	 * another controller): adopt it so operators see it */
	json_t *flavor = json_object_get(rec, "flavor");
	json_t *specs = json_object_get(flavor, "extra_specs");
	json_t *inst =
		json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s}", "uuid", uuid, "name",
			  name ? name : uuid, "host", host, "image",
			  str_or(json_object_get(rec, "image"), "id", ""), "flavor",
			  flavor ? json_incref(flavor) : json_object(), "properties",
			  specs ? json_incref(specs) : json_object(), "vm_state", vm, "task_state",
			  task ? task : "", "power_state", power ? power : "nostate");
	if (inst && store_instance_insert(c->store, inst, now, &e) == -EEXIST) {
		/* the name is taken by a live instance: keep the uuid as its name */
		json_object_set_new(inst, "name", json_string(uuid));
		store_instance_insert(c->store, inst, now, &e);
	}
	json_decref(inst);
}

static void
mark_removed(struct ctl *c, const char *host, const char *uuid, int64_t now)
{
	struct hv_error e = {0};
	if (store_instance_report_state(c->store, host, uuid, "deleted", "", "nostate", NULL, now,
					&e) == -EPERM)
		ctl_refuse(c, &e);
}

/* The report fields hvcentral stores and shows (docs/protocol.md §8.2, §8.3: nova's
 * compute-node record), each with its type and range. A field may be absent (an agent of
 * another version); present, it must be right, or the whole report is refused and the
 * last good one stays: `vcpus: "lots"` must not become 0 in hv host list. */
static int
report_check(const json_t *r, const char *where, struct hv_error *err)
{
	static const struct {
		const char *key;
		int64_t min, max;
	} ints[] = {
		{"vcpus", 0, INT32_MAX},
		{"vcpus_used", 0, INT32_MAX},
		{"memory_mb", 0, INT64_C(1) << 40},
		{"memory_mb_used", 0, INT64_C(1) << 40},
		/* free_* go below zero when the host is overcommitted, as in nova */
		{"free_ram_mb", -(INT64_C(1) << 40), INT64_C(1) << 40},
		{"local_gb", 0, INT64_C(1) << 40},
		{"local_gb_used", 0, INT64_C(1) << 40},
		{"free_disk_gb", -(INT64_C(1) << 40), INT64_C(1) << 40},
		{"disk_available_least", -(INT64_C(1) << 40), INT64_C(1) << 40},
		{"running_vms", 0, INT32_MAX},
		{"current_workload", 0, INT32_MAX},
		{"hypervisor_version", 0, INT64_MAX},
		{"generation", 0, INT64_MAX},
	};
	char real[64];
	const char *str;
	json_t *o;
	int64_t v;
	int r2;

	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
		if ((r2 = hj_int(r, where, ints[i].key, HJ_OPTIONAL, ints[i].min, ints[i].max, &v,
				 err)) < 0)
			return r2;
	snprintf(real, sizeof real, "%s.real", where);
	if ((r2 = hj_str(r, where, "hypervisor_hostname", HJ_OPTIONAL, 255, &str, err)) < 0 ||
	    (r2 = hj_str(r, where, "hypervisor_type", HJ_OPTIONAL, 64, &str, err)) < 0 ||
	    (r2 = hj_enum(r, where, "status", HJ_OPTIONAL, "enabled|disabled", &str, err)) < 0 ||
	    (r2 = hj_str(r, where, "disabled_reason", HJ_OPTIONAL, 255, &str, err)) < 0 ||
	    (r2 = hj_obj(r, where, "cpu_info", HJ_OPTIONAL, &o, err)) < 0 ||
	    (r2 = hj_obj(r, where, "numa_topology", HJ_OPTIONAL, &o, err)) < 0 ||
	    (r2 = hj_arr(r, where, "metrics", HJ_OPTIONAL, 1024, &o, err)) < 0 ||
	    (r2 = hj_obj(r, where, "real", HJ_OPTIONAL, &o, err)) < 0)
		return r2;
	if (r2 > 0 &&
	    ((r2 = hj_int(o, real, "memory_mb_used", HJ_OPTIONAL, 0, INT64_C(1) << 40, &v, err)) <
		     0 ||
	     (r2 = hj_int(o, real, "local_gb_used", HJ_OPTIONAL, 0, INT64_C(1) << 40, &v, err)) <
		     0))
		return r2;
	return 0;
}

/* Stores a host's report (REPORT body, SNAPSHOT host) when it checks out; a refused one
 * changes nothing (the last good one stays) and is counted for the daemon to log. */
static void
set_resources(struct ctl *c, const char *host, json_t *report, const char *where, int64_t now)
{
	struct hv_error err = {0};

	if (report_check(report, where, &err) == 0)
		store_host_set_resources(c->store, host, report, &c->scratch);
	else
		ctl_refuse(c, &err);
}

/* Is uuid in error already, with its reason? A spawn every host refused never reached the
 * host it names last: that host not knowing it says less than the fault it has. */
static bool
already_failed(struct ctl *c, const char *uuid)
{
	json_t *inst = NULL;
	bool failed = store_instance_get(c->store, uuid, &inst, NULL) == 0 &&
		      strcmp(str_or(inst, "vm_state", ""), "error") == 0 &&
		      *str_or(inst, "fault", "");
	json_decref(inst);
	return failed;
}

static void
apply_snapshot(struct ctl *c, const char *host, json_t *body, int64_t now)
{
	json_t *insts = json_object_get(body, "instances");
	json_t *host_body = json_object_get(body, "host");
	if (json_is_object(host_body))
		set_resources(c, host, host_body, "body.host", now);
	size_t i;
	json_t *rec;
	json_array_foreach (insts, i, rec)
		apply_record(c, host, rec, now);

	/* instances the host no longer knows, and that no command is about to create */
	json_t *known = NULL;
	if (store_instance_uuids_on(c->store, host, &known, &c->scratch) < 0)
		return;
	json_t *u;
	json_array_foreach (known, i, u) {
		const char *uuid = json_string_value(u);
		bool seen = false;
		size_t k;
		json_array_foreach (insts, k, rec) {
			if (strcmp(str_or(rec, "uuid", ""), uuid) == 0) {
				seen = true;
				break;
			}
		}
		if (!seen && store_cmd_inflight_for(c->store, uuid, &c->scratch) == 0 &&
		    !already_failed(c, uuid))
			store_instance_set_state(c->store, uuid, "error", "", "nostate",
						 "the host does not know this instance", now,
						 &c->scratch);
	}
	json_decref(known);
}

static void
resync(struct ctl *c, const char *host, const char *reason)
{
	ctl_send_simple(c, host, PROTO_RESYNC, NULL, json_pack("{s:s}", "reason", reason));
}

static void
on_state(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	uint64_t last = 0;
	char boot[80] = "";
	if (store_host_seq(c->store, host, &last, boot, &c->scratch) < 0)
		return;
	if (m->type == PROTO_SNAPSHOT) {
		if (strcmp(boot, m->hdr.boot_id) != 0)
			store_host_hello(c->store, host, m->hdr.boot_id, NULL, &c->scratch);
		apply_snapshot(c, host, m->body, now);
		store_host_set_seq(c->store, host, m->hdr.seq, &c->scratch);
		return;
	}
	/* DELTA */
	json_int_t prev = json_integer_value(json_object_get(m->body, "prev_seq"));
	if (strcmp(boot, m->hdr.boot_id) != 0) {
		resync(c, host, "unknown boot_id");
		return;
	}
	if ((uint64_t)prev != last) {
		resync(c, host, "sequence gap");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(m->body, "instances"), i, v)
		apply_record(c, host, v, now);
	json_array_foreach (json_object_get(m->body, "removed"), i, v)
		if (json_is_string(v))
			mark_removed(c, host, json_string_value(v), now);
	store_host_set_seq(c->store, host, m->hdr.seq, &c->scratch);
}

/* A failure as the done callback promises it (ctl.h): {code, message} strings, whatever an
 * agent sent, with any other field of its error kept. New reference. */
static json_t *
failure_of(const json_t *error, const char *default_message)
{
	json_t *f = json_is_object(error) ? json_deep_copy(error) : json_object();
	const char *code = json_string_value(json_object_get(f, "code"));
	const char *msg = json_string_value(json_object_get(f, "message"));
	json_object_set_new(f, "code", json_string(code && *code ? code : PROTO_E_INTERNAL));
	json_object_set_new(f, "message", json_string(msg ? msg : default_message));
	return f;
}

static void
on_result(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	const char *cmd_id = json_string_value(json_object_get(m->body, "cmd_id"));
	if (!cmd_id)
		return;
	/* acknowledge first: the agent re-sends until it hears this, duplicates included */
	ctl_send_simple(c, host, PROTO_ACK, m->hdr.msg_id, json_pack("{s:s}", "cmd_id", cmd_id));

	struct store_cmd cmd;
	if (store_cmd_get(c->store, cmd_id, &cmd, NULL, &c->scratch) < 0)
		return;
	bool mine = strcmp(cmd.host_id, host) == 0;
	bool open = cmd.state != STORE_CMD_DONE && cmd.state != STORE_CMD_FAILED;
	if (!mine) {
		struct hv_error e = {0};
		hv_error_set(&e, -EPERM, "cmd_id", "command %s (instance %s) belongs to host %s",
			     cmd_id, cmd.uuid, cmd.host_id);
		ctl_refuse(c, &e);
	}
	if (mine && open) {
		json_t *inst = json_object_get(m->body, "instance");
		bool ok = strcmp(str_or(m->body, "status", ""), "ok") == 0;
		if (json_is_object(inst))
			apply_record(c, host, inst, now);
		if (ok && json_is_object(inst) &&
		    (strstr(cmd.action, "resize") || strcmp(cmd.action, "rebuild") == 0))
			store_instance_set_spec(c->store, cmd.uuid, json_object_get(inst, "flavor"),
						str_or(json_object_get(inst, "image"), "id", NULL),
						now, &c->scratch);
		else if (ok && strcmp(cmd.action, "destroy") == 0 && !cmd.deadline_ms)
			; /* an evacuated server's leftover: the server lives on elsewhere */
		else if (ok && strcmp(cmd.action, "destroy") == 0)
			mark_removed(c, host, cmd.uuid, now);
		else if (ok && strcmp(cmd.action, "snapshot") == 0)
			ctl_pull_start(c, host,
				       json_object_get(json_object_get(m->body, "data"), "image"),
				       now);
		else if (!ok)
			ctl_undo_task(
				c, &cmd,
				str_or(json_object_get(m->body, "error"), "message", "failed"),
				now);
		if (ok) {
			ctl_finish(c, &cmd, true, m->body);
		} else {
			json_t *copy = failure_of(json_object_get(m->body, "error"), "failed");
			json_object_set(copy, "result", m->body);
			ctl_finish(c, &cmd, false, copy);
			json_decref(copy);
		}
	}
	store_cmd_clear(&cmd);
}

static void
on_ack(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	const char *cmd_id = str_or(m->body, "cmd_id", NULL);
	if (cmd_id)
		store_cmd_mark_acked(c->store, cmd_id, host, now + c->cfg.acked_retry_ms,
				     &c->scratch);
}

/* A spawn the host's claim refused (it changed since the report the scheduler read): the
 * same command, cmd_id and secrets go to the host the placer picks next, so whoever waits
 * for it waits on; when none is left it fails as no_valid_host with every refusal. */
static void
place_again(struct ctl *c, const struct store_cmd *cmd, const char *host, const char *why,
	    int64_t now)
{
	struct hv_error e = {0};
	char next[PROTO_MAX_ID + 1];
	json_t *spawn = NULL;
	int r = c->place ? 0 : hv_error_set(&e, -ENOSPC, NULL, "%s: %s", host, why);
	if (r == 0)
		r = store_cmd_last_args(c->store, cmd->uuid, "spawn", &spawn, &e);
	if (r == 0)
		r = c->place(c->place_ctx, cmd->uuid, spawn, host, why, now, next, &e);
	if (r == 0)
		r = store_cmd_reroute(c->store, cmd->cmd_id, next, spawn, now, &e);
	json_decref(spawn);
	if (r == 0)
		return; /* ctl_tick sends it there now */
	json_t *failure =
		json_pack("{s:s, s:s}", "code", PROTO_E_NO_VALID_HOST, "message", e.message);
	ctl_undo_task(c, cmd, e.message, now);
	ctl_finish(c, cmd, false, failure);
	json_decref(failure);
}

static void
on_error(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	const char *cmd_id = m->hdr.corr_id[0] ? ctl_cmd_for_msg(c, m->hdr.corr_id) : NULL;
	struct store_cmd cmd;
	if (!cmd_id || store_cmd_get(c->store, cmd_id, &cmd, NULL, &c->scratch) < 0)
		return;
	const char *code = str_or(m->body, "code", "internal");
	bool open = cmd.state != STORE_CMD_DONE && cmd.state != STORE_CMD_FAILED;
	if (strcmp(cmd.host_id, host) == 0 && open) {
		if (strcmp(code, PROTO_E_BUSY) == 0) {
			/* the agent's queue is full, or its host is disabled (field "host"): it did
			 * not journal the refusal, so the same cmd_id goes again after the retry
			 * time, until the command's deadline (protocol §6.2 step 5, §8.3) */
			store_cmd_update(c->store, cmd_id, STORE_CMD_QUEUED, cmd.attempts,
					 now + c->cfg.retry_ms, NULL, &c->scratch);
		} else if (strcmp(code, PROTO_E_CLAIM) == 0 && strcmp(cmd.action, "spawn") == 0) {
			place_again(c, &cmd, host, str_or(m->body, "message", code), now);
		} else {
			const char *msg = json_string_value(json_object_get(m->body, "message"));
			/* a refused command never ran: the instance keeps its state, minus our task */
			if (strcmp(code, PROTO_E_TASK_IN_FLIGHT) != 0)
				ctl_undo_task(c, &cmd, msg ? msg : code, now);
			json_t *failure = failure_of(m->body, code);
			ctl_finish(c, &cmd, false, failure);
			json_decref(failure);
		}
	}
	store_cmd_clear(&cmd);
}

/* The host's entry in c->seen, added when absent; NULL without memory. */
static struct seen *
seen_entry(struct ctl *c, const char *host, bool add)
{
	json_t *at = json_object_get(c->seen_at, host);
	if (at)
		return &c->seen[json_integer_value(at)];
	if (!add || HV_GROW(c->seen, c->cap_seen, c->n_seen + 1) < 0 ||
	    json_object_set_new(c->seen_at, host, json_integer((json_int_t)c->n_seen)) < 0)
		return NULL;
	struct seen *e = &c->seen[c->n_seen++];
	*e = (struct seen){0};
	snprintf(e->host, sizeof e->host, "%s", host);
	return e;
}

static void
note_seen(struct ctl *c, const char *host, const char *address, int64_t now, bool force)
{
	struct seen *e = seen_entry(c, host, true);
	if (!e) { /* without memory, liveness falls back to the store's time */
		store_host_seen(c->store, host, NULL, address, now, &c->scratch);
		return;
	}
	if (e->written_ms == 0)
		force = true;
	e->heard_ms = now;
	if (!force && now - e->written_ms < SEEN_WRITE_MS)
		return;
	if (store_host_seen(c->store, host, NULL, address, now, &c->scratch) == 0)
		e->written_ms = now;
}

int64_t
ctl_heard_ms(const struct ctl *c, const char *host, int64_t stored_ms)
{
	const struct seen *e = seen_entry((struct ctl *)c, host, false);
	return e && e->heard_ms > stored_ms ? e->heard_ms : stored_ms;
}

void
ctl_on_agent(struct ctl *c, const char *host, const char *address, const struct proto_msg *m,
	     int64_t now)
{
	note_seen(c, host, address, now, m->type == PROTO_HELLO);
	if (c->watch &&
	    (m->type == PROTO_SNAPSHOT || m->type == PROTO_DELTA || m->type == PROTO_REPORT ||
	     m->type == PROTO_RESULT || m->type == PROTO_ERROR))
		c->watch(c->watch_ctx, host);
	switch (m->type) {
	case PROTO_HELLO: {
		uint64_t seq;
		char boot[80] = "";
		store_host_seq(c->store, host, &seq, boot, &c->scratch);
		if (strcmp(boot, m->hdr.boot_id) != 0)
			store_host_hello(
				c->store, host, m->hdr.boot_id,
				json_string_value(json_object_get(m->body, "agent_version")),
				&c->scratch);
		ctl_send_simple(c, host, PROTO_WELCOME, m->hdr.msg_id,
				json_pack("{s:i}", "schema", PROTO_SCHEMA));
		break;
	}
	case PROTO_SNAPSHOT:
	case PROTO_DELTA: on_state(c, host, m, now); break;
	case PROTO_REPORT: set_resources(c, host, m->body, "body", now); break;
	case PROTO_EVENT:
		if (m->hdr.has_seq)
			ctl_send_simple(c, host, PROTO_ACK, m->hdr.msg_id,
					json_pack("{s:I}", "seq", (json_int_t)m->hdr.seq));
		break;
	case PROTO_ACK: on_ack(c, host, m, now); break;
	case PROTO_RESULT: on_result(c, host, m, now); break;
	case PROTO_ERROR: on_error(c, host, m, now); break;
	case PROTO_PING: ctl_send_simple(c, host, PROTO_PONG, m->hdr.msg_id, json_object()); break;
	case PROTO_IMAGE_GET: ctl_image_get(c, host, m); break;
	case PROTO_IMAGE_DATA: ctl_image_data(c, host, m, now); break;
	default:
		/* WELCOME, COMMAND, RESYNC and PONG are ours to send; receiving one changes nothing */
		break;
	}
}
