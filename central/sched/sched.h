/* sched.h - the scheduler's pure core: hosts and a request in, a ranked choice out, no I/O.
 * Filters and weighers carry nova's names and semantics (the guide's tables 2.7 and 2.8);
 * docs/scheduler.md says where this one departs from nova and why. The caller keeps the
 * host table current from the agents' reports and claims what it placed (sched_claim)
 * until the next report says it, so concurrent creates never overcommit a host. */
#ifndef HVC_SCHED_H
#define HVC_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvagent/error.h>

enum sched_filter {
	SF_RETRY,
	SF_AVAILABILITY_ZONE,
	SF_RAM,
	SF_CORE,
	SF_DISK,
	SF_AGGREGATE_RAM,
	SF_AGGREGATE_CORE,
	SF_AGGREGATE_DISK,
	SF_COMPUTE,
	SF_COMPUTE_CAPABILITIES,
	SF_IMAGE_PROPERTIES,
	SF_AGGREGATE_IMAGE_PROPERTIES_ISOLATION,
	SF_AGGREGATE_INSTANCE_EXTRA_SPECS,
	SF_AGGREGATE_MULTI_TENANCY_ISOLATION,
	SF_ALL_HOSTS,
	SF_ISOLATED_HOSTS,
	SF_JSON,
	SF_METRIC,
	SF_NUMA_TOPOLOGY,
	SF_SAME_HOST,
	SF_DIFFERENT_HOST,
	SF_SERVER_GROUP_AFFINITY,
	SF_SERVER_GROUP_ANTI_AFFINITY,
	SF_SIMPLE_CIDR_AFFINITY,
	SF_N
};

#define SCHED_MAX_FILTERS 32
#define SCHED_MAX_CELLS 64      /* host NUMA cells */
#define SCHED_MAX_GUEST_CELLS 8 /* guest NUMA cells */
#define SCHED_MAX_METRICS 16    /* weight_setting entries */
/* distinct metric names the table knows (nova's cpu.* monitor reports 10); a name first
 * reported after so many is never weighed */
#define SCHED_MAX_METRIC_NAMES 32

/* "RamFilter" for SF_RAM; NULL for an unknown value. */
const char *sched_filter_name(enum sched_filter f);
/* -> enum sched_filter, or -1 for a name nova does not have. */
int sched_filter_parse(const char *name);

struct sched_kv {
	const char *key, *value;
};

struct sched_metric {
	const char *name;
	double value;
};

/* A NUMA cell: a host's (cpus and memory it has, and uses) or a guest's (used = 0). */
struct sched_cell {
	uint32_t cpus, cpus_used;
	uint64_t mem_mb, mem_used_mb;
};

struct sched_aggregate {
	const char *name;
	const struct sched_kv *meta; /* availability_zone, *_allocation_ratio, filter_tenant_id,
				      * properties for the aggregate filters */
	size_t n_meta;
};

/* A host as the reports describe it. Strings and arrays are borrowed: they must live until
 * the host is replaced or the table freed; but the table keeps its own copy of the cells
 * (sched_claim counts guest cells in it) and of the metrics. */
struct sched_host {
	const char *id;
	bool up, enabled;
	uint32_t vcpus, vcpus_used;
	uint64_t ram_mb, ram_used_mb;
	uint64_t disk_gb, disk_used_gb;
	int64_t disk_available_least_gb; /* < 0: not reported */
	const char *ip;                  /* SimpleCIDRAffinityFilter */
	/* ComputeCapabilitiesFilter and ImagePropertiesFilter read these: e.g.
	 * hypervisor_type=QEMU, cpu_info:arch=x86_64, supported_instances=x86_64:qemu:hvm,... */
	const struct sched_kv *caps;
	size_t n_caps;
	const struct sched_metric *metrics;
	size_t n_metrics;
	const struct sched_cell *cells;
	size_t n_cells;
	const char *const *instances; /* uuids of its servers (same/different host) */
	size_t n_instances;
	const size_t *aggregates; /* indices into the config's aggregates */
	size_t n_aggregates;
	uint32_t io_ops; /* its servers with a task under way (nova's num_io_ops) */
};

struct sched_weight {
	const char *metric;
	double ratio;
};

struct sched_config {
	enum sched_filter filters[SCHED_MAX_FILTERS]; /* scheduler_default_filters, in order */
	size_t n_filters;
	double cpu_allocation_ratio, ram_allocation_ratio, disk_allocation_ratio;
	unsigned host_subset_size;    /* scheduler_host_subset_size */
	unsigned max_attempts;        /* scheduler_max_attempts (the caller's retries) */
	double ram_weight_multiplier; /* < 0 stacks */
	/* nova's CPUWeigher (free vCPUs under the ratio), DiskWeigher (free disk),
	 * IoOpsWeigher (< 0 prefers idle hosts) and the soft server group weighers */
	double cpu_weight_multiplier, disk_weight_multiplier, io_ops_weight_multiplier;
	double soft_affinity_weight_multiplier, soft_anti_affinity_weight_multiplier;
	struct sched_weight weights[SCHED_MAX_METRICS]; /* [metrics] weight_setting */
	size_t n_weights;
	double metrics_weight_multiplier;
	bool metrics_required;
	double weight_of_unavailable; /* see docs/scheduler.md: ranks below every reporting host */
	const char *default_availability_zone;
	const char *const *isolated_images, *const *isolated_hosts;
	size_t n_isolated_images, n_isolated_hosts;
	bool restrict_isolated_hosts_to_isolated_images;
	const char *aggregate_image_properties_isolation_namespace;
	const char *aggregate_image_properties_isolation_separator;
	const struct sched_aggregate *aggregates;
	size_t n_aggregates;
};

