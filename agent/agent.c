/* agent.c - the agent's event loop. One thread (the caller of agent_run) owns the DEALER,
 * the journal and the instance table; workers own nothing but the job they run and hand it
 * back over inproc. This file must never call a driver op on the loop thread once the loop
 * runs, never reply before the journal holds the answer, and never log a secret. */
#include "agent.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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
#include "image.h"
#include "imgstore.h"
#include "injector.h"
#include "inst.h"
#include "journal.h"
#include "json.h"
#include "keys.h"
#include "loader.h"
#include "log.h"
#include "net.h"
#include "proto.h"
#include "req.h"

#define RESULTS_ENDPOINT "inproc://hvagent-results"
#define MAX_QUEUED_JOBS 4096
#define MAX_PENDING_EVENTS 1024
#define ZMQ_PART_LIMIT (4 * 1024 * 1024)
#define PRUNE_AFTER_MS (24LL * 3600 * 1000)
#define RESULTS_PER_ITERATION 64
#define SEND_HWM 5000 /* messages queued to the controller before sends are dropped */
#define EVENT_RESEND_BATCH 128

static volatile sig_atomic_t stop_requested;

void agent_request_stop(void)
{
	stop_requested = 1;
}

enum job_kind { JOB_CMD, JOB_STATS, JOB_SYNC, JOB_NET, JOB_NET_RESYNC };

struct sync_entry {
	char uuid[37];
	enum hvd_power_state power;
};

struct job {
	struct job *next;
	enum job_kind kind;
	/* JOB_CMD */
	struct req req;
	json_t *spec;         /* the spec the driver sees (deep copy, owned by the job) */
	char cmd_id[65];
	char corr_id[37];
	int64_t deadline_ms;
	int rc;
	struct hv_error err;
	bool have_info;
	struct hvd_instance_info info;
	json_t *data;         /* command-specific result data */
	bool data_secret;     /* data holds a secret (console password) */
	/* JOB_NET: the command body (no secrets in firewall commands) and, after success, the
	 * committed state to journal */
	json_t *net_body;
	json_t *net_state;
	/* JOB_STATS */
	struct hvd_host_stats stats;
	/* JOB_SYNC */
	int64_t started_ms;   /* records changed after this are newer than the listing */
	struct sync_entry *entries;
	size_t n_entries, cap_entries;
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	size_t len;
	bool stopping;
};

struct worker {
	struct agent *a;
	struct queue *q;
	pthread_t thread;
	bool started;
};

struct pending_event {
	uint64_t seq;
	json_t *body;
	int64_t sent_ms;
};

struct drv_event {
	struct drv_event *next;
	char uuid[37];
	enum hvd_event_type type;
	enum hvd_power_state power;
};

struct agent {
	struct agent_opts o;
	char host_id[PROTO_MAX_ID + 1];
	char boot_id[37];
	char state_dir[PATH_MAX], endpoint[512], image_store[PATH_MAX], drive_dir[PATH_MAX];
	char server_key[KEYS_Z85_LEN + 1];
	struct keys_pair keys;
	bool curve;

	const struct hvd_driver *ops;
	const struct hv_driver *drv;
	struct hvd_host *host;
	struct imgstore *store;   /* NULL when [DEFAULT] image_store is empty */
	struct injector *inj;     /* NULL unless [guest] inject_key or inject_password */
	/* HOST_DOWN until HOST_UP: the host reports itself disabled (automatically) and
	 * refuses commands that need the driver */
	bool host_down;
	struct hvd_host_info info;
	struct journal *jn;

	void *zctx, *dealer, *results;
	bool session;
	char hello_id[37];
	int64_t hello_ms, last_rx_ms, last_tx_ms, last_ping_ms, next_connect_ms;
	int backoff_ms;

	struct inst **insts;
	size_t n_insts, cap_insts;
	json_t *removed;        /* uuids removed since the last DELTA */
	bool dirty;
	uint64_t seq, last_state_seq, generation;

	struct pending_event events[MAX_PENDING_EVENTS];
	size_t n_events;
	json_t *unknown_reported; /* uuids already reported as instance_unknown */

	struct queue cmd_q, house_q, net_q;
	struct net *net;
	bool net_resync_pending;
	int64_t next_net_resync_ms;
	struct worker *workers;
	size_t n_workers;
	bool stats_pending, sync_pending, have_prev_stats;
	struct hvd_host_stats prev_stats;
	int64_t next_report_ms, next_sync_ms, next_event_resend_ms, next_prune_ms;

	/* group commit: what one loop turn journals is committed once, then its messages are
	 * sent and its jobs started (journal before acting, before replying) */
	struct proto_msg *held_msgs;
	size_t n_held_msgs, cap_held_msgs;
	struct held_job { struct queue *q; struct job *j; } *held_jobs;
	size_t n_held_jobs, cap_held_jobs;

	pthread_mutex_t ev_mu;
	struct drv_event *ev_head, *ev_tail;
	int ev_pipe[2];
};

/* ---------------------------------------------------------------- helpers */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t rand32(void)
{
	uint32_t v = 0;

	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
		v = (uint32_t)mono_ms() * 2654435761u;
	return v;
}

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

static struct inst *find(struct agent *a, const char *uuid)
{
	for (size_t i = 0; i < a->n_insts; i++)
		if (strcmp(a->insts[i]->uuid, uuid) == 0)
			return a->insts[i];
	return NULL;
}

static int add_inst(struct agent *a, struct inst *in)
{
	if (a->n_insts == a->cap_insts) {
		size_t cap = a->cap_insts ? a->cap_insts * 2 : 64;
		struct inst **n = realloc(a->insts, cap * sizeof *n);

		if (!n)
			return -ENOMEM;
		a->insts = n;
		a->cap_insts = cap;
	}
	a->insts[a->n_insts++] = in;
	return 0;
}

static void remove_inst(struct agent *a, struct inst *in)
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

static void touch(struct agent *a, struct inst *in)
{
	in->updated_ms = proto_now_ms();
	in->dirty = true;
	a->dirty = true;
	a->generation++;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	req_release(&j->req);
	json_decref(j->spec);
	if (j->data && j->data_secret)
		hj_wipe_string(json_object_get(j->data, "password"));
	json_decref(j->data);
	json_decref(j->net_body);
	json_decref(j->net_state);
	free(j->entries);
	free(j);
}

/* ---------------------------------------------------------------- sending */

static int send_msg(struct agent *a, enum proto_type type, const char *corr_id, bool with_seq,
		    json_t *body /* stolen */)
{
	struct proto_msg m = { .type = type, .body = body };
	struct hv_error err = { 0 };
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
		if (a->n_held_msgs == a->cap_held_msgs) {
			size_t cap = a->cap_held_msgs ? 2 * a->cap_held_msgs : 64;
			struct proto_msg *n = realloc(a->held_msgs, cap * sizeof *n);

			if (!n) {
				json_decref(body);
				return -ENOMEM;
			}
			a->held_msgs = n;
			a->cap_held_msgs = cap;
		}
		a->held_msgs[a->n_held_msgs++] = m;
		return 0;
	}
	r = proto_send(a->dealer, NULL, &m, ZMQ_DONTWAIT, &err);
	if (r < 0)
		hv_log(r == -EAGAIN ? HV_LOG_DEBUG : HV_LOG_WARNING, NULL, NULL,
		       "not sent: %s type=%s", err.message, proto_type_name(type));
	else
		a->last_tx_ms = mono_ms();
	json_decref(body);
	return r;
}

static void queue_push(struct queue *q, struct job *j);

