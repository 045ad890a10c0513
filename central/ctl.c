/* ctl.c - HVA/1 controller logic over the store. Every decision is taken from the store, so
 * a restarted hvcentral carries on where it stopped. Two things live in memory only: the
 * map from a sent COMMAND's msg_id to its cmd_id, needed to read an ERROR's corr_id (after
 * a restart the resent command gets the agent's stored answer again), and the secrets of
 * open commands (protocol §10.3): the journal keeps each command with its secret fields
 * replaced by "<field>_redacted": true, so a password never reaches the database file. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json.h"
#include "lifecycle.h"
#include "vec.h"

#define SENT_RING 8192
#define DUE_BATCH 256

struct sent {
	char msg_id[37];
	char cmd_id[PROTO_MAX_ID + 1];
};

#define SEEN_CACHE 64
#define SEEN_WRITE_MS 1000

/* The secret fields of one open command, wiped when it finishes. */
struct secret {
	char cmd_id[PROTO_MAX_ID + 1];
	json_t *fields; /* {"admin_pass": "...", ...} */
};

struct ctl {
	struct store *store;
	struct secret *sec;
	size_t n_sec, cap_sec;
	/* when each host's last_seen was last written: liveness needs seconds, not every
	 * message, and a write per message would be most of the store's work */
	struct {
		char host[PROTO_MAX_ID + 1];
		int64_t written_ms;
	} seen[SEEN_CACHE];
	struct ctl_config cfg;
	ctl_send_fn send;
	ctl_done_fn done;
	void *cb;
	struct sent *ring; /* recently sent COMMANDs, oldest overwritten */
	size_t ring_pos;
	struct hv_error scratch; /* for store errors nobody is waiting for */
};

void
ctl_config_default(struct ctl_config *cfg)
{
	reg_intervals_default(&cfg->liveness);
	cfg->cmd_timeout_ms = 120000;
	cfg->retry_ms = 2000;
	cfg->acked_retry_ms = 15000;
}

int
ctl_new(struct store *store, const struct ctl_config *cfg, ctl_send_fn send, ctl_done_fn done,
	void *cb_ctx, struct ctl **ret, struct hv_error *err)
{
	struct ctl *c = calloc(1, sizeof *c);
	if (c)
		c->ring = calloc(SENT_RING, sizeof *c->ring);
	if (!c || !c->ring) {
		free(c);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	c->store = store;
	c->cfg = *cfg;
	c->send = send;
	c->done = done;
	c->cb = cb_ctx;
	*ret = c;
	return 0;
}

static void
wipe_fields(json_t *fields)
{
	const char *k;
	json_t *v;
	json_object_foreach(fields, k, v)
		hj_wipe_string(v);
	json_decref(fields);
}

void
ctl_free(struct ctl *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sec; i++)
		wipe_fields(c->sec[i].fields);
	free(c->sec);
	free(c->ring);
	free(c);
}

/* A string member of a received body, or def when absent or not a string. */
static const char *
str_or(const json_t *o, const char *key, const char *def)
{
	const char *v = def;
	if (hj_str(o, "body", key, HJ_OPTIONAL, 0, &v, NULL) < 0)
		return def;
	return v;
}

/* ---- the state model (protocol §6.5) --------------------------------------------------- */

/* An API action's protocol command (common/lifecycle.h holds the table): the API says
 * delete where the wire says destroy; spawn and console_log have requests of their own.
 * -1 when not an action. */
static int
action_cmd(const char *action)
{
	if (strcmp(action, "delete") == 0)
		return LC_CMD_DESTROY;
	int cmd = lc_cmd_parse(action);
	if (cmd == LC_CMD_SPAWN || cmd == LC_CMD_DESTROY || cmd == LC_CMD_CONSOLE_LOG)
		return -1;
	return cmd;
}

bool
ctl_action_allowed(const char *action, bool hard, const char *vm_state)
{
	int cmd = action_cmd(action), vm = lc_vm_parse(vm_state);
	if (cmd < 0 || vm < 0 || vm == LC_VM_DELETED)
		return false;
	return lc_allowed((enum lc_cmd)cmd, hard, (enum lc_vm)vm);
}

const char *
ctl_task_for(const char *action, bool hard)
{
	int cmd = action_cmd(action);
	return cmd < 0 ? NULL : lc_task_name(lc_task_for((enum lc_cmd)cmd, hard));
}

/* ---- sending ----------------------------------------------------------------------------- */

static void
remember_sent(struct ctl *c, const char *msg_id, const char *cmd_id)
{
	struct sent *s = &c->ring[c->ring_pos++ % SENT_RING];
	snprintf(s->msg_id, sizeof s->msg_id, "%s", msg_id);
	snprintf(s->cmd_id, sizeof s->cmd_id, "%s", cmd_id);
}

static const char *
cmd_for_msg(struct ctl *c, const char *msg_id)
{
	/* newest first: the answer is almost always to a recent send */
	for (size_t k = 0; k < SENT_RING; k++) {
		struct sent *s = &c->ring[(c->ring_pos - 1 - k) % SENT_RING];
		if (!s->msg_id[0])
			return NULL;
		if (strcmp(s->msg_id, msg_id) == 0)
			return s->cmd_id;
	}
	return NULL;
}

