/* outbox.c - everything the agent sends: the group commit (a loop turn's journal writes
 * committed once, then its messages sent and its jobs started), events kept until
 * acknowledged, and the end of a command (its RESULT body, the journal entry, the
 * instance's new state). Runs on the loop thread only. Must never send an answer the
 * journal does not hold yet, and never let a secret reach the journal. */
#include "agent-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "fault.h"
#include "json.h"
#include "log.h"
#include "vec.h"

int
agent_send(struct agent *a, enum proto_type type, const char *corr_id, bool with_seq,
	   json_t *body /* stolen */)
{
	struct proto_msg m = {.type = type, .body = body};
	struct hv_error err = {0};
	int r;

	proto_header_init(&m.hdr, a->host_id, a->boot_id);
	if (corr_id && *corr_id)
		snprintf(m.hdr.corr_id, sizeof m.hdr.corr_id, "%s", corr_id);
	if (with_seq) {
		m.hdr.has_seq = true;
		m.hdr.seq = a->seq;
	}
	if (!a->dealer) {
		json_decref(body);
		return -ENOTCONN;
	}
	if (journal_in_batch(a->jn)) { /* sent once the batch is durable: batch_end */
		if (HV_GROW(a->held_msgs, a->cap_held_msgs, a->n_held_msgs + 1) < 0) {
			json_decref(body);
			return -ENOMEM;
		}
		a->held_msgs[a->n_held_msgs++] = m;
		return 0;
	}
	r = proto_send(a->dealer, NULL, &m, ZMQ_DONTWAIT, &err);
	if (r < 0)
		hv_log(r == -EAGAIN ? HV_LOG_DEBUG : HV_LOG_WARNING, NULL, NULL,
		       "not sent: %s type=%s", err.message, proto_type_name(type));
	else
		a->last_tx_ms = agent_mono_ms();
	json_decref(body);
	return r;
}

void
agent_batch_begin(struct agent *a)
{
	struct hv_error err = {0};

	/* when it fails, every write commits (and is fsync'd) on its own, as outside a batch */
	if (journal_batch_begin(a->jn, &err) < 0)
		hv_log(HV_LOG_WARNING, NULL, NULL, "journal: %s", err.message);
}

static void
finish_free(struct finish *f)
{
	json_decref(f->result);
	json_decref(f->journaled);
	json_decref(f->inst);
	json_decref(f->net_state);
}

/* An accepted job is durable and acknowledged from here: logged, then (fault point
 * COMMAND_accepted) handed to its workers. */
static void
log_accepted(const struct job *j)
{
	const char *command = NULL;

	if (j->kind == JOB_CMD) {
		command = inst_cmd_name(j->req.cmd);
		hv_log(HV_LOG_INFO, j->req.uuid, j->cmd_id, "%s accepted", command);
	} else if (j->kind == JOB_NET) {
		command = json_string_value(json_object_get(j->net_body, "command"));
		hv_log(HV_LOG_INFO, NULL, j->cmd_id, "%s accepted", command);
	}
	hv_fault_at(command, "accepted");
}

/* Fault point COMMAND_journaled: f's RESULT is durable and not yet sent. */
static void
fault_journaled(const struct finish *f)
{
	hv_fault_at(json_string_value(json_object_get(f->result, "command")), "journaled");
}

static void
send_busy(struct agent *a, const char *corr_id)
{
	struct hv_error err = {0};

	hv_error_set(&err, -ENOSPC, NULL,
		     "%s: the command was not accepted (not journaled); retry when the journal "
		     "can be written",
		     a->jn_error.message);
	agent_send(a, PROTO_ERROR, corr_id, false, proto_error_body(PROTO_E_BUSY, &err));
}

void
agent_refuse_journal_down(struct agent *a, const struct proto_msg *m)
{
	/* not logged per command: agent_journal_down logged the state change once */
	hv_log(HV_LOG_DEBUG, NULL, m->hdr.cmd_id, "refused busy: the journal cannot be written");
	send_busy(a, m->hdr.msg_id);
}

/* A command whose acceptance was in a batch that never became durable: its job never
 * starts, the instance table forgets it, the controller hears busy (it may send it again,
 * under the same cmd_id, once the journal can be written). */
