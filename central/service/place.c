/* place.c - where a new server goes when no host is named: the scheduler (central/sched,
 * docs/scheduler.md) over the hosts as their last reports describe them. The hosts live in
 * a table kept between decisions: each host's report and servers are read and parsed
 * again only when something changed them (its messages, a placement, a move), so a
 * decision reads no store row of an unchanged host. What hvcentral placed on a host counts
 * at once, from its own server records, so creates that follow each other between two
 * reports never overcommit the host; the report's allocation counts when it is larger
 * (guests hvcentral does not know of). The same for NUMA cells, per cell: the cells each
 * placed server's guest cells were fitted on are kept (in memory: after a restart the
 * reports alone count) while the server is on that host. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extraspec.h"
#include "json.h"
#include "registry.h"
#include "sched/sched.h"
#include "store/store.h"
#include "vec.h"

#define MAX_HINT_ITEMS 64

/* Everything a host of the table points to, kept alive for the decision. */
struct host_view {
	struct sched_kv caps[6];
	char sup[96], arch[32];
	struct sched_metric *metrics;
	struct sched_cell *cells; /* as the report says */
	struct sched_cell *own;   /* what hvcentral placed on each cell (used fields) */
	struct sched_cell *now;   /* each cell for the decision: the larger of the two */
	const char **instances;
	size_t n_instances, cap_instances;
	size_t *aggs; /* indices into the decision's aggregates */
	size_t n_aggs, cap_aggs;
	uint64_t vcpus, ram_mb, disk_gb; /* what hvcentral's own records place here */
	uint32_t io_ops;                 /* of those, the servers with a task under way */
};

static uint64_t
num(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

/* CPUs in a cpuset such as "0-7,16-23". */
static uint32_t
cpuset_count(const char *s)
{
	uint32_t n = 0;
	while (s && *s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			break;
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (b >= a && b - a < 4096)
			n += (uint32_t)(b - a + 1);
		s = *end == ',' ? end + 1 : end;
		if (*s && *s != ',' && !(*s >= '0' && *s <= '9'))
			break;
	}
	return n;
}

static int
view_fill(struct host_view *v, struct sched_host *h, const json_t *res)
{
	const json_t *m = json_object_get(res, "metrics");
	const json_t *cells = json_object_get(json_object_get(res, "numa_topology"), "cells");
	const json_t *cpu = json_object_get(res, "cpu_info");
	const char *hv = json_string_value(json_object_get(res, "hypervisor_type"));
	size_t i, nc = 0;
	json_t *e;

	const char *arch = json_string_value(json_object_get(cpu, "arch"));
	snprintf(v->arch, sizeof v->arch, "%s", arch ? arch : "");
	snprintf(v->sup, sizeof v->sup, "%s:%s:hvm", v->arch, hv ? hv : "");
	for (char *p = v->sup; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	v->caps[nc++] = (struct sched_kv){"hypervisor_type", hv ? hv : ""};
	v->caps[nc++] = (struct sched_kv){"cpu_info:arch", v->arch};
	v->caps[nc++] = (struct sched_kv){"supported_instances", v->sup};
	h->caps = v->caps;
	h->n_caps = nc;
	if (json_array_size(m) && !(v->metrics = calloc(json_array_size(m), sizeof *v->metrics)))
		return -ENOMEM;
	json_array_foreach (m, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		json_t *val = json_object_get(e, "value");
		if (name && json_is_number(val))
			v->metrics[h->n_metrics++] =
				(struct sched_metric){name, json_number_value(val)};
	}
	h->metrics = v->metrics;
	size_t ncells = json_array_size(cells);
	if (ncells > SCHED_MAX_CELLS)
		ncells = SCHED_MAX_CELLS;
	if (ncells && (!(v->cells = calloc(ncells, sizeof *v->cells)) ||
		       !(v->own = calloc(ncells, sizeof *v->own)) ||
		       !(v->now = calloc(ncells, sizeof *v->now))))
		return -ENOMEM;
	for (i = 0; i < ncells; i++) {
		e = json_array_get(cells, i);
		v->cells[i] = (struct sched_cell){
			.cpus = cpuset_count(json_string_value(json_object_get(e, "cpuset"))),
			.cpus_used = (uint32_t)num(e, "cpu_usage"),
			.mem_mb = num(e, "memory"),
			.mem_used_mb = num(e, "memory_usage"),
		};
	}
	h->cells = v->cells;
	h->n_cells = ncells;
	return 0;
}

static void
view_release(struct host_view *v)
{
	free(v->metrics);
	free(v->cells);
	free(v->own);
	free(v->now);
	free(v->instances);
	free(v->aggs);
	memset(v, 0, sizeof *v);
}

/* A hint's value as a list of strings (a string alone is a list of one). */
static int
hint_list(const json_t *hints, const char *key, const char *items[MAX_HINT_ITEMS], size_t *n,
	  struct hv_error *err)
{
	const json_t *v = json_object_get(hints, key);
	size_t i;
	json_t *e;

	*n = 0;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		items[(*n)++] = json_string_value(v);
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) > MAX_HINT_ITEMS)
		return hv_error_set(err, -EINVAL, "args.hints",
				    "args.hints.%s: a server uuid or a list of at most %d", key,
				    MAX_HINT_ITEMS);
	json_array_foreach (v, i, e) {
		if (!json_is_string(e))
			return hv_error_set(err, -EINVAL, "args.hints",
					    "args.hints.%s[%zu]: not a string", key, i);
		items[(*n)++] = json_string_value(e);
	}
	return 0;
}