static int
send_simple(struct ctl *c, const char *host_id, enum proto_type type, const char *corr_id,
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

static struct secret *
secret_find(struct ctl *c, const char *cmd_id)
{
	for (size_t i = 0; i < c->n_sec; i++)
		if (strcmp(c->sec[i].cmd_id, cmd_id) == 0)
			return &c->sec[i];
	return NULL;
}

static int
secret_keep(struct ctl *c, const char *cmd_id, json_t *fields)
{
	if (HV_GROW(c->sec, c->cap_sec, c->n_sec + 1) < 0)
		return -ENOMEM;
	struct secret *s = &c->sec[c->n_sec++];
	snprintf(s->cmd_id, sizeof s->cmd_id, "%s", cmd_id);
	s->fields = json_deep_copy(fields);
	return s->fields ? 0 : -ENOMEM;
}

static void
secret_drop(struct ctl *c, const char *cmd_id)
{
	struct secret *s = secret_find(c, cmd_id);
	if (!s)
		return;
	wipe_fields(s->fields);
	*s = c->sec[--c->n_sec];
}

/* Puts the secrets of a journaled command back into the body about to be sent; -ENOKEY
 * when they are gone (hvcentral restarted since the command was made). */
static int
restore_secrets(struct ctl *c, const char *cmd_id, json_t *body)
{
	char fields[8][64];
	size_t n_fields = 0;
	const char *k;
	json_t *v;
	/* the markers first, the body changed after: no insertion while iterating */
	json_object_foreach(body, k, v) {
		size_t n = strlen(k);
		if (n > 9 && n - 9 < sizeof fields[0] && strcmp(k + n - 9, "_redacted") == 0 &&
		    json_is_true(v) && n_fields < sizeof fields / sizeof fields[0])
			snprintf(fields[n_fields++], sizeof fields[0], "%.*s", (int)(n - 9), k);
	}
	struct secret *s = n_fields ? secret_find(c, cmd_id) : NULL;
	for (size_t i = 0; i < n_fields; i++) {
		json_t *val = s ? json_object_get(s->fields, fields[i]) : NULL;
		if (!val)
			return -ENOKEY;
		char marker[80];
		snprintf(marker, sizeof marker, "%s_redacted", fields[i]);
		/* a copy: the sent body is wiped after the send, the kept one must survive */
		json_object_set_new(body, fields[i], json_stringn(json_string_value(val),
								  json_string_length(val)));
		json_object_del(body, marker);
	}
	return 0;
}

/* Puts a journaled command on the wire; 0, the send error, or -ENOKEY (secrets lost). */
static int
send_cmd(struct ctl *c, const struct store_cmd *cmd)
{
	json_t *body = cmd->args ? json_deep_copy(cmd->args) : json_object();
	if (restore_secrets(c, cmd->cmd_id, body) < 0) {
		json_decref(body);
		return -ENOKEY;
	}
	json_object_set_new(body, "command", json_string(cmd->action));
	json_object_set_new(body, "uuid", json_string(cmd->uuid));
	struct proto_msg m = {.type = PROTO_COMMAND, .body = body};
	proto_header_init(&m.hdr, cmd->host_id, NULL);
	snprintf(m.hdr.cmd_id, sizeof m.hdr.cmd_id, "%s", cmd->cmd_id);
	m.hdr.deadline_ms = cmd->deadline_ms;
	int r = c->send(c->cb, cmd->host_id, &m);
	/* the body is a copy that may hold a secret; the frame on the wire is libzmq's */
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
		hj_wipe_string(v);
	json_decref(body);
	if (r == 0)
		remember_sent(c, m.hdr.msg_id, cmd->cmd_id);
	return r;
}

static void finish(struct ctl *c, const struct store_cmd *cmd, bool ok, json_t *result);
static void undo_task(struct ctl *c, const struct store_cmd *cmd, const char *why, int64_t now);

/* Sends a journaled command again (same cmd_id) and records the attempt. */
static void
dispatch(struct ctl *c, struct store_cmd *cmd, int64_t now)
{
	enum store_cmd_state st = cmd->state;
	int64_t next = now + c->cfg.retry_ms;
	int r = send_cmd(c, cmd);
	if (r == -ENOKEY && st == STORE_CMD_ACKED) {
		/* the host journaled it with its secrets: its RESULT comes without our help */
		store_cmd_update(c->store, cmd->cmd_id, st, cmd->attempts,
				 now + c->cfg.acked_retry_ms, NULL, &c->scratch);
		return;
	}
	if (r == -ENOKEY) {
		/* never send it without the secret the operator gave: fail it instead */
		char msg[256];
		snprintf(msg, sizeof msg, "hvcentral restarted before host %s accepted this %s; its "
			 "secret fields were kept in memory only and are gone: run it again",
			 cmd->host_id, cmd->action);
		json_t *e = json_pack("{s:s, s:s}", "code", "interrupted", "message", msg);
		undo_task(c, cmd, msg, now);
		finish(c, cmd, false, e);
		json_decref(e);
		return;
	}
	if (r == 0) {
		if (st == STORE_CMD_QUEUED)
			st = STORE_CMD_SENT;
		if (st == STORE_CMD_ACKED)
			next = now + c->cfg.acked_retry_ms;
		cmd->attempts++;
	}
	/* not connected: stays as it is and is tried again at `next`, until its deadline */
	store_cmd_update(c->store, cmd->cmd_id, st, cmd->attempts, next, NULL, &c->scratch);
}

/* Records the outcome of an open command (the caller read it and checked it is open).
 * The journal keeps the outcome ({status} or the error), not the whole RESULT: the
 * instance record already holds the state it carried. */
static void
finish(struct ctl *c, const struct store_cmd *cmd, bool ok, json_t *result)
{
	json_t *kept = ok ? json_pack("{s:s}", "status", "ok") : json_deep_copy(result);
	if (!ok)
		json_object_del(kept, "result");
	json_t *image = json_object_get(json_object_get(result, "data"), "image");
	if (ok && json_is_object(image)) /* a snapshot: the new image is recorded */
		json_object_set_new(kept, "data", json_pack("{s:O}", "image", image));
	secret_drop(c, cmd->cmd_id);
	store_cmd_update(c->store, cmd->cmd_id, ok ? STORE_CMD_DONE : STORE_CMD_FAILED,
			 cmd->attempts, 0, kept, &c->scratch);
	json_decref(kept);
	if (c->done)
		c->done(c->cb, cmd->cmd_id, ok, result);
}

/* A command refused or lost before it ran: clear the task it was queued under, and a
 * refused spawn leaves the instance in error (as nova). */
static void
undo_task(struct ctl *c, const struct store_cmd *cmd, const char *why, int64_t now)
{
	bool spawn = strcmp(cmd->action, "spawn") == 0;
	store_instance_set_state(c->store, cmd->uuid, spawn ? "error" : NULL, "",
				 NULL, spawn ? why : NULL, now, &c->scratch);
}

int64_t
ctl_tick(struct ctl *c, int64_t now)
{
	struct store_cmd due[DUE_BATCH];
	int n = store_cmd_due(c->store, now, due, DUE_BATCH, &c->scratch);
	for (int i = 0; i < n; i++) {
		struct store_cmd *cmd = &due[i];
		/* an acknowledged command is running on the host: its RESULT will come, however
		 * late; only unanswered ones expire */
		if (cmd->state != STORE_CMD_ACKED && cmd->deadline_ms && now >= cmd->deadline_ms) {
			char msg[160];
			snprintf(msg, sizeof msg, "host %s did not accept the command before its deadline",
				 cmd->host_id);
			json_t *e = json_pack("{s:s, s:s}", "code", "expired", "message", msg);
			undo_task(c, cmd, msg, now);
			finish(c, cmd, false, e);
			json_decref(e);
		} else {
			dispatch(c, cmd, now);
		}
		store_cmd_clear(cmd);
	}
	return n == DUE_BATCH ? 0 : 200;
}

/* ---- mirroring instance records ------------------------------------------------------------ */

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
	int r = store_instance_set_state(c->store, uuid, vm, task ? task : "", power, fault, now, &e);
	if (r != -ENOENT)
		return;
	/* an instance the controller did not create (built before a store was lost, or by
	 * another controller): adopt it so operators see it */
	json_t *flavor = json_object_get(rec, "flavor");
	json_t *specs = json_object_get(flavor, "extra_specs");
	json_t *inst = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:s}", "uuid", uuid,
				 "name", name ? name : uuid, "host", host,
				 "image", str_or(json_object_get(rec, "image"), "id", ""),
				 "flavor", flavor ? json_incref(flavor) : json_object(),
				 "properties", specs ? json_incref(specs) : json_object(),
				 "vm_state", vm, "task_state", task ? task : "",
				 "power_state", power ? power : "nostate");
	if (inst && store_instance_insert(c->store, inst, now, &e) == -EEXIST) {
		/* the name is taken by a live instance: keep the uuid as its name */
		json_object_set_new(inst, "name", json_string(uuid));
		store_instance_insert(c->store, inst, now, &e);
	}
	json_decref(inst);
}

