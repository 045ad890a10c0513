/* journal.c - the command journal and its routing: every command is written to the store
 * before it is sent, resent with the same cmd_id until the agent answers, and failed when
 * its deadline passes unanswered; it goes only to the host it names. Two things live in
 * memory only: the map from a sent COMMAND's msg_id to its cmd_id, needed to read an
 * ERROR's corr_id (after a restart the resent command gets the agent's stored answer
 * again), and the secrets of open commands (protocol §10.3): the journal keeps each command
 * with its secret fields replaced by "<field>_redacted": true, so a password never reaches
 * the database file. Must never decide whether a command is allowed (the service layer
 * does) and never logs. */
#include "ctl-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "vec.h"

#define SENT_RING 8192
#define DUE_BATCH 256

void
ctl_config_default(struct ctl_config *cfg)
{
	reg_intervals_default(&cfg->liveness);
	cfg->cmd_timeout_ms = 120000;
	cfg->retry_ms = 2000;
	cfg->acked_retry_ms = 15000;
	cfg->host_cmd_max_age_ms = 7 * 86400 * 1000LL;
}

int
ctl_new(struct store *store, const struct ctl_config *cfg, ctl_send_fn send, ctl_done_fn done,
	void *cb_ctx, struct ctl **ret, struct hv_error *err)
{
	struct ctl *c = calloc(1, sizeof *c);
	if (c) {
		c->ring = calloc(SENT_RING, sizeof *c->ring);
		c->seen_at = json_object();
	}
	if (!c || !c->ring || !c->seen_at) {
		if (c) {
			free(c->ring);
			json_decref(c->seen_at);
		}
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

void
ctl_secrets_free(json_t *fields)
{
	const char *k;
	json_t *v;
	json_object_foreach (fields, k, v)
		hj_wipe_string(v);
	json_decref(fields);
}

void
ctl_set_config(struct ctl *c, const struct ctl_config *cfg)
{
	c->cfg = *cfg;
}

void
ctl_set_placer(struct ctl *c, ctl_place_fn fn, void *ctx)
{
	c->place = fn;
	c->place_ctx = ctx;
}

void
ctl_set_host_known(struct ctl *c, ctl_known_fn fn, void *ctx)
{
	c->known = fn;
	c->known_ctx = ctx;
}

void
ctl_set_host_watch(struct ctl *c, ctl_host_fn fn, void *ctx)
{
	c->watch = fn;
	c->watch_ctx = ctx;
}

void
ctl_free(struct ctl *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_sec; i++)
		ctl_secrets_free(c->sec[i].fields);
	free(c->sec);
	free(c->ring);
	free(c->seen);
	json_decref(c->seen_at);
	free(c->pulls);
	free(c);
}

static void
remember_sent(struct ctl *c, const char *msg_id, const char *cmd_id)
{
	struct sent *s = &c->ring[c->ring_pos++ % SENT_RING];
	snprintf(s->msg_id, sizeof s->msg_id, "%s", msg_id);
	snprintf(s->cmd_id, sizeof s->cmd_id, "%s", cmd_id);
}

const char *
ctl_cmd_for_msg(struct ctl *c, const char *msg_id)
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
	ctl_secrets_free(s->fields);
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
	json_object_foreach (body, k, v) {
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
		json_object_set_new(body, fields[i],
				    json_stringn(json_string_value(val), json_string_length(val)));
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
	json_object_foreach (body, k, v)
		hj_wipe_string(v);
	json_decref(body);
	if (r == 0)
		remember_sent(c, m.hdr.msg_id, cmd->cmd_id);
	return r;
}

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
		snprintf(msg, sizeof msg,
			 "hvcentral restarted before host %s accepted this %s; its "
			 "secret fields were kept in memory only and are gone: run it again",
			 cmd->host_id, cmd->action);
		json_t *e = json_pack("{s:s, s:s}", "code", "interrupted", "message", msg);
		ctl_undo_task(c, cmd, msg, now);
		ctl_finish(c, cmd, false, e);
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
void
ctl_finish(struct ctl *c, const struct store_cmd *cmd, bool ok, json_t *result)
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
void
ctl_undo_task(struct ctl *c, const struct store_cmd *cmd, const char *why, int64_t now)
{
	bool spawn = strcmp(cmd->action, "spawn") == 0;
	store_instance_set_state(c->store, cmd->uuid, spawn ? "error" : NULL, "", NULL,
				 spawn ? why : NULL, now, &c->scratch);
}

/* Whether a firewall command (no instance, no deadline) will never reach its host: the
 * host left the allowlist, or it has been away longer than the operator keeps changes
 * for it. The reason, naming the host, in ret_why. An acknowledged one is running there:
 * its RESULT will come. */
static bool
host_cmd_stale(struct ctl *c, const struct store_cmd *cmd, int64_t now, char ret_why[200])
{
	if (cmd->uuid[0] || cmd->deadline_ms || cmd->state == STORE_CMD_ACKED)
		return false;
	if (c->known && !c->known(c->known_ctx, cmd->host_id)) {
		snprintf(ret_why, 200,
			 "host %s is no longer in the allowlist: its firewall command is dropped",
			 cmd->host_id);
		return true;
	}
	int64_t age = c->cfg.host_cmd_max_age_ms;
	if (age > 0 && now - cmd->created_ms >= age) {
		snprintf(ret_why, 200,
			 "host %s did not take its firewall command for %lld s "
			 "([commands] firewall_max_age): dropped",
			 cmd->host_id, (long long)((now - cmd->created_ms) / 1000));
		return true;
	}
	return false;
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
		char msg[200];
		if (cmd->state != STORE_CMD_ACKED && cmd->deadline_ms && now >= cmd->deadline_ms) {
			snprintf(msg, sizeof msg,
				 "host %s did not accept the command before its deadline",
				 cmd->host_id);
			json_t *e = json_pack("{s:s, s:s}", "code", "expired", "message", msg);
			ctl_undo_task(c, cmd, msg, now);
			ctl_finish(c, cmd, false, e);
			json_decref(e);
		} else if (host_cmd_stale(c, cmd, now, msg)) {
			json_t *e = json_pack("{s:s, s:s}", "code", "expired", "message", msg);
			ctl_finish(c, cmd, false, e);
			json_decref(e);
		} else {
			dispatch(c, cmd, now);
		}
		store_cmd_clear(cmd);
	}
	ctl_pull_tick(c, now);
	return n == DUE_BATCH ? 0 : 200;
}