/* The guest's NUMA cells the flavor asks (hw:numa_nodes ...), read as the hosts read them
 * (extraspec.h): NUMATopologyFilter's request. */
static int
numa_from(const json_t *flavor, struct sched_cell cells[SCHED_MAX_GUEST_CELLS], size_t *n,
	  struct hv_error *err)
{
	const json_t *es = json_object_get(flavor, "extra_specs");
	uint32_t vcpus = (uint32_t)num(flavor, "vcpus");
	struct hv_numa_split split;
	struct hv_xspec x;
	const char *k;
	json_t *v;
	int r = 0;

	*n = 0;
	if (!json_object_get(es, "hw:numa_nodes"))
		return 0;
	hv_xspec_init(&x);
	json_object_foreach ((json_t *)es, k, v)
		if (json_is_string(v) &&
		    (r = hv_xspec_add(&x, k, json_string_value(v), vcpus, err)) < 0)
			break;
	if (r < 0 ||
	    (r = hv_xspec_numa_split(&x, vcpus, num(flavor, "ram_mb"), 0, &split, err)) < 0) {
		char field[300]; /* a key too long for the field is named in the message */
		snprintf(field, sizeof field, "flavor.extra_specs.%s", err->field);
		memcpy(err->field, field, sizeof err->field - 1);
		err->field[sizeof err->field - 1] = '\0';
		return r;
	}
	_Static_assert(SCHED_MAX_GUEST_CELLS == HV_XSPEC_MAX_CELLS, "one bound on guest cells");
	for (uint32_t i = 0; i < split.nodes; i++)
		cells[i] = (struct sched_cell){.cpus = split.cell[i].n_cpus,
					       .mem_mb = split.cell[i].mem_mb};
	*n = split.nodes;
	return 0;
}

