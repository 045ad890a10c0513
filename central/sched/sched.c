/* sched.c - the host table, the filter pass and the weighers. A decision walks the hosts
 * once per filter that applies to the request: the first filters read only the table's
 * numeric arrays (structure of arrays), the rich ones (NUMA, JSON, aggregates) run last on
 * the survivors. Filters a request cannot trip (no hints, no extra specs) are skipped. */
#include "sched-priv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

static const char *const filter_names[SF_N] = {
	[SF_RETRY] = "RetryFilter",
	[SF_AVAILABILITY_ZONE] = "AvailabilityZoneFilter",
	[SF_RAM] = "RamFilter",
	[SF_CORE] = "CoreFilter",
	[SF_DISK] = "DiskFilter",
	[SF_AGGREGATE_RAM] = "AggregateRamFilter",
	[SF_AGGREGATE_CORE] = "AggregateCoreFilter",
	[SF_AGGREGATE_DISK] = "AggregateDiskFilter",
	[SF_COMPUTE] = "ComputeFilter",
	[SF_COMPUTE_CAPABILITIES] = "ComputeCapabilitiesFilter",
	[SF_IMAGE_PROPERTIES] = "ImagePropertiesFilter",
	[SF_AGGREGATE_IMAGE_PROPERTIES_ISOLATION] = "AggregateImagePropertiesIsolation",
	[SF_AGGREGATE_INSTANCE_EXTRA_SPECS] = "AggregateInstanceExtraSpecsFilter",
	[SF_AGGREGATE_MULTI_TENANCY_ISOLATION] = "AggregateMultiTenancyIsolation",
	[SF_ALL_HOSTS] = "AllHostsFilter",
	[SF_ISOLATED_HOSTS] = "IsolatedHostsFilter",
	[SF_JSON] = "JsonFilter",
	[SF_METRIC] = "MetricFilter",
	[SF_NUMA_TOPOLOGY] = "NUMATopologyFilter",
	[SF_SAME_HOST] = "SameHostFilter",
	[SF_DIFFERENT_HOST] = "DifferentHostFilter",
	[SF_SERVER_GROUP_AFFINITY] = "ServerGroupAffinityFilter",
	[SF_SERVER_GROUP_ANTI_AFFINITY] = "ServerGroupAntiAffinityFilter",
	[SF_SIMPLE_CIDR_AFFINITY] = "SimpleCIDRAffinityFilter",
};

const char *
sched_filter_name(enum sched_filter f)
{
	return (unsigned)f < SF_N ? filter_names[f] : NULL;
}