static void batch_begin(struct agent *a)
{
	struct hv_error err = { 0 };

	/* when it fails, every write commits (and is fsync'd) on its own, as outside a batch */
	if (journal_batch_begin(a->jn, &err) < 0)
		hv_log(HV_LOG_WARNING, NULL, NULL, "journal: %s", err.message);
}

/* Commits the loop turn's journal writes in one transaction (one fsync), then sends what
 * was answered and starts what was accepted, in order. If the commit fails nothing of it
 * may be sent or started: the agent stops (-EIO) and restart recovery answers from the
 * journal; the controller re-sends the unacknowledged COMMANDs. */
static int batch_end(struct agent *a)
{
	struct hv_error err = { 0 };
	int r = journal_batch_commit(a->jn, &err);

	if (r < 0)
		hv_log(HV_LOG_ERR, NULL, NULL, "journal: %s; stopping, nothing of it was answered",
		       err.message);
	for (size_t i = 0; i < a->n_held_msgs; i++) {
		struct proto_msg *m = &a->held_msgs[i];

		if (r == 0 && a->dealer) {
			int s = proto_send(a->dealer, NULL, m, ZMQ_DONTWAIT, &err);

			if (s < 0)
				hv_log(s == -EAGAIN ? HV_LOG_DEBUG : HV_LOG_WARNING, NULL, NULL,
				       "not sent: %s type=%s", err.message, proto_type_name(m->type));
			else
				a->last_tx_ms = mono_ms();
		}
		json_decref(m->body);
	}
	a->n_held_msgs = 0;
	for (size_t i = 0; i < a->n_held_jobs; i++) {
		if (r == 0)
			queue_push(a->held_jobs[i].q, a->held_jobs[i].j);
		else
			job_free(a->held_jobs[i].j);
	}
	a->n_held_jobs = 0;
	return r;
}

static void send_error(struct agent *a, const char *corr_id, const char *code,
		       const struct hv_error *err)
{
	hv_log(HV_LOG_NOTICE, NULL, NULL, "refused a message: code=%s %s", code, err->message);
	send_msg(a, PROTO_ERROR, corr_id, false, proto_error_body(code, err));
}

/* ---------------------------------------------------------------- report */

static json_t *metric(const char *name, json_t *value, int64_t ts)
{
	return json_pack("{s:s, s:o, s:I, s:s}", "name", name, "value", value, "timestamp",
			 (json_int_t)ts, "source", "hvagent");
}

static json_t *report_body(struct agent *a, const struct hvd_host_stats *st)
{
	uint64_t vcpus_used = 0, mem_used = 0, disk_used = 0;
	size_t running = 0, workload = 0;
	int64_t now = proto_now_ms();
	json_t *metrics = json_array(), *cells = json_array();
	const struct hvd_host_info *hi = &a->info;
	json_t *o;

	for (size_t i = 0; i < a->n_insts; i++) {
		const struct inst *in = a->insts[i];
		json_t *f = json_object_get(in->spec, "flavor");

		if (in->vm == VM_DELETED)
			continue;
		vcpus_used += (uint64_t)json_integer_value(json_object_get(f, "vcpus"));
		mem_used += (uint64_t)json_integer_value(json_object_get(f, "ram_mb"));
		disk_used += (uint64_t)(json_integer_value(json_object_get(f, "root_gb")) +
					json_integer_value(json_object_get(f, "ephemeral_gb")));
		if (in->power == HVD_POWER_RUNNING)
			running++;
		if (in->task != TASK_NONE)
			workload++;
	}
	if (st) {
		json_array_append_new(metrics, metric("cpu.frequency", json_integer(st->cpu_mhz), now));
		json_array_append_new(metrics, metric("cpu.user.time", json_integer((json_int_t)st->cpu_user_ns), now));
		json_array_append_new(metrics, metric("cpu.kernel.time", json_integer((json_int_t)st->cpu_kernel_ns), now));
		json_array_append_new(metrics, metric("cpu.idle.time", json_integer((json_int_t)st->cpu_idle_ns), now));
		json_array_append_new(metrics, metric("cpu.iowait.time", json_integer((json_int_t)st->cpu_iowait_ns), now));
		if (a->have_prev_stats) {
			const struct hvd_host_stats *p = &a->prev_stats;
			double du = (double)(st->cpu_user_ns - p->cpu_user_ns);
			double dk = (double)(st->cpu_kernel_ns - p->cpu_kernel_ns);
			double di = (double)(st->cpu_idle_ns - p->cpu_idle_ns);
			double dw = (double)(st->cpu_iowait_ns - p->cpu_iowait_ns);
			double tot = du + dk + di + dw;

			if (tot > 0) {
				json_array_append_new(metrics, metric("cpu.user.percent", json_real(du / tot), now));
				json_array_append_new(metrics, metric("cpu.kernel.percent", json_real(dk / tot), now));
				json_array_append_new(metrics, metric("cpu.idle.percent", json_real(di / tot), now));
				json_array_append_new(metrics, metric("cpu.iowait.percent", json_real(dw / tot), now));
				json_array_append_new(metrics, metric("cpu.percent", json_real((du + dk + dw) / tot), now));
			}
		}
	}
	for (uint32_t c = 0; c < hi->n_cells && c < HVD_MAX_NUMA_CELLS; c++) {
		const struct hvd_numa_cell *cell = &hi->cells[c];
		json_t *pages = json_array(), *sib = json_array();
		char groups[256], *save = NULL, *g;

		for (uint32_t p = 0; p < cell->n_mempages && p < HVD_MAX_PAGE_SIZES; p++)
			json_array_append_new(pages, json_pack("{s:I, s:I, s:I}", "size_kb",
				(json_int_t)cell->mempages[p].size_kb, "total",
				(json_int_t)cell->mempages[p].total, "used",
				(json_int_t)cell->mempages[p].used));
		snprintf(groups, sizeof groups, "%s", cell->siblings);
		for (g = strtok_r(groups, ";", &save); g; g = strtok_r(NULL, ";", &save))
			json_array_append_new(sib, json_string(g));
		json_array_append_new(cells, json_pack("{s:I, s:s, s:o, s:I, s:I, s:I, s:[], s:o}",
			"id", (json_int_t)cell->id, "cpuset", cell->cpuset, "siblings", sib,
			"memory", (json_int_t)cell->memory_mb, "memory_usage",
			(json_int_t)cell->memory_used_mb, "cpu_usage", (json_int_t)0,
			"pinned_cpus", "mempages", pages));
	}
	o = json_object();
	json_object_set_new(o, "hypervisor_hostname", json_string(a->host_id));
	json_object_set_new(o, "hypervisor_type", json_string(hi->hypervisor_type));
	json_object_set_new(o, "hypervisor_version", json_integer((json_int_t)hi->hypervisor_version));
	json_object_set_new(o, "vcpus", json_integer(hi->vcpus));
	json_object_set_new(o, "vcpus_used", json_integer((json_int_t)vcpus_used));
	json_object_set_new(o, "memory_mb", json_integer((json_int_t)hi->memory_mb));
	json_object_set_new(o, "memory_mb_used", json_integer((json_int_t)mem_used));
	json_object_set_new(o, "free_ram_mb", json_integer((json_int_t)hi->memory_mb - (json_int_t)mem_used));
	json_object_set_new(o, "local_gb", json_integer((json_int_t)hi->local_gb));
	json_object_set_new(o, "local_gb_used", json_integer((json_int_t)disk_used));
	json_object_set_new(o, "free_disk_gb", json_integer((json_int_t)hi->local_gb - (json_int_t)disk_used));
	json_object_set_new(o, "disk_available_least",
			    json_integer(st ? (json_int_t)st->disk_free_gb
					    : (json_int_t)hi->local_gb - (json_int_t)disk_used));
	json_object_set_new(o, "running_vms", json_integer((json_int_t)running));
	json_object_set_new(o, "current_workload", json_integer((json_int_t)workload));
	json_object_set_new(o, "cpu_info", json_pack("{s:s, s:s, s:s, s:{s:I, s:i, s:I, s:i}, s:[]}",
		"arch", hi->arch, "model", hi->cpu_model, "vendor", "", "topology", "cells",
		(json_int_t)hi->n_cells, "sockets", 1, "cores", (json_int_t)hi->vcpus, "threads", 1,
		"features"));
	if (st)
		json_object_set_new(o, "real", json_pack("{s:I, s:I}", "memory_mb_used",
			(json_int_t)(hi->memory_mb > st->memory_free_mb ? hi->memory_mb - st->memory_free_mb : 0),
			"local_gb_used", (json_int_t)st->local_gb_used));
	json_object_set_new(o, "metrics", metrics);
	json_object_set_new(o, "numa_topology", json_pack("{s:o}", "cells", cells));
	json_object_set_new(o, "generation", json_integer((json_int_t)a->generation));
	/* nova's service status; "AUTO: " marks a disable the agent lifts by itself */
	json_object_set_new(o, "status", json_string(a->host_down ? "disabled" : "enabled"));
	if (a->host_down)
		json_object_set_new(o, "disabled_reason",
				    json_string("AUTO: hypervisor connection lost"));
	return o;
}