static int
request_from(const json_t *flavor, const json_t *args, const char *project, struct sched_request *r,
	     struct sched_kv **specs, struct sched_cell numa[SCHED_MAX_GUEST_CELLS],
	     const char **same, const char **diff, struct hv_error *err)
{
	const json_t *es = json_object_get(flavor, "extra_specs"), *hints;
	const char *k;
	json_t *v;
	size_t n = 0;
	int rc;

	*r = (struct sched_request){
		.vcpus = (uint32_t)num(flavor, "vcpus"),
		.ram_mb = num(flavor, "ram_mb"),
		.disk_gb = num(flavor, "root_gb") + num(flavor, "ephemeral_gb"),
		.swap_mb = num(flavor, "swap_mb"),
		.project_id = project,
		.image_id = json_string_value(json_object_get(args, "image")),
		.availability_zone = json_string_value(json_object_get(args, "availability_zone")),
	};
	if (json_object_size(es) && !(*specs = calloc(json_object_size(es), sizeof **specs)))
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	json_object_foreach ((json_t *)es, k, v)
		if (json_is_string(v))
			(*specs)[n++] = (struct sched_kv){k, json_string_value(v)};
	r->extra_specs = *specs;
	r->n_extra_specs = n;
	if ((rc = numa_from(flavor, numa, &r->n_numa, err)) < 0)
		return rc;
	r->numa = numa;
	hints = json_object_get(args, "hints");
	if (!hints)
		return 0;
	static const char *const known[] = {"same_host", "different_host",     "query",
					    "group",     "build_near_host_ip", "cidr",
					    NULL};
	if ((rc = hj_known_keys((json_t *)hints, "args.hints", known, err)) < 0 ||
	    (rc = hint_list(hints, "same_host", same, &r->n_same_host, err)) < 0 ||
	    (rc = hint_list(hints, "different_host", diff, &r->n_different_host, err)) < 0)
		return rc;
	r->same_host = same;
	r->different_host = diff;
	r->query = json_string_value(json_object_get(hints, "query"));
	r->near_ip = json_string_value(json_object_get(hints, "build_near_host_ip"));
	r->cidr = json_string_value(json_object_get(hints, "cidr"));
	return 0;
}

/* One host of the table: its store row and servers, parsed once per change. */
struct place_host {
	char id[PROTO_MAX_ID + 1];
	json_t *row;     /* the store's host record: the report's strings live in it */
	json_t *servers; /* its live servers as the store has them */
	struct host_view v;
	struct sched_host sh; /* as the report says, before hvcentral's own records */
	int64_t stored_seen_ms;
};

struct place_table {
	struct sched_table *t;
	struct place_host **h; /* same index as in t */
	size_t n, cap;
	bool loaded;   /* every host read since the start (or since a host went away) */
	json_t *dirty; /* ids of hosts to read again, as keys */
	/* server uuid -> {"host": id, "cells": [[host cell, cpus, mem_mb], ...]}: the cells
	 * the scheduler fitted each placed server's guest cells on */
	json_t *claims;
};

static void
host_release(struct place_host *ph)
{
	view_release(&ph->v);
	json_decref(ph->row);
	json_decref(ph->servers);
	ph->row = ph->servers = NULL;
}

static void
table_clear(struct place_table *pt)
{
	for (size_t i = 0; i < pt->n; i++) {
		host_release(pt->h[i]);
		free(pt->h[i]);
	}
	pt->n = 0;
	sched_table_free(pt->t);
	pt->t = NULL;
	pt->loaded = false;
}

void
svc_place_free(struct svc *sv)
{
	struct place_table *pt = sv->place;
	if (!pt)
		return;
	table_clear(pt);
	free(pt->h);
	json_decref(pt->dirty);
	json_decref(pt->claims);
	free(pt);
	sv->place = NULL;
}

void
svc_place_forget(struct svc *sv)
{
	if (sv->place)
		sv->place->loaded = false;
}

void
svc_place_dirty(void *ctx, const char *host)
{
	struct svc *sv = ctx;
	if (sv->place && host)
		json_object_set_new(sv->place->dirty, host, json_true());
}

/* What the NUMA claims of the host's servers hold on each of its cells; the claims of
 * servers no longer there go. */