static void
unaccept(struct agent *a, struct job *j)
{
	struct inst *in = j->kind == JOB_CMD ? agent_find_inst(a, j->req.uuid) : NULL;

	if (in && strcmp(in->cmd_id, j->cmd_id) == 0) {
		if (j->req.cmd == CMD_SPAWN) { /* created by this command: never existed */
			for (size_t i = 0; i < a->n_insts; i++)
				if (a->insts[i] == in)
					a->insts[i] = a->insts[--a->n_insts];
			inst_free(in);
		} else {
			in->task = TASK_NONE;
			in->cmd_id[0] = '\0';
			agent_touch(a, in);
		}
	}
	if (j->kind == JOB_CMD || j->kind == JOB_NET)
		send_busy(a, j->corr_id);
	agent_job_free(j);
}

void
agent_journal_down(struct agent *a, const struct hv_error *err)
{
	a->jn_error = *err;
	if (a->jn_down)
		return;
	a->jn_down = true;
	a->next_jn_retry_ms = agent_mono_ms() + JOURNAL_RETRY_MS;
	hv_log(HV_LOG_ERR, NULL, NULL,
	       "%s; refusing new commands (busy) until the journal can be written again (retried "
	       "every %d ms); reads, heartbeats, reports and the firewall go on",
	       err->message, JOURNAL_RETRY_MS);
}

/* Commits the loop turn's journal writes in one transaction (one fsync), then sends what
 * was answered and starts what was accepted, in order. If the commit fails (a full disk)
 * nothing it acknowledged or answered leaves: accepted commands are refused busy and
 * undone, finished ones wait for agent_journal_retry; the rest (errors, reports, events)
 * is sent. */
int
agent_batch_end(struct agent *a)
{
	struct hv_error err = {0};
	struct timespec t0;
	int r;
	size_t k = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = journal_batch_commit(a->jn, &err);
	if (a->n_fins) /* the turns that finished something: an idle turn commits nothing */
		agent_metrics_commit(a, (int64_t)t0.tv_sec * 1000000000 + t0.tv_nsec);
	if (r < 0)
		agent_journal_down(a, &err);
	for (size_t i = 0; i < a->n_fins && r == 0; i++)
		if (a->fins[i].written)
			fault_journaled(&a->fins[i]);
	for (size_t i = 0; i < a->n_fins; i++) {
		if (a->fins[i].written && r == 0) {
			finish_free(&a->fins[i]);
			continue;
		}
		a->fins[i].written = false;
		a->fins[k++] = a->fins[i];
	}
	a->n_fins = k;
	for (size_t i = 0; i < a->n_held_msgs; i++) {
		struct proto_msg *m = &a->held_msgs[i];
		bool durable_only = m->type == PROTO_ACK || m->type == PROTO_RESULT;

		if ((r == 0 || !durable_only) && a->dealer) {
			int s = proto_send(a->dealer, NULL, m, ZMQ_DONTWAIT, &err);

			if (s < 0)
				hv_log(s == -EAGAIN ? HV_LOG_DEBUG : HV_LOG_WARNING, NULL, NULL,
				       "not sent: %s type=%s", err.message,
				       proto_type_name(m->type));
			else
				a->last_tx_ms = agent_mono_ms();
		}
		json_decref(m->body);
	}
	a->n_held_msgs = 0;
	for (size_t i = 0; i < a->n_held_jobs; i++) {
		if (r == 0) {
			log_accepted(a->held_jobs[i].j);
			agent_queue_push(a->held_jobs[i].q, a->held_jobs[i].j);
		} else {
			unaccept(a, a->held_jobs[i].j);
		}
	}
	a->n_held_jobs = 0;
	return r;
}

/* The journal writes of one finish: one transaction, or a savepoint inside the batch. */
static int
write_finish(struct agent *a, const struct finish *f, struct hv_error *err)
{
	const char *command = json_string_value(json_object_get(f->journaled, "command"));
	int r;

	if ((r = journal_begin(a->jn, err)) < 0)
		return r;
	if (f->removed)
		r = journal_inst_delete(a->jn, f->uuid, err);
	else if (f->inst)
		r = journal_inst_put(a->jn, f->uuid, f->inst, err);
	if (r >= 0 && f->net_state)
		r = journal_meta_put(a->jn, "netfilter_state", f->net_state, err);
	if (r >= 0)
		r = journal_cmd_finish(a->jn, f->cmd_id, f->journaled, err);
	if (r == -ENOENT) /* its acceptance was in a batch lost with a full disk */
		r = journal_cmd_accept(a->jn, f->cmd_id, command ? command : "", f->uuid, NULL,
				       err) < 0
			    ? -EIO
			    : journal_cmd_finish(a->jn, f->cmd_id, f->journaled, err);
	if (r < 0) {
		journal_rollback(a->jn);
		return r;
	}
	return journal_commit(a->jn, err);
}

/* Journals a finish and sends its RESULT once durable: now, at the batch's commit, or at
 * a retry when the journal cannot be written. f is taken over. */