/* ---------------------------------------------------------------- state sync, events */

/* Room left in a body for the host section, the other fields and rounding. */
#define STATE_BODY_BUDGET (PROTO_MAX_BODY - 64 * 1024)

/* Moves records, starting at *next, into a new array until the body budget (with `used`
 * bytes already taken) is reached; at least one record per call. */
static json_t *state_batch(struct agent *a, size_t *next, size_t used)
{
	json_t *batch = json_array();

	for (; *next < a->n_insts; (*next)++) {
		json_t *rec = inst_to_json(a->insts[*next]);
		char *text = hj_dump(rec);
		size_t len = text ? strlen(text) + 1 : 0;

		free(text);
		if (used + len > STATE_BODY_BUDGET && json_array_size(batch) > 0) {
			json_decref(rec);
			break;
		}
		json_array_append_new(batch, rec);
		used += len;
	}
	return batch;
}

/* The full state. When it does not fit one body, the SNAPSHOT carries what fits with
 * "more": true and the rest follows at once as DELTAs (docs/protocol.md 7). */
static void send_snapshot(struct agent *a)
{
	json_t *host = report_body(a, a->have_prev_stats ? &a->prev_stats : NULL);
	char *text = hj_dump(host);
	size_t next = 0, used = (text ? strlen(text) : 0) + 256;
	json_t *body, *batch;

	free(text);
	batch = state_batch(a, &next, used);
	body = json_pack("{s:I, s:o, s:o, s:b}", "generation", (json_int_t)a->generation, "host",
			 host, "instances", batch, "more", next < a->n_insts);
	a->seq++;
	a->last_state_seq = a->seq;
	send_msg(a, PROTO_SNAPSHOT, NULL, true, body);
	while (next < a->n_insts) {
		batch = state_batch(a, &next, 256);
		body = json_pack("{s:I, s:I, s:o, s:[], s:b}", "prev_seq",
				 (json_int_t)a->last_state_seq, "generation",
				 (json_int_t)a->generation, "instances", batch, "removed", "more",
				 next < a->n_insts);
		a->seq++;
		a->last_state_seq = a->seq;
		send_msg(a, PROTO_DELTA, NULL, true, body);
	}
	json_array_clear(a->removed);
	for (size_t i = 0; i < a->n_insts; i++)
		a->insts[i]->dirty = false;
	a->dirty = false;
}

static void flush_delta(struct agent *a)
{
	json_t *changed, *body;

	if (!a->dirty)
		return;
	a->dirty = false;
	changed = json_array();
	for (size_t i = 0; i < a->n_insts; i++) {
		if (a->insts[i]->dirty && a->session)
			json_array_append_new(changed, inst_to_json(a->insts[i]));
		a->insts[i]->dirty = false;
	}
	if (!a->session) {
		/* the SNAPSHOT after the next WELCOME carries it */
		json_decref(changed);
		json_array_clear(a->removed);
		return;
	}
	body = json_pack("{s:I, s:I, s:o, s:O}", "prev_seq", (json_int_t)a->last_state_seq,
			 "generation", (json_int_t)a->generation, "instances", changed, "removed",
			 a->removed);
	json_array_clear(a->removed);
	a->seq++;
	a->last_state_seq = a->seq;
	send_msg(a, PROTO_DELTA, NULL, true, body);
}

static void emit_event(struct agent *a, json_t *body /* stolen */)
{
	struct pending_event *e;

	if (a->n_events == MAX_PENDING_EVENTS) {
		json_decref(a->events[0].body);
		memmove(&a->events[0], &a->events[1], (MAX_PENDING_EVENTS - 1) * sizeof a->events[0]);
		a->n_events--;
		hv_log(HV_LOG_WARNING, NULL, NULL, "event queue full: oldest unacknowledged event dropped");
	}
	a->seq++;
	e = &a->events[a->n_events++];
	e->seq = a->seq;
	e->body = body;
	e->sent_ms = 0;
	if (a->session) {
		json_incref(body);
		send_msg(a, PROTO_EVENT, NULL, true, body);
		e->sent_ms = mono_ms();
	}
}

/* Re-sends events not sent within min_age_ms, at most max of them: a controller that is
 * slow to acknowledge must not be buried under its own backlog. */
static void resend_events(struct agent *a, int64_t min_age_ms, size_t max)
{
	uint64_t saved = a->seq;
	int64_t now = mono_ms();
	size_t sent = 0;

	for (size_t i = 0; i < a->n_events && sent < max; i++) {
		if (a->events[i].sent_ms && now - a->events[i].sent_ms < min_age_ms)
			continue;
		a->seq = a->events[i].seq; /* a re-sent event keeps its seq */
		json_incref(a->events[i].body);
		send_msg(a, PROTO_EVENT, NULL, true, a->events[i].body);
		a->events[i].sent_ms = now;
		sent++;
	}
	a->seq = saved;
}

static void ack_event(struct agent *a, uint64_t seq)
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

/* ---------------------------------------------------------------- workers */

static void queue_init(struct queue *q)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
}