static void
own_cells(struct place_table *pt, struct place_host *ph)
{
	struct host_view *v = &ph->v;
	const char *uuid;
	json_t *claim, *tmp, *c;
	size_t i;

	json_object_foreach_safe (pt->claims, tmp, uuid, claim) {
		if (strcmp(field_or(claim, "host", ""), ph->id) != 0)
			continue;
		bool here = false;
		json_array_foreach (ph->servers, i, c)
			if (!here)
				here = strcmp(field_or(c, "uuid", ""), uuid) == 0;
		if (!here) {
			json_object_del(pt->claims, uuid);
			continue;
		}
		json_array_foreach (json_object_get(claim, "cells"), i, c) {
			json_int_t cell = json_integer_value(json_array_get(c, 0));
			if (cell < 0 || (size_t)cell >= ph->sh.n_cells)
				continue;
			v->own[cell].cpus_used +=
				(uint32_t)json_integer_value(json_array_get(c, 1));
			v->own[cell].mem_used_mb +=
				(uint64_t)json_integer_value(json_array_get(c, 2));
		}
	}
}

/* Parses row and servers (both stolen) into ph: the report's numbers and strings, and
 * what hvcentral's own server records place there. */
static int
host_fill(struct place_table *pt, struct place_host *ph, json_t *row, json_t *servers)
{
	host_release(ph);
	ph->row = row;
	ph->servers = servers;
	const json_t *res = json_object_get(row, "resources");
	const char *status = field_or(res, "status", json_object_size(res) ? "enabled" : "");
	struct host_view *v = &ph->v;
	size_t i;
	json_t *s;

	ph->stored_seen_ms = json_integer_value(json_object_get(row, "last_seen_ms"));
	ph->sh = (struct sched_host){
		.id = ph->id,
		.enabled = strcmp(status, "enabled") == 0 && !svc_host_disabled(row, NULL),
		.vcpus = (uint32_t)num(res, "vcpus"),
		.vcpus_used = (uint32_t)num(res, "vcpus_used"),
		.ram_mb = num(res, "memory_mb"),
		.ram_used_mb = num(res, "memory_mb_used"),
		.disk_gb = num(res, "local_gb"),
		.disk_used_gb = num(res, "local_gb_used"),
		.disk_available_least_gb = json_object_get(res, "disk_available_least")
						   ? (int64_t)num(res, "disk_available_least")
						   : -1,
	};
	if (view_fill(v, &ph->sh, res) < 0)
		return -ENOMEM;
	json_array_foreach (servers, i, s) {
		const json_t *f = json_object_get(s, "flavor");
		v->vcpus += num(f, "vcpus");
		v->ram_mb += num(f, "ram_mb");
		v->disk_gb += num(f, "root_gb") + num(f, "ephemeral_gb");
		v->io_ops += *field_or(s, "task_state", "") != '\0';
		if (HV_GROW(v->instances, v->cap_instances, v->n_instances + 1) < 0)
			return -ENOMEM;
		v->instances[v->n_instances++] = json_string_value(json_object_get(s, "uuid"));
	}
	own_cells(pt, ph);
	return 0;
}

/* The entry of host id, added (empty) when absent; NULL without memory. */
static struct place_host *
host_entry(struct place_table *pt, const char *id)
{
	long i = sched_table_find(pt->t, id);
	if (i >= 0)
		return pt->h[i];
	struct place_host *ph = calloc(1, sizeof *ph);
	if (!ph || HV_GROW(pt->h, pt->cap, pt->n + 1) < 0) {
		free(ph);
		return NULL;
	}
	snprintf(ph->id, sizeof ph->id, "%s", id);
	ph->sh.id = ph->id;
	if (sched_table_put(pt->t, &ph->sh) != (long)pt->n) {
		free(ph);
		return NULL;
	}
	pt->h[pt->n++] = ph;
	return ph;
}