static void
mark_removed(struct ctl *c, const char *uuid, int64_t now)
{
	store_instance_set_state(c->store, uuid, "deleted", "", "nostate", NULL, now, &c->scratch);
}

static void
apply_snapshot(struct ctl *c, const char *host, json_t *body, int64_t now)
{
	json_t *insts = json_object_get(body, "instances");
	json_t *host_body = json_object_get(body, "host");
	if (json_is_object(host_body))
		store_host_set_resources(c->store, host, host_body, &c->scratch);
	size_t i;
	json_t *rec;
	json_array_foreach(insts, i, rec)
		apply_record(c, host, rec, now);

	/* instances the host no longer knows, and that no command is about to create */
	json_t *known = NULL;
	if (store_instance_uuids_on(c->store, host, &known, &c->scratch) < 0)
		return;
	json_t *u;
	json_array_foreach(known, i, u) {
		const char *uuid = json_string_value(u);
		bool seen = false;
		size_t k;
		json_array_foreach(insts, k, rec) {
			if (strcmp(str_or(rec, "uuid", ""), uuid) == 0) {
				seen = true;
				break;
			}
		}
		if (!seen && store_cmd_inflight_for(c->store, uuid, &c->scratch) == 0)
			store_instance_set_state(c->store, uuid, "error", "", "nostate",
						 "the host does not know this instance", now,
						 &c->scratch);
	}
	json_decref(known);
}

static void
resync(struct ctl *c, const char *host, const char *reason)
{
	send_simple(c, host, PROTO_RESYNC, NULL, json_pack("{s:s}", "reason", reason));
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
	json_array_foreach(json_object_get(m->body, "instances"), i, v)
		apply_record(c, host, v, now);
	json_array_foreach(json_object_get(m->body, "removed"), i, v)
		if (json_is_string(v))
			mark_removed(c, json_string_value(v), now);
	store_host_set_seq(c->store, host, m->hdr.seq, &c->scratch);
}