static void queue_push(struct queue *q, struct job *j)
{
	pthread_mutex_lock(&q->mu);
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* Starts a job, or holds it until the batch that journaled its acceptance is committed. */
static void dispatch(struct agent *a, struct queue *q, struct job *j)
{
	if (journal_in_batch(a->jn)) {
		if (a->n_held_jobs == a->cap_held_jobs) {
			size_t cap = a->cap_held_jobs ? 2 * a->cap_held_jobs : 64;
			struct held_job *n = realloc(a->held_jobs, cap * sizeof *n);

			if (!n) { /* cannot hold it: make the batch durable now */
				batch_end(a);
				queue_push(q, j);
				batch_begin(a);
				return;
			}
			a->held_jobs = n;
			a->cap_held_jobs = cap;
		}
		a->held_jobs[a->n_held_jobs++] = (struct held_job){ q, j };
		return;
	}
	queue_push(q, j);
}

static size_t queue_len(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static struct job *queue_pop(struct queue *q)
{
	struct job *j;

	pthread_mutex_lock(&q->mu);
	while (!q->head && !q->stopping)
		pthread_cond_wait(&q->cv, &q->mu);
	j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
	}
	pthread_mutex_unlock(&q->mu);
	return j;
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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	void *push = zmq_socket(w->a->zctx, ZMQ_PUSH);
	int linger = -1; /* a finished job must reach the loop */
	struct job *j;

	zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
	zmq_connect(push, RESULTS_ENDPOINT);
	while ((j = queue_pop(w->q))) {
		run_job(w->a, j);
		if (zmq_send(push, &j, sizeof j, 0) != sizeof j)
			job_free(j); /* context terminating: the journal still says "accepted" */
	}
	zmq_close(push);
	return NULL;
}

/* ---------------------------------------------------------------- driver events */

static void on_driver_event(void *ctx, const char *uuid, enum hvd_event_type type,
			    enum hvd_power_state power)
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

static const char *transition_name(enum hvd_event_type t)
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
static enum inst_sync apply_power(struct agent *a, struct inst *in, bool found,
				  enum hvd_power_state p, bool from_event)
{
	enum inst_vm vm;
	enum inst_sync what = inst_sync_decide(in, found, p, from_event, &vm);

	if (what == INST_SYNC_NOTHING || what == INST_SYNC_SKIP)
		return what;
	in->power = found ? p : HVD_POWER_NOSTATE;
	in->vm = vm;
	touch(a, in);
	return what;
}

static void drain_driver_events(struct agent *a)
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
		struct inst *in = e->uuid[0] ? find(a, e->uuid) : NULL;

		next = e->next;
		if (e->type == HVD_EVENT_HOST_DOWN || e->type == HVD_EVENT_HOST_UP) {
			bool down = e->type == HVD_EVENT_HOST_DOWN;

			hv_log(HV_LOG_WARNING, NULL, NULL, "%s: host %s", transition_name(e->type),
			       down ? "disabled (automatic) until the hypervisor is back"
				    : "enabled again; resyncing power states");
			a->host_down = down;
			if (!down)
				a->next_sync_ms = mono_ms(); /* states may have changed meanwhile */
			emit_event(a, json_pack("{s:s}", "event", transition_name(e->type)));
			/* the controller learns the new status now, not at the next interval */
			if (a->session)
				send_msg(a, PROTO_REPORT, NULL, false,
					 report_body(a, a->have_prev_stats ? &a->prev_stats : NULL));
		} else if (in) {
			hv_log(HV_LOG_INFO, in->uuid, NULL, "lifecycle %s", transition_name(e->type));
			apply_power(a, in, e->type != HVD_EVENT_DELETED, e->power, true);
			emit_event(a, json_pack("{s:s, s:s, s:s, s:s}", "event", "lifecycle", "uuid",
						in->uuid, "transition", transition_name(e->type),
						"power_state", inst_power_name(in->power)));
		}
		free(e);
	}
}

/* ---------------------------------------------------------------- commands */

static json_t *result_body(const struct inst *in, const char *cmd_id, enum inst_cmd cmd,
			   const char *uuid, int rc, const char *code, const struct hv_error *err,
			   json_t *data /* borrowed */)
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

/* Journals the finished command (and the instance) and sends the RESULT. */
static void finish(struct agent *a, struct inst *in, bool removed, const char *cmd_id,
		   const char *corr_id, json_t *result, json_t *journaled /* NULL = result */)
{
	struct hv_error err = { 0 };
	const char *uuid = json_string_value(json_object_get(result, "uuid"));

	if (journal_begin(a->jn, &err) < 0 ||
	    (removed ? journal_inst_delete(a->jn, uuid, &err)
		     : in ? journal_inst_put(a->jn, in->uuid, json_object_get(result, "instance"), &err)
			  : 0) < 0 ||
	    journal_cmd_finish(a->jn, cmd_id, journaled ? journaled : result, &err) < 0 ||
	    journal_commit(a->jn, &err) < 0) {
		journal_rollback(a->jn);
		hv_log(HV_LOG_ERR, uuid, cmd_id, "journal: %s", err.message);
	}
	if (a->session)
		send_msg(a, PROTO_RESULT, corr_id, false, json_incref(result));
	json_decref(result);
	json_decref(journaled);
}

static void on_cmd_done(struct agent *a, struct job *j)
{
	struct inst *in = find(a, j->req.uuid);
	enum inst_cmd cmd = j->req.cmd;
	const char *code = j->rc < 0 ? proto_code_for_errno(j->rc, PROTO_MAP_COMMAND) : NULL;
	bool removed = false;
	json_t *res, *journaled = NULL;

	if (in && !inst_cmd_readonly(cmd)) {
		if (j->rc == 0) {
			enum inst_vm after = inst_vm_after(in, cmd, j->req.power_on);
			json_t *part = j->req.spec;

			switch (cmd) {
			case CMD_SPAWN:
				in->launched_at_ms = proto_now_ms();
				break;
			case CMD_RESIZE:
				json_decref(in->old_flavor);
				in->old_flavor = json_incref(json_object_get(in->spec, "flavor"));
				json_object_set(in->spec, "flavor", json_object_get(part, "flavor"));
				in->vm_before_resize = in->vm;
				break;
			case CMD_CONFIRM_RESIZE:
				json_decref(in->old_flavor);
				in->old_flavor = NULL;
				break;
			case CMD_REVERT_RESIZE:
				if (in->old_flavor)
					json_object_set(in->spec, "flavor", in->old_flavor);
				json_decref(in->old_flavor);
				in->old_flavor = NULL;
				break;
			case CMD_REBUILD:
				json_object_set(in->spec, "image", json_object_get(part, "image"));
				break;
			default:
				break;
			}
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
			in->fault = json_pack("{s:s, s:s}", "code", code, "message", j->err.message);
		}
		in->task = TASK_NONE;
		in->cmd_id[0] = '\0';
		if (j->have_info)
			in->power = j->info.power_state;
		touch(a, in);
	}
	if (j->rc < 0)
		hv_log(HV_LOG_WARNING, j->req.uuid, j->cmd_id, "%s failed: code=%s %s",
		       inst_cmd_name(cmd), code, j->err.message);
	else
		hv_log(HV_LOG_INFO, j->req.uuid, j->cmd_id, "%s done", inst_cmd_name(cmd));
	res = result_body(removed ? NULL : in, j->cmd_id, cmd, j->req.uuid, j->rc, code, &j->err,
			  j->data);
	if (j->data_secret) {
		journaled = json_deep_copy(res);
		json_object_del(json_object_get(journaled, "data"), "password");
		json_object_set_new(json_object_get(journaled, "data"), "password_redacted",
				    json_true());
	}
	finish(a, removed ? NULL : in, removed && in, j->cmd_id, j->corr_id, res, journaled);
	if (removed && in)
		remove_inst(a, in);
}

static void on_net_done(struct agent *a, struct job *j)
{
	const char *command = json_string_value(json_object_get(j->net_body, "command"));
	const char *code = j->rc < 0 ? proto_code_for_errno(j->rc, PROTO_MAP_FIREWALL) : NULL;
	struct hv_error err = { 0 };
	json_t *res = json_object();

	json_object_set_new(res, "cmd_id", json_string(j->cmd_id));
	json_object_set_new(res, "command", json_string(command));
	json_object_set_new(res, "uuid", json_null());
	json_object_set_new(res, "status", json_string(j->rc < 0 ? "error" : "ok"));
	if (j->rc < 0)
		json_object_set_new(res, "error", proto_error_body(code, &j->err));
	json_object_set_new(res, "instance", json_null());
	if (j->rc < 0)
		hv_log(HV_LOG_WARNING, NULL, j->cmd_id, "%s failed: code=%s %s", command, code,
		       j->err.message);
	else
		hv_log(HV_LOG_INFO, NULL, j->cmd_id, "%s done", command);
	if (journal_begin(a->jn, &err) < 0 ||
	    (j->net_state && journal_meta_put(a->jn, "netfilter_state", j->net_state, &err) < 0) ||
	    journal_cmd_finish(a->jn, j->cmd_id, res, &err) < 0 || journal_commit(a->jn, &err) < 0) {
		journal_rollback(a->jn);
		hv_log(HV_LOG_ERR, NULL, j->cmd_id, "journal: %s", err.message);
	}
	if (a->session)
		send_msg(a, PROTO_RESULT, j->corr_id, false, json_incref(res));
	json_decref(res);
}