/* Every host and server, once: at the first decision, or after a host went away. */
static int
table_load(struct svc *sv, struct place_table *pt, struct hv_error *err)
{
	json_t *hosts = NULL, *servers = NULL, *s, *h;
	size_t i;
	int r;

	table_clear(pt);
	json_object_clear(pt->dirty);
	if (!(pt->t = sched_table_new()))
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	if ((r = store_host_list(sv->store, &hosts, err)) < 0 ||
	    (r = store_instance_list(sv->store, NULL, false, &servers, err)) < 0)
		goto out;
	json_t *by_host = json_object();
	json_array_foreach (hosts, i, h)
		json_object_set_new(by_host, field_or(h, "host_id", ""), json_array());
	json_array_foreach (servers, i, s)
		json_array_append(json_object_get(by_host, field_or(s, "host", "")), s);
	r = 0;
	json_array_foreach (hosts, i, h) {
		const char *id = field_or(h, "host_id", "");
		struct place_host *ph = *id ? host_entry(pt, id) : NULL;
		if (*id && (!ph || host_fill(pt, ph, json_incref(h),
					     json_incref(json_object_get(by_host, id))) < 0)) {
			r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
			break;
		}
	}
	json_decref(by_host);
	pt->loaded = r == 0;
out:
	json_decref(hosts);
	json_decref(servers);
	return r;
}

