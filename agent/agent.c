/* agent.c - the agent's event loop: setup, the handshake with the controller, the message
 * switch (a COMMAND validated, guarded, journaled and handed to a worker), driver events,
 * the timers. One thread (the caller of agent_run) owns the DEALER, the journal and the
 * instance table; workers own nothing but the job they run and hand it back over inproc.
 * The rest of the agent is split by concern: queue.c, outbox.c, report.c, exec.c and
 * recover.c, sharing agent-priv.h. This file must never call a driver op on the loop thread
 * once the loop runs, never reply before the journal holds the answer, and never log a
 * secret. */
#include "agent-priv.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "drive.h"
#include "json.h"
#include "loader.h"
#include "log.h"
#include "notify.h"
#include "vec.h"

static volatile sig_atomic_t stop_requested, reload_requested;

void
agent_request_stop(void)
{
	stop_requested = 1;
}

void
agent_request_reload(void)
{
	reload_requested = 1;
}

/* ---------------------------------------------------------------- helpers */

int64_t
agent_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t
rand32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
		v = (uint32_t)agent_mono_ms() * 2654435761u;
	return v;
}

struct inst *
agent_find_inst(struct agent *a, const char *uuid)
{
	for (size_t i = 0; i < a->n_insts; i++)
		if (strcmp(a->insts[i]->uuid, uuid) == 0)
			return a->insts[i];
	return NULL;
}

int
agent_add_inst(struct agent *a, struct inst *in)
{
	if (HV_GROW(a->insts, a->cap_insts, a->n_insts + 1) < 0)
		return -ENOMEM;
	a->insts[a->n_insts++] = in;
	return 0;
}

void
agent_remove_inst(struct agent *a, struct inst *in)
{
	for (size_t i = 0; i < a->n_insts; i++) {
		if (a->insts[i] == in) {
			a->insts[i] = a->insts[--a->n_insts];
			break;
		}
	}
	json_array_append_new(a->removed, json_string(in->uuid));
	inst_free(in);
	a->dirty = true;
	a->generation++;
}

void
agent_touch(struct agent *a, struct inst *in)
{
	in->updated_ms = proto_now_ms();
	in->dirty = true;
	a->dirty = true;
	a->generation++;
}

/* ---------------------------------------------------------------- driver events */

static void
on_driver_event(void *ctx, const char *uuid, enum hvd_event_type type, enum hvd_power_state power)
{
	struct agent *a = ctx;
	struct drv_event *e = calloc(1, sizeof *e);
	char b = 1;

	if (!e)
		return;
	if (uuid)
		snprintf(e->uuid, sizeof e->uuid, "%s", uuid);
	e->type = type;
	e->power = power;
	pthread_mutex_lock(&a->ev_mu);
	if (a->ev_tail)
		a->ev_tail->next = e;
	else
		a->ev_head = e;
	a->ev_tail = e;
	pthread_mutex_unlock(&a->ev_mu);
	if (write(a->ev_pipe[1], &b, 1) < 0) {
		/* the pipe is full: the loop is already due to drain the queue */
	}
}

static const char *
transition_name(enum hvd_event_type t)
{
	switch (t) {
	case HVD_EVENT_STARTED: return "started";
	case HVD_EVENT_STOPPED: return "stopped";
	case HVD_EVENT_PAUSED: return "paused";
	case HVD_EVENT_RESUMED: return "resumed";
	case HVD_EVENT_SUSPENDED: return "suspended";
	case HVD_EVENT_CRASHED: return "crashed";
	case HVD_EVENT_DELETED: return "deleted";
	case HVD_EVENT_RESTARTED: return "restarted";
	case HVD_EVENT_HOST_DOWN: return "hypervisor_down";
	case HVD_EVENT_HOST_UP: return "hypervisor_up";
	}
	return "unknown";
}

/* Returns what changed (INST_SYNC_NOTHING / INST_SYNC_SKIP when nothing did). */
static enum inst_sync
apply_power(struct agent *a, struct inst *in, bool found, enum hvd_power_state p, bool from_event)
{
	enum inst_vm vm;
	enum inst_sync what = inst_sync_decide(in, found, p, from_event, &vm);

	if (what == INST_SYNC_NOTHING || what == INST_SYNC_SKIP)
		return what;
	in->power = found ? p : HVD_POWER_NOSTATE;
	in->vm = vm;
	agent_touch(a, in);
	return what;
}