static void on_job_done(struct agent *a, struct job *j)
{
	switch (j->kind) {
	case JOB_NET:
		on_net_done(a, j);
		break;
	case JOB_NET_RESYNC:
		a->net_resync_pending = false;
		if (j->rc < 0)
			hv_log(HV_LOG_ERR, NULL, NULL, "firewall resync: %s", j->err.message);
		break;
	case JOB_CMD:
		on_cmd_done(a, j);
		break;
	case JOB_STATS:
		a->stats_pending = false;
		if (j->rc < 0) {
			hv_log(HV_LOG_WARNING, NULL, NULL, "host stats: %s", j->err.message);
			/* a disabled host still reports (its status), with the last counters */
			if (a->host_down && a->session)
				send_msg(a, PROTO_REPORT, NULL, false,
					 report_body(a, a->have_prev_stats ? &a->prev_stats : NULL));
			break;
		}
		if (a->session)
			send_msg(a, PROTO_REPORT, NULL, false, report_body(a, &j->stats));
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
			emit_event(a, what == INST_SYNC_POWER
					      ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "event",
							  "power_state_changed", "uuid", in->uuid,
							  "old", inst_power_name(old), "new",
							  inst_power_name(in->power), "vm_state",
							  inst_vm_name(in->vm))
					      : json_pack("{s:s, s:s}", "event", "instance_missing",
							  "uuid", in->uuid));
		}
		for (size_t k = 0; k < j->n_entries; k++) {
			const char *u = j->entries[k].uuid;

			if (find(a, u) || json_object_get(a->unknown_reported, u))
				continue;
			json_object_set_new(a->unknown_reported, u, json_true());
			hv_log(HV_LOG_WARNING, u, NULL, "guest unknown to the journal (left alone)");
			emit_event(a, json_pack("{s:s, s:s, s:s}", "event", "instance_unknown", "uuid",
						u, "power_state",
						inst_power_name(j->entries[k].power)));
		}
		hv_log(HV_LOG_DEBUG, NULL, NULL, "power state sync: %zu guests listed", j->n_entries);
		break;
	}
	job_free(j);
}

static void drain_results(struct agent *a)
{
	struct job *j;

	/* bounded, so a burst of finished jobs never starves the socket and the timers */
	for (int n = 0; n < RESULTS_PER_ITERATION &&
			zmq_recv(a->results, &j, sizeof j, ZMQ_DONTWAIT) == sizeof j; n++)
		on_job_done(a, j);
}

static void drain_all_results(struct agent *a)
{
	struct job *j;

	while (zmq_recv(a->results, &j, sizeof j, ZMQ_DONTWAIT) == sizeof j)
		on_job_done(a, j);
}

static void send_stored(struct agent *a, const struct journal_cmd *c, const char *corr_id)
{
	if (c->state == JOURNAL_DONE)
		send_msg(a, PROTO_RESULT, corr_id, false, json_incref(c->reply));
	else if (c->state == JOURNAL_REFUSED)
		send_msg(a, PROTO_ERROR, corr_id, false, json_incref(c->reply));
	else
		send_msg(a, PROTO_ACK, corr_id, false,
			 json_pack("{s:s, s:s}", "cmd_id", c->cmd_id, "state", "running"));
}

/* A refusal after validation: journaled so a duplicate gets the same answer. */
static void refuse(struct agent *a, const struct proto_msg *m, const struct req *r,
		   const char *code, const struct hv_error *err)
{
	json_t *body = proto_error_body(code, err), *red = req_redacted(m->body);
	struct hv_error jerr = { 0 };

	if (journal_cmd_refuse(a->jn, m->hdr.cmd_id, inst_cmd_name(r->cmd), r->uuid, red, body,
			       &jerr) < 0)
		hv_log(HV_LOG_ERR, r->uuid, m->hdr.cmd_id, "journal: %s", jerr.message);
	hv_log(HV_LOG_NOTICE, r->uuid, m->hdr.cmd_id, "%s refused: code=%s %s",
	       inst_cmd_name(r->cmd), code, err->message);
	send_msg(a, PROTO_ERROR, m->hdr.msg_id, false, body);
	json_decref(red);
}

/* Host-scoped firewall commands: journaled and answered like instance commands, run on the
 * one thread that owns the netfilter context. */
static void handle_net_command(struct agent *a, struct proto_msg *m)
{
	const char *command = json_string_value(json_object_get(m->body, "command"));
	struct hv_error err = { 0 };
	struct job *j;

	if (net_check(m->body, &err) < 0) {
		send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		return;
	}
	j = calloc(1, sizeof *j);
	if (!j || journal_cmd_accept(a->jn, m->hdr.cmd_id, command, "", m->body, &err) < 0) {
		free(j);
		if (!err.message[0])
			hv_error_set(&err, -ENOMEM, NULL, "out of memory");
		send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
		return;
	}
	send_msg(a, PROTO_ACK, m->hdr.msg_id, false,
		 json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "accepted"));
	hv_log(HV_LOG_INFO, NULL, m->hdr.cmd_id, "%s accepted", command);
	j->kind = JOB_NET;
	j->net_body = json_deep_copy(m->body);
	snprintf(j->cmd_id, sizeof j->cmd_id, "%s", m->hdr.cmd_id);
	snprintf(j->corr_id, sizeof j->corr_id, "%s", m->hdr.msg_id);
	j->deadline_ms = m->hdr.deadline_ms;
	dispatch(a, &a->net_q, j);
}

/* Refuses, before anything is created, a command whose image the store cannot give: an
 * unknown id (when images must be stored), a format that disagrees with the record, a
 * snapshot id that is taken or cannot name a stored image. The worker resolves again. */
static int check_image(struct agent *a, const struct req *r, struct hv_error *err)
{
	json_t *im = json_object_get(r->spec, "image");
	struct agent_image ai;
	struct hvd_image view = { 0 };
	int rc;

	if (r->cmd == CMD_SNAPSHOT) {
		struct imgstore_image *old = NULL;

		if (!a->store)
			return 0; /* the worker reports it */
		if (!imgstore_id_valid(r->image_id))
			return hv_error_set(err, -EINVAL, "body.image_id",
					    "body.image_id: '%s' cannot name an image in the store "
					    "(allowed: [A-Za-z0-9._-], not starting with '.')",
					    r->image_id);
		if (imgstore_get(a->store, r->image_id, &old, NULL) == 0) {
			imgstore_image_free(old);
			return hv_error_set(err, -EEXIST, "body.image_id",
					    "body.image_id: image '%s' already exists in the image store",
					    r->image_id);
		}
		return 0;
	}
	if (!json_is_object(im) || (r->cmd != CMD_SPAWN && r->cmd != CMD_REBUILD &&
				    r->cmd != CMD_RESCUE))
		return 0;
	view.id = json_string_value(json_object_get(im, "id"));
	view.format = json_string_value(json_object_get(im, "format"));
	rc = agent_image_resolve(a->store, a->o.image_store_required, "body.image", &view, &ai, err);
	agent_image_release(&ai);
	return rc;
}

