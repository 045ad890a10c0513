/* agent-priv.h - what the agent's own files share: struct agent, the jobs and the queues,
 * and the functions one of agent.c, queue.c, outbox.c, report.c, exec.c, recover.c
 * calls in another. Private to the agent core: nothing outside agent/ (tests included)
 * includes it, and it must never grow a function that another module could call instead
 * of going through agent.h. Every struct agent field belongs to the loop thread except
 * where a comment says otherwise; a worker touches only its job. */
#ifndef HV_AGENT_PRIV_H
#define HV_AGENT_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "agent.h"
#include "image.h"
#include "imgstore.h"
#include "injector.h"
#include "inst.h"
#include "journal.h"
#include "keys.h"
#include "metrics.h"
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
#define JOURNAL_RETRY_MS 1000 /* while the journal cannot be written (a full disk) */

enum job_kind {
	JOB_CMD,
	JOB_STATS,
	JOB_SYNC,
	JOB_NET,
	JOB_NET_RESYNC,
	JOB_NET_TAPS /* links changed: plumb the taps that came up */
};

struct sync_entry {
	char uuid[37];
	enum hvd_power_state power;
};

struct job {
	struct job *next;
	enum job_kind kind;
	/* JOB_CMD */
	struct req req;
	json_t *spec; /* the spec the driver sees (deep copy, owned by the job) */
	/* spawn, resize, rebuild, rescue: the driver's view of spec and its image, built once
	 * on the loop thread (agent.c); the worker only reads them. prep_rc < 0 (with err) is
	 * a failure to report as the command's result. */
	bool have_view;
	struct req_spec_view view; /* borrows from spec and image */
	struct agent_image image;
	int prep_rc;
	char cmd_id[65];
	char corr_id[37];
	int64_t deadline_ms;
	int rc;
	struct hv_error err;
	bool have_info;
	struct hvd_instance_info info;
	json_t *data;     /* command-specific result data */
	bool data_secret; /* data holds a secret (console password) */
	/* JOB_NET: the command body (no secrets in firewall commands) and, after success, the
	 * committed state to journal */
	json_t *net_body;
	json_t *net_state;
	/* JOB_STATS */
	struct hvd_host_stats stats;
	/* JOB_SYNC */
	int64_t started_ms; /* records changed after this are newer than the listing */
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

/* The end of a command as the journal must hold it before its RESULT leaves: kept until
 * it is durable (the loop turn's batch commit, or a retry while the disk is full). */
struct finish {
	char cmd_id[65], corr_id[37];
	json_t *result;    /* what is sent */
	json_t *journaled; /* what is stored (no secret) */
	json_t *inst;      /* the instance record to store, or NULL */
	char uuid[37];     /* the instance record to delete when removed */
	bool removed;
	json_t *net_state; /* the committed firewall state to store, or NULL */
	bool written;      /* written in this turn's batch, durable at its commit */
};

/* What /metrics reports of the agent itself: written by the loop, read by the metrics
 * server's thread, both under mu. */
struct agent_mx_values {
	struct mx_histogram cmd[CMD_N]; /* command duration, accepted to finished */
	struct mx_histogram commit;     /* journal batch commit */
	bool connected;
	uint64_t reconnects;
};

struct agent_mx {
	pthread_mutex_t mu;
	struct mx_server *server; /* NULL when [metrics] listen is empty */
	struct agent_mx_values v;
};

struct agent {
	struct agent_opts o;
	struct agent_mx mx;
	char host_id[PROTO_MAX_ID + 1];
	char boot_id[37];
	char state_dir[PATH_MAX], endpoint[512], image_store[PATH_MAX], drive_dir[PATH_MAX];
	char server_key[KEYS_Z85_LEN + 1];
	struct keys_pair keys;
	bool curve;

	const struct hvd_driver *ops;
	const struct hv_driver *drv;
	struct hvd_host *host;
	struct imgstore *store; /* NULL when [DEFAULT] image_store is empty */
	struct injector *inj;   /* NULL unless [guest] inject_key or inject_password */
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
	json_t *removed; /* uuids removed since the last DELTA */
	bool dirty;
	uint64_t seq, last_state_seq, generation;

	struct pending_event events[MAX_PENDING_EVENTS];
	size_t n_events;
	json_t *unknown_reported; /* uuids already reported as instance_unknown */