static void
drain_driver_events(struct agent *a)
{
	struct drv_event *e, *next;
	char buf[64];

	while (read(a->ev_pipe[0], buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&a->ev_mu);
	e = a->ev_head;
	a->ev_head = a->ev_tail = NULL;
	pthread_mutex_unlock(&a->ev_mu);
	for (; e; e = next) {
		struct inst *in = e->uuid[0] ? agent_find_inst(a, e->uuid) : NULL;

		next = e->next;
		if (e->type == HVD_EVENT_HOST_DOWN || e->type == HVD_EVENT_HOST_UP) {
			bool down = e->type == HVD_EVENT_HOST_DOWN;

			hv_log(HV_LOG_WARNING, NULL, NULL, "%s: host %s", transition_name(e->type),
			       down ? "disabled (automatic) until the hypervisor is back"
				    : "enabled again; resyncing power states");
			a->host_down = down;
			if (!down)
				a->next_sync_ms =
					agent_mono_ms(); /* states may have changed meanwhile */
			agent_emit_event(a, json_pack("{s:s}", "event", transition_name(e->type)));
			/* the controller learns the new status now, not at the next interval */
			if (a->session)
				agent_send(a, PROTO_REPORT, NULL, false,
					   agent_report_body(a, a->have_prev_stats ? &a->prev_stats
										   : NULL));
		} else if (in) {
			hv_log(HV_LOG_INFO, in->uuid, NULL, "lifecycle %s",
			       transition_name(e->type));
			apply_power(a, in, e->type != HVD_EVENT_DELETED, e->power, true);
			agent_emit_event(a, json_pack("{s:s, s:s, s:s, s:s}", "event", "lifecycle",
						      "uuid", in->uuid, "transition",
						      transition_name(e->type), "power_state",
						      inst_power_name(in->power)));
		}
		free(e);
	}
}

/* ---------------------------------------------------------------- commands */

static void
on_job_done(struct agent *a, struct job *j)
{
	switch (j->kind) {
	case JOB_NET: agent_net_done(a, j); break;
	case JOB_NET_RESYNC:
		a->net_resync_pending = false;
		if (j->rc < 0)
			hv_log(HV_LOG_ERR, NULL, NULL, "firewall resync: %s", j->err.message);
		else if (j->err.message[0])
			hv_log(HV_LOG_WARNING, NULL, NULL, "host side of the taps: %s",
			       j->err.message);
		break;
	case JOB_NET_TAPS:
		a->net_taps_pending = false;
		if (j->err.message[0])
			hv_log(HV_LOG_WARNING, NULL, NULL, "host side of the taps: %s",
			       j->err.message);
		break;
	case JOB_CMD:
		agent_metrics_command(a, j->req.cmd, j->started_ms);
		agent_cmd_done(a, j);
		break;
	case JOB_STATS:
		a->stats_pending = false;
		if (j->rc < 0) {
			hv_log(HV_LOG_WARNING, NULL, NULL, "host stats: %s", j->err.message);
			/* a disabled host still reports (its status), with the last counters */
			if (a->host_down && a->session)
				agent_send(a, PROTO_REPORT, NULL, false,
					   agent_report_body(a, a->have_prev_stats ? &a->prev_stats
										   : NULL));
			break;
		}
		if (a->session)
			agent_send(a, PROTO_REPORT, NULL, false, agent_report_body(a, &j->stats));
		a->prev_stats = j->stats;
		a->have_prev_stats = true;
		break;
	case JOB_SYNC:
		a->sync_pending = false;
		if (j->rc < 0) {
			hv_log(HV_LOG_WARNING, NULL, NULL, "power state sync: %s", j->err.message);
			break;
		}
		for (size_t i = 0; i < a->n_insts; i++) {
			struct inst *in = a->insts[i];
			enum hvd_power_state seen = HVD_POWER_NOSTATE, old = in->power;
			enum inst_sync what;
			bool found = false;

			if (in->updated_ms >= j->started_ms)
				continue; /* a command finished after the listing: it knows better */
			for (size_t k = 0; k < j->n_entries && !found; k++)
				if (strcmp(j->entries[k].uuid, in->uuid) == 0) {
					seen = j->entries[k].power;
					found = true;
				}
			what = apply_power(a, in, found, seen, false);
			if (what == INST_SYNC_NOTHING || what == INST_SYNC_SKIP)
				continue;
			hv_log(HV_LOG_NOTICE, in->uuid, NULL, "power state %s -> %s",
			       inst_power_name(old), inst_power_name(in->power));
			agent_emit_event(a,
					 what == INST_SYNC_POWER
						 ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "event",
							     "power_state_changed", "uuid",
							     in->uuid, "old", inst_power_name(old),
							     "new", inst_power_name(in->power),
							     "vm_state", inst_vm_name(in->vm))
						 : json_pack("{s:s, s:s}", "event",
							     "instance_missing", "uuid", in->uuid));
		}
		for (size_t k = 0; k < j->n_entries; k++) {
			const char *u = j->entries[k].uuid;

			if (agent_find_inst(a, u) || json_object_get(a->unknown_reported, u))
				continue;
			json_object_set_new(a->unknown_reported, u, json_true());
			hv_log(HV_LOG_WARNING, u, NULL,
			       "guest unknown to the journal (left alone)");
			agent_emit_event(a, json_pack("{s:s, s:s, s:s}", "event",
						      "instance_unknown", "uuid", u, "power_state",
						      inst_power_name(j->entries[k].power)));
		}
		hv_log(HV_LOG_DEBUG, NULL, NULL, "power state sync: %zu guests listed",
		       j->n_entries);
		break;
	}
	agent_job_free(j);
}

static void
drain_results(struct agent *a)
{
	struct job *j;

	/* bounded, so a burst of finished jobs never starves the socket and the timers */
	for (int n = 0; n < RESULTS_PER_ITERATION &&
			zmq_recv(a->results, &j, sizeof j, ZMQ_DONTWAIT) == sizeof j;
	     n++)
		on_job_done(a, j);
}

static void
drain_all_results(struct agent *a)
{
	struct job *j;

	while (zmq_recv(a->results, &j, sizeof j, ZMQ_DONTWAIT) == sizeof j)
		on_job_done(a, j);
}

/* Host-scoped firewall commands: journaled and answered like instance commands, run on the
 * one thread that owns the netfilter context. */
static void
handle_net_command(struct agent *a, struct proto_msg *m)
{
	const char *command = json_string_value(json_object_get(m->body, "command"));
	struct hv_error err = {0};
	struct job *j;

	if (net_check(m->body, &err) < 0) {
		agent_send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		return;
	}
	j = calloc(1, sizeof *j);
	if (!j || journal_cmd_accept(a->jn, m->hdr.cmd_id, command, "", m->body, &err) < 0) {
		free(j);
		if (!err.message[0])
			hv_error_set(&err, -ENOMEM, NULL, "out of memory");
		agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
		return;
	}
	agent_send(a, PROTO_ACK, m->hdr.msg_id, false,
		   json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "accepted"));
	j->kind = JOB_NET;
	j->net_body = json_deep_copy(m->body);
	snprintf(j->cmd_id, sizeof j->cmd_id, "%s", m->hdr.cmd_id);
	snprintf(j->corr_id, sizeof j->corr_id, "%s", m->hdr.msg_id);
	j->deadline_ms = m->hdr.deadline_ms;
	agent_dispatch(a, &a->net_q, j);
}

/* The job of an accepted command, prepared on the loop thread before anything is created:
 * the spec the driver sees (the instance's spec with the request's part, flavor or image,
 * merged), its driver view and that view's image resolved through the store, each once,
 * so the worker only reads them. Returns < 0 with err set for a refusal: an image the
 * store cannot give (an unknown id when images must be stored, a format that disagrees
 * with the record) or a snapshot id that is taken or cannot name a stored image. A failure
 * of a command that names no image of its own (resize) stays in the job, reported as its
 * result as before. */
static int
prepare_job(struct agent *a, const struct inst *in, const struct req *r, struct job **ret,
	    struct hv_error *err)
{
	bool own_image = r->cmd == CMD_SPAWN || r->cmd == CMD_REBUILD || r->cmd == CMD_RESCUE;
	struct job *j;
	int rc;