static void
finish_commit(struct agent *a, struct finish *f)
{
	struct hv_error err = {0};
	bool batch = journal_in_batch(a->jn);
	int r = write_finish(a, f, &err);

	if (r < 0)
		agent_journal_down(a, &err);
	if (r >= 0 && !batch)
		fault_journaled(f);
	if (r >= 0 && a->session)
		agent_send(a, PROTO_RESULT, f->corr_id, false, json_incref(f->result));
	if (r >= 0 && !batch) {
		finish_free(f);
		return;
	}
	f->written = r >= 0;
	if (HV_GROW(a->fins, a->cap_fins, a->n_fins + 1) < 0) {
		hv_log(HV_LOG_ERR, f->uuid, f->cmd_id, "out of memory keeping a RESULT");
		finish_free(f);
		return;
	}
	a->fins[a->n_fins++] = *f;
}

void
agent_drop_unsaved(struct agent *a)
{
	if (a->n_fins)
		hv_log(HV_LOG_WARNING, NULL, NULL,
		       "%zu result(s) never journaled (%s): the next start answers their commands "
		       "as interrupted",
		       a->n_fins, a->jn_error.message);
	for (size_t i = 0; i < a->n_fins; i++)
		finish_free(&a->fins[i]);
	free(a->fins);
	a->fins = NULL;
	a->n_fins = a->cap_fins = 0;
}

void
agent_journal_retry(struct agent *a, int64_t now)
{
	struct hv_error err = {0};
	int r;

	if (!a->jn_down || now < a->next_jn_retry_ms || journal_in_batch(a->jn))
		return;
	a->next_jn_retry_ms = now + JOURNAL_RETRY_MS;
	if (!a->n_fins) {
		r = journal_probe(a->jn, &err);
	} else if ((r = journal_batch_begin(a->jn, &err)) == 0) {
		for (size_t i = 0; i < a->n_fins && r == 0; i++)
			r = write_finish(a, &a->fins[i], &err);
		if (r == 0)
			r = journal_batch_commit(a->jn, &err);
		else
			journal_batch_abort(a->jn);
	}
	if (r < 0) {
		a->jn_error = err;
		hv_log(HV_LOG_DEBUG, NULL, NULL, "journal still not writable: %s", err.message);
		return;
	}
	for (size_t i = 0; i < a->n_fins; i++) {
		if (a->session)
			agent_send(a, PROTO_RESULT, NULL, false, json_incref(a->fins[i].result));
		finish_free(&a->fins[i]);
	}
	a->n_fins = 0;
	a->jn_down = false;
	hv_log(HV_LOG_NOTICE, NULL, NULL, "journal %s can be written again: accepting commands",
	       journal_path(a->jn));
}

void
agent_send_error(struct agent *a, const char *corr_id, const char *code, const struct hv_error *err)
{
	hv_log(HV_LOG_NOTICE, NULL, NULL, "refused a message: code=%s %s", code, err->message);
	agent_send(a, PROTO_ERROR, corr_id, false, proto_error_body(code, err));
}

void
agent_dispatch(struct agent *a, struct queue *q, struct job *j)
{
	if (journal_in_batch(a->jn)) {
		if (HV_GROW(a->held_jobs, a->cap_held_jobs, a->n_held_jobs + 1) < 0) {
			/* cannot hold it: make the batch durable now */
			agent_batch_end(a);
			agent_queue_push(q, j);
			agent_batch_begin(a);
			return;
		}
		a->held_jobs[a->n_held_jobs++] = (struct held_job){q, j};
		return;
	}
	log_accepted(j);
	agent_queue_push(q, j);
}

void
agent_emit_event(struct agent *a, json_t *body /* stolen */)
{
	struct pending_event *e;

	if (a->n_events == MAX_PENDING_EVENTS) {
		json_decref(a->events[0].body);
		memmove(&a->events[0], &a->events[1],
			(MAX_PENDING_EVENTS - 1) * sizeof a->events[0]);
		a->n_events--;
		hv_log(HV_LOG_WARNING, NULL, NULL,
		       "event queue full: oldest unacknowledged event dropped");
	}
	a->seq++;
	e = &a->events[a->n_events++];
	e->seq = a->seq;
	e->body = body;
	e->sent_ms = 0;
	if (a->session) {
		json_incref(body);
		agent_send(a, PROTO_EVENT, NULL, true, body);
		e->sent_ms = agent_mono_ms();
	}
}

/* Re-sends events not sent within min_age_ms, at most max of them: a controller that is
 * slow to acknowledge must not be buried under its own backlog. */