	struct queue cmd_q, house_q, net_q;
	struct net *net;
	bool net_resync_pending;
	bool net_taps_pending; /* the link watcher is not polled until its job is done */
	int links_fd;          /* the link watcher's descriptor (set once, at start) */
	int64_t next_net_resync_ms;
	struct worker *workers;
	size_t n_workers;
	bool stats_pending, sync_pending, have_prev_stats;
	struct hvd_host_stats prev_stats;
	int64_t next_report_ms, next_sync_ms, next_event_resend_ms, next_prune_ms, next_trim_ms;

	/* group commit: what one loop turn journals is committed once, then its messages are
	 * sent and its jobs started (journal before acting, before replying) */
	struct proto_msg *held_msgs;
	size_t n_held_msgs, cap_held_msgs;
	struct held_job {
		struct queue *q;
		struct job *j;
	} * held_jobs;
	size_t n_held_jobs, cap_held_jobs;
	/* finishes written in this turn's batch (written) or not durable yet */
	struct finish *fins;
	size_t n_fins, cap_fins;
	/* the journal cannot be written (a full disk): new commands are refused busy, not
	 * acknowledged, until a retry succeeds; reads, reports and the firewall go on */
	bool jn_down;
	struct hv_error jn_error; /* the last failed write */
	int64_t next_jn_retry_ms;

	/* catalog images being fetched from the controller (fetch.c) */
	struct fetch **fetches;
	size_t n_fetches, cap_fetches;
	int64_t next_cache_ms; /* the next pass over the fetched images */

