/* report.c - the bodies that describe the host: the REPORT (nova's compute node record
 * with its metrics and NUMA cells) and the instance state as a SNAPSHOT or DELTA split to
 * fit a body. Runs on the loop thread; reads the instance table, never a driver. */
#include "agent-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static json_t *
metric(const char *name, json_t *value, int64_t ts)
{
	return json_pack("{s:s, s:o, s:I, s:s}", "name", name, "value", value, "timestamp",
			 (json_int_t)ts, "source", "hvagent");
}

json_t *
agent_report_body(struct agent *a, const struct hvd_host_stats *st)
{
	uint64_t vcpus_used = 0, mem_used = 0, disk_used = 0;
	size_t running = 0, workload = 0;
	int64_t now = proto_now_ms();
	json_t *metrics = json_array(), *cells = json_array();
	const struct hvd_host_info *hi = &a->info;
	json_t *o;

	for (size_t i = 0; i < a->n_insts; i++) {
		const struct inst *in = a->insts[i];

		if (in->vm == VM_DELETED)
			continue;
		vcpus_used += (uint64_t)in->use.vcpus;
		mem_used += (uint64_t)in->use.ram_mb;
		disk_used += (uint64_t)in->use.disk_gb;
		if (in->power == HVD_POWER_RUNNING)
			running++;
		if (in->task != TASK_NONE)
			workload++;
	}
	if (st) {
		json_array_append_new(metrics,
				      metric("cpu.frequency", json_integer(st->cpu_mhz), now));
		json_array_append_new(
			metrics,
			metric("cpu.user.time", json_integer((json_int_t)st->cpu_user_ns), now));
		json_array_append_new(metrics,
				      metric("cpu.kernel.time",
					     json_integer((json_int_t)st->cpu_kernel_ns), now));
		json_array_append_new(
			metrics,
			metric("cpu.idle.time", json_integer((json_int_t)st->cpu_idle_ns), now));
		json_array_append_new(metrics,
				      metric("cpu.iowait.time",
					     json_integer((json_int_t)st->cpu_iowait_ns), now));
		if (a->have_prev_stats) {
			const struct hvd_host_stats *p = &a->prev_stats;
			double du = (double)(st->cpu_user_ns - p->cpu_user_ns);
			double dk = (double)(st->cpu_kernel_ns - p->cpu_kernel_ns);
			double di = (double)(st->cpu_idle_ns - p->cpu_idle_ns);
			double dw = (double)(st->cpu_iowait_ns - p->cpu_iowait_ns);
			double tot = du + dk + di + dw;

			if (tot > 0) {
				json_array_append_new(metrics, metric("cpu.user.percent",
								      json_real(du / tot), now));
				json_array_append_new(metrics, metric("cpu.kernel.percent",
								      json_real(dk / tot), now));
				json_array_append_new(metrics, metric("cpu.idle.percent",
								      json_real(di / tot), now));
				json_array_append_new(metrics, metric("cpu.iowait.percent",
								      json_real(dw / tot), now));
				json_array_append_new(metrics,
						      metric("cpu.percent",
							     json_real((du + dk + dw) / tot), now));
			}
		}
	}
	for (uint32_t c = 0; c < hi->n_cells && c < HVD_MAX_NUMA_CELLS; c++) {
		const struct hvd_numa_cell *cell = &hi->cells[c];
		json_t *pages = json_array(), *sib = json_array();
		char groups[256], *save = NULL, *g;

		for (uint32_t p = 0; p < cell->n_mempages && p < HVD_MAX_PAGE_SIZES; p++)
			json_array_append_new(
				pages, json_pack("{s:I, s:I, s:I}", "size_kb",
						 (json_int_t)cell->mempages[p].size_kb, "total",
						 (json_int_t)cell->mempages[p].total, "used",
						 (json_int_t)cell->mempages[p].used));
		snprintf(groups, sizeof groups, "%s", cell->siblings);
		for (g = strtok_r(groups, ";", &save); g; g = strtok_r(NULL, ";", &save))
			json_array_append_new(sib, json_string(g));
		json_array_append_new(
			cells, json_pack("{s:I, s:s, s:o, s:I, s:I, s:I, s:[], s:o}", "id",
					 (json_int_t)cell->id, "cpuset", cell->cpuset, "siblings",
					 sib, "memory", (json_int_t)cell->memory_mb, "memory_usage",
					 (json_int_t)cell->memory_used_mb, "cpu_usage",
					 (json_int_t)0, "pinned_cpus", "mempages", pages));
	}
	o = json_object();
	json_object_set_new(o, "hypervisor_hostname", json_string(a->host_id));
	json_object_set_new(o, "hypervisor_type", json_string(hi->hypervisor_type));
	json_object_set_new(o, "hypervisor_version",
			    json_integer((json_int_t)hi->hypervisor_version));
	json_object_set_new(o, "vcpus", json_integer(hi->vcpus));
	json_object_set_new(o, "vcpus_used", json_integer((json_int_t)vcpus_used));
	json_object_set_new(o, "memory_mb", json_integer((json_int_t)hi->memory_mb));
	json_object_set_new(o, "memory_mb_used", json_integer((json_int_t)mem_used));
	json_object_set_new(o, "free_ram_mb",
			    json_integer((json_int_t)hi->memory_mb - (json_int_t)mem_used));
	json_object_set_new(o, "local_gb", json_integer((json_int_t)hi->local_gb));
	json_object_set_new(o, "local_gb_used", json_integer((json_int_t)disk_used));
	json_object_set_new(o, "free_disk_gb",
			    json_integer((json_int_t)hi->local_gb - (json_int_t)disk_used));
	json_object_set_new(o, "disk_available_least",
			    json_integer(st ? (json_int_t)st->disk_free_gb
					    : (json_int_t)hi->local_gb - (json_int_t)disk_used));
	json_object_set_new(o, "running_vms", json_integer((json_int_t)running));
	json_object_set_new(o, "current_workload", json_integer((json_int_t)workload));
	json_object_set_new(o, "cpu_info",
			    json_pack("{s:s, s:s, s:s, s:{s:I, s:i, s:I, s:i}, s:[]}", "arch",
				      hi->arch, "model", hi->cpu_model, "vendor", "", "topology",
				      "cells", (json_int_t)hi->n_cells, "sockets", 1, "cores",
				      (json_int_t)hi->vcpus, "threads", 1, "features"));
	if (st)
		json_object_set_new(
			o, "real",
			json_pack("{s:I, s:I}", "memory_mb_used",
				  (json_int_t)(hi->memory_mb > st->memory_free_mb
						       ? hi->memory_mb - st->memory_free_mb
						       : 0),
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

/* Room left in a body for the host section, the other fields and rounding. */
#define STATE_BODY_BUDGET (PROTO_MAX_BODY - 64 * 1024)

/* Moves records, starting at *next, into a new array until the body budget (with `used`
 * bytes already taken) is reached; at least one record per call. */
static json_t *
state_batch(struct agent *a, size_t *next, size_t used)
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
void
agent_send_snapshot(struct agent *a)
{
	json_t *host = agent_report_body(a, a->have_prev_stats ? &a->prev_stats : NULL);
	char *text = hj_dump(host);
	size_t next = 0, used = (text ? strlen(text) : 0) + 256;
	json_t *body, *batch;

	free(text);
	batch = state_batch(a, &next, used);
	body = json_pack("{s:I, s:o, s:o, s:b}", "generation", (json_int_t)a->generation, "host",
			 host, "instances", batch, "more", next < a->n_insts);
	a->seq++;
	a->last_state_seq = a->seq;
	agent_send(a, PROTO_SNAPSHOT, NULL, true, body);
	while (next < a->n_insts) {
		batch = state_batch(a, &next, 256);
		body = json_pack("{s:I, s:I, s:o, s:[], s:b}", "prev_seq",
				 (json_int_t)a->last_state_seq, "generation",
				 (json_int_t)a->generation, "instances", batch, "removed", "more",
				 next < a->n_insts);
		a->seq++;
		a->last_state_seq = a->seq;
		agent_send(a, PROTO_DELTA, NULL, true, body);
	}
	json_array_clear(a->removed);
	for (size_t i = 0; i < a->n_insts; i++)
		a->insts[i]->dirty = false;
	a->dirty = false;
}

void
agent_flush_delta(struct agent *a)
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
	agent_send(a, PROTO_DELTA, NULL, true, body);
}