static void
on_result(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	const char *cmd_id = json_string_value(json_object_get(m->body, "cmd_id"));
	if (!cmd_id)
		return;
	/* acknowledge first: the agent re-sends until it hears this, duplicates included */
	send_simple(c, host, PROTO_ACK, m->hdr.msg_id, json_pack("{s:s}", "cmd_id", cmd_id));

	struct store_cmd cmd;
	if (store_cmd_get(c->store, cmd_id, &cmd, NULL, &c->scratch) < 0)
		return;
	bool mine = strcmp(cmd.host_id, host) == 0;
	bool open = cmd.state != STORE_CMD_DONE && cmd.state != STORE_CMD_FAILED;
	if (mine && open) {
		json_t *inst = json_object_get(m->body, "instance");
		bool ok = strcmp(str_or(m->body, "status", ""), "ok") == 0;
		if (json_is_object(inst))
			apply_record(c, host, inst, now);
		if (ok && json_is_object(inst) && (strstr(cmd.action, "resize") ||
						   strcmp(cmd.action, "rebuild") == 0))
			store_instance_set_spec(c->store, cmd.uuid, json_object_get(inst, "flavor"),
						str_or(json_object_get(inst, "image"), "id", NULL), now,
						&c->scratch);
		else if (ok && strcmp(cmd.action, "destroy") == 0)
			mark_removed(c, cmd.uuid, now);
		else if (!ok)
			undo_task(c, &cmd, str_or(json_object_get(m->body, "error"), "message", "failed"), now);
		if (ok) {
			finish(c, &cmd, true, m->body);
		} else {
			json_t *e = json_object_get(m->body, "error");
			json_t *copy = json_is_object(e) ? json_deep_copy(e)
				       : json_pack("{s:s, s:s}", "code", "internal", "message", "failed");
			json_object_set(copy, "result", m->body);
			finish(c, &cmd, false, copy);
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
		store_cmd_mark_acked(c->store, cmd_id, host, now + c->cfg.acked_retry_ms, &c->scratch);
}

static void
on_error(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now)
{
	const char *cmd_id = m->hdr.corr_id[0] ? cmd_for_msg(c, m->hdr.corr_id) : NULL;
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
		} else {
			const char *msg = json_string_value(json_object_get(m->body, "message"));
			/* a refused command never ran: the instance keeps its state, minus our task */
			if (strcmp(code, PROTO_E_TASK_IN_FLIGHT) != 0)
				undo_task(c, &cmd, msg ? msg : code, now);
			finish(c, &cmd, false, m->body);
		}
	}
	store_cmd_clear(&cmd);
}

static void
note_seen(struct ctl *c, const char *host, const char *address, int64_t now, bool force)
{
	size_t i, slot = 0;
	for (i = 0; i < SEEN_CACHE; i++) {
		if (strcmp(c->seen[i].host, host) == 0)
			break;
		if (c->seen[i].written_ms < c->seen[slot].written_ms)
			slot = i;
	}
	if (i == SEEN_CACHE) {
		i = slot;
		snprintf(c->seen[i].host, sizeof c->seen[i].host, "%s", host);
		force = true;
	}
	if (!force && now - c->seen[i].written_ms < SEEN_WRITE_MS)
		return;
	if (store_host_seen(c->store, host, NULL, address, now, &c->scratch) == 0)
		c->seen[i].written_ms = now;
}

void
ctl_on_agent(struct ctl *c, const char *host, const char *address, const struct proto_msg *m,
	     int64_t now)
{
	note_seen(c, host, address, now, m->type == PROTO_HELLO);
	switch (m->type) {
	case PROTO_HELLO: {
		uint64_t seq;
		char boot[80] = "";
		store_host_seq(c->store, host, &seq, boot, &c->scratch);
		if (strcmp(boot, m->hdr.boot_id) != 0)
			store_host_hello(c->store, host, m->hdr.boot_id,
					 json_string_value(json_object_get(m->body, "agent_version")),
					 &c->scratch);
		send_simple(c, host, PROTO_WELCOME, m->hdr.msg_id,
			    json_pack("{s:i}", "schema", PROTO_SCHEMA));
		break;
	}
	case PROTO_SNAPSHOT:
	case PROTO_DELTA:
		on_state(c, host, m, now);
		break;
	case PROTO_REPORT:
		store_host_set_resources(c->store, host, m->body, &c->scratch);
		break;
	case PROTO_EVENT:
		if (m->hdr.has_seq)
			send_simple(c, host, PROTO_ACK, m->hdr.msg_id,
				    json_pack("{s:I}", "seq", (json_int_t)m->hdr.seq));
		break;
	case PROTO_ACK:
		on_ack(c, host, m, now);
		break;
	case PROTO_RESULT:
		on_result(c, host, m, now);
		break;
	case PROTO_ERROR:
		on_error(c, host, m, now);
		break;
	case PROTO_PING:
		send_simple(c, host, PROTO_PONG, m->hdr.msg_id, json_object());
		break;
	default:
		/* WELCOME, COMMAND, RESYNC and PONG are ours to send; receiving one changes nothing */
		break;
	}
}

/* ---- API side ------------------------------------------------------------------------------ */

/* Journals a command and sends it at once when the host is connected. The journal row is
 * written as sent (the common case) and corrected when the send fails; it is written
 * before anything leaves, so a crash can never lose a command the agent runs. */