int
sched_filter_parse(const char *name)
{
	for (int i = 0; i < SF_N; i++)
		if (strcmp(name, filter_names[i]) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------------ config */

void
sched_config_default(struct sched_config *cfg)
{
	static const enum sched_filter defaults[] = {
		SF_RETRY,
		SF_AVAILABILITY_ZONE,
		SF_RAM,
		SF_COMPUTE,
		SF_COMPUTE_CAPABILITIES,
		SF_IMAGE_PROPERTIES,
		SF_SERVER_GROUP_ANTI_AFFINITY,
		SF_SERVER_GROUP_AFFINITY,
	};
	memset(cfg, 0, sizeof *cfg);
	memcpy(cfg->filters, defaults, sizeof defaults);
	cfg->n_filters = sizeof defaults / sizeof *defaults;
	cfg->cpu_allocation_ratio = 16.0;
	cfg->ram_allocation_ratio = 1.5;
	cfg->disk_allocation_ratio = 1.0;
	cfg->host_subset_size = 1;
	cfg->max_attempts = 3;
	cfg->ram_weight_multiplier = 1.0;
	cfg->cpu_weight_multiplier = 1.0;
	cfg->disk_weight_multiplier = 1.0;
	cfg->io_ops_weight_multiplier = -1.0;
	cfg->soft_affinity_weight_multiplier = 1.0;
	cfg->soft_anti_affinity_weight_multiplier = 1.0;
	cfg->metrics_weight_multiplier = 1.0;
	cfg->metrics_required = true;
	cfg->weight_of_unavailable = -10000.0;
	cfg->default_availability_zone = "nova";
	cfg->restrict_isolated_hosts_to_isolated_images = true;
	cfg->aggregate_image_properties_isolation_separator = ".";
}

/* Next item of a comma-separated list, trimmed, into buf; false at the end. */
static bool
next_item(const char **p, char *buf, size_t size)
{
	const char *s = *p, *e;
	while (*s == ' ' || *s == ',' || *s == '\t')
		s++;
	if (!*s)
		return false;
	e = strchr(s, ',');
	if (!e)
		e = s + strlen(s);
	*p = e;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	snprintf(buf, size, "%.*s", (int)(e - s), s);
	return true;
}

int
sched_config_filters(struct sched_config *cfg, const char *list, struct hv_error *err)
{
	enum sched_filter f[SCHED_MAX_FILTERS];
	size_t n = 0;
	char name[80];

	while (next_item(&list, name, sizeof name)) {
		int v = sched_filter_parse(name);
		if (v < 0)
			return hv_error_set(err, -EINVAL, "scheduler_default_filters",
					    "scheduler_default_filters: unknown filter %s", name);
		if (n == SCHED_MAX_FILTERS)
			return hv_error_set(err, -E2BIG, "scheduler_default_filters",
					    "scheduler_default_filters: more than %d filters",
					    SCHED_MAX_FILTERS);
		f[n++] = (enum sched_filter)v;
	}
	memcpy(cfg->filters, f, n * sizeof *f);
	cfg->n_filters = n;
	return 0;
}

int
sched_config_weights(struct sched_config *cfg, char *buf, struct hv_error *err)
{
	struct sched_weight w[SCHED_MAX_METRICS];
	size_t n = 0;

	for (char *save = NULL, *it = strtok_r(buf, ",", &save); it;
	     it = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(it, '='), *end;
		while (*it == ' ')
			it++;
		if (!eq || eq == it || n == SCHED_MAX_METRICS)
			return hv_error_set(err, -EINVAL, "metrics.weight_setting",
					    "[metrics] weight_setting: %.64s is not name=ratio (at "
					    "most %d)",
					    it, SCHED_MAX_METRICS);
		*eq = '\0';
		for (char *t = eq; t > it && t[-1] == ' ';)
			*--t = '\0';
		errno = 0;
		w[n].ratio = strtod(eq + 1, &end);
		if (end == eq + 1 || errno || (*end && *end != ' '))
			return hv_error_set(
				err, -EINVAL, "metrics.weight_setting",
				"[metrics] weight_setting: %s=%.32s: the ratio is not a "
				"number",
				it, eq + 1);
		w[n++].metric = it;
	}
	memcpy(cfg->weights, w, n * sizeof *w);
	cfg->n_weights = n;
	return 0;
}

/* ------------------------------------------------------------------ the table */

struct sched_table {
	struct sched_host *h;
	size_t n, cap;
	/* the numbers the first filters and the RAM weigher read, one array each */
	uint8_t *ok; /* up and enabled */
	double *ram, *ram_used, *vcpus, *vcpus_used, *disk_mb, *disk_free_mb;
	struct sched_cell **cells; /* each host's NUMA cells, the table's copy (claims count) */
	/* metrics by name id: the names the hosts reported (the table's copies), each host's
	 * values in a row of SCHED_MAX_METRIC_NAMES and a bit per name it has */
	char *mname[SCHED_MAX_METRIC_NAMES];
	size_t n_mname;
	double *mval;
	uint32_t *mhas;
	long *slot; /* id hash -> index + 1, open addressing */
	size_t n_slot;
	size_t n_busy; /* hosts with io_ops > 0: without any, the io_ops weigher is skipped */
};

struct sched_table *
sched_table_new(void)
{
	return calloc(1, sizeof(struct sched_table));
}

void
sched_table_free(struct sched_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	for (size_t i = 0; i < t->n_mname; i++)
		free(t->mname[i]);
	free(t->cells);
	free(t->mval);
	free(t->mhas);
	free(t->h);
	free(t->ok);
	free(t->ram);
	free(t->ram_used);
	free(t->vcpus);
	free(t->vcpus_used);
	free(t->disk_mb);
	free(t->disk_free_mb);
	free(t->slot);
	free(t);
}

size_t
sched_table_len(const struct sched_table *t)
{
	return t->n;
}

const struct sched_host *
sched_table_host(const struct sched_table *t, size_t i)
{
	return i < t->n ? &t->h[i] : NULL;
}

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

/* The slot holding id, or the empty one where it would go. */
static size_t
find_slot(const struct sched_table *t, const char *id)
{
	size_t i = hash(id) & (t->n_slot - 1);
	while (t->slot[i] && strcmp(t->h[t->slot[i] - 1].id, id) != 0)
		i = (i + 1) & (t->n_slot - 1);
	return i;
}

static int
grow(struct sched_table *t)
{
	size_t need = t->cap ? t->cap * 2 : 64, cap;
	/* each array grows to the same capacity; one that fails leaves t->cap as it was, and
	 * the arrays already grown are only larger than needed */
#define GROW_ARRAY(a)                                                      \
	do {                                                               \
		cap = t->cap;                                              \
		if (hv_grow_block(&t->a, &cap, need, sizeof *t->a, 0) < 0) \
			return -ENOMEM;                                    \
	} while (0)
	GROW_ARRAY(h);
	GROW_ARRAY(ok);
	GROW_ARRAY(ram);
	GROW_ARRAY(ram_used);
	GROW_ARRAY(vcpus);
	GROW_ARRAY(vcpus_used);
	GROW_ARRAY(disk_mb);
	GROW_ARRAY(disk_free_mb);
	GROW_ARRAY(cells);
	GROW_ARRAY(mhas);
	size_t mcap = t->cap * SCHED_MAX_METRIC_NAMES;
	if (hv_grow_block(&t->mval, &mcap, cap * SCHED_MAX_METRIC_NAMES, sizeof *t->mval, 0) < 0)
		return -ENOMEM;
#undef GROW_ARRAY
	long *slot = calloc(cap * 2, sizeof *slot);
	if (!slot)
		return -ENOMEM;
	free(t->slot);
	t->slot = slot;
	t->n_slot = cap * 2;
	t->cap = cap;
	for (size_t i = 0; i < t->n; i++)
		t->slot[find_slot(t, t->h[i].id)] = (long)i + 1;
	return 0;
}

/* The id of a metric name, or -1 when no host reported it. */
static int
metric_find(const struct sched_table *t, const char *name)
{
	for (size_t k = 0; k < t->n_mname; k++)
		if (strcmp(t->mname[k], name) == 0)
			return (int)k;
	return -1;
}

/* The same, the name added when new; -1 when the table knows as many names as it can
 * (SCHED_MAX_METRIC_NAMES) or has no memory. */
static int
metric_id(struct sched_table *t, const char *name)
{
	int id = metric_find(t, name);
	if (id >= 0 || t->n_mname == SCHED_MAX_METRIC_NAMES ||
	    !(t->mname[t->n_mname] = strdup(name)))
		return id;
	return (int)t->n_mname++;
}

static void
set_metrics(struct sched_table *t, size_t i)
{
	const struct sched_host *h = &t->h[i];
	double *row = t->mval + i * SCHED_MAX_METRIC_NAMES;
	t->mhas[i] = 0;
	for (size_t m = 0; m < h->n_metrics; m++) {
		int id = h->metrics[m].name ? metric_id(t, h->metrics[m].name) : -1;
		if (id >= 0 && !(t->mhas[i] & (UINT32_C(1) << id))) { /* the first one counts */
			row[id] = h->metrics[m].value;
			t->mhas[i] |= UINT32_C(1) << id;
		}
	}
}

static void
set_numbers(struct sched_table *t, size_t i)
{
	const struct sched_host *h = &t->h[i];
	double free_gb = (double)h->disk_gb - (double)h->disk_used_gb;

	if (h->disk_available_least_gb >= 0 && (double)h->disk_available_least_gb < free_gb)
		free_gb = (double)h->disk_available_least_gb;
	t->ok[i] = h->up && h->enabled;
	t->ram[i] = (double)h->ram_mb;
	t->ram_used[i] = (double)h->ram_used_mb;
	t->vcpus[i] = h->vcpus;
	t->vcpus_used[i] = h->vcpus_used;
	t->disk_mb[i] = (double)h->disk_gb * 1024;
	t->disk_free_mb[i] = free_gb * 1024;
}

long
sched_table_find(const struct sched_table *t, const char *id)
{
	return t->n_slot ? t->slot[find_slot(t, id)] - 1 : -1;
}

long
sched_table_put(struct sched_table *t, const struct sched_host *h)
{
	if (!h->id)
		return -EINVAL;
	if (t->n_slot == 0 && grow(t) < 0)
		return -ENOMEM;
	size_t s = find_slot(t, h->id);
	size_t i;
	if (t->slot[s]) {
		i = (size_t)t->slot[s] - 1;
	} else {
		if (t->n == t->cap) {
			if (grow(t) < 0)
				return -ENOMEM;
			s = find_slot(t, h->id);
		}
		i = t->n;
		t->cells[i] = NULL;
		t->h[i].io_ops = 0;
		t->h[i].n_cells = 0;
	}
	size_t nc = h->n_cells < SCHED_MAX_CELLS ? h->n_cells : SCHED_MAX_CELLS;
	if (nc != t->h[i].n_cells) {
		struct sched_cell *c = nc ? realloc(t->cells[i], nc * sizeof *c) : NULL;
		if (nc && !c)
			return -ENOMEM; /* the host stays as it was */
		if (!nc)
			free(t->cells[i]);
		t->cells[i] = c;
	}
	if (nc)
		memcpy(t->cells[i], h->cells, nc * sizeof *h->cells);
	if (i == t->n) {
		t->n++;
		t->slot[s] = (long)i + 1;
	}
	t->n_busy += (h->io_ops > 0) - (t->h[i].io_ops > 0);
	t->h[i] = *h;
	t->h[i].cells = t->cells[i];
	t->h[i].n_cells = nc;
	set_numbers(t, i);
	set_metrics(t, i);
	return (long)i;
}

void
sched_claim(struct sched_table *t, size_t i, const struct sched_request *req,
	    const struct sched_limits *lim)
{
	if (i >= t->n)
		return;
	t->vcpus_used[i] += req->vcpus;
	t->ram_used[i] += (double)req->ram_mb;
	t->disk_free_mb[i] -= (double)req->disk_gb * 1024 + (double)req->swap_mb;
	t->h[i].vcpus_used += req->vcpus;
	t->h[i].ram_used_mb += req->ram_mb;
	t->h[i].disk_used_gb += req->disk_gb;
	for (size_t g = 0; g < req->n_numa && g < SCHED_MAX_GUEST_CELLS; g++) {
		int c = lim ? lim->cells[g] : -1;
		if (c >= 0 && (size_t)c < t->h[i].n_cells) {
			t->cells[i][c].cpus_used += req->numa[g].cpus;
			t->cells[i][c].mem_used_mb += req->numa[g].mem_mb;
		}
	}
}

/* ------------------------------------------------------------------ filters */

struct ctx {
	const struct sched_config *cfg;
	const struct sched_table *t;
	const struct sched_request *r;
	json_t *query;
	struct sched_net near;
	/* [metrics] weight_setting by name id: the bits a host must have; none has them all
	 * when a name no host reported is asked */
	uint32_t need;
	bool need_unknown;
	struct sched_numa_req numa;
	int wid[SCHED_MAX_METRICS];
};

static const char *
kv_get(const struct sched_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

static bool
in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* Does the comma-separated list hold item? */
static bool
in_csv(const char *list, const char *item, const char *sep)
{
	size_t n = strlen(item);
	for (const char *p = list; p && *p;) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, sep);
		size_t l = len;
		while (l && p[l - 1] == ' ')
			l--;
		if (l == n && strncmp(p, item, n) == 0)
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

static const struct sched_aggregate *
agg(const struct ctx *x, const struct sched_host *h, size_t k)
{
	size_t a = h->aggregates[k];
	return a < x->cfg->n_aggregates ? &x->cfg->aggregates[a] : NULL;
}

/* The smallest ratio the host's aggregates set for key, else def (nova's min). */
static double
agg_ratio(const struct ctx *x, size_t i, const char *key, double def)
{
	const struct sched_host *h = &x->t->h[i];
	double best = -1;
	for (size_t k = 0; k < h->n_aggregates; k++) {
		const struct sched_aggregate *a = agg(x, h, k);
		const char *v = a ? kv_get(a->meta, a->n_meta, key) : NULL;
		char *end;
		double d = v ? strtod(v, &end) : -1;
		if (v && end != v && *end == '\0' && d > 0 && (best < 0 || d < best))
			best = d;
	}
	return best > 0 ? best : def;
}

static const char *
host_az(const struct ctx *x, const struct sched_host *h)
{
	for (size_t k = 0; k < h->n_aggregates; k++) {
		const struct sched_aggregate *a = agg(x, h, k);
		const char *v = a ? kv_get(a->meta, a->n_meta, "availability_zone") : NULL;
		if (v)
			return v;
	}
	return x->cfg->default_availability_zone;
}

static bool
ram_fits(const struct sched_table *t, size_t i, double ratio, double need)
{
	return t->ram[i] * ratio - t->ram_used[i] >= need;
}

static bool
core_fits(const struct sched_table *t, size_t i, double ratio, double need)
{
	if (t->vcpus[i] == 0)
		return true; /* nova: a host that reports no vCPUs is not judged */
	return need <= t->vcpus[i] && t->vcpus[i] * ratio - t->vcpus_used[i] >= need;
}

static bool
disk_fits(const struct sched_table *t, size_t i, double ratio, double need_mb)
{
	double used = t->disk_mb[i] - t->disk_free_mb[i];
	return t->disk_mb[i] * ratio - used >= need_mb;
}

/* ComputeCapabilitiesFilter: every extra spec without a scope, or scoped "capabilities:",
 * matches the host's capability of that name; other scopes (hw:, quota:, ...) are not
 * this filter's. */
static bool
capabilities(const struct ctx *x, const struct sched_host *h)
{
	for (size_t k = 0; k < x->r->n_extra_specs; k++) {
		const char *key = x->r->extra_specs[k].key, *colon = strchr(key, ':');
		if (colon) {
			if (strncmp(key, "capabilities:", 13) != 0)
				continue;
			key += 13;
		}
		if (!sched_spec_match(kv_get(h->caps, h->n_caps, key), x->r->extra_specs[k].value))
			return false;
	}
	return true;
}

/* AggregateInstanceExtraSpecsFilter: unscoped or "aggregate_instance_extra_specs:" specs
 * match a value of the key in one of the host's aggregates; a key no aggregate has fails. */
static bool
aggregate_specs(const struct ctx *x, const struct sched_host *h)
{
	static const char scope[] = "aggregate_instance_extra_specs:";
	for (size_t k = 0; k < x->r->n_extra_specs; k++) {
		const char *key = x->r->extra_specs[k].key;
		if (strchr(key, ':')) {
			if (strncmp(key, scope, sizeof scope - 1) != 0)
				continue;
			key += sizeof scope - 1;
		}
		bool found = false, ok = false;
		for (size_t a = 0; a < h->n_aggregates && !ok; a++) {
			const struct sched_aggregate *g = agg(x, h, a);
			const char *v = g ? kv_get(g->meta, g->n_meta, key) : NULL;
			if (!v)
				continue;
			found = true;
			/* an aggregate value may list several: "true,false" */
			char one[256];
			for (const char *p = v; next_item(&p, one, sizeof one) && !ok;)
				ok = sched_spec_match(one, x->r->extra_specs[k].value);
		}
		if (!found || !ok)
			return false;
	}
	return true;
}

/* ImagePropertiesFilter: the image's architecture, hypervisor type and vm_mode must be one
 * of the host's supported_instances ("arch:hv_type:vm_mode,..."); an image that names none
 * goes anywhere. */
static bool
image_props(const struct ctx *x, const struct sched_host *h)
{
	const struct sched_kv *p = x->r->image_props;
	size_t n = x->r->n_image_props;
	const char *want[3] = {kv_get(p, n, "hw_architecture"), kv_get(p, n, "img_hv_type"),
			       kv_get(p, n, "hw_vm_mode")};
	if (!want[0])
		want[0] = kv_get(p, n, "architecture");
	if (!want[1])
		want[1] = kv_get(p, n, "hypervisor_type");
	if (!want[2])
		want[2] = kv_get(p, n, "vm_mode");
	if (!want[0] && !want[1] && !want[2])
		return true;
	const char *sup = kv_get(h->caps, h->n_caps, "supported_instances");
	char item[128];
	for (const char *s = sup; s && next_item(&s, item, sizeof item);) {
		char *f[3] = {item, NULL, NULL}, *c;
		if ((c = strchr(item, ':'))) {
			*c = '\0';
			f[1] = c + 1;
			if ((c = strchr(f[1], ':'))) {
				*c = '\0';
				f[2] = c + 1;
			}
		}
		bool ok = true;
		for (int j = 0; j < 3; j++)
			if (want[j] && (!f[j] || strcasecmp(want[j], f[j]) != 0))
				ok = false;
		if (ok)
			return true;
	}
	return false;
}

/* AggregateImagePropertiesIsolation: for each aggregate key (in the namespace, when one is
 * set) the image also has, the image's value must be one the aggregate lists. */
static bool
image_isolation(const struct ctx *x, const struct sched_host *h)
{
	const char *ns = x->cfg->aggregate_image_properties_isolation_namespace;
	const char *sep = x->cfg->aggregate_image_properties_isolation_separator;
	size_t ns_len = ns ? strlen(ns) : 0, sep_len = sep ? strlen(sep) : 0;
	for (size_t a = 0; a < h->n_aggregates; a++) {
		const struct sched_aggregate *g = agg(x, h, a);
		for (size_t k = 0; g && k < g->n_meta; k++) {
			const char *key = g->meta[k].key;
			if (ns && (strncmp(key, ns, ns_len) != 0 ||
				   strncmp(key + ns_len, sep, sep_len) != 0))
				continue;
			const char *prop =
				kv_get(x->r->image_props, x->r->n_image_props, g->meta[k].key);
			if (prop && !in_csv(g->meta[k].value, prop, ","))
				return false;
		}
	}
	return true;
}

/* AggregateMultiTenancyIsolation: a host in an aggregate with filter_tenant_id takes only
 * those projects. */
static bool
tenant_isolation(const struct ctx *x, const struct sched_host *h)
{
	bool restricted = false;
	for (size_t a = 0; a < h->n_aggregates; a++) {
		const struct sched_aggregate *g = agg(x, h, a);
		for (size_t k = 0; g && k < g->n_meta; k++) {
			if (strncmp(g->meta[k].key, "filter_tenant_id", 16) != 0)
				continue;
			restricted = true;
			if (x->r->project_id && in_csv(g->meta[k].value, x->r->project_id, ","))
				return true;
		}
	}
	return !restricted;
}

static bool
has_metrics(const struct ctx *x, size_t i)
{
	return !x->need_unknown && (x->t->mhas[i] & x->need) == x->need;
}

static bool
has_any(const struct sched_host *h, const char *const *uuids, size_t n)
{
	for (size_t k = 0; k < h->n_instances; k++)
		if (in_list(uuids, n, h->instances[k]))
			return true;
	return false;
}

/* Does filter f have anything to say about this request? One that cannot remove a host
 * is not run. */
static bool
applies(const struct ctx *x, enum sched_filter f)
{
	const struct sched_request *r = x->r;
	switch (f) {
	case SF_RETRY: return r->n_tried > 0;
	case SF_AVAILABILITY_ZONE: return r->availability_zone != NULL;
	case SF_COMPUTE_CAPABILITIES:
	case SF_AGGREGATE_INSTANCE_EXTRA_SPECS: return r->n_extra_specs > 0;
	case SF_IMAGE_PROPERTIES:
	case SF_AGGREGATE_IMAGE_PROPERTIES_ISOLATION: return r->n_image_props > 0;
	case SF_ALL_HOSTS: return false;
	case SF_JSON: return x->query != NULL;
	case SF_METRIC: return x->cfg->n_weights > 0;
	case SF_NUMA_TOPOLOGY: return r->n_numa > 0;
	case SF_SAME_HOST: return r->n_same_host > 0;
	case SF_DIFFERENT_HOST: return r->n_different_host > 0;
	case SF_SERVER_GROUP_AFFINITY:
		return r->group_policy == SCHED_GROUP_AFFINITY && !r->group_soft &&
		       r->n_group_hosts > 0;
	case SF_SERVER_GROUP_ANTI_AFFINITY:
		return r->group_policy == SCHED_GROUP_ANTI_AFFINITY && !r->group_soft &&
		       r->n_group_hosts > 0;
	case SF_SIMPLE_CIDR_AFFINITY: return r->near_ip != NULL;
	default: return true;
	}
}

/* The filters that read more than the numeric arrays. */
static bool
passes(const struct ctx *x, enum sched_filter f, size_t i)
{
	const struct sched_host *h = &x->t->h[i];
	const struct sched_request *r = x->r;
	const struct sched_config *c = x->cfg;
	int8_t map[SCHED_MAX_GUEST_CELLS];

	switch (f) {
	case SF_RETRY: return !in_list(r->tried, r->n_tried, h->id);
	case SF_AVAILABILITY_ZONE: return strcmp(host_az(x, h), r->availability_zone) == 0;
	case SF_AGGREGATE_RAM:
		return ram_fits(x->t, i,
				agg_ratio(x, i, "ram_allocation_ratio", c->ram_allocation_ratio),
				(double)r->ram_mb);
	case SF_AGGREGATE_CORE:
		return core_fits(x->t, i,
				 agg_ratio(x, i, "cpu_allocation_ratio", c->cpu_allocation_ratio),
				 r->vcpus);
	case SF_AGGREGATE_DISK:
		return disk_fits(x->t, i,
				 agg_ratio(x, i, "disk_allocation_ratio", c->disk_allocation_ratio),
				 (double)r->disk_gb * 1024 + (double)r->swap_mb);
	case SF_COMPUTE_CAPABILITIES: return capabilities(x, h);
	case SF_IMAGE_PROPERTIES: return image_props(x, h);
	case SF_AGGREGATE_IMAGE_PROPERTIES_ISOLATION: return image_isolation(x, h);
	case SF_AGGREGATE_INSTANCE_EXTRA_SPECS: return aggregate_specs(x, h);
	case SF_AGGREGATE_MULTI_TENANCY_ISOLATION: return tenant_isolation(x, h);
	case SF_ISOLATED_HOSTS: {
		bool image = in_list(c->isolated_images, c->n_isolated_images, r->image_id);
		bool host = in_list(c->isolated_hosts, c->n_isolated_hosts, h->id);
		return c->restrict_isolated_hosts_to_isolated_images ? image == host
								     : !image || host;
	}
	case SF_JSON: {
		const struct sched_table *t = x->t;
		return sched_query_eval(x->query, t->ram[i] - t->ram_used[i], t->disk_free_mb[i],
					t->ram[i], t->vcpus[i], t->vcpus_used[i]);
	}
	case SF_METRIC: return has_metrics(x, i);
	case SF_NUMA_TOPOLOGY:
		return sched_numa_fit_req(&x->numa, h->cells, h->n_cells, c->cpu_allocation_ratio,
					  c->ram_allocation_ratio, map);
	case SF_SAME_HOST: return has_any(h, r->same_host, r->n_same_host);
	case SF_DIFFERENT_HOST: return !has_any(h, r->different_host, r->n_different_host);
	case SF_SERVER_GROUP_AFFINITY: return in_list(r->group_hosts, r->n_group_hosts, h->id);
	case SF_SERVER_GROUP_ANTI_AFFINITY:
		return !in_list(r->group_hosts, r->n_group_hosts, h->id);
	case SF_SIMPLE_CIDR_AFFINITY: return sched_cidr_has(&x->near, h->ip);
	default: return true;
	}
}

/* Keeps the candidates for which cond holds (i is the host index). */
#define KEEP(cond)                                        \
	do {                                              \
		size_t m_ = 0;                            \
		for (size_t k_ = 0; k_ < nc; k_++) {      \
			size_t i = cand[k_];              \
			if (cond)                         \
				cand[m_++] = (uint32_t)i; \
		}                                         \
		res->removed[f] += (uint32_t)(nc - m_);   \
		nc = m_;                                  \
	} while (0)

static size_t
run_filters(const struct ctx *x, uint32_t *cand, size_t nc, struct sched_result *res)
{
	const struct sched_table *t = x->t;
	const struct sched_request *r = x->r;
	const struct sched_config *c = x->cfg;

	for (size_t k = 0; k < c->n_filters && nc > 0; k++) {
		enum sched_filter f = c->filters[k];
		if (!applies(x, f))
			continue;
		switch (f) { /* the hot ones read only the arrays */
		case SF_COMPUTE: KEEP(t->ok[i]); break;
		case SF_RAM: {
			double ratio = c->ram_allocation_ratio, need = (double)r->ram_mb;
			KEEP(ram_fits(t, i, ratio, need));
			break;
		}
		case SF_CORE: {
			double ratio = c->cpu_allocation_ratio, need = r->vcpus;
			KEEP(core_fits(t, i, ratio, need));
			break;
		}
		case SF_DISK: {
			double ratio = c->disk_allocation_ratio,
			       need = (double)r->disk_gb * 1024 + (double)r->swap_mb;
			KEEP(disk_fits(t, i, ratio, need));
			break;
		}
		default: KEEP(passes(x, f, i)); break;
		}
	}
	return nc;
}

/* ------------------------------------------------------------------ weighers */

static double
metric_weight(const struct ctx *x, size_t i, bool *ok)
{
	const struct sched_config *c = x->cfg;
	const double *row = x->t->mval + i * SCHED_MAX_METRIC_NAMES;
	double sum = 0;
	if (!(*ok = has_metrics(x, i)))
		return 0;
	for (size_t w = 0; w < c->n_weights; w++)
		sum += c->weights[w].ratio * row[x->wid[w]];
	return sum;
}

/* mult / (hi - lo): what normalising to 0..1 and multiplying scales a weight by, 0 when
 * every candidate weighs the same. */
static double
scale_of(double lo, double hi, double mult)
{
	return hi > lo ? mult / (hi - lo) : 0;
}

/* How many of the group's members host id holds. */
static double
members_on(const struct sched_request *r, const char *id)
{
	double n = 0;
	for (size_t i = 0; i < r->n_group_hosts; i++)
		n += strcmp(r->group_hosts[i], id) == 0;
	return n;
}

/* The rare weighers, from the host records: io_ops (only when some host is busy) and the
 * soft server groups (only for such a group); v is scratch room for nc values. */
static void
weigh_rare(const struct ctx *x, const uint32_t *cand, size_t nc, double *score, double *v)
{
	const struct sched_table *t = x->t;
	const struct sched_config *c = x->cfg;
	const struct sched_request *r = x->r;
	bool anti = r->group_policy == SCHED_GROUP_ANTI_AFFINITY;
	for (int pass = 0; pass < 2; pass++) {
		double mult, lo = 0, hi = 0;
		if (pass == 0 && (mult = c->io_ops_weight_multiplier) != 0 && t->n_busy > 0) {
			for (size_t k = 0; k < nc; k++)
				v[k] = t->h[cand[k]].io_ops;
		} else if (pass == 1 && r->group_soft && r->group_policy != SCHED_GROUP_NONE) {
			/* soft-affinity: more members is better; soft-anti-affinity: fewer */
			mult = anti ? c->soft_anti_affinity_weight_multiplier
				    : c->soft_affinity_weight_multiplier;
			for (size_t k = 0; k < nc; k++)
				v[k] = (anti ? -1 : 1) * members_on(r, t->h[cand[k]].id);
		} else {
			continue;
		}
		for (size_t k = 0; k < nc; k++) {
			lo = k == 0 || v[k] < lo ? v[k] : lo;
			hi = k == 0 || v[k] > hi ? v[k] : hi;
		}
		double sc = scale_of(lo, hi, mult);
		for (size_t k = 0; k < nc; k++)
			score[k] += (v[k] - lo) * sc;
	}
}

/* nova's RAM, CPU and disk weighers, each normalised alone over the candidates, in one
 * pass for the ranges and one for the scores (the decision's hot loop: branch-free). */
static void
weigh_capacity(const struct ctx *x, const uint32_t *cand, size_t nc, double *score, double *v)
{
	const struct sched_table *t = x->t;
	const struct sched_config *c = x->cfg;
	const double cr = c->cpu_allocation_ratio;
	double rlo = INFINITY, rhi = -INFINITY, clo = INFINITY, chi = -INFINITY;
	double dlo = INFINITY, dhi = -INFINITY;
	for (size_t k = 0; k < nc; k++) {
		uint32_t i = cand[k];
		double r = t->ram[i] - t->ram_used[i], cpu = t->vcpus[i] * cr - t->vcpus_used[i];
		double d = t->disk_free_mb[i];
		rlo = r < rlo ? r : rlo;
		rhi = r > rhi ? r : rhi;
		clo = cpu < clo ? cpu : clo;
		chi = cpu > chi ? cpu : chi;
		dlo = d < dlo ? d : dlo;
		dhi = d > dhi ? d : dhi;
	}
	double rs = scale_of(rlo, rhi, c->ram_weight_multiplier);
	double cs = scale_of(clo, chi, c->cpu_weight_multiplier);
	double ds = scale_of(dlo, dhi, c->disk_weight_multiplier);
	for (size_t k = 0; k < nc; k++) {
		uint32_t i = cand[k];
		score[k] = (t->ram[i] - t->ram_used[i] - rlo) * rs +
			   (t->vcpus[i] * cr - t->vcpus_used[i] - clo) * cs +
			   (t->disk_free_mb[i] - dlo) * ds;
	}
	weigh_rare(x, cand, nc, score, v);
}

/* Each weigher's raw weight is normalised to 0..1 over the candidates ((w - min) / (max -
 * min), all 0 when equal), multiplied and summed. A host without every metric of
 * weight_setting does not take part in the metrics normalisation (nova's -10000 sentinel
 * would squeeze every reporting host to ~1.0); it scores below the lowest a reporting host
 * can, whatever the multiplier's sign. */
static int
weigh(const struct ctx *x, const uint32_t *cand, size_t nc, double *score, double *raw,
      struct hv_error *err)
{
	const struct sched_table *t = x->t;
	const struct sched_config *c = x->cfg;
	double lo = 0, hi = 0;

	weigh_capacity(x, cand, nc, score, raw);
	if (c->n_weights == 0 || c->metrics_weight_multiplier == 0)
		return 0;
	bool any = false;
	for (size_t k = 0; k < nc; k++) {
		bool ok;
		double w = metric_weight(x, cand[k], &ok);
		if (!ok && c->metrics_required)
			return hv_error_set(err, -ENOSPC, "metrics.required",
					    "host %s does not report every metric of [metrics] "
					    "weight_setting, and [metrics] required is true (add "
					    "MetricFilter to the filters, or set required = false)",
					    t->h[cand[k]].id);
		raw[k] = ok ? w : NAN;
		if (!ok)
			continue;
		if (!any || w < lo)
			lo = w;
		if (!any || w > hi)
			hi = w;
		any = true;
	}
	double m = c->metrics_weight_multiplier, floor = (m < 0 ? m : 0) - (m < 0 ? -m : m);
	for (size_t k = 0; k < nc; k++)
		score[k] += isnan(raw[k]) ? floor : hi > lo ? m * (raw[k] - lo) / (hi - lo) : 0;
	return 0;
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* ------------------------------------------------------------------ select */

static void
explain(const struct sched_config *c, size_t n_hosts, struct sched_result *res)
{
	size_t len = (size_t)snprintf(res->why, sizeof res->why,
				      "No valid host was found: %zu hosts", n_hosts);
	const char *sep = ";";
	for (size_t k = 0; k < c->n_filters && len < sizeof res->why; k++) {
		enum sched_filter f = c->filters[k];
		if (!res->removed[f])
			continue;
		len += (size_t)snprintf(res->why + len, sizeof res->why - len, "%s %s removed %u",
					sep, filter_names[f], res->removed[f]);
		sep = ",";
	}
}

static void
fill_limits(const struct ctx *x, size_t i, struct sched_limits *lim)
{
	const struct sched_config *c = x->cfg;
	const struct sched_host *h = &x->t->h[i];
	bool agg_ram = false, agg_core = false, agg_disk = false;

	for (size_t k = 0; k < c->n_filters; k++) {
		agg_ram |= c->filters[k] == SF_AGGREGATE_RAM;
		agg_core |= c->filters[k] == SF_AGGREGATE_CORE;
		agg_disk |= c->filters[k] == SF_AGGREGATE_DISK;
	}
	double rr = agg_ram ? agg_ratio(x, i, "ram_allocation_ratio", c->ram_allocation_ratio)
			    : c->ram_allocation_ratio;
	double cr = agg_core ? agg_ratio(x, i, "cpu_allocation_ratio", c->cpu_allocation_ratio)
			     : c->cpu_allocation_ratio;
	double dr = agg_disk ? agg_ratio(x, i, "disk_allocation_ratio", c->disk_allocation_ratio)
			     : c->disk_allocation_ratio;
	lim->ram_mb = (uint64_t)((double)h->ram_mb * rr);
	lim->vcpus = (uint32_t)((double)h->vcpus * cr);
	lim->disk_gb = (uint64_t)((double)h->disk_gb * dr);
	memset(lim->cells, -1, sizeof lim->cells);
	if (x->r->n_numa)
		sched_numa_fit(h->cells, h->n_cells, x->r->numa, x->r->n_numa,
			       c->cpu_allocation_ratio, c->ram_allocation_ratio, lim->cells);
}

int
sched_select(const struct sched_config *cfg, const struct sched_table *t,
	     const struct sched_request *req, uint64_t *rng, struct sched_result *res,
	     struct hv_error *err)
{
	struct ctx x = {.cfg = cfg, .t = t, .r = req};
	uint32_t *cand;
	double *score;
	size_t nc = t->n;
	int r = 0;

	memset(res, 0, sizeof *res);
	res->host = -1;
	res->considered = t->n;
	if (req->n_numa > SCHED_MAX_GUEST_CELLS)
		return hv_error_set(err, -EINVAL, "hw:numa_nodes",
				    "hw:numa_nodes: at most %d guest cells", SCHED_MAX_GUEST_CELLS);
	if (req->query && sched_query_parse(req->query, &x.query, err) < 0)
		return err->code;
	if (req->near_ip && sched_cidr_parse(req->near_ip, req->cidr, &x.near, err) < 0) {
		json_decref(x.query);
		return err->code;
	}
	sched_numa_req_init(&x.numa, req->numa, req->n_numa);
	for (size_t w = 0; w < cfg->n_weights; w++) {
		if ((x.wid[w] = metric_find(t, cfg->weights[w].metric)) < 0)
			x.need_unknown = true;
		else
			x.need |= UINT32_C(1) << x.wid[w];
	}
	cand = malloc((nc ? nc : 1) * sizeof *cand);
	score = malloc((nc ? nc : 1) * 2 * sizeof *score); /* the scores, then raw weights */
	if (!cand || !score) {
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nc; i++)
		cand[i] = (uint32_t)i;
	nc = run_filters(&x, cand, nc, res);
	if (nc == 0) {
		explain(cfg, t->n, res);
		goto out;
	}
	if ((r = weigh(&x, cand, nc, score, score + nc, err)) < 0)
		goto out;
	/* the best host_subset_size, then one of them at random */
	enum {
		TOP = 64
	};
	size_t top[TOP], n_top = 0, want = cfg->host_subset_size ? cfg->host_subset_size : 1;
	if (want > TOP)
		want = TOP;
	for (size_t k = 0; k < nc; k++) {
		if (n_top == want && score[k] <= score[top[n_top - 1]])
			continue;
		size_t j = n_top < want ? n_top++ : n_top - 1;
		while (j > 0 && score[top[j - 1]] < score[k]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = k;
	}
	size_t pick = top[n_top > 1 ? xorshift(rng) % n_top : 0];
	res->host = cand[pick];
	fill_limits(&x, cand[pick], &res->limits);
out:
	free(cand);
	free(score);
	json_decref(x.query);
	return r;
}