void
agent_resend_events(struct agent *a, int64_t min_age_ms, size_t max)
{
	uint64_t saved = a->seq;
	int64_t now = agent_mono_ms();
	size_t sent = 0;

	for (size_t i = 0; i < a->n_events && sent < max; i++) {
		if (a->events[i].sent_ms && now - a->events[i].sent_ms < min_age_ms)
			continue;
		a->seq = a->events[i].seq; /* a re-sent event keeps its seq */
		json_incref(a->events[i].body);
		agent_send(a, PROTO_EVENT, NULL, true, a->events[i].body);
		a->events[i].sent_ms = now;
		sent++;
	}
	a->seq = saved;
}

void
agent_ack_event(struct agent *a, uint64_t seq)
{
	for (size_t i = 0; i < a->n_events; i++) {
		if (a->events[i].seq == seq) {
			json_decref(a->events[i].body);
			memmove(&a->events[i], &a->events[i + 1],
				(a->n_events - i - 1) * sizeof a->events[0]);
			a->n_events--;
			return;
		}
	}
}

json_t *
agent_result_body(const struct inst *in, const char *cmd_id, enum inst_cmd cmd, const char *uuid,
		  int rc, const char *code, const struct hv_error *err, json_t *data /* borrowed */)
{
	json_t *o = json_object();

	json_object_set_new(o, "cmd_id", json_string(cmd_id));
	json_object_set_new(o, "command", json_string(inst_cmd_name(cmd)));
	json_object_set_new(o, "uuid", json_string(uuid));
	json_object_set_new(o, "status", json_string(rc < 0 ? "error" : "ok"));
	if (rc < 0)
		json_object_set_new(o, "error", proto_error_body(code, err));
	json_object_set_new(o, "instance", in ? inst_to_json(in) : json_null());
	if (data)
		json_object_set_new(o, "data", json_deep_copy(data));
	return o;
}

void
agent_finish(struct agent *a, struct inst *in, bool removed, const char *cmd_id,
	     const char *corr_id, json_t *result, json_t *journaled /* NULL = result */)
{
	struct finish f = {.result = result, .removed = removed};
	const char *uuid = json_string_value(json_object_get(result, "uuid"));

	snprintf(f.cmd_id, sizeof f.cmd_id, "%s", cmd_id);
	snprintf(f.corr_id, sizeof f.corr_id, "%s", corr_id ? corr_id : "");
	snprintf(f.uuid, sizeof f.uuid, "%s", in ? in->uuid : uuid ? uuid : "");
	f.journaled = journaled ? journaled : json_incref(result);
	if (in && !removed)
		f.inst = json_incref(json_object_get(result, "instance"));
	finish_commit(a, &f);
}

void
agent_cmd_done(struct agent *a, struct job *j)
{
	struct inst *in = agent_find_inst(a, j->req.uuid);
	enum inst_cmd cmd = j->req.cmd;
	const char *code = j->rc < 0 ? proto_code_for_errno(j->rc, PROTO_MAP_COMMAND) : NULL;
	bool removed = false;
	json_t *res, *journaled = NULL;

	if (in && !inst_cmd_readonly(cmd)) {
		if (j->rc == 0) {
			enum inst_vm after = inst_vm_after(in, cmd, j->req.power_on);
			json_t *part = j->req.spec;

			json_t *spec = NULL;

			switch (cmd) {
			case CMD_SPAWN: in->launched_at_ms = proto_now_ms(); break;
			case CMD_RESIZE:
				spec = inst_spec(in);
				json_decref(in->old_flavor);
				in->old_flavor = json_incref(json_object_get(spec, "flavor"));
				json_object_set(spec, "flavor", json_object_get(part, "flavor"));
				in->vm_before_resize = in->vm;
				break;
			case CMD_CONFIRM_RESIZE:
				json_decref(in->old_flavor);
				in->old_flavor = NULL;
				break;
			case CMD_REVERT_RESIZE:
				spec = inst_spec(in);
				if (in->old_flavor)
					json_object_set(spec, "flavor", in->old_flavor);
				json_decref(in->old_flavor);
				in->old_flavor = NULL;
				break;
			case CMD_REBUILD:
				spec = inst_spec(in);
				json_object_set(spec, "image", json_object_get(part, "image"));
				break;
			default: break;
			}
			if (spec)
				inst_set_spec(in, spec); /* without memory the old spec stays */
			json_decref(spec);
			if (cmd == CMD_DESTROY)
				removed = true;
			in->vm = after;
			if (in->vm != VM_ERROR) {
				json_decref(in->fault);
				in->fault = NULL;
			}
		} else if (cmd == CMD_SPAWN && j->rc == -ETIME) {
			removed = true; /* never started: nothing exists to keep */
		} else if (cmd == CMD_SPAWN || cmd == CMD_REBUILD) {
			in->vm = VM_ERROR;
			json_decref(in->fault);
			in->fault =
				json_pack("{s:s, s:s}", "code", code, "message", j->err.message);
		}
		in->task = TASK_NONE;
		in->cmd_id[0] = '\0';
		if (j->have_info)
			in->power = j->info.power_state;
		agent_touch(a, in);
	}
	if (j->rc < 0)
		hv_log(HV_LOG_WARNING, j->req.uuid, j->cmd_id, "%s failed: code=%s %s",
		       inst_cmd_name(cmd), code, j->err.message);
	else
		hv_log(HV_LOG_INFO, j->req.uuid, j->cmd_id, "%s done", inst_cmd_name(cmd));
	res = agent_result_body(removed ? NULL : in, j->cmd_id, cmd, j->req.uuid, j->rc, code,
				&j->err, j->data);
	if (j->data_secret) {
		journaled = json_deep_copy(res);
		json_object_del(json_object_get(journaled, "data"), "password");
		json_object_set_new(json_object_get(journaled, "data"), "password_redacted",
				    json_true());
	}
	agent_finish(a, removed ? NULL : in, removed && in, j->cmd_id, j->corr_id, res, journaled);
	if (removed && in)
		agent_remove_inst(a, in);
}