static int
queue_cmd(struct ctl *c, const char *host, const char *uuid, const char *command, json_t *args,
	  json_t *secrets, int64_t now, char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	struct store_cmd cmd = {.state = STORE_CMD_SENT, .attempts = 1, .created_ms = now,
				.deadline_ms = now + c->cfg.cmd_timeout_ms,
				.next_try_ms = now + c->cfg.retry_ms};
	char id[37];
	proto_uuid4(id);
	snprintf(cmd.cmd_id, sizeof cmd.cmd_id, "c-%s", id);
	snprintf(cmd.host_id, sizeof cmd.host_id, "%s", host);
	snprintf(cmd.uuid, sizeof cmd.uuid, "%s", uuid);
	snprintf(cmd.action, sizeof cmd.action, "%s", command);
	cmd.args = args;
	const char *k;
	json_t *v;
	char marker[80];
	json_object_foreach(secrets, k, v) {
		/* journaled without the value (protocol §10.3); kept in memory until the RESULT */
		json_object_del(args, k);
		snprintf(marker, sizeof marker, "%s_redacted", k);
		json_object_set_new(args, marker, json_true());
	}
	if (json_object_size(secrets) && secret_keep(c, cmd.cmd_id, secrets) < 0) {
		secret_drop(c, cmd.cmd_id);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	int r = store_cmd_insert(c->store, &cmd, err);
	if (r < 0) {
		secret_drop(c, cmd.cmd_id);
		return r;
	}
	if (send_cmd(c, &cmd) < 0)
		store_cmd_update(c->store, cmd.cmd_id, STORE_CMD_QUEUED, 0, now + c->cfg.retry_ms,
				 NULL, &c->scratch);
	snprintf(ret_cmd_id, PROTO_MAX_ID + 1, "%s", cmd.cmd_id);
	return 0;
}

/* A new server goes only to a host that says it is enabled (protocol §8.3): a disabled
 * host refuses every command until its hypervisor is back. */
static int
check_host_enabled(struct ctl *c, const char *host, struct hv_error *err)
{
	json_t *h = NULL;
	int r = store_host_get(c->store, host, &h, err);
	if (r < 0)
		return r;
	json_t *res = json_object_get(h, "resources");
	const char *status = str_or(res, "status", "enabled");
	if (strcmp(status, "disabled") == 0)
		r = hv_error_set(err, -EHOSTUNREACH, "host", "host '%s' is disabled (%s); create the "
				 "server on another host or when it is enabled again", host,
				 str_or(res, "disabled_reason", "no reason given"));
	json_decref(h);
	return r;
}

static int
check_host_up(struct ctl *c, const char *host, int64_t now, struct hv_error *err)
{
	int64_t seen = 0;
	if (store_host_last_seen(c->store, host, &seen, NULL) < 0)
		return hv_error_set(err, -ENOENT, "host",
				    "no host named '%s' has connected (see hv host list)", host);
	if (reg_state_at(seen, now, &c->cfg.liveness) == REG_DOWN)
		return hv_error_set(err, -EHOSTDOWN, "host",
				    "host '%s' is down (no report for %lld s)", host,
				    (long long)((now - seen) / 1000));
	return 0;
}

/* The protocol flavor (§6.4) from the API's args.flavor {vcpus, ram, disk, ephemeral?,
 * swap?} and args.properties (its extra specs). */
static int
flavor_from_args(json_t *args, json_t **ret, struct hv_error *err)
{
	json_t *flavor, *props = NULL;
	int64_t vcpus, ram, disk, eph = 0, swap = 0;
	int r;
	if ((r = hj_obj(args, "args", "flavor", HJ_REQUIRED, &flavor, err)) < 0 ||
	    (r = hj_int(flavor, "args.flavor", "vcpus", HJ_REQUIRED, 1, 1024, &vcpus, err)) < 0 ||
	    (r = hj_int(flavor, "args.flavor", "ram", HJ_REQUIRED, 1, 16777216, &ram, err)) < 0 ||
	    (r = hj_int(flavor, "args.flavor", "disk", HJ_REQUIRED, 0, 65536, &disk, err)) < 0 ||
	    (r = hj_int(flavor, "args.flavor", "ephemeral", HJ_OPTIONAL, 0, 65536, &eph, err)) < 0 ||
	    (r = hj_int(flavor, "args.flavor", "swap", HJ_OPTIONAL, 0, 1048576, &swap, err)) < 0 ||
	    (r = hj_obj(args, "args", "properties", HJ_OPTIONAL, &props, err)) < 0)
		return r;
	struct hvd_kv *kv = NULL;
	size_t n_kv = 0;
	if (props && (r = hj_str_map(args, "args", "properties", HJ_OPTIONAL, 128, 255, 255, &kv,
				     &n_kv, err)) < 0)
		return r;
	free(kv);
	char fname[64];
	snprintf(fname, sizeof fname, "custom-%lld-%lld-%lld", (long long)vcpus, (long long)ram,
		 (long long)disk);
	*ret = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", fname,
			 "vcpus", (json_int_t)vcpus, "ram_mb", (json_int_t)ram,
			 "root_gb", (json_int_t)disk, "ephemeral_gb", (json_int_t)eph,
			 "swap_mb", (json_int_t)swap, "extra_specs",
			 props ? json_incref(props) : json_object());
	return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}

/* The protocol image object for the image id at args.<key> with args.image_format (the
 * format the host's image store recorded; default qcow2) and args.image_properties
 * (hvcentral keeps no image catalog: the properties an image needs, such as
 * hw_qemu_guest_agent, come with the command); absent optional: *ret NULL. */
static int
image_from_args(json_t *args, const char *key, int flags, json_t **ret, struct hv_error *err)
{
	const char *id = NULL;
	json_t *props = NULL;
	char field[32];
	int r = hj_str(args, "args", key, flags, PROTO_MAX_ID, &id, err);
	*ret = NULL;
	if (r <= 0)
		return r;
	snprintf(field, sizeof field, "args.%s", key);
	if (!proto_id_valid(id))
		return hv_error_set(err, -EINVAL, field,
				    "%s: not an image id (1-64 of A-Z a-z 0-9 . _ : -)", field);
	const char *format = "qcow2";
	if ((r = hj_enum(args, "args", "image_format", HJ_OPTIONAL, "qcow2|raw", &format, err)) < 0 ||
	    (r = hj_obj(args, "args", "image_properties", HJ_OPTIONAL, &props, err)) < 0)
		return r;
	if (props) {
		struct hvd_kv *kv = NULL;
		size_t n_kv = 0;
		if ((r = hj_str_map(args, "args", "image_properties", HJ_OPTIONAL, 128, 255, 255,
				    &kv, &n_kv, err)) < 0)
			return r;
		free(kv);
	}
	*ret = json_pack("{s:s, s:s, s:o}", "id", id, "format", format, "properties",
			 props ? json_deep_copy(props) : json_object());
	return 1;
}