	*ret = NULL;
	if (r->cmd == CMD_SNAPSHOT && a->store &&
	    (rc = agent_image_id_free(a->store, r->image_id, err)) < 0)
		return rc; /* without a store the worker reports it */
	if (!(j = calloc(1, sizeof *j)))
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	/* a new instance's spec is the request's */
	j->spec = in ? inst_spec(in) : r->spec ? json_deep_copy(r->spec) : json_object();
	if (!j->spec) {
		agent_job_free(j);
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	if (r->spec)
		json_object_update(j->spec, r->spec);
	*ret = j;
	if (!own_image && r->cmd != CMD_RESIZE)
		return 0;
	j->have_view = true;
	j->prep_rc = req_spec_view(j->spec, r->uuid, a->image_store, &j->view, &j->err);
	if (j->prep_rc < 0 || !j->view.spec.image.id) {
		j->view.spec.image.path = NULL; /* no image, no file */
		return 0;
	}
	/* resize keeps the instance's image: resolved when the store has it (its recorded
	 * properties, kernel or video, stay in the new definition), never required */
	rc = agent_image_resolve(a->store, own_image && a->o.image_store_required, "body.image",
				 &j->view.spec.image, &j->image, &j->err);
	if (rc < 0 && own_image && json_is_object(json_object_get(r->spec, "image"))) {
		*err = j->err;
		agent_job_free(j);
		*ret = NULL;
		return rc;
	}
	j->prep_rc = rc;
	return 0;
}

void
agent_handle_command(struct agent *a, struct proto_msg *m)
{
	struct journal_cmd jc;
	struct hv_error err = {0};
	const char *code = NULL, *command = NULL, *uuid = NULL;
	struct req r;
	struct inst *in;
	struct job *j;
	json_t *red = NULL;
	bool created = false;
	int rc;

	rc = journal_cmd_get(a->jn, m->hdr.cmd_id, &jc, &err);
	if (rc < 0) {
		agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
		return;
	}
	if (rc == 1) {
		hj_str(m->body, "body", "command", HJ_OPTIONAL, 32, &command, NULL);
		hj_str(m->body, "body", "uuid", HJ_OPTIONAL, 36, &uuid, NULL);
		if (!command || strcmp(command, jc.command) != 0 ||
		    strcmp(uuid ? uuid : "", jc.uuid) != 0) {
			hv_error_set(&err, -EEXIST, "header.cmd_id",
				     "header.cmd_id: %s was used for %s of %s", jc.cmd_id,
				     jc.command, jc.uuid);
			agent_send_error(a, m->hdr.msg_id, PROTO_E_CMD_ID_REUSED, &err);
		} else {
			hv_log(HV_LOG_INFO, jc.uuid, jc.cmd_id,
			       "duplicate %s answered from the journal", jc.command);
			agent_send_stored(a, &jc, m->hdr.msg_id);
		}
		journal_cmd_release(&jc);
		return;
	}
	if (m->hdr.deadline_ms && proto_now_ms() > m->hdr.deadline_ms) {
		hv_error_set(&err, -ETIME, "header.deadline_ms",
			     "header.deadline_ms: the deadline passed %lld ms ago; not executed",
			     (long long)(proto_now_ms() - m->hdr.deadline_ms));
		agent_send_error(a, m->hdr.msg_id, PROTO_E_EXPIRED, &err);
		return;
	}
	if (a->jn_down) { /* acknowledged only once journaled: not now */
		agent_refuse_journal_down(a, m);
		return;
	}
	hj_str(m->body, "body", "command", HJ_OPTIONAL, 32, &command, NULL);
	if (command && net_is_command(command) && a->net) {
		handle_net_command(a, m);
		return;
	}
	if (req_parse(m->body, &r, &code, &err) < 0) {
		agent_send_error(a, m->hdr.msg_id, code, &err);
		return;
	}
	if (a->host_down) {
		/* not journaled: the same cmd_id is welcome again once the host is back */
		hv_error_set(
			&err, -ENOTCONN, "host",
			"host: disabled (AUTO: hypervisor connection lost); retry %s when it is "
			"back",
			inst_cmd_name(r.cmd));
		hv_log(HV_LOG_NOTICE, r.uuid, m->hdr.cmd_id, "%s refused: %s", inst_cmd_name(r.cmd),
		       err.message);
		agent_send_error(a, m->hdr.msg_id, PROTO_E_BUSY, &err);
		goto out;
	}
	if (!hv_driver_supports(a->drv, inst_cmd_driver_op(r.cmd))) {
		hv_error_set(&err, -EOPNOTSUPP, "body.command", "the %s driver does not support %s",
			     a->ops->name, inst_cmd_name(r.cmd));
		agent_refuse(a, m, &r, PROTO_E_NOT_SUPPORTED, &err);
		goto out;
	}
	if ((rc = agent_fetch_gate(a, m, &r, &err)) != 0) {
		if (rc < 0) /* the image could not be fetched: refused as an unknown image is */
			agent_refuse(a, m, &r, PROTO_E_INVALID, &err);
		goto out;
	}
	if (agent_queue_len(&a->cmd_q) >= MAX_QUEUED_JOBS) {
		hv_error_set(&err, -EAGAIN, NULL, "%d commands are queued; retry later",
			     MAX_QUEUED_JOBS);
		agent_send_error(a, m->hdr.msg_id, PROTO_E_BUSY, &err);
		goto out;
	}
	in = agent_find_inst(a, r.uuid);
	red = req_redacted(m->body);
	if ((r.cmd == CMD_SPAWN && in) || (r.cmd == CMD_DESTROY && !in)) {
		/* spawn is keyed by uuid, destroy of nothing is done: answer without acting */
		json_t *data = r.cmd == CMD_SPAWN ? json_pack("{s:b}", "existing", 1) : NULL;
		json_t *res =
			agent_result_body(in, m->hdr.cmd_id, r.cmd, r.uuid, 0, NULL, NULL, data);

		json_decref(data);
		if (journal_cmd_accept(a->jn, m->hdr.cmd_id, inst_cmd_name(r.cmd), r.uuid, red,
				       &err) < 0) {
			json_decref(res);
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto out;
		}
		agent_send(a, PROTO_ACK, m->hdr.msg_id, false,
			   json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "accepted"));
		agent_finish(a, NULL, false, m->hdr.cmd_id, m->hdr.msg_id, res, NULL);
		goto out;
	}
	if (!in && r.cmd != CMD_SPAWN) {
		hv_error_set(&err, -ENOENT, "body.uuid", "body.uuid: no instance %s on this host",
			     r.uuid);
		agent_refuse(a, m, &r, PROTO_E_NOT_FOUND, &err);
		goto out;
	}
	if (in && inst_guard(in, r.cmd, r.hard, &code, &err) < 0) {
		agent_refuse(a, m, &r, code, &err);
		goto out;
	}
	if (!in && agent_claim(a, &r, &err) < 0) {
		agent_refuse(a, m, &r, PROTO_E_CLAIM, &err);
		goto out;
	}
	if (prepare_job(a, in, &r, &j, &err) < 0) {
		if (err.code == -ENOMEM)
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
		else
			agent_refuse(a, m, &r, PROTO_E_INVALID, &err);
		goto out;
	}
	if (!in) {
		in = inst_new(r.uuid);
		if (!in || agent_add_inst(a, in) < 0) {
			inst_free(in);
			agent_job_free(j);
			hv_error_set(&err, -ENOMEM, NULL, "out of memory");
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto out;
		}
		if (r.spec && inst_set_spec(in, r.spec) < 0) {
			agent_job_free(j);
			hv_error_set(&err, -ENOMEM, NULL, "out of memory");
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto out;
		}
		created = true;
	}
	if (!inst_cmd_readonly(r.cmd)) {
		in->task = inst_task_for(r.cmd, r.hard);
		snprintf(in->cmd_id, sizeof in->cmd_id, "%s", m->hdr.cmd_id);
	}
	{
		json_t *rec = inst_to_json(in);

		if (journal_begin(a->jn, &err) < 0 ||
		    journal_cmd_accept(a->jn, m->hdr.cmd_id, inst_cmd_name(r.cmd), r.uuid, red,
				       &err) < 0 ||
		    (!inst_cmd_readonly(r.cmd) && journal_inst_put(a->jn, r.uuid, rec, &err) < 0) ||
		    journal_commit(a->jn, &err) < 0) {
			journal_rollback(a->jn);
			json_decref(rec);
			agent_job_free(j);
			in->task = TASK_NONE;
			in->cmd_id[0] = '\0';
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto undo;
		}
		json_decref(rec);
	}
	agent_send(a, PROTO_ACK, m->hdr.msg_id, false,
		   json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "accepted"));
	if (!inst_cmd_readonly(r.cmd))
		agent_touch(a, in);
	j->kind = JOB_CMD;
	j->started_ms = proto_now_ms();
	j->req = r; /* the job owns the request (spec, secret) from here */
	memset(&r, 0, sizeof r);
	if (j->have_view)
		j->view.spec.uuid = j->req.uuid; /* the view was built while r held it */
	snprintf(j->cmd_id, sizeof j->cmd_id, "%s", m->hdr.cmd_id);
	snprintf(j->corr_id, sizeof j->corr_id, "%s", m->hdr.msg_id);
	j->deadline_ms = m->hdr.deadline_ms;
	agent_dispatch(a, &a->cmd_q, j);
	goto out;