/* Reads again the hosts something changed since the last decision. */
static int
table_refresh(struct svc *sv, struct place_table *pt, struct hv_error *err)
{
	const char *id;
	json_t *v;
	int r = 0;

	if (!pt->loaded)
		return table_load(sv, pt, err);
	json_object_foreach (pt->dirty, id, v) {
		json_t *row = NULL, *servers = NULL;
		if ((r = store_host_get(sv->store, id, &row, err)) == -ENOENT) {
			/* a host that went away: its index goes too, so the table starts over */
			return table_load(sv, pt, err);
		}
		if (r < 0 || (r = store_instance_list(sv->store, id, false, &servers, err)) < 0) {
			json_decref(row);
			return r;
		}
		struct place_host *ph = host_entry(pt, id);
		if (!ph || host_fill(pt, ph, row, servers) < 0)
			return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	json_object_clear(pt->dirty);
	return 0;
}

/* The aggregates as the scheduler reads them: each one's metadata as key/value pairs. */
struct agg_view {
	struct sched_aggregate *aggs;
	struct sched_kv *kv;
	size_t n;
};

static int
aggs_fill(json_t *list, struct agg_view *av, struct place_table *pt)
{
	size_t i, k, nkv = 0;
	json_t *a, *h;
	const char *key;
	for (i = 0; i < pt->n; i++)
		pt->h[i]->v.n_aggs = 0;
	json_array_foreach (list, i, a)
		nkv += json_object_size(json_object_get(a, "metadata"));
	av->aggs = calloc(json_array_size(list) + 1, sizeof *av->aggs);
	av->kv = calloc(nkv + 1, sizeof *av->kv);
	if (!av->aggs || !av->kv)
		return -ENOMEM;
	nkv = 0;
	json_array_foreach (list, i, a) {
		json_t *v;
		av->aggs[i] = (struct sched_aggregate){field_or(a, "name", ""), av->kv + nkv, 0};
		json_object_foreach (json_object_get(a, "metadata"), key, v)
			if (json_is_string(v))
				av->kv[nkv + av->aggs[i].n_meta++] =
					(struct sched_kv){key, json_string_value(v)};
		nkv += av->aggs[i].n_meta;
		json_array_foreach (json_object_get(a, "hosts"), k, h) {
			long x = sched_table_find(pt->t, json_string_value(h));
			struct host_view *hv = x >= 0 ? &pt->h[x]->v : NULL;
			if (hv && HV_GROW(hv->aggs, hv->cap_aggs, hv->n_aggs + 1) < 0)
				return -ENOMEM;
			if (hv)
				hv->aggs[hv->n_aggs++] = i;
		}
	}
	av->n = json_array_size(list);
	return 0;
}

/* Each host as this decision sees it: up now, hvcentral's own records counted, in its
 * aggregates. No parsing: the entries hold it all. */
static void
table_present(struct svc *sv, struct place_table *pt, int64_t now)
{
	for (size_t i = 0; i < pt->n; i++) {
		struct place_host *ph = pt->h[i];
		struct host_view *v = &ph->v;
		struct sched_host sh = ph->sh;
		int64_t seen = ctl_heard_ms(sv->ctl, ph->id, ph->stored_seen_ms);
		sh.up = ph->row && reg_state_at(seen, now, &sv->liveness) == REG_UP &&
			!svc_host_forced_down(ph->row);
		if (v->vcpus > sh.vcpus_used)
			sh.vcpus_used = (uint32_t)v->vcpus;
		if (v->ram_mb > sh.ram_used_mb)
			sh.ram_used_mb = v->ram_mb;
		if (v->disk_gb > sh.disk_used_gb)
			sh.disk_used_gb = v->disk_gb;
		for (size_t c = 0; c < sh.n_cells; c++) {
			v->now[c] = v->cells[c];
			if (v->own[c].cpus_used > v->now[c].cpus_used)
				v->now[c].cpus_used = v->own[c].cpus_used;
			if (v->own[c].mem_used_mb > v->now[c].mem_used_mb)
				v->now[c].mem_used_mb = v->own[c].mem_used_mb;
		}
		sh.cells = v->now;
		sh.instances = v->instances;
		sh.n_instances = v->n_instances;
		sh.io_ops = v->io_ops;
		sh.aggregates = v->aggs;
		sh.n_aggregates = v->n_aggs;
		sched_table_put(pt->t, &sh);
	}
}

/* The group's policy and the hosts of its live members (hosts[] holds room for every
 * member); a soft policy is weighed, never filtered. */
static void
group_fill(const json_t *group, const struct place_table *pt, struct sched_request *r,
	   const char **hosts)
{
	const char *policy = field_or(group, "policy", "");
	const json_t *members = json_object_get(group, "members");
	size_t k;
	json_t *m;
	if ((r->group_soft = strncmp(policy, "soft-", 5) == 0))
		policy += 5;
	if (strcmp(policy, "affinity") == 0)
		r->group_policy = SCHED_GROUP_AFFINITY;
	else if (strcmp(policy, "anti-affinity") == 0)
		r->group_policy = SCHED_GROUP_ANTI_AFFINITY;
	else
		return;
	for (size_t i = 0; i < pt->n; i++) {
		const struct host_view *v = &pt->h[i]->v;
		for (size_t j = 0; j < v->n_instances; j++)
			json_array_foreach (members, k, m)
				if (v->instances[j] && json_string_value(m) &&
				    strcmp(json_string_value(m), v->instances[j]) == 0)
					hosts[r->n_group_hosts++] = pt->h[i]->id;
	}
	r->group_hosts = hosts;
}

/* The limits of the filters in force (protocol 6.4 "limits"): a resource no filter
 * judged is not limited at the claim either (nova's rule). */
static json_t *
limits_json(const struct sched_config *cfg, const struct sched_limits *lim)
{
	bool ram = false, core = false, disk = false;
	for (size_t k = 0; k < cfg->n_filters; k++) {
		enum sched_filter f = cfg->filters[k];
		ram |= f == SF_RAM || f == SF_AGGREGATE_RAM;
		core |= f == SF_CORE || f == SF_AGGREGATE_CORE;
		disk |= f == SF_DISK || f == SF_AGGREGATE_DISK;
	}
	json_t *o = json_object();
	if (ram && lim->ram_mb)
		json_object_set_new(o, "memory_mb", json_integer((json_int_t)lim->ram_mb));
	if (core && lim->vcpus)
		json_object_set_new(o, "vcpus", json_integer((json_int_t)lim->vcpus));
	if (disk && lim->disk_gb)
		json_object_set_new(o, "disk_gb", json_integer((json_int_t)lim->disk_gb));
	return o;
}

json_t *
svc_place_request(const json_t *args)
{
	static const char *const keys[] = {"image", "availability_zone", "hints", "server_group",
					   NULL};
	json_t *o = json_object();
	for (size_t i = 0; keys[i]; i++)
		if (json_object_get(args, keys[i]))
			json_object_set(o, keys[i], json_object_get(args, keys[i]));
	return o;
}

/* Server uuid's guest cells count on the host cells chosen, from the next decision on. */
static void
claim_cells(struct place_table *pt, const char *uuid, const char *host,
	    const struct sched_request *req, const struct sched_limits *lim)
{
	json_t *cells = json_array();
	for (size_t g = 0; g < req->n_numa; g++)
		json_array_append_new(cells, json_pack("[i, I, I]", lim->cells[g],
						       (json_int_t)req->numa[g].cpus,
						       (json_int_t)req->numa[g].mem_mb));
	json_object_set_new(pt->claims, uuid,
			    json_pack("{s:s, s:o}", "host", host, "cells", cells));
}

int
svc_place(struct svc *sv, const char *uuid, const json_t *flavor, const json_t *args,
	  const char *project, const json_t *group, const json_t *tried, int64_t now,
	  char ret_host[PROTO_MAX_ID + 1], json_t **ret_limits, struct hv_error *err)
{
	static uint64_t rng;
	json_t *aggs = NULL, *h;
	struct agg_view av = {0};
	const char **ghosts = NULL;
	struct sched_kv *specs = NULL;
	struct sched_cell numa[SCHED_MAX_GUEST_CELLS];
	struct sched_config cfg;
	struct sched_request req;
	struct sched_result res;
	const char *same[MAX_HINT_ITEMS], *diff[MAX_HINT_ITEMS], *tried_hosts[MAX_HINT_ITEMS];
	size_t i;
	int r;

	if (!rng)
		rng = (uint64_t)time(NULL) * 2654435761u | 1;
	if (!sv->place &&
	    (!(sv->place = calloc(1, sizeof *sv->place)) || !(sv->place->dirty = json_object()) ||
	     !(sv->place->claims = json_object()))) {
		if (sv->place)
			json_decref(sv->place->dirty);
		free(sv->place);
		sv->place = NULL;
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	struct place_table *pt = sv->place;
	cfg = sv->sched;
	cfg.default_availability_zone = sv->default_zone;
	if ((r = request_from(flavor, args, project, &req, &specs, numa, same, diff, err)) < 0)
		goto out;
	json_array_foreach (tried, i, h)
		if (req.n_tried < MAX_HINT_ITEMS)
			tried_hosts[req.n_tried++] = field_or(h, "host", "");
	req.tried = tried_hosts;
	if ((r = table_refresh(sv, pt, err)) < 0 ||
	    (r = store_aggregate_list(sv->store, &aggs, err)) < 0)
		goto out;
	if (group) {
		size_t n = 0;
		for (i = 0; i < pt->n; i++)
			n += pt->h[i]->v.n_instances;
		if (!(ghosts = calloc(n + 1, sizeof *ghosts))) {
			r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
			goto out;
		}
		group_fill(group, pt, &req, ghosts);
	}
	if (aggs_fill(aggs, &av, pt) < 0) {
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
		goto out;
	}
	cfg.aggregates = av.aggs;
	cfg.n_aggregates = av.n;
	table_present(sv, pt, now);
	if ((r = sched_select(&cfg, pt->t, &req, &rng, &res, err)) < 0)
		goto out;
	if (res.host < 0) {
		r = hv_error_set(err, -ENOSPC, "host", "%s", res.why);
		goto out;
	}
	snprintf(ret_host, PROTO_MAX_ID + 1, "%s", pt->h[res.host]->id);
	if (uuid && req.n_numa)
		claim_cells(pt, uuid, ret_host, &req, &res.limits);
	/* the server about to be written there counts at the next decision */
	svc_place_dirty(sv, ret_host);
	if (ret_limits)
		*ret_limits = limits_json(&cfg, &res.limits);
out:
	free(specs);
	free(ghosts);
	free(av.aggs);
	free(av.kv);
	json_decref(aggs);
	return r;
}

/* "host-a: why; host-b: why": every refusal so far, for the server's fault. */
static void
attempts_text(const json_t *tried, char *buf, size_t size)
{
	size_t i, len = 0;
	json_t *t;
	buf[0] = '\0';
	json_array_foreach (tried, i, t)
		if (len < size)
			len += (size_t)snprintf(buf + len, size - len, "%s%s: %s", i ? "; " : "",
						field_or(t, "host", "?"),
						field_or(t, "reason", "?"));
}

/* What the retry of a refused spawn needs to know besides the spawn: the server's record
 * and its group (NULL without one). */
static int
again_context(struct svc *sv, const char *uuid, const json_t *request, json_t **inst,
	      json_t **group, struct hv_error *err)
{
	const char *gid = field_or(request, "server_group", NULL);
	int r;
	if (!gid)
		gid = field_or(json_object_get(request, "hints"), "group", NULL);
	if ((r = store_instance_get(sv->store, uuid, inst, err)) < 0)
		return r;
	if (strcmp(field_or(*inst, "vm_state", ""), "deleted") == 0)
		return hv_error_set(err, -ENOENT, NULL, "the server was deleted meanwhile");
	if (r == 0 && gid)
		r = svc_server_group_find(sv, gid, "server_group", group, err);
	return r;
}

int
svc_place_again(void *ctx, const char *uuid, json_t *spawn, const char *refused_host,
		const char *why, int64_t now, char ret_host[PROTO_MAX_ID + 1], struct hv_error *err)
{
	struct svc *sv = ctx;
	json_t *placement = json_object_get(spawn, "placement"), *inst = NULL, *group = NULL;
	json_t *tried = json_object_get(placement, "tried"), *limits = NULL;
	char story[1024], fault[1400];
	unsigned max = sv->sched.max_attempts ? sv->sched.max_attempts : 1;
	int r;

	if (!json_is_object(placement)) /* a forced host (or an older spawn): not ours to move */
		return hv_error_set(err, -ENOSPC, NULL, "%s: %s", refused_host, why);
	if (!json_is_array(tried)) {
		tried = json_array();
		json_object_set_new(placement, "tried", tried);
	}
	json_array_append_new(tried, json_pack("{s:s, s:s}", "host", refused_host, "reason", why));
	attempts_text(tried, story, sizeof story);
	size_t n = json_array_size(tried);
	if (n >= max)
		return hv_error_set(err, -ENOSPC, NULL,
				    "No valid host: %zu attempt%s of %u (scheduler_max_attempts) "
				    "refused: %s",
				    n, n == 1 ? "" : "s", max, story);
	const json_t *request = json_object_get(placement, "request");
	r = again_context(sv, uuid, request, &inst, &group, err);
	if (r == 0)
		r = svc_place(sv, uuid, json_object_get(inst, "flavor"), request,
			      field_or(inst, "project_id", ""), group, tried, now, ret_host,
			      &limits, err);
	if (r < 0) {
		char then[sizeof err->message];
		snprintf(then, sizeof then, "%s", err->message);
		r = hv_error_set(err, -ENOSPC, NULL,
				 "No valid host: %zu attempt%s refused: %s; then: %s", n,
				 n == 1 ? "" : "s", story, then);
		goto out;
	}
	json_object_set_new(spawn, "limits", limits);
	/* its ports leave the refusing host (unplugged there) and are plugged on the next one
	 * before the spawn reaches it, as an evacuation moves them */
	if ((r = svc_net_evacuate(sv, inst, ret_host, spawn, now, err)) < 0)
		goto out;
	snprintf(fault, sizeof fault, "placed again on %s after %s", ret_host, story);
	svc_place_dirty(sv, refused_host); /* the server leaves it */
	if ((r = store_instance_move(sv->store, uuid, ret_host, fault, now, err)) == -ENOENT)
		r = hv_error_set(err, -ENOENT, NULL, "the server was deleted meanwhile");
out:
	json_decref(inst);
	json_decref(group);
	return r;
}