/* Whether user data is base64 by the agent's rule, libsodium's: the standard alphabet,
 * '=' padding (length a multiple of 4), zero unused bits, no whitespace. Decoded into a
 * scratch buffer, wiped after: user data is a secret field. */
static bool
base64_text(const char *s)
{
	size_t n = strlen(s), len = 0;
	const char *end = NULL;
	if (n % 4)
		return false;
	if (n == 0)
		return true;
	unsigned char *bin = malloc(n / 4 * 3);
	if (!bin)
		return false;
	int r = sodium_base642bin(bin, n / 4 * 3, s, n, NULL, &len, &end,
				  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(bin, n / 4 * 3);
	free(bin);
	return r == 0 && end == s + n;
}

/* Copies the optional identity fields a spawn or rebuild may carry (protocol §6.4) into
 * body, and the secret ones (admin_pass, user_data) into secrets. */
static int
identity_from_args(json_t *args, bool spawn, json_t *body, json_t *secrets, struct hv_error *err)
{
	const char *key = NULL, *pass = NULL, *user_data = NULL;
	bool drive = false;
	int r;
	if ((r = hj_str(args, "args", "key_data", HJ_OPTIONAL, 8192, &key, err)) < 0 ||
	    (r = hj_str(args, "args", "admin_pass", HJ_OPTIONAL, 255, &pass, err)) < 0)
		return r;
	if (spawn && ((r = hj_str(args, "args", "user_data", HJ_OPTIONAL, 87384, &user_data,
				  err)) < 0 ||
		      (r = hj_bool(args, "args", "config_drive", HJ_OPTIONAL, &drive, err)) < 0))
		return r;
	if (key && (!*key || (strncmp(key, "ssh-", 4) != 0 && strncmp(key, "ecdsa-", 6) != 0 &&
				  strncmp(key, "sk-", 3) != 0)))
		return hv_error_set(err, -EINVAL, "args.key_data",
				    "args.key_data: not an OpenSSH public key line (ssh-ed25519 AAAA...)");
	if (user_data && !base64_text(user_data))
		return hv_error_set(err, -EINVAL, "args.user_data", "args.user_data: not base64");
	if (key)
		json_object_set_new(body, "key_data", json_string(key));
	if (pass)
		json_object_set_new(secrets, "admin_pass", json_string(pass));
	if (user_data)
		json_object_set_new(secrets, "user_data", json_string(user_data));
	if (spawn)
		json_object_set_new(body, "config_drive", json_boolean(drive));
	return 0;
}

/* The guest's hostname from the server's display name, as nova derives it: lower case,
 * spaces, dots and underscores become '-', anything else outside [a-z0-9-] is dropped,
 * no '-' at either end, at most 63 bytes. "" when nothing is left (the host then uses its
 * documented default). */
static void
hostname_from_name(const char *name, char out[64])
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && n < 63; p++) {
		unsigned char ch = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p - 'A' + 'a') : *p;
		if (ch == ' ' || ch == '.' || ch == '_')
			ch = '-';
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch == '-' && n > 0))
			out[n++] = (char)ch;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

int
ctl_server_create(struct ctl *c, json_t *args, int64_t now, json_t **ret_instance,
		  char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	const char *name, *host, *image;
	json_t *pflavor = NULL, *pimage = NULL;
	int r;

	if ((r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = hj_str(args, "args", "host", HJ_REQUIRED, PROTO_MAX_ID, &host, err)) < 0 ||
	    (r = image_from_args(args, "image", HJ_REQUIRED, &pimage, err)) < 0)
		return r;
	image = json_string_value(json_object_get(args, "image"));
	if (!*name) {
		json_decref(pimage);
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	}
	if (!proto_id_valid(host)) {
		json_decref(pimage);
		return hv_error_set(err, -EINVAL, "args.host", "args.host: not a host id");
	}
	const char *project = NULL;
	if ((r = hj_str(args, "args", "project", HJ_OPTIONAL, PROTO_MAX_ID, &project, err)) < 0 ||
	    (project && !proto_id_valid(project))) {
		json_decref(pimage);
		return r < 0 ? r : hv_error_set(err, -EINVAL, "args.project",
						"args.project: not a project id (1-64 of A-Z a-z 0-9 . _ : -)");
	}
	json_t *spawn = json_object(), *secrets = json_object();
	json_object_set_new(spawn, "image", pimage);
	if (project) /* the owner: the host injects only one project's disks in a batch */
		json_object_set_new(spawn, "project_id", json_string(project));
	if ((r = flavor_from_args(args, &pflavor, err)) < 0 ||
	    (r = identity_from_args(args, true, spawn, secrets, err)) < 0 ||
	    (r = check_host_up(c, host, now, err)) < 0 ||
	    (r = check_host_enabled(c, host, err)) < 0) {
		json_decref(pflavor);
		json_decref(spawn);
		wipe_fields(secrets);
		return r;
	}

	char uuid[37];
	proto_uuid4(uuid);
	json_t *inst = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:n, s:I, s:I}",
				 "uuid", uuid, "name", name, "host", host, "image", image,
				 "flavor", pflavor,
				 "properties", json_object_get(pflavor, "extra_specs"),
				 "vm_state", "building", "task_state", "spawning",
				 "power_state", "nostate", "fault", "created_ms", (json_int_t)now,
				 "updated_ms", (json_int_t)now);
	r = store_instance_insert(c->store, inst, now, err);
	if (r < 0) {
		json_decref(inst);
		json_decref(pflavor);
		json_decref(spawn);
		wipe_fields(secrets);
		if (r == -EEXIST)
			return hv_error_set(err, -EEXIST, "args.name",
					    "args.name: a server named '%s' already exists", name);
		return r;
	}
	json_t *base = json_pack("{s:s, s:o, s:b}", "name", name, "flavor", pflavor, "power_on", 1);
	json_object_update(spawn, base);
	json_decref(base);
	char hostname[64];
	hostname_from_name(name, hostname);
	if (*hostname)
		json_object_set_new(spawn, "hostname", json_string(hostname));
	r = queue_cmd(c, host, uuid, "spawn", spawn, secrets, now, ret_cmd_id, err);
	json_decref(spawn);
	wipe_fields(secrets);
	if (r < 0) {
		json_decref(inst);
		return r;
	}
	*ret_instance = inst; /* the row just written, as store_instance_get would read it */
	return 0;
}