undo:
	if (created) {
		for (size_t i = 0; i < a->n_insts; i++)
			if (a->insts[i] == in)
				a->insts[i] = a->insts[--a->n_insts];
		inst_free(in);
	}
out:
	json_decref(red);
	req_release(&r);
}

/* ---------------------------------------------------------------- session */

static void
close_socket(struct agent *a)
{
	if (a->dealer)
		zmq_close(a->dealer);
	a->dealer = NULL;
	a->session = false;
}

static void
schedule_reconnect(struct agent *a, const char *why)
{
	int64_t now = agent_mono_ms();
	int wait = a->backoff_ms / 2 + (int)(rand32() % (uint32_t)(a->backoff_ms / 2 + 1));

	hv_log(HV_LOG_NOTICE, NULL, NULL, "controller link: %s; reconnecting in %d ms", why, wait);
	agent_metrics_link(a, false, true);
	close_socket(a);
	a->next_connect_ms = now + wait;
	a->backoff_ms = a->backoff_ms * 2 > a->o.reconnect_max_ms ? a->o.reconnect_max_ms
								  : a->backoff_ms * 2;
}

static json_t *
capabilities(struct agent *a)
{
	json_t *caps = json_array();

	for (int c = 0; c < CMD_N; c++)
		if (hv_driver_supports(a->drv, inst_cmd_driver_op((enum inst_cmd)c)))
			json_array_append_new(caps, json_string(inst_cmd_name((enum inst_cmd)c)));
	if (drive_supported() && a->drive_dir[0])
		json_array_append_new(caps, json_string("config_drive"));
	for (size_t i = 0; a->net && net_command_name(i); i++)
		json_array_append_new(caps, json_string(net_command_name(i)));
	if (a->store) /* catalog images are fetched on first use (IMAGE_GET) */
		json_array_append_new(caps, json_string("image_fetch"));
	return caps;
}

static void
send_hello(struct agent *a)
{
	char hostname[256] = "";
	struct proto_msg m = {.type = PROTO_HELLO};
	struct hv_error err = {0};

	gethostname(hostname, sizeof hostname - 1);
	m.body = json_pack("{s:s, s:[i], s:[i], s:s, s:{s:s, s:s}, s:o, s:I}", "agent_version",
			   HV_VERSION, "protocols", 1, "schemas", (int)PROTO_SCHEMA, "hostname",
			   hostname, "driver", "name", a->ops->name, "version",
			   a->ops->version ? a->ops->version : "", "capabilities", capabilities(a),
			   "started_ms", (json_int_t)proto_now_ms());
	proto_header_init(&m.hdr, a->host_id, a->boot_id);
	snprintf(a->hello_id, sizeof a->hello_id, "%s", m.hdr.msg_id);
	if (proto_send(a->dealer, NULL, &m, ZMQ_DONTWAIT, &err) < 0)
		hv_log(HV_LOG_WARNING, NULL, NULL, "HELLO not sent: %s", err.message);
	json_decref(m.body);
	a->hello_ms = a->last_rx_ms = a->last_tx_ms = agent_mono_ms();
}