static void handle_command(struct agent *a, struct proto_msg *m)
{
	struct journal_cmd jc;
	struct hv_error err = { 0 };
	const char *code = NULL, *command = NULL, *uuid = NULL;
	struct req r;
	struct inst *in;
	struct job *j;
	json_t *red = NULL;
	bool created = false;
	int rc;

	rc = journal_cmd_get(a->jn, m->hdr.cmd_id, &jc, &err);
	if (rc < 0) {
		send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
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
			send_error(a, m->hdr.msg_id, PROTO_E_CMD_ID_REUSED, &err);
		} else {
			hv_log(HV_LOG_INFO, jc.uuid, jc.cmd_id, "duplicate %s answered from the journal",
			       jc.command);
			send_stored(a, &jc, m->hdr.msg_id);
		}
		journal_cmd_release(&jc);
		return;
	}
	if (m->hdr.deadline_ms && proto_now_ms() > m->hdr.deadline_ms) {
		hv_error_set(&err, -ETIME, "header.deadline_ms",
			     "header.deadline_ms: the deadline passed %lld ms ago; not executed",
			     (long long)(proto_now_ms() - m->hdr.deadline_ms));
		send_error(a, m->hdr.msg_id, PROTO_E_EXPIRED, &err);
		return;
	}
	hj_str(m->body, "body", "command", HJ_OPTIONAL, 32, &command, NULL);
	if (command && net_is_command(command) && a->net) {
		handle_net_command(a, m);
		return;
	}
	if (req_parse(m->body, &r, &code, &err) < 0) {
		send_error(a, m->hdr.msg_id, code, &err);
		return;
	}
	if (a->host_down) {
		/* not journaled: the same cmd_id is welcome again once the host is back */
		hv_error_set(&err, -ENOTCONN, "host",
			     "host: disabled (AUTO: hypervisor connection lost); retry %s when it is "
			     "back", inst_cmd_name(r.cmd));
		hv_log(HV_LOG_NOTICE, r.uuid, m->hdr.cmd_id, "%s refused: %s", inst_cmd_name(r.cmd),
		       err.message);
		send_error(a, m->hdr.msg_id, PROTO_E_BUSY, &err);
		goto out;
	}
	if (!hv_driver_supports(a->drv, inst_cmd_driver_op(r.cmd))) {
		hv_error_set(&err, -EOPNOTSUPP, "body.command", "the %s driver does not support %s",
			     a->ops->name, inst_cmd_name(r.cmd));
		refuse(a, m, &r, PROTO_E_NOT_SUPPORTED, &err);
		goto out;
	}
	if (queue_len(&a->cmd_q) >= MAX_QUEUED_JOBS) {
		hv_error_set(&err, -EAGAIN, NULL, "%d commands are queued; retry later",
			     MAX_QUEUED_JOBS);
		send_error(a, m->hdr.msg_id, PROTO_E_BUSY, &err);
		goto out;
	}
	in = find(a, r.uuid);
	red = req_redacted(m->body);
	if ((r.cmd == CMD_SPAWN && in) || (r.cmd == CMD_DESTROY && !in)) {
		/* spawn is keyed by uuid, destroy of nothing is done: answer without acting */
		json_t *data = r.cmd == CMD_SPAWN ? json_pack("{s:b}", "existing", 1) : NULL;
		json_t *res = result_body(in, m->hdr.cmd_id, r.cmd, r.uuid, 0, NULL, NULL, data);

		json_decref(data);
		if (journal_cmd_accept(a->jn, m->hdr.cmd_id, inst_cmd_name(r.cmd), r.uuid, red,
				       &err) < 0) {
			json_decref(res);
			send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto out;
		}
		send_msg(a, PROTO_ACK, m->hdr.msg_id, false,
			 json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "accepted"));
		finish(a, NULL, false, m->hdr.cmd_id, m->hdr.msg_id, res, NULL);
		goto out;
	}
	if (!in && r.cmd != CMD_SPAWN) {
		hv_error_set(&err, -ENOENT, "body.uuid", "body.uuid: no instance %s on this host",
			     r.uuid);
		refuse(a, m, &r, PROTO_E_NOT_FOUND, &err);
		goto out;
	}
	if (in && inst_guard(in, r.cmd, r.hard, &code, &err) < 0) {
		refuse(a, m, &r, code, &err);
		goto out;
	}
	if (check_image(a, &r, &err) < 0) {
		refuse(a, m, &r, PROTO_E_INVALID, &err);
		goto out;
	}
	if (!in) {
		in = inst_new(r.uuid);
		if (!in || add_inst(a, in) < 0) {
			inst_free(in);
			hv_error_set(&err, -ENOMEM, NULL, "out of memory");
			send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto out;
		}
		in->spec = json_incref(r.spec);
		created = true;
	}
	j = calloc(1, sizeof *j);
	if (!j) {
		hv_error_set(&err, -ENOMEM, NULL, "out of memory");
		send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
		goto undo;
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
			free(j);
			in->task = TASK_NONE;
			in->cmd_id[0] = '\0';
			send_error(a, m->hdr.msg_id, PROTO_E_INTERNAL, &err);
			goto undo;
		}
		json_decref(rec);
	}
	send_msg(a, PROTO_ACK, m->hdr.msg_id, false,
		 json_pack("{s:s, s:s}", "cmd_id", m->hdr.cmd_id, "state", "accepted"));
	hv_log(HV_LOG_INFO, r.uuid, m->hdr.cmd_id, "%s accepted", inst_cmd_name(r.cmd));
	if (!inst_cmd_readonly(r.cmd))
		touch(a, in);
	j->kind = JOB_CMD;
	j->req = r; /* the job owns the request (spec, secret) from here */
	memset(&r, 0, sizeof r);
	snprintf(j->cmd_id, sizeof j->cmd_id, "%s", m->hdr.cmd_id);
	snprintf(j->corr_id, sizeof j->corr_id, "%s", m->hdr.msg_id);
	j->deadline_ms = m->hdr.deadline_ms;
	/* the driver sees the instance's spec with the request's part (flavor, image) merged */
	j->spec = json_deep_copy(in->spec ? in->spec : json_object());
	if (j->req.spec)
		json_object_update(j->spec, j->req.spec);
	dispatch(a, &a->cmd_q, j);
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

static void close_socket(struct agent *a)
{
	if (a->dealer)
		zmq_close(a->dealer);
	a->dealer = NULL;
	a->session = false;
}

static void schedule_reconnect(struct agent *a, const char *why)
{
	int64_t now = mono_ms();
	int wait = a->backoff_ms / 2 + (int)(rand32() % (uint32_t)(a->backoff_ms / 2 + 1));

	hv_log(HV_LOG_NOTICE, NULL, NULL, "controller link: %s; reconnecting in %d ms", why, wait);
	close_socket(a);
	a->next_connect_ms = now + wait;
	a->backoff_ms = a->backoff_ms * 2 > a->o.reconnect_max_ms ? a->o.reconnect_max_ms
								  : a->backoff_ms * 2;
}

static json_t *capabilities(struct agent *a)
{
	json_t *caps = json_array();

	for (int c = 0; c < CMD_N; c++)
		if (hv_driver_supports(a->drv, inst_cmd_driver_op((enum inst_cmd)c)))
			json_array_append_new(caps, json_string(inst_cmd_name((enum inst_cmd)c)));
	if (drive_supported() && a->drive_dir[0])
		json_array_append_new(caps, json_string("config_drive"));
	if (a->net) {
		static const char *const fw[] = { "port_plug", "port_unplug", "port_set_groups",
						  "sg_update", "sg_delete", "fip_associate",
						  "fip_disassociate", "firewall_resync", NULL };

		for (int i = 0; fw[i]; i++)
			json_array_append_new(caps, json_string(fw[i]));
	}
	return caps;
}