/* A snapshot's image id: the name's id-safe characters and 8 random hex digits, so the
 * file in the image store says what it is. */
static void
snapshot_image_id(const char *name, char ret[PROTO_MAX_ID + 1])
{
	char u[37];
	size_t n = 0;
	proto_uuid4(u);
	for (const char *p = name; *p && n < PROTO_MAX_ID - 9; p++) {
		unsigned char ch = (unsigned char)*p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		ret[n++] = ok ? (char)ch : '_';
	}
	if (n && ret[0] == '.')
		ret[0] = '_'; /* never a hidden file */
	snprintf(ret + n, PROTO_MAX_ID + 1 - n, "%s%.8s", n ? "-" : "snap-", u);
}

/* The protocol body of an action (docs/protocol.md §6.4) from the API args; secret fields
 * go to secrets, what the caller should see at once (a snapshot's new image, as "image_snapshot") to
 * ret_extra. */
static int
action_body(const char *command, bool hard, json_t *args, json_t *body, json_t *secrets,
	    json_t **ret_extra, struct hv_error *err)
{
	json_t *o = NULL;
	const char *v = NULL;
	int r = 0;
	if (strcmp(command, "reboot") == 0) {
		json_object_set_new(body, "type", json_string(hard ? "hard" : "soft"));
	} else if (strcmp(command, "resize") == 0) {
		if ((r = flavor_from_args(args, &o, err)) < 0)
			return r;
		json_object_set_new(body, "flavor", o);
	} else if (strcmp(command, "rebuild") == 0 || strcmp(command, "rescue") == 0) {
		bool rebuild = command[2] == 'b';
		if ((r = image_from_args(args, "image", rebuild ? HJ_REQUIRED : HJ_OPTIONAL, &o,
					 err)) < 0)
			return r;
		if (o)
			json_object_set_new(body, "image", o);
		if (rebuild && (r = identity_from_args(args, false, body, secrets, err)) < 0)
			return r;
	} else if (strcmp(command, "snapshot") == 0) {
		char id[PROTO_MAX_ID + 1];
		if ((r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &v, err)) < 0)
			return r;
		if (!*v)
			return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
		snapshot_image_id(v, id);
		json_object_set_new(body, "image_id", json_string(id));
		json_object_set_new(body, "format", json_string("qcow2"));
		*ret_extra = json_pack("{s:{s:s, s:s, s:s}}", "image_snapshot", "id", id, "name", v,
				       "format", "qcow2");
	} else if (strcmp(command, "get_console") == 0) {
		v = "vnc";
		if ((r = hj_enum(args, "args", "type", HJ_OPTIONAL, "vnc|serial", &v, err)) < 0)
			return r;
		json_object_set_new(body, "type", json_string(v));
	} else if (strcmp(command, "set_admin_password") == 0) {
		const char *user = NULL;
		if ((r = hj_str(args, "args", "password", HJ_REQUIRED, 255, &v, err)) < 0 ||
		    (r = hj_str(args, "args", "user", HJ_OPTIONAL, 32, &user, err)) < 0)
			return r;
		if (!*v)
			return hv_error_set(err, -EINVAL, "args.password",
					    "args.password: must not be empty");
		if (user && (!*user || strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
					       strlen(user) || !strchr("abcdefghijklmnopqrstuvwxyz_",
								       user[0])))
			return hv_error_set(err, -EINVAL, "args.user",
					    "args.user: 1-32 of [a-z_][a-z0-9_-]");
		json_object_set_new(secrets, "password", json_string(v));
		if (user)
			json_object_set_new(body, "user", json_string(user));
	}
	return 0;
}

int
ctl_server_command(struct ctl *c, const char *server, const char *action, bool hard,
		   json_t *args, int64_t now, json_t **ret_instance,
		   char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	int cmd = action_cmd(action);
	if (cmd < 0)
		return hv_error_set(err, -EINVAL, "args.action",
				    "args.action: '%s' is not an action (see docs/api.md)", action);
	json_t *inst = NULL, *body = json_object(), *secrets = json_object(), *extra = NULL;
	int r = store_instance_get(c->store, server, &inst, err);
	if (r < 0)
		goto out;
	const char *uuid = json_string_value(json_object_get(inst, "uuid"));
	const char *host = json_string_value(json_object_get(inst, "host"));
	const char *vm = json_string_value(json_object_get(inst, "vm_state"));
	const char *task = ctl_task_for(action, hard), *command = lc_cmd_name((enum lc_cmd)cmd);
	char u[37], h[PROTO_MAX_ID + 1];
	snprintf(u, sizeof u, "%s", uuid);
	snprintf(h, sizeof h, "%s", host);

	if (strcmp(vm, "deleted") == 0) {
		r = hv_error_set(err, -ENOENT, "server", "server %s is deleted", server);
		goto out;
	}
	/* read-only commands (get_console) run beside a task, as on the agent */
	if (task && store_cmd_inflight_for(c->store, u, err) > 0) {
		const char *now_task = json_string_value(json_object_get(inst, "task_state"));
		r = hv_error_set(err, -EBUSY, "server", "server %s has a task in flight (%s); retry "
				 "when task_state is empty", server,
				 now_task && *now_task ? now_task : "queued");
		goto out;
	}
	if (!ctl_action_allowed(action, hard, vm)) {
		char from[128];
		lc_allowed_text((enum lc_cmd)cmd, hard, from, sizeof from);
		r = hv_error_set(err, -EPERM, "server", "cannot %s%s server %s while it is %s "
				 "(allowed from: %s)", hard ? "hard " : "", action, server, vm, from);
		goto out;
	}
	if ((r = action_body(command, hard, args, body, secrets, &extra, err)) < 0 ||
	    (r = check_host_up(c, h, now, err)) < 0)
		goto out;
	if (task)
		store_instance_set_state(c->store, u, NULL, task, NULL, NULL, now, err);
	r = queue_cmd(c, h, u, command, body, secrets, now, ret_cmd_id, err);
	if (r < 0)
		goto out;
	if (task)
		json_object_set_new(inst, "task_state", json_string(task));
	json_object_set_new(inst, "updated_ms", json_integer(now));
	if (extra)
		json_object_update(inst, extra);
	*ret_instance = inst;
	inst = NULL;
out:
	json_decref(inst);
	json_decref(body);
	json_decref(extra);
	wipe_fields(secrets);
	return r;
}