static int
open_socket(struct agent *a)
{
	int zero = 0, hb = a->o.heartbeat_s * 1000, hbt = 3 * a->o.heartbeat_s * 1000;
	int64_t maxmsg = ZMQ_PART_LIMIT;
	int sndhwm = SEND_HWM;

	a->dealer = zmq_socket(a->zctx, ZMQ_DEALER);
	if (!a->dealer)
		return -zmq_errno();
	/* a new random routing id per socket: the controller routes by the authenticated key,
	 * and an id nobody can guess cannot be claimed by another connection (protocol §10.2) */
	char rid[37];
	proto_uuid4(rid);
	zmq_setsockopt(a->dealer, ZMQ_ROUTING_ID, rid, strlen(rid));
	zmq_setsockopt(a->dealer, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(a->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	zmq_setsockopt(a->dealer, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof hbt);
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TTL, &hbt, sizeof hbt);
	if (a->curve) {
		zmq_setsockopt(a->dealer, ZMQ_CURVE_SERVERKEY, a->server_key, KEYS_Z85_LEN + 1);
		zmq_setsockopt(a->dealer, ZMQ_CURVE_PUBLICKEY, a->keys.public_z85,
			       KEYS_Z85_LEN + 1);
		zmq_setsockopt(a->dealer, ZMQ_CURVE_SECRETKEY, a->keys.secret_z85,
			       KEYS_Z85_LEN + 1);
	}
	if (zmq_connect(a->dealer, a->endpoint) < 0) {
		int r = -zmq_errno();

		hv_log(HV_LOG_ERR, NULL, NULL, "connect %s: %s", a->endpoint, zmq_strerror(-r));
		close_socket(a);
		return r;
	}
	send_hello(a);
	hv_log(HV_LOG_INFO, NULL, NULL, "connecting to %s (curve=%s)", a->endpoint,
	       a->curve ? "on" : "off");
	return 0;
}

static void
resend_result(void *ctx, const struct journal_cmd *c)
{
	struct agent *a = ctx;

	if (c->reply)
		agent_send(a, PROTO_RESULT, NULL, false, json_incref(c->reply));
}

static void
on_welcome(struct agent *a, const struct proto_msg *m)
{
	int64_t schema = PROTO_SCHEMA;
	struct hv_error err = {0};

	if (hj_int(m->body, "body", "schema", HJ_OPTIONAL, 1, UINT32_MAX, &schema, &err) < 0 ||
	    schema != PROTO_SCHEMA) {
		if (!err.message[0])
			hv_error_set(&err, -EINVAL, "body.schema",
				     "body.schema: %lld not spoken here", (long long)schema);
		agent_send_error(a, m->hdr.msg_id, PROTO_E_UNSUPPORTED, &err);
		return;
	}
	a->session = true;
	a->backoff_ms = a->o.reconnect_min_ms;
	hv_log(HV_LOG_NOTICE, NULL, NULL, "session up with %s (boot_id=%s)", a->endpoint,
	       a->boot_id);
	agent_send_snapshot(a);
	journal_cmd_foreach(a->jn, JOURNAL_DONE, resend_result, a, NULL);
	agent_resend_events(a, 0, MAX_PENDING_EVENTS);
	a->next_report_ms = agent_mono_ms();
}

static void
handle_message(struct agent *a, struct proto_msg *m)
{
	struct hv_error err = {0};
	int64_t seq = 0;
	const char *cmd_id = NULL;

	if (m->hdr.host_id[0] && strcmp(m->hdr.host_id, a->host_id) != 0) {
		hv_error_set(&err, -EINVAL, "header.host_id", "header.host_id: this is %s, not %s",
			     a->host_id, m->hdr.host_id);
		agent_send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		return;
	}
	if (!a->session && m->type != PROTO_WELCOME && m->type != PROTO_ERROR &&
	    m->type != PROTO_PING)
		return; /* nothing but the handshake until WELCOME */
	switch (m->type) {
	case PROTO_WELCOME: on_welcome(a, m); break;
	case PROTO_COMMAND: agent_handle_command(a, m); break;
	case PROTO_IMAGE_DATA: agent_fetch_on_data(a, m); break;
	case PROTO_IMAGE_GET: agent_image_serve(a, m); break;
	case PROTO_PING: agent_send(a, PROTO_PONG, m->hdr.msg_id, false, NULL); break;
	case PROTO_PONG: break;
	case PROTO_RESYNC:
		hv_log(HV_LOG_INFO, NULL, NULL, "controller asked for a resync");
		agent_send_snapshot(a);
		break;
	case PROTO_ACK:
		if (hj_int(m->body, "body", "seq", HJ_OPTIONAL, 0, INT64_MAX, &seq, &err) > 0)
			agent_ack_event(a, (uint64_t)seq);
		else if (hj_str(m->body, "body", "cmd_id", HJ_OPTIONAL, PROTO_MAX_ID, &cmd_id,
				&err) > 0)
			journal_cmd_ack(a->jn, cmd_id, NULL);
		else if (err.message[0])
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		else {
			hv_error_set(&err, -EINVAL, "body", "body: an ACK needs seq or cmd_id");
			agent_send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		}
		break;
	case PROTO_ERROR:
		if (a->session && json_is_string(json_object_get(m->body, "code")) &&
		    strcmp(json_string_value(json_object_get(m->body, "code")),
			   PROTO_E_NO_SESSION) == 0) {
			/* the controller lost our session (it restarted): handshake again */
			hv_log(HV_LOG_NOTICE, NULL, NULL,
			       "controller has no session for us: HELLO again");
			a->session = false;
			send_hello(a);
			break;
		}
		hv_log(HV_LOG_WARNING, NULL, NULL, "controller refused a message: %s",
		       json_string_value(json_object_get(m->body, "message")) ?: "(no message)");
		break;
	default:
		hv_error_set(&err, -EPROTONOSUPPORT, "type",
			     "frame 1 (type): %s is not sent to an agent",
			     proto_type_name(m->type));
		agent_send_error(a, m->hdr.msg_id, PROTO_E_UNSUPPORTED, &err);
		break;
	}
}

static void
drain_socket(struct agent *a)
{
	for (int i = 0; i < 256 && a->dealer; i++) {
		struct proto_msg m;
		struct hv_error err = {0};
		const char *code = NULL;
		int r = proto_recv(a->dealer, false, ZMQ_DONTWAIT, NULL, &m, &code, &err);

		if (r == -EAGAIN)
			return;
		a->last_rx_ms = agent_mono_ms();
		if (r < 0) {
			if (code && m.type != PROTO_ERROR)
				agent_send_error(a, m.hdr.msg_id[0] ? m.hdr.msg_id : NULL, code,
						 &err);
			continue;
		}
		if (m.type == PROTO_COMMAND) {
			handle_message(a, &m);
			req_wipe(m.body);
		} else {
			handle_message(a, &m);
		}
		proto_msg_release(&m);
	}
}

/* ---------------------------------------------------------------- loop */

static void
start_house_job(struct agent *a, enum job_kind kind)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		return;
	j->kind = kind;
	j->started_ms = proto_now_ms();
	if (kind == JOB_NET_RESYNC || kind == JOB_NET_TAPS) {
		*(kind == JOB_NET_RESYNC ? &a->net_resync_pending : &a->net_taps_pending) = true;
		agent_queue_push(&a->net_q, j);
		return;
	}
	if (kind == JOB_STATS)
		a->stats_pending = true;
	else
		a->sync_pending = true;
	agent_queue_push(&a->house_q, j);
}