static void send_hello(struct agent *a)
{
	char hostname[256] = "";
	struct proto_msg m = { .type = PROTO_HELLO };
	struct hv_error err = { 0 };

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
	a->hello_ms = a->last_rx_ms = a->last_tx_ms = mono_ms();
}

static int open_socket(struct agent *a)
{
	int zero = 0, hb = a->o.heartbeat_s * 1000, hbt = 3 * a->o.heartbeat_s * 1000;
	int64_t maxmsg = ZMQ_PART_LIMIT;
	int sndhwm = SEND_HWM;

	a->dealer = zmq_socket(a->zctx, ZMQ_DEALER);
	if (!a->dealer)
		return -zmq_errno();
	zmq_setsockopt(a->dealer, ZMQ_ROUTING_ID, a->host_id, strlen(a->host_id));
	zmq_setsockopt(a->dealer, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(a->dealer, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
	zmq_setsockopt(a->dealer, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_IVL, &hb, sizeof hb);
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof hbt);
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TTL, &hbt, sizeof hbt);
	if (a->curve) {
		zmq_setsockopt(a->dealer, ZMQ_CURVE_SERVERKEY, a->server_key, KEYS_Z85_LEN + 1);
		zmq_setsockopt(a->dealer, ZMQ_CURVE_PUBLICKEY, a->keys.public_z85, KEYS_Z85_LEN + 1);
		zmq_setsockopt(a->dealer, ZMQ_CURVE_SECRETKEY, a->keys.secret_z85, KEYS_Z85_LEN + 1);
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

static void resend_result(void *ctx, const struct journal_cmd *c)
{
	struct agent *a = ctx;

	if (c->reply)
		send_msg(a, PROTO_RESULT, NULL, false, json_incref(c->reply));
}

static void on_welcome(struct agent *a, const struct proto_msg *m)
{
	int64_t schema = PROTO_SCHEMA;
	struct hv_error err = { 0 };

	if (hj_int(m->body, "body", "schema", HJ_OPTIONAL, 1, UINT32_MAX, &schema, &err) < 0 ||
	    schema != PROTO_SCHEMA) {
		if (!err.message[0])
			hv_error_set(&err, -EINVAL, "body.schema", "body.schema: %lld not spoken here",
				     (long long)schema);
		send_error(a, m->hdr.msg_id, PROTO_E_UNSUPPORTED, &err);
		return;
	}
	a->session = true;
	a->backoff_ms = a->o.reconnect_min_ms;
	hv_log(HV_LOG_NOTICE, NULL, NULL, "session up with %s (boot_id=%s)", a->endpoint,
	       a->boot_id);
	send_snapshot(a);
	journal_cmd_foreach(a->jn, JOURNAL_DONE, resend_result, a, NULL);
	resend_events(a, 0, MAX_PENDING_EVENTS);
	a->next_report_ms = mono_ms();
}

static void handle_message(struct agent *a, struct proto_msg *m)
{
	struct hv_error err = { 0 };
	int64_t seq = 0;
	const char *cmd_id = NULL;

	if (m->hdr.host_id[0] && strcmp(m->hdr.host_id, a->host_id) != 0) {
		hv_error_set(&err, -EINVAL, "header.host_id",
			     "header.host_id: this is %s, not %s", a->host_id, m->hdr.host_id);
		send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		return;
	}
	if (!a->session && m->type != PROTO_WELCOME && m->type != PROTO_ERROR &&
	    m->type != PROTO_PING)
		return; /* nothing but the handshake until WELCOME */
	switch (m->type) {
	case PROTO_WELCOME:
		on_welcome(a, m);
		break;
	case PROTO_COMMAND:
		handle_command(a, m);
		break;
	case PROTO_PING:
		send_msg(a, PROTO_PONG, m->hdr.msg_id, false, NULL);
		break;
	case PROTO_PONG:
		break;
	case PROTO_RESYNC:
		hv_log(HV_LOG_INFO, NULL, NULL, "controller asked for a resync");
		send_snapshot(a);
		break;
	case PROTO_ACK:
		if (hj_int(m->body, "body", "seq", HJ_OPTIONAL, 0, INT64_MAX, &seq, &err) > 0)
			ack_event(a, (uint64_t)seq);
		else if (hj_str(m->body, "body", "cmd_id", HJ_OPTIONAL, PROTO_MAX_ID, &cmd_id, &err) > 0)
			journal_cmd_ack(a->jn, cmd_id, NULL);
		else if (err.message[0])
			send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		else {
			hv_error_set(&err, -EINVAL, "body", "body: an ACK needs seq or cmd_id");
			send_error(a, m->hdr.msg_id, PROTO_E_INVALID, &err);
		}
		break;
	case PROTO_ERROR:
		if (a->session && json_is_string(json_object_get(m->body, "code")) &&
		    strcmp(json_string_value(json_object_get(m->body, "code")),
			   PROTO_E_NO_SESSION) == 0) {
			/* the controller lost our session (it restarted): handshake again */
			hv_log(HV_LOG_NOTICE, NULL, NULL, "controller has no session for us: HELLO again");
			a->session = false;
			send_hello(a);
			break;
		}
		hv_log(HV_LOG_WARNING, NULL, NULL, "controller refused a message: %s",
		       json_string_value(json_object_get(m->body, "message")) ?: "(no message)");
		break;
	default:
		hv_error_set(&err, -EPROTONOSUPPORT, "type", "frame 1 (type): %s is not sent to an agent",
			     proto_type_name(m->type));
		send_error(a, m->hdr.msg_id, PROTO_E_UNSUPPORTED, &err);
		break;
	}
}

static void drain_socket(struct agent *a)
{
	for (int i = 0; i < 256 && a->dealer; i++) {
		struct proto_msg m;
		struct hv_error err = { 0 };
		const char *code = NULL;
		int r = proto_recv(a->dealer, false, ZMQ_DONTWAIT, NULL, &m, &code, &err);

		if (r == -EAGAIN)
			return;
		a->last_rx_ms = mono_ms();
		if (r < 0) {
			if (code && m.type != PROTO_ERROR)
				send_error(a, m.hdr.msg_id[0] ? m.hdr.msg_id : NULL, code, &err);
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

/* ---------------------------------------------------------------- recovery */

static void load_inst(void *ctx, const json_t *rec)
{
	struct agent *a = ctx;
	struct inst *in = NULL;
	struct hv_error err = { 0 };

	if (inst_from_json(rec, &in, &err) < 0) {
		hv_log(HV_LOG_ERR, NULL, NULL, "journal: skipping a record: %s", err.message);
		return;
	}
	if (add_inst(a, in) < 0)
		inst_free(in);
}

static void recover_cmd(void *ctx, const struct journal_cmd *c)
{
	struct agent *a = ctx;
	struct inst *in = find(a, c->uuid);
	int cmd = inst_cmd_parse(c->command);
	struct hv_error err = { 0 };
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
		finish(a, NULL, false, c->cmd_id, NULL, res, NULL);
		return;
	}
	if (in && cmd >= 0 && (!in->cmd_id[0] || strcmp(in->cmd_id, c->cmd_id) == 0)) {
		const struct hvd_driver *d = a->ops;
		struct hv_error derr = { 0 };
		struct hvd_instance_info info = { .struct_size = sizeof info };

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
			rc = d->reboot ? d->reboot(a->host, in->uuid, HVD_REBOOT_HARD, a->o.reboot_timeout_s,
						   &derr)
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
		touch(a, in);
	} else if (cmd == CMD_DESTROY) {
		rc = 0; /* the instance is already gone */
	}
	hv_log(HV_LOG_NOTICE, c->uuid, c->cmd_id, "recovered interrupted %s: %s", c->command,
	       action);
	{
		json_t *res = result_body(removed ? NULL : in, c->cmd_id,
					  cmd >= 0 ? (enum inst_cmd)cmd : CMD_N, c->uuid, rc < 0 ? rc : 0,
					  rc < 0 ? proto_code_for_errno(rc, PROTO_MAP_COMMAND) : NULL, &err, NULL);

		finish(a, removed ? NULL : in, removed, c->cmd_id, NULL, res, NULL);
	}
	if (in && task != TASK_NONE)
		emit_event(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event", "recovered", "uuid",
					c->uuid, "task_state", inst_task_name(task) ?: "", "action",
					action, "cmd_id", c->cmd_id));
	if (removed)
		remove_inst(a, in);
}

static void recover(struct agent *a)
{
	struct hv_error err = { 0 };

	journal_cmd_foreach(a->jn, JOURNAL_ACCEPTED, recover_cmd, a, &err);
	/* a task without a journaled command (cannot happen unless edited by hand) */
	for (size_t i = 0; i < a->n_insts; i++) {
		struct inst *in = a->insts[i];

		if (in->task != TASK_NONE) {
			in->task = TASK_NONE;
			in->cmd_id[0] = '\0';
			touch(a, in);
			json_t *rec = inst_to_json(in);

			journal_inst_put(a->jn, in->uuid, rec, NULL);
			json_decref(rec);
		}
	}
	if (a->n_insts)
		hv_log(HV_LOG_INFO, NULL, NULL, "journal: %zu instances known", a->n_insts);
}

/* ---------------------------------------------------------------- loop */

static void start_house_job(struct agent *a, enum job_kind kind)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		return;
	j->kind = kind;
	j->started_ms = proto_now_ms();
	if (kind == JOB_NET_RESYNC) {
		a->net_resync_pending = true;
		queue_push(&a->net_q, j);
		return;
	}
	if (kind == JOB_STATS)
		a->stats_pending = true;
	else
		a->sync_pending = true;
	queue_push(&a->house_q, j);
}

static void timers(struct agent *a, int64_t now)
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
	/* PING when idle, and also when the controller has been quiet for an interval while we
	 * talk: a controller with nothing to say must still prove it is alive */
	if (a->session && (now - a->last_tx_ms >= hb ||
			   (now - a->last_rx_ms >= hb && now - a->last_ping_ms >= hb))) {
		send_msg(a, PROTO_PING, NULL, false, NULL);
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
			resend_events(a, 3 * (int64_t)hb, EVENT_RESEND_BATCH);
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
}

static int64_t next_wakeup(struct agent *a, int64_t now)
{
	int64_t t = now + 1000;

	if (!a->dealer && a->next_connect_ms < t)
		t = a->next_connect_ms;
	if (a->next_sync_ms < t)
		t = a->next_sync_ms;
	return t < now ? now : t;
}

int agent_run(struct agent *a)
{
	while (!stop_requested) {
		zmq_pollitem_t items[3] = {
			{ .socket = a->results, .events = ZMQ_POLLIN },
			{ .fd = a->ev_pipe[0], .events = ZMQ_POLLIN },
			{ .socket = a->dealer, .events = ZMQ_POLLIN },
		};
		int64_t now = mono_ms();
		int n = a->dealer ? 3 : 2;

		if (zmq_poll(items, n, (long)(next_wakeup(a, now) - now)) < 0 && zmq_errno() != EINTR)
			return -zmq_errno();
		if (stop_requested)
			break;
		batch_begin(a);
		drain_results(a);
		drain_driver_events(a);
		if (a->dealer)
			drain_socket(a);
		if (batch_end(a) < 0)
			return -EIO;
		now = mono_ms();
		if (now >= a->next_sync_ms && !a->sync_pending && !a->host_down) {
			/* the first sync always runs: it reports guests the journal does not know */
			start_house_job(a, JOB_SYNC);
			a->next_sync_ms = a->o.sync_interval_s > 0 ? now + a->o.sync_interval_s * 1000
								   : INT64_MAX;
		}
		timers(a, now);
		flush_delta(a);
	}
	hv_log(HV_LOG_NOTICE, NULL, NULL, "stopping; guests keep running");
	return 0;
}

/* ---------------------------------------------------------------- setup */

int agent_new(const struct agent_opts *o, struct agent **ret, struct hv_error *err)
{
	struct agent *a;
	struct hvd_kv *cfg = NULL;
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
	queue_init(&a->cmd_q);
	queue_init(&a->house_q);
	queue_init(&a->net_q);
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
			.timeout_s = o->injection_timeout_s > 0 ? (unsigned)o->injection_timeout_s : 600,
			.force_tcg = o->inject_force_tcg,
			.image_store = a->image_store[0] ? a->image_store : NULL,
			.window_ms = 200,
		};

		if ((r = injector_new(&io, &a->inj, err)) < 0)
			goto fail;
	}

	a->drv = o->driver;
	a->ops = hv_driver_ops(o->driver);
	/* the driver's section plus the paths every driver needs */
	cfg = calloc(o->n_driver_cfg + 2, sizeof *cfg);
	if (!cfg) {
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
		goto fail;
	}
	memcpy(cfg, o->driver_cfg, o->n_driver_cfg * sizeof *cfg);
	cfg[o->n_driver_cfg] = (struct hvd_kv){ "instances_path", o->instances_path };
	cfg[o->n_driver_cfg + 1] = (struct hvd_kv){ "image_store", o->image_store };
	r = a->ops->open(cfg, o->n_driver_cfg + 2, &a->host, err);
	free(cfg);
	if (r < 0)
		goto fail;
	a->info.struct_size = sizeof a->info;
	if ((r = a->ops->host_info(a->host, &a->info, err)) < 0)
		goto fail;
	if (a->ops->set_event_callback)
		a->ops->set_event_callback(a->host, on_driver_event, a, NULL);

	if ((r = journal_inst_foreach(a->jn, load_inst, a, err)) < 0)
		goto fail;
	if (o->netfilter) {
		json_t *saved = NULL;

		if ((r = journal_meta_get(a->jn, "netfilter_state", &saved, err)) < 0)
			goto fail;
		r = net_open(o->external_interface, saved, &a->net, err);
		json_decref(saved);
		if (r < 0)
			goto fail;
	}
	recover(a);

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
		if ((r = -pthread_create(&a->workers[i].thread, NULL, worker_main, &a->workers[i])) < 0) {
			hv_error_set(err, r, NULL, "starting a worker: %s", strerror(-r));
			goto fail;
		}
		a->workers[i].started = true;
	}
	a->next_sync_ms = mono_ms(); /* first sync right away: report what the journal missed */
	*ret = a;
	return 0;
fail:
	agent_free(a);
	return r;
}

/* Queued commands never started: they stay "accepted" and restart recovery answers them. */
static void stop_queue(struct queue *q)
{
	struct job *j, *next;

	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	j = q->head;
	q->head = q->tail = NULL;
	q->len = 0;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (; j; j = next) {
		next = j->next;
		job_free(j);
	}
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	stop_queue(&a->cmd_q);
	stop_queue(&a->house_q);
	stop_queue(&a->net_q);
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