int
ctl_server_action(struct ctl *c, const char *server, const char *action, bool hard, int64_t now,
		  json_t **ret_instance, char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	json_t *args = json_object();
	int r = ctl_server_command(c, server, action, hard, args, now, ret_instance, ret_cmd_id, err);
	json_decref(args);
	return r;
}

int
ctl_console_log(struct ctl *c, const char *server, int64_t max_bytes, int64_t now,
		char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	json_t *inst = NULL;
	int r = store_instance_get(c->store, server, &inst, err);
	if (r < 0)
		return r;
	char u[37], h[PROTO_MAX_ID + 1];
	snprintf(u, sizeof u, "%s", json_string_value(json_object_get(inst, "uuid")));
	snprintf(h, sizeof h, "%s", json_string_value(json_object_get(inst, "host")));
	const char *vm = json_string_value(json_object_get(inst, "vm_state"));
	if (strcmp(vm, "building") == 0 || strcmp(vm, "deleted") == 0)
		r = hv_error_set(err, -EPERM, "server", "server %s is %s: no console yet", server, vm);
	json_decref(inst);
	if (r < 0 || (r = check_host_up(c, h, now, err)) < 0)
		return r;
	json_t *args = json_pack("{s:I}", "max_bytes", (json_int_t)max_bytes);
	r = queue_cmd(c, h, u, "console_log", args, NULL, now, ret_cmd_id, err);
	json_decref(args);
	return r;
}

/* state: liveness as seen here; status and disabled_reason: what the host last said of
 * itself (protocol §8.3), null before its first report */
static void
decorate_host(struct ctl *c, json_t *h, int64_t now)
{
	int64_t seen = json_integer_value(json_object_get(h, "last_seen_ms"));
	json_t *res = json_object_get(h, "resources");
	const char *status = str_or(res, "status", NULL), *why = str_or(res, "disabled_reason", NULL);
	json_object_set_new(h, "state",
			    json_string(reg_state_name(reg_state_at(seen, now, &c->cfg.liveness))));
	json_object_set_new(h, "seen_ago_ms", seen > 0 ? json_integer(now - seen) : json_null());
	if (!status && json_object_size(res))
		status = "enabled"; /* an agent older than the field */
	json_object_set_new(h, "status", status ? json_string(status) : json_null());
	json_object_set_new(h, "disabled_reason",
			    status && strcmp(status, "disabled") == 0 && why ? json_string(why)
									    : json_null());
}

int
ctl_host_list(struct ctl *c, const json_t *allowlist, const json_t *pending, int64_t now,
	      json_t **ret, struct hv_error *err)
{
	json_t *hosts = NULL;
	int r = store_host_list(c->store, &hosts, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *h;
	json_array_foreach(hosts, i, h)
		decorate_host(c, h, now);
	/* allowed hosts that never connected yet */
	json_array_foreach(allowlist, i, h) {
		const char *id = json_string_value(json_object_get(h, "host_id"));
		bool known = false;
		size_t k;
		json_t *x;
		json_array_foreach(hosts, k, x) {
			if (strcmp(json_string_value(json_object_get(x, "host_id")), id) == 0) {
				known = true;
				/* the allowlist holds the key the host authenticates with */
				json_object_set(x, "public_key", json_object_get(h, "public_key"));
			}
		}
		if (!known)
			json_array_append_new(hosts, json_pack("{s:s, s:O, s:s, s:n, s:{}, s:n, s:n}",
							       "host_id", id,
							       "public_key", json_object_get(h, "public_key"),
							       "state", "down", "seen_ago_ms", "resources",
							       "status", "disabled_reason"));
	}
	json_array_foreach(pending, i, h) {
		json_t *p = json_deep_copy(h);
		json_object_set_new(p, "host_id", json_null());
		json_object_set_new(p, "state", json_string("pending"));
		json_object_set_new(p, "seen_ago_ms",
				    json_integer(now - json_integer_value(json_object_get(h, "last_seen_ms"))));
		json_array_append_new(hosts, p);
	}
	*ret = hosts;
	return 0;
}

int
ctl_host_show(struct ctl *c, const char *host, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *h = NULL;
	int r = store_host_get(c->store, host, &h, err);
	if (r < 0)
		return r;
	decorate_host(c, h, now);
	json_t *insts = NULL;
	if (store_instance_list(c->store, host, false, &insts, err) == 0)
		json_object_set_new(h, "instances", json_integer((json_int_t)json_array_size(insts)));
	json_decref(insts);
	*ret = h;
	return 0;
}