/* A burst of commands (a thousand spawns at once) leaves the heap at its peak: malloc
 * keeps the freed pages, so a host that settles at 4 MiB of live data would hold 17. Once
 * the free part is large, its whole pages go back to the kernel. */
#define TRIM_FREE_BYTES (4u << 20)
static void
give_back_heap(void)
{
#ifdef __GLIBC__
	struct mallinfo2 mi = mallinfo2();

	if (mi.fordblks > TRIM_FREE_BYTES)
		malloc_trim(0);
#endif
}

static void
timers(struct agent *a, int64_t now)
{
	int hb = a->o.heartbeat_s * 1000;

	if (!a->dealer && now >= a->next_connect_ms) {
		if (open_socket(a) < 0)
			a->next_connect_ms = now + a->o.reconnect_max_ms;
		return;
	}
	if (!a->dealer)
		return;
	if (!a->session && now - a->hello_ms > 3 * hb) {
		schedule_reconnect(a, "no WELCOME");
		return;
	}
	if (a->session && now - a->last_rx_ms > 3 * hb) {
		schedule_reconnect(a, "controller silent");
		return;
	}
	if (a->session)
		agent_fetch_tick(a, now);
	agent_cache_tick(a, now);
	/* PING when idle, and also when the controller has been quiet for an interval while we
	 * talk: a controller with nothing to say must still prove it is alive */
	if (a->session && (now - a->last_tx_ms >= hb ||
			   (now - a->last_rx_ms >= hb && now - a->last_ping_ms >= hb))) {
		agent_send(a, PROTO_PING, NULL, false, NULL);
		a->last_ping_ms = now;
	}
	if (a->session && now >= a->next_report_ms && !a->stats_pending) {
		start_house_job(a, JOB_STATS);
		a->next_report_ms = now + a->o.report_interval_s * 1000;
	}
	if (a->session && now >= a->next_event_resend_ms) {
		/* at-least-once: whatever the controller has not acknowledged goes again, in
		 * bounded batches (a send may have been dropped at the high-water mark) */
		if (a->n_events)
			agent_resend_events(a, 3 * (int64_t)hb, EVENT_RESEND_BATCH);
		journal_cmd_due(a->jn, proto_now_ms() - 3 * (int64_t)hb, EVENT_RESEND_BATCH,
				resend_result, a, NULL);
		a->next_event_resend_ms = now + hb;
	}
	if (a->net && a->o.netfilter_resync_s > 0 && now >= a->next_net_resync_ms &&
	    !a->net_resync_pending) {
		start_house_job(a, JOB_NET_RESYNC);
		a->next_net_resync_ms = now + a->o.netfilter_resync_s * 1000;
	}
	if (now >= a->next_prune_ms) {
		journal_cmd_prune(a->jn, proto_now_ms() - PRUNE_AFTER_MS, NULL);
		a->next_prune_ms = now + 3600 * 1000;
	}
	if (now >= a->next_trim_ms) {
		give_back_heap();
		a->next_trim_ms = now + 1000;
	}
}

/* What `systemctl status hvagent` shows; sent only when it changes. */
static void
update_status(struct agent *a)
{
	if (a->session != a->mx.v.connected) /* the loop is the only writer: no lock to read */
		agent_metrics_link(a, a->session, false);
	if (a->session)
		hv_notify_ready("connected to %s; %zu instances", a->endpoint, a->n_insts);
	else
		hv_notify_status("connecting to %s; %zu instances", a->endpoint, a->n_insts);
}

static int64_t
next_wakeup(struct agent *a, int64_t now)
{
	int64_t t = now + 1000, ping = hv_notify_watchdog();

	if (ping >= 0 && now + ping < t)
		t = now + ping;

	if (!a->dealer && a->next_connect_ms < t)
		t = a->next_connect_ms;
	if (a->next_sync_ms < t)
		t = a->next_sync_ms;
	return t < now ? now : t;
}

int
agent_run(struct agent *a)
{
	while (!stop_requested) {
		zmq_pollitem_t items[4] = {
			{.socket = a->results, .events = ZMQ_POLLIN},
			{.fd = a->ev_pipe[0], .events = ZMQ_POLLIN},
		};
		int64_t now = agent_mono_ms();
		int n = 2, links = -1, fd = a->net && !a->net_taps_pending ? a->links_fd : -1;

		if (a->dealer)
			items[n++] = (zmq_pollitem_t){.socket = a->dealer, .events = ZMQ_POLLIN};
		if (fd >= 0) {
			links = n;
			items[n++] = (zmq_pollitem_t){.fd = fd, .events = ZMQ_POLLIN};
		}
		if (zmq_poll(items, n, (long)(next_wakeup(a, now) - now)) < 0 &&
		    zmq_errno() != EINTR)
			return -zmq_errno();
		/* read by the network worker: the one thread that uses the netfilter state */
		if (links >= 0 && (items[links].revents & ZMQ_POLLIN))
			start_house_job(a, JOB_NET_TAPS);
		if (stop_requested)
			break;
		if (reload_requested) {
			reload_requested = 0;
			return AGENT_RUN_RELOAD;
		}
		agent_batch_begin(a);
		drain_results(a);
		drain_driver_events(a);
		if (a->dealer)
			drain_socket(a);
		agent_batch_end(a); /* a failure stops acceptance, not the agent */
		now = agent_mono_ms();
		agent_journal_retry(a, now);
		if (now >= a->next_sync_ms && !a->sync_pending && !a->host_down) {
			/* the first sync always runs: it reports guests the journal does not know */
			start_house_job(a, JOB_SYNC);
			a->next_sync_ms = a->o.sync_interval_s > 0
						  ? now + a->o.sync_interval_s * 1000
						  : INT64_MAX;
		}
		timers(a, now);
		agent_flush_delta(a);
		update_status(a);
	}
	hv_log(HV_LOG_NOTICE, NULL, NULL, "stopping; guests keep running");
	return 0;
}

/* A timer moves only when the new interval ends sooner than the old one. */
static void
reschedule(int64_t *next_ms, int64_t now, int interval_s)
{
	int64_t t = interval_s > 0 ? now + interval_s * 1000LL : INT64_MAX;

	if (t < *next_ms)
		*next_ms = t;
	else if (interval_s <= 0 && *next_ms > now)
		*next_ms = INT64_MAX;
}

