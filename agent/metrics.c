/* metrics.c - the agent's /metrics: per-domain gauges named as the libvirt exporters name
 * them (so existing dashboards work), read from the driver at each scrape, and the agent's
 * own command latencies, queue depths, journal commit time and controller link. Runs on the
 * metrics server's thread: it reads only struct agent_mx (under its lock), the queues'
 * lengths (under theirs) and the driver, whose calls are thread-safe. Must never touch the
 * instance table or anything else the loop owns. */
#include <string.h>
#include <time.h>

#include "agent-priv.h"
#include "vec.h"

/* A domain as the driver lists it. */
struct mx_domain {
	struct hvd_instance_info info;
};

struct mx_domains {
	struct mx_domain *v;
	size_t n, cap;
	int oom;
};

static void
domain_cb(void *ctx, const struct hvd_instance_info *info)
{
	struct mx_domains *d = ctx;

	if (d->oom || HV_GROW(d->v, d->cap, d->n + 1) < 0) {
		d->oom = 1;
		return;
	}
	d->v[d->n++].info = *info;
}

/* libvirt's virDomainState codes, which the exporters' state gauge carries. */
static int
libvirt_state(enum hvd_power_state p)
{
	switch (p) {
	case HVD_POWER_RUNNING: return 1;
	case HVD_POWER_PAUSED: return 3;
	case HVD_POWER_SHUTDOWN: return 5; /* shut off */
	case HVD_POWER_CRASHED: return 6;
	case HVD_POWER_SUSPENDED: return 7; /* pmsuspended */
	default: return 0;
	}
}

static void
render_domains(struct agent *a, struct hv_text *t)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"libvirt_domain_info_state", "gauge",
		 "Domain state (virDomainState: 1 running, 3 paused, 5 shut off, 6 crashed)"},
		{"libvirt_domain_info_virtual_cpus", "gauge", "Number of virtual CPUs"},
		{"libvirt_domain_info_maximum_memory_bytes", "gauge", "Maximum memory in bytes"},
		{"libvirt_domain_info_cpu_time_seconds_total", "counter",
		 "CPU time used by the domain, in seconds"},
	};
	struct mx_domains d = {0};
	struct hv_error err = {0};
	int r = a->ops->list_instances(a->host, domain_cb, &d, &err);

	mx_family(t, "hvagent_domains_scrape_ok", "gauge",
		  "1 when the driver listed its domains for this scrape");
	mx_sample(t, "hvagent_domains_scrape_ok", NULL, r >= 0 && !d.oom);
	for (size_t f = 0; r >= 0 && !d.oom && f < sizeof fam / sizeof fam[0]; f++) {
		mx_family(t, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < d.n; i++) {
			const struct hvd_instance_info *in = &d.v[i].info;
			const char *labels[] = {"domain", in->uuid, "uuid", in->uuid, NULL};
			double v = f == 0   ? libvirt_state(in->power_state)
				   : f == 1 ? in->vcpus
				   : f == 2 ? (double)in->memory_mb * 1024 * 1024
					    : (double)in->cpu_time_ns / 1e9;

			mx_sample(t, fam[f].name, labels, v);
		}
	}
	free(d.v);
}

static size_t
queue_len(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static void
render(void *ctx, struct hv_text *t)
{
	struct agent *a = ctx;
	struct agent_mx_values *mx = malloc(sizeof *mx);
	const char *labels[3] = {"command", NULL, NULL};

	if (!mx) {
		t->oom = true;
		return;
	}
	pthread_mutex_lock(&a->mx.mu);
	*mx = a->mx.v;
	pthread_mutex_unlock(&a->mx.mu);
	render_domains(a, t);
	mx_family(t, "hvagent_command_duration_seconds", "histogram",
		  "Commands from acceptance to their result, by command");
	for (int c = 0; c < CMD_N; c++) {
		if (!mx->cmd[c].count)
			continue;
		labels[1] = inst_cmd_name((enum inst_cmd)c);
		mx_histogram_write(t, "hvagent_command_duration_seconds", labels, &mx->cmd[c]);
	}
	mx_family(t, "hvagent_journal_commit_seconds", "histogram",
		  "Journal batch commits (one per loop turn that wrote)");
	mx_histogram_write(t, "hvagent_journal_commit_seconds", NULL, &mx->commit);
	mx_family(t, "hvagent_queue_depth", "gauge", "Jobs waiting for a worker, by queue");
	mx_sample(t, "hvagent_queue_depth", (const char *[]){"queue", "commands", NULL},
		  (double)queue_len(&a->cmd_q));
	mx_sample(t, "hvagent_queue_depth", (const char *[]){"queue", "house", NULL},
		  (double)queue_len(&a->house_q));
	mx_sample(t, "hvagent_queue_depth", (const char *[]){"queue", "firewall", NULL},
		  (double)queue_len(&a->net_q));
	mx_family(t, "hvagent_controller_connected", "gauge",
		  "1 while the session with the controller is up");
	mx_sample(t, "hvagent_controller_connected", NULL, mx->connected);
	mx_family(t, "hvagent_controller_reconnects_total", "counter",
		  "Times the controller link was dropped and dialled again");
	mx_sample(t, "hvagent_controller_reconnects_total", NULL, (double)mx->reconnects);
	free(mx);
}

int
agent_metrics_start(struct agent *a, struct hv_error *err)
{
	if (!a->o.metrics_listen || !*a->o.metrics_listen)
		return 0;
	return mx_server_start(a->o.metrics_listen, render, a, &a->mx.server, err);
}

void
agent_metrics_stop(struct agent *a)
{
	mx_server_free(a->mx.server);
	a->mx.server = NULL;
}

void
agent_metrics_command(struct agent *a, enum inst_cmd cmd, int64_t started_ms)
{
	double s = (double)(proto_now_ms() - started_ms) / 1000;

	if ((int)cmd < 0 || cmd >= CMD_N || !started_ms)
		return;
	pthread_mutex_lock(&a->mx.mu);
	mx_observe(&a->mx.v.cmd[cmd], s < 0 ? 0 : s);
	pthread_mutex_unlock(&a->mx.mu);
}

void
agent_metrics_commit(struct agent *a, int64_t started_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&a->mx.mu);
	mx_observe(&a->mx.v.commit,
		   (double)((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - started_ns) / 1e9);
	pthread_mutex_unlock(&a->mx.mu);
}

void
agent_metrics_link(struct agent *a, bool connected, bool reconnect)
{
	pthread_mutex_lock(&a->mx.mu);
	a->mx.v.connected = connected;
	if (reconnect)
		a->mx.v.reconnects++;
	pthread_mutex_unlock(&a->mx.mu);
}