void
agent_net_done(struct agent *a, struct job *j)
{
	const char *command = json_string_value(json_object_get(j->net_body, "command"));
	const char *code = j->rc < 0 ? proto_code_for_errno(j->rc, PROTO_MAP_FIREWALL) : NULL;
	struct finish f = {0};
	json_t *res = json_object();

	json_object_set_new(res, "cmd_id", json_string(j->cmd_id));
	json_object_set_new(res, "command", json_string(command));
	json_object_set_new(res, "uuid", json_null());
	json_object_set_new(res, "status", json_string(j->rc < 0 ? "error" : "ok"));
	if (j->rc < 0)
		json_object_set_new(res, "error", proto_error_body(code, &j->err));
	json_object_set_new(res, "instance", json_null());
	if (j->rc >= 0 && j->err.message[0]) /* the rules are in; the host side is not */
		json_object_set_new(res, "warning", json_string(j->err.message));
	if (j->rc < 0)
		hv_log(HV_LOG_WARNING, NULL, j->cmd_id, "%s failed: code=%s %s", command, code,
		       j->err.message);
	else if (j->err.message[0])
		hv_log(HV_LOG_WARNING, NULL, j->cmd_id, "%s done; %s", command, j->err.message);
	else
		hv_log(HV_LOG_INFO, NULL, j->cmd_id, "%s done", command);
	snprintf(f.cmd_id, sizeof f.cmd_id, "%s", j->cmd_id);
	snprintf(f.corr_id, sizeof f.corr_id, "%s", j->corr_id);
	f.result = res;
	f.journaled = json_incref(res);
	f.net_state = json_incref(j->net_state);
	finish_commit(a, &f);
}

void
agent_send_stored(struct agent *a, const struct journal_cmd *c, const char *corr_id)
{
	if (c->state == JOURNAL_DONE)
		agent_send(a, PROTO_RESULT, corr_id, false, json_incref(c->reply));
	else if (c->state == JOURNAL_REFUSED)
		agent_send(a, PROTO_ERROR, corr_id, false, json_incref(c->reply));
	else
		agent_send(a, PROTO_ACK, corr_id, false,
			   json_pack("{s:s, s:s}", "cmd_id", c->cmd_id, "state", "running"));
}

void
agent_refuse(struct agent *a, const struct proto_msg *m, const struct req *r, const char *code,
	     const struct hv_error *err)
{
	json_t *body = proto_error_body(code, err), *red = req_redacted(m->body);
	struct hv_error jerr = {0};

	if (journal_cmd_refuse(a->jn, m->hdr.cmd_id, inst_cmd_name(r->cmd), r->uuid, red, body,
			       &jerr) < 0)
		hv_log(HV_LOG_ERR, r->uuid, m->hdr.cmd_id, "journal: %s", jerr.message);
	hv_log(HV_LOG_NOTICE, r->uuid, m->hdr.cmd_id, "%s refused: code=%s %s",
	       inst_cmd_name(r->cmd), code, err->message);
	agent_send(a, PROTO_ERROR, m->hdr.msg_id, false, body);
	json_decref(red);
}