void
agent_set_live(struct agent *a, const struct agent_live *l)
{
	int64_t now = agent_mono_ms();

	a->o.heartbeat_s = l->heartbeat_s;
	a->o.reconnect_min_ms = l->reconnect_min_ms;
	a->o.reconnect_max_ms = l->reconnect_max_ms;
	if (a->backoff_ms > l->reconnect_max_ms)
		a->backoff_ms = l->reconnect_max_ms;
	a->o.report_interval_s = l->report_interval_s;
	reschedule(&a->next_report_ms, now, l->report_interval_s);
	if (a->o.sync_interval_s != l->sync_interval_s) {
		a->o.sync_interval_s = l->sync_interval_s;
		reschedule(&a->next_sync_ms, now, l->sync_interval_s);
	}
	if (a->o.netfilter_resync_s != l->netfilter_resync_s) {
		a->o.netfilter_resync_s = l->netfilter_resync_s;
		reschedule(&a->next_net_resync_ms, now, l->netfilter_resync_s);
	}
}

/* ---------------------------------------------------------------- setup */

int
agent_open_host(const struct agent_opts *o, struct hvd_host **ret, struct hv_error *err)
{
	/* the driver's section plus the paths every driver needs */
	struct hvd_kv *cfg = calloc(o->n_driver_cfg + 2, sizeof *cfg);
	int r;

	if (!cfg)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	memcpy(cfg, o->driver_cfg, o->n_driver_cfg * sizeof *cfg);
	cfg[o->n_driver_cfg] = (struct hvd_kv){"instances_path", o->instances_path};
	cfg[o->n_driver_cfg + 1] = (struct hvd_kv){"image_store", o->image_store};
	r = hv_driver_ops(o->driver)->open(cfg, o->n_driver_cfg + 2, ret, err);
	free(cfg);
	return r;
}

/* A config drive is advertised only when one can be written: the directory is created
 * (or checked) now, not at the first spawn that needs it. Without it the capability is
 * dropped, unless every spawn must have one (force_config_drive): then the start fails. */
int
agent_mkdir_searchable(const char *dir)
{
	if (mkdir(dir, 0711) == 0)
		return chmod(dir, 0711); /* whatever the umask */
	return errno == EEXIST ? 0 : -1;
}

/* The start-up self-check: the user the hypervisor runs guests as (a stock libvirtd:
 * qemu's unprivileged user) must reach every directory their files sit in, or the first
 * boot fails far from the cause. Asked of the driver, which knows that user. */
static int
reach(const struct hvd_driver *d, struct hvd_host *host, const char *instances, const char *store,
      const char *drives, struct hv_error *err)
{
	const char *const paths[] = {instances, store, drives};
	const char *const fields[] = {"instances_path", "image_store", "guest.config_drive_dir"};

	return d->check_reach ? d->check_reach(host, paths, fields, 3, err) : 0;
}

static int
check_reach(struct agent *a, const struct agent_opts *o, struct hv_error *err)
{
	return reach(a->ops, a->host, o->instances_path, a->image_store, a->drive_dir, err);
}

int
agent_check_reach(const struct agent_opts *o, struct hv_error *err)
{
	const struct hvd_driver *d = hv_driver_ops(o->driver);
	const char *drive = drive_supported() && o->config_drive_dir ? o->config_drive_dir : "";
	struct hvd_host *host = NULL;
	int r;

	if (!d->check_reach)
		return 0;
	/* a driver may run the same check inside open(): its refusal names a path field */
	r = agent_open_host(o, &host, err);
	if (r == -EACCES &&
	    (strcmp(err->field, "instances_path") == 0 || strcmp(err->field, "image_store") == 0))
		return r;
	if (r < 0) {
		err->code = -ENOTCONN;
		return -ENOTCONN;
	}
	r = reach(d, host, o->instances_path, o->image_store, drive, err);
	d->close(host);
	return r < 0 ? -EACCES : 0;
}