/* Journals a command and sends it at once when the host is connected. The journal row is
 * written as sent (the common case) and corrected when the send fails; it is written
 * before anything leaves, so a crash can never lose a command the agent runs. */
/* deadline_ms 0: none (resent until acknowledged). */
static int
queue(struct ctl *c, const char *host, const char *uuid, const char *command, json_t *args,
      json_t *secrets, int64_t now, int64_t deadline_ms, char ret_cmd_id[PROTO_MAX_ID + 1],
      struct hv_error *err)
{
	struct store_cmd cmd = {.state = STORE_CMD_SENT,
				.attempts = 1,
				.created_ms = now,
				.deadline_ms = deadline_ms,
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
	json_object_foreach (secrets, k, v) {
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

int
ctl_queue(struct ctl *c, const char *host, const char *uuid, const char *command, json_t *args,
	  json_t *secrets, int64_t now, char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	return queue(c, host, uuid, command, args, secrets, now, now + c->cfg.cmd_timeout_ms,
		     ret_cmd_id, err);
}

int
ctl_queue_leftover_destroy(struct ctl *c, const char *host, const char *uuid, bool delete_disks,
			   int64_t now)
{
	char id[PROTO_MAX_ID + 1];
	json_t *args = json_pack("{s:b}", "delete_disks", delete_disks);
	int r = args ? queue(c, host, uuid, "destroy", args, NULL, now, 0, id, &c->scratch)
		     : -ENOMEM;
	json_decref(args);
	return r;
}

int
ctl_queue_host(struct ctl *c, const char *host, const char *command, json_t *args, int64_t now,
	       char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	return queue(c, host, "", command, args, NULL, now, 0, ret_cmd_id, err);
}