/* nova's defaults: the default filter list, ratios 16.0 / 1.5 / 1.0, subset 1, 3 attempts,
 * RAM, CPU and disk multipliers 1.0, io_ops -1.0, soft group multipliers 1.0, metrics
 * required. */
void sched_config_default(struct sched_config *cfg);
/* Sets cfg's filters from "RamFilter, ComputeFilter, ..."; an unknown name is an error
 * naming it (field "scheduler_default_filters") and leaves cfg as it was. */
int sched_config_filters(struct sched_config *cfg, const char *list, struct hv_error *err);
/* Sets cfg's weights from "name1=1.0, name2=-1.0" ([metrics] weight_setting). The names
 * point into buf, which must outlive cfg. */
int sched_config_weights(struct sched_config *cfg, char *buf, struct hv_error *err);

enum sched_group_policy {
	SCHED_GROUP_NONE,
	SCHED_GROUP_AFFINITY,
	SCHED_GROUP_ANTI_AFFINITY
};

struct sched_request {
	uint32_t vcpus;
	uint64_t ram_mb, disk_gb, swap_mb; /* disk: root + ephemeral */
	const struct sched_kv *extra_specs;
	size_t n_extra_specs;
	const char *image_id;
	const struct sched_kv *image_props;
	size_t n_image_props;
	const char *project_id;
	const char *availability_zone; /* NULL: any */
	const struct sched_cell *numa; /* guest cells (cpus, mem_mb); none without NUMA */
	size_t n_numa;
	/* hints */
	const char *const *same_host, *const *different_host;
	size_t n_same_host, n_different_host;
	enum sched_group_policy group_policy;
	bool group_soft;                /* soft-(anti-)affinity: weighed, never filtered */
	const char *const *group_hosts; /* hosts the group's members are on, one per member */
	size_t n_group_hosts;
	const char *query;          /* JsonFilter, JSON text */
	const char *near_ip, *cidr; /* build_near_host_ip, cidr ("/24") */
	const char *const *tried;   /* RetryFilter: hosts tried for this request */
	size_t n_tried;
};

/* What the chosen host was checked against, for the agent to re-check when it claims. */
struct sched_limits {
	uint64_t ram_mb, disk_gb;
	uint32_t vcpus;
	int8_t cells[SCHED_MAX_GUEST_CELLS]; /* host cell of each guest cell, -1 unused */
};

struct sched_result {
	long host; /* index in the table, -1 when none passed */
	struct sched_limits limits;
	size_t considered;
	uint32_t removed[SF_N]; /* hosts each filter removed */
	char why[512];          /* "No valid host: ..." with per-filter counts, when none */
};

struct sched_table;

struct sched_table *sched_table_new(void);
void sched_table_free(struct sched_table *t);
/* Adds or replaces (by id) a host; returns its index, or -ENOMEM. */
long sched_table_put(struct sched_table *t, const struct sched_host *h);
size_t sched_table_len(const struct sched_table *t);
/* The index of the host with this id, or -1. */
long sched_table_find(const struct sched_table *t, const char *id);
const struct sched_host *sched_table_host(const struct sched_table *t, size_t i);

/* Picks a host for req (a random one of the best host_subset_size; rng is the caller's
 * xorshift state, never 0). 0 with res->host >= 0, or 0 with res->host = -1 and res->why
 * when no host passes; < 0 with err naming the request field at fault (a query that does
 * not parse, a CIDR that is not one, a required metric unknown to the config). */
int sched_select(const struct sched_config *cfg, const struct sched_table *t,
		 const struct sched_request *req, uint64_t *rng, struct sched_result *res,
		 struct hv_error *err);

/* Counts req against host i until the next report replaces its usage: its vCPUs, RAM and
 * disk, and each guest cell on the host cell lim->cells gives it. */
void sched_claim(struct sched_table *t, size_t i, const struct sched_request *req,
		 const struct sched_limits *lim);

/* The exact NUMA fit: each guest cell on a distinct host cell with room under the ratios.
 * true with map[g] = host cell of guest cell g, false when no assignment exists. A
 * bipartite matching: at most n_guest augmenting searches over n_host cells. */
bool sched_numa_fit(const struct sched_cell *host, size_t n_host, const struct sched_cell *guest,
		    size_t n_guest, double cpu_ratio, double ram_ratio,
		    int8_t map[SCHED_MAX_GUEST_CELLS]);

/* nova's extra_specs_ops: value matched against req ("s== x", "<in> x", "<or> a <or> b",
 * ">= 2", a bare string for equality ...). */
bool sched_spec_match(const char *value, const char *req);

#endif