static int
check_drive_dir(struct agent *a, struct hv_error *err)
{
	struct hv_error e = {0};

	if (!drive_supported() || !a->drive_dir[0])
		return 0;
	struct stat st;

	if (agent_mkdir_searchable(a->drive_dir) < 0)
		hv_error_set(&e, -errno, "guest.config_drive_dir",
			     "[guest] config_drive_dir %s: %s", a->drive_dir, strerror(errno));
	else if (stat(a->drive_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		hv_error_set(&e, -ENOTDIR, "guest.config_drive_dir",
			     "[guest] config_drive_dir %s: not a directory", a->drive_dir);
	else if (access(a->drive_dir, W_OK | X_OK) < 0)
		hv_error_set(&e, -errno, "guest.config_drive_dir",
			     "[guest] config_drive_dir %s: %s", a->drive_dir, strerror(errno));
	if (!e.code)
		return 0;
	if (a->o.force_config_drive)
		return hv_error_set(err, e.code, e.field,
				    "%s, and [guest] force_config_drive needs it for every spawn",
				    e.message);
	hv_log(HV_LOG_WARNING, NULL, NULL,
	       "%s: config drives disabled (not advertised; a spawn asking for one is refused)",
	       e.message);
	a->drive_dir[0] = '\0';
	return 0;
}

int
agent_new(const struct agent_opts *o, struct agent **ret, struct hv_error *err)
{
	struct agent *a;
	int r, zero = 0;

	*ret = NULL;
	if (!proto_id_valid(o->host_id))
		return hv_error_set(err, -EINVAL, "host_id",
				    "host_id \"%s\": expected 1-64 of [A-Za-z0-9._:-]", o->host_id);
	a = calloc(1, sizeof *a);
	if (!a)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	a->o = *o;
	a->ev_pipe[0] = a->ev_pipe[1] = -1;
	pthread_mutex_init(&a->ev_mu, NULL);
	pthread_mutex_init(&a->mx.mu, NULL);
	agent_queue_init(&a->cmd_q);
	agent_queue_init(&a->house_q);
	agent_queue_init(&a->net_q);
	snprintf(a->host_id, sizeof a->host_id, "%s", o->host_id);
	snprintf(a->state_dir, sizeof a->state_dir, "%s", o->state_dir);
	snprintf(a->endpoint, sizeof a->endpoint, "%s", o->endpoint);
	snprintf(a->image_store, sizeof a->image_store, "%s", o->image_store ? o->image_store : "");
	snprintf(a->drive_dir, sizeof a->drive_dir, "%s",
		 o->config_drive_dir ? o->config_drive_dir : "");
	a->o.config_drive_dir = a->drive_dir;
	a->o.host_id = a->host_id;
	a->o.state_dir = a->state_dir;
	a->o.endpoint = a->endpoint;
	a->o.image_store = a->image_store;
	a->o.driver_cfg = NULL;
	a->o.n_driver_cfg = 0;
	if (a->o.heartbeat_s < 1)
		a->o.heartbeat_s = 5;
	if (a->o.reconnect_min_ms < 10)
		a->o.reconnect_min_ms = 100;
	if (a->o.reconnect_max_ms < a->o.reconnect_min_ms)
		a->o.reconnect_max_ms = a->o.reconnect_min_ms;
	if (a->o.report_interval_s < 1)
		a->o.report_interval_s = 10;
	if (a->o.max_builds < 1)
		a->o.max_builds = 1;
	a->backoff_ms = a->o.reconnect_min_ms;
	proto_uuid4(a->boot_id);
	a->removed = json_array();
	a->unknown_reported = json_object();

	if (o->server_public_key && *o->server_public_key) {
		if ((r = keys_public_from(o->server_public_key, a->server_key, err)) < 0)
			goto fail;
		if ((r = keys_load_or_create(o->keys_dir, "agent", &a->keys, NULL, err)) < 0)
			goto fail;
		a->curve = true;
	}
	if (pipe2(a->ev_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = hv_error_set(err, -errno, NULL, "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((r = journal_open(a->state_dir, &a->jn, err)) < 0)
		goto fail;
	if (a->image_store[0] && (r = imgstore_open(a->image_store, &a->store, err)) < 0)
		goto fail;
	if (o->inject_key || o->inject_password) {
		struct injector_opts io = {
			.timeout_s =
				o->injection_timeout_s > 0 ? (unsigned)o->injection_timeout_s : 600,
			.force_tcg = o->inject_force_tcg,
			.image_store = a->image_store[0] ? a->image_store : NULL,
			.window_ms = 200,
		};

		if ((r = injector_new(&io, &a->inj, err)) < 0)
			goto fail;
	}

	a->drv = o->driver;
	a->ops = hv_driver_ops(o->driver);
	if ((r = agent_open_host(o, &a->host, err)) < 0)
		goto fail;
	a->info.struct_size = sizeof a->info;
	if ((r = a->ops->host_info(a->host, &a->info, err)) < 0)
		goto fail;
	if (a->ops->set_event_callback)
		a->ops->set_event_callback(a->host, on_driver_event, a, NULL);
	if ((r = agent_check_fresh_journal(a, err)) < 0) {
		journal_discard(a->jn); /* the next start must find it missing again */
		a->jn = NULL;
		goto fail;
	}
	if ((r = check_drive_dir(a, err)) < 0 || (r = check_reach(a, o, err)) < 0)
		goto fail;

	if ((r = agent_load_insts(a, err)) < 0)
		goto fail;
	if (o->netfilter) {
		json_t *saved = NULL;

		if ((r = journal_meta_get(a->jn, "netfilter_state", &saved, err)) < 0)
			goto fail;
		r = net_open(o->external_interface, saved, &a->net, err);
		json_decref(saved);
		if (r < 0)
			goto fail;
		a->links_fd = net_watch_fd(a->net);
		if (err && err->message[0]) { /* the rules are in, some tap's host side is not */
			hv_log(HV_LOG_WARNING, NULL, NULL, "host side of the taps: %s",
			       err->message);
			memset(err, 0, sizeof *err);
		}
	}
	agent_recover(a);

	a->zctx = zmq_ctx_new();
	a->results = zmq_socket(a->zctx, ZMQ_PULL);
	zmq_setsockopt(a->results, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_bind(a->results, RESULTS_ENDPOINT) < 0) {
		r = hv_error_set(err, -zmq_errno(), NULL, "bind %s: %s", RESULTS_ENDPOINT,
				 zmq_strerror(zmq_errno()));
		goto fail;
	}
	a->n_workers = (size_t)a->o.max_builds + 2;
	a->workers = calloc(a->n_workers, sizeof *a->workers);
	if (!a->workers) {
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < a->n_workers; i++) {
		a->workers[i].a = a;
		a->workers[i].q = i == 0 ? &a->house_q : i == 1 ? &a->net_q : &a->cmd_q;
		if ((r = -pthread_create(&a->workers[i].thread, NULL, agent_worker_main,
					 &a->workers[i])) < 0) {
			hv_error_set(err, r, NULL, "starting a worker: %s", strerror(-r));
			goto fail;
		}
		a->workers[i].started = true;
	}
	a->next_sync_ms =
		agent_mono_ms(); /* first sync right away: report what the journal missed */
	if ((r = agent_metrics_start(a, err)) < 0)
		goto fail;
	*ret = a;
	return 0;
fail:
	agent_free(a);
	return r;
}

void
agent_free(struct agent *a)
{
	if (!a)
		return;
	agent_metrics_stop(a); /* first: a scrape calls the driver */
	agent_queue_stop(&a->cmd_q);
	agent_queue_stop(&a->house_q);
	agent_queue_stop(&a->net_q);
	agent_fetch_free_all(a);
	for (size_t i = 0; a->workers && i < a->n_workers; i++)
		if (a->workers[i].started)
			pthread_join(a->workers[i].thread, NULL);
	if (a->results) {
		close_socket(a);
		drain_all_results(a); /* journal what finished while stopping */
		zmq_close(a->results);
	}
	close_socket(a);
	if (a->zctx)
		zmq_ctx_term(a->zctx);
	if (a->host) {
		if (a->ops->set_event_callback)
			a->ops->set_event_callback(a->host, NULL, NULL, NULL);
		a->ops->close(a->host);
	}
	{
		struct drv_event *e = a->ev_head, *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	for (size_t i = 0; i < a->n_insts; i++)
		inst_free(a->insts[i]);
	free(a->insts);
	for (size_t i = 0; i < a->n_events; i++)
		json_decref(a->events[i].body);
	agent_drop_unsaved(a);
	net_free(a->net); /* rules stay in place */
	json_decref(a->removed);
	json_decref(a->unknown_reported);
	journal_free(a->jn);
	imgstore_free(a->store);
	injector_free(a->inj);
	free(a->held_msgs);
	free(a->held_jobs);
	free(a->workers);
	if (a->ev_pipe[0] >= 0)
		close(a->ev_pipe[0]);
	if (a->ev_pipe[1] >= 0)
		close(a->ev_pipe[1]);
	keys_pair_wipe(&a->keys);
	free(a);
}