	pthread_mutex_t ev_mu;
	struct drv_event *ev_head, *ev_tail;
	int ev_pipe[2];
};

/* agent.c: the loop, the handshake, the message switch, setup; the instance table */
int64_t agent_mono_ms(void);
struct inst *agent_find_inst(struct agent *a, const char *uuid);
int agent_add_inst(struct agent *a, struct inst *in);
void agent_remove_inst(struct agent *a, struct inst *in);
void agent_touch(struct agent *a, struct inst *in);
/* Opens the driver's host with its config section and the paths every driver needs. */
int agent_open_host(const struct agent_opts *o, struct hvd_host **ret, struct hv_error *err);

/* queue.c: the work queues between the loop and the workers */
void agent_job_free(struct job *j);
void agent_queue_init(struct queue *q);
void agent_queue_push(struct queue *q, struct job *j);
size_t agent_queue_len(struct queue *q);
/* Blocks until a job or the stop; NULL when stopping. */
struct job *agent_queue_pop(struct queue *q);
/* Wakes the workers to exit; queued jobs never started are freed (they stay "accepted"
 * in the journal and restart recovery answers them). */
void agent_queue_stop(struct queue *q);

/* outbox.c: what leaves the agent. Outside a loop turn's batch a message is sent at once;
 * inside it, messages and jobs wait for the batch's commit (journal before acting, before
 * replying). */
/* Sends now or, inside a batch, once the batch is durable. body is stolen. */
int agent_send(struct agent *a, enum proto_type type, const char *corr_id, bool with_seq,
	       json_t *body /* stolen */);
void agent_batch_begin(struct agent *a);
int agent_batch_end(struct agent *a);
void agent_send_error(struct agent *a, const char *corr_id, const char *code,
		      const struct hv_error *err);
/* Starts a job, or holds it until the batch that journaled its acceptance is committed. */
void agent_dispatch(struct agent *a, struct queue *q, struct job *j);
void agent_emit_event(struct agent *a, json_t *body /* stolen */);
void agent_resend_events(struct agent *a, int64_t min_age_ms, size_t max);
void agent_ack_event(struct agent *a, uint64_t seq);
/* A RESULT body; data is borrowed (copied in). */
json_t *agent_result_body(const struct inst *in, const char *cmd_id, enum inst_cmd cmd,
			  const char *uuid, int rc, const char *code, const struct hv_error *err,
			  json_t *data /* borrowed */);
/* Journals the finished command (and the instance) and sends the RESULT; result and
 * journaled are stolen. */
void agent_finish(struct agent *a, struct inst *in, bool removed, const char *cmd_id,
		  const char *corr_id, json_t *result, json_t *journaled /* NULL = result */);
void agent_cmd_done(struct agent *a, struct job *j);
void agent_net_done(struct agent *a, struct job *j);
void agent_send_stored(struct agent *a, const struct journal_cmd *c, const char *corr_id);
/* The journal failed a write: refuse commands until journal_retry succeeds. Logs once. */
void agent_journal_down(struct agent *a, const struct hv_error *err);
/* Writes what is not durable yet (or probes) when due; resumes accepting on success. */
void agent_journal_retry(struct agent *a, int64_t now);
/* At stop: forgets (and logs) the results still waiting for the journal. */
void agent_drop_unsaved(struct agent *a);
/* Refuses a COMMAND while the journal cannot be written (busy, naming the journal). */
void agent_refuse_journal_down(struct agent *a, const struct proto_msg *m);
/* A refusal after validation: journaled so a duplicate gets the same answer. */
void agent_refuse(struct agent *a, const struct proto_msg *m, const struct req *r, const char *code,
		  const struct hv_error *err);

/* report.c: the REPORT body and the state sync (SNAPSHOT, DELTA) */
json_t *agent_report_body(struct agent *a, const struct hvd_host_stats *st);
/* claim.c: whether the host still has room for spawn r under the limits the controller's
 * scheduler checked (r->limits); -ENOSPC with err naming the limit when it has not. */
int agent_claim(const struct agent *a, const struct req *r, struct hv_error *err);
void agent_send_snapshot(struct agent *a);
void agent_flush_delta(struct agent *a);

/* exec.c: the worker threads; every driver call after setup happens there */
/* The thread body of a worker (arg: its struct worker). */
void *agent_worker_main(void *arg);

/* recover.c: restart recovery, on the loop thread before the loop runs */
/* Reads the journaled instances into the table. */
int agent_load_insts(struct agent *a, struct hv_error *err);
/* Answers every command the journal holds as accepted and clears tasks left behind. */
void agent_recover(struct agent *a);
/* A journal that was missing or empty while the hypervisor lists instances: -ENODATA with
 * a message saying what to do (agent_new refuses to start fresh and forget them). */
int agent_check_fresh_journal(struct agent *a, struct hv_error *err);

/* Creates dir 0711 (an existing one is left as it is): qemu's user on a stock libvirtd
 * searches it to open a guest's file (libvirt gives the 0600 file to that user for the
 * guest's run); nobody can list it. 0 or -1 with errno. */
int agent_mkdir_searchable(const char *dir);
/* A snapshot's RESULT data: {"image": {id, format, properties}} (exec.c). Caller owns. */
json_t *agent_image_data(const char *id, const char *format, const struct hvd_kv *props, size_t n);
/* Where the config drive of uuid lives (exec.c). */
void agent_drive_path(const struct agent *a, const char *uuid, char *buf, size_t size);

/* metrics.c: the /metrics server ([metrics] listen) and what the loop tells it. */
int agent_metrics_start(struct agent *a, struct hv_error *err);
void agent_metrics_stop(struct agent *a);
void agent_metrics_command(struct agent *a, enum inst_cmd cmd, int64_t started_ms);
void agent_metrics_commit(struct agent *a, int64_t started_ns);
void agent_metrics_link(struct agent *a, bool connected, bool reconnect);

/* agent.c: a COMMAND from the controller (also one that waited for its image). */
void agent_handle_command(struct agent *a, struct proto_msg *m);

/* fetch.c: catalog images fetched from the controller on first use */
/* 1 when m (a spawn, rebuild or rescue, parsed as r) waits for its image (kept, handled again once
 * the image is stored or its fetch failed), 0 to go on, < 0 with err: the fetch failed. */
int agent_fetch_gate(struct agent *a, const struct proto_msg *m, const struct req *r,
		     struct hv_error *err);
void agent_fetch_on_data(struct agent *a, const struct proto_msg *m);
/* Asks again for chunks not answered in time; gives up after a while. */
void agent_fetch_tick(struct agent *a, int64_t now);
void agent_fetch_free_all(struct agent *a);
/* Answers the controller's IMAGE_GET for an image of the store (a snapshot it takes). */
void agent_image_serve(struct agent *a, const struct proto_msg *m);
/* Removes fetched images no instance used for [images] cache_max_age (runs when due). */
void agent_cache_tick(struct agent *a, int64_t now);

#endif
