/* extraspec.h - the one reading of a flavor's extra specs (nova's hw:, hw_rng:, hw_video:
 * and quota: keys that hvagent implements): each value parsed and range-checked, and the
 * rules between keys that need no host. Header only, like vec.h, because the libvirt
 * driver (which may link nothing of common/) builds its domain from it and hvcentral
 * refuses with it, when a flavor is created or changed, what every host would refuse.
 * The guest's NUMA cells (hv_xspec_numa_split) are read here too, for the scheduler's
 * NUMATopologyFilter; which host cell takes each, and the topology that fits, stay with the
 * driver.
 * Errors name the key (err->field = the key) and never log. Strings are borrowed. */
#ifndef HV_EXTRASPEC_H
#define HV_EXTRASPEC_H

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hvagent/error.h>

#define HV_XSPEC_MAX_CELLS 8   /* guest NUMA cells */
#define HV_XSPEC_MAX_VCPUS 256 /* the vCPUs a guest NUMA cell's CPU set may name */
#define HV_XSPEC_N_IOTUNE 6    /* read, write, total x bytes, iops (the iotune_keys order) */

/* A decimal integer, all of s: no sign, space or suffix. */
static inline int
hv_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	if (!s || !*s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static inline int
hv_parse_i64(const char *s, int64_t *ret)
{
	char *end;
	if (!s || !*s ||
	    !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
		return -EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* true/yes/on/1 or false/no/off/0, any case (nova's strutils.bool_from_string, strict). */
static inline int
hv_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
			*ret = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -EINVAL;
}

/* key=val as an integer in [lo, hi], or -EINVAL naming key. */
static inline int
hv_xspec_u64(const char *key, const char *val, uint64_t lo, uint64_t hi, uint64_t *ret,
	     struct hv_error *err)
{
	if (hv_parse_u64(val, ret) < 0 || *ret < lo || *ret > hi)
		return hv_error_set(err, -EINVAL, key,
				    "%s=%s: must be an integer %" PRIu64 "-%" PRIu64, key, val, lo,
				    hi);
	return 0;
}

static const char *const hv_xspec_topo_keys[3] = {"hw:cpu_sockets", "hw:cpu_cores",
						  "hw:cpu_threads"};
static const char *const hv_xspec_topo_max_keys[3] = {"hw:cpu_max_sockets", "hw:cpu_max_cores",
						      "hw:cpu_max_threads"};
static const char *const hv_xspec_iotune_keys[HV_XSPEC_N_IOTUNE] = {
	"quota:disk_read_bytes_sec", "quota:disk_write_bytes_sec", "quota:disk_total_bytes_sec",
	"quota:disk_read_iops_sec",  "quota:disk_write_iops_sec",  "quota:disk_total_iops_sec",
};
static const char *const hv_xspec_vif_dirs[2] = {"inbound", "outbound"};
static const char *const hv_xspec_vif_attrs[3] = {"average", "peak", "burst"};

/* What the extra specs ask of the guest. */
struct hv_xspec {
	uint32_t topo[3], topo_max[3]; /* sockets, cores, threads; 0 unset */
	bool topo_any;
	const char *numa_nodes, *numa_policy; /* checked against the host by the driver */
	const char *numa_cpus[HV_XSPEC_MAX_CELLS + 1], *numa_mem[HV_XSPEC_MAX_CELLS + 1];
	const char *watchdog_action; /* NULL: none ("disabled") */
	bool rng;                    /* hw_rng:allowed, default true */
	uint64_t rng_bytes, rng_period;
	uint64_t video_max;
	bool video_max_set;
	bool has_shares, has_period, has_quota;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;
	bool has_iotune[HV_XSPEC_N_IOTUNE];
	uint64_t iotune[HV_XSPEC_N_IOTUNE];
	bool has_vif[2][3];
	uint64_t vif[2][3];
};

static inline void
hv_xspec_init(struct hv_xspec *x)
{
	memset(x, 0, sizeof *x);
	x->rng = true;
}

/* The NUMA keys: hw:numa_nodes, hw:numa_mempolicy, hw:numa_cpus.N, hw:numa_mem.N. */
static inline int
hv_xspec_numa(struct hv_xspec *x, const char *k, const char *v, struct hv_error *err)
{
	if (strcmp(k, "hw:numa_nodes") == 0) {
		x->numa_nodes = v;
		return 0;
	}
	if (strcmp(k, "hw:numa_mempolicy") == 0) {
		x->numa_policy = v;
		return 0;
	}
	bool cpus = k[8] == 'c';
	uint64_t n;
	if (hv_parse_u64(k + (cpus ? 13 : 12), &n) < 0 || n >= HV_XSPEC_MAX_CELLS)
		return hv_error_set(err, -EINVAL, cpus ? "hw:numa_cpus" : "hw:numa_mem",
				    "%s: the cell index must be 0-%d", k, HV_XSPEC_MAX_CELLS - 1);
	if (cpus)
		x->numa_cpus[n] = v;
	else
		x->numa_mem[n] = v;
	return 0;
}

/* quota:disk_* and quota:vif_*. */
static inline int
hv_xspec_io(struct hv_xspec *x, const char *k, const char *v, struct hv_error *err)
{
	if (strncmp(k, "quota:disk_", 11) == 0) {
		for (int j = 0; j < HV_XSPEC_N_IOTUNE; j++)
			if (strcmp(k, hv_xspec_iotune_keys[j]) == 0) {
				x->has_iotune[j] = true;
				return hv_xspec_u64(k, v, 0, UINT64_C(1) << 50, &x->iotune[j], err);
			}
		return hv_error_set(err, -EINVAL, k,
				    "%s: unknown disk quota; known: "
				    "quota:disk_{read,write,total}_{bytes,iops}_sec",
				    k);
	}
	for (int d = 0; d < 2; d++)
		for (int a = 0; a < 3; a++) {
			char name[64];
			snprintf(name, sizeof name, "quota:vif_%s_%s", hv_xspec_vif_dirs[d],
				 hv_xspec_vif_attrs[a]);
			if (strcmp(k, name) == 0) {
				x->has_vif[d][a] = true;
				return hv_xspec_u64(k, v, 1, UINT32_MAX, &x->vif[d][a], err);
			}
		}
	return hv_error_set(err, -EINVAL, k,
			    "%s: unknown interface quota; known: "
			    "quota:vif_{inbound,outbound}_{average,peak,burst}",
			    k);
}

/* The single-valued keys of hw:, hw_rng:, hw_video: and quota:cpu_*; 1 when k is none. */
static inline int
hv_xspec_scalar(struct hv_xspec *x, const char *k, const char *v, struct hv_error *err)
{
	static const char *const acts[] = {"disabled", "pause", "poweroff", "reset", "none"};
	if (strcmp(k, "hw:watchdog_action") == 0) {
		for (size_t j = 0; j < 5; j++)
			if (strcmp(v, acts[j]) == 0) {
				x->watchdog_action = j == 0 ? NULL : acts[j];
				return 0;
			}
		return hv_error_set(err, -EINVAL, k,
				    "%s=%s: must be disabled, pause, poweroff, reset or none", k,
				    v);
	}
	if (strcmp(k, "hw_rng:allowed") == 0)
		return hv_parse_bool(v, &x->rng) < 0
			       ? hv_error_set(err, -EINVAL, k, "%s=%s: must be true or false", k, v)
			       : 0;
	if (strcmp(k, "hw_rng:rate_bytes") == 0)
		return hv_xspec_u64(k, v, 1, UINT32_MAX, &x->rng_bytes, err);
	if (strcmp(k, "hw_rng:rate_period") == 0)
		return hv_xspec_u64(k, v, 1, UINT32_MAX, &x->rng_period, err);
	if (strcmp(k, "hw_video:ram_max_mb") == 0) {
		x->video_max_set = true;
		return hv_xspec_u64(k, v, 0, 4096, &x->video_max, err);
	}
	if (strcmp(k, "quota:cpu_shares") == 0) {
		/* cgroup v2 cpu.weight stops at 10000; more fails at start, so refuse it now. */
		x->has_shares = true;
		return hv_xspec_u64(k, v, 1, 10000, &x->cpu_shares, err);
	}
	if (strcmp(k, "quota:cpu_period") == 0) {
		x->has_period = true;
		return hv_xspec_u64(k, v, 1000, 1000000, &x->cpu_period, err);
	}
	if (strcmp(k, "quota:cpu_quota") == 0) {
		x->has_quota = true;
		if (hv_parse_i64(v, &x->cpu_quota) < 0 ||
		    (x->cpu_quota >= 0 &&
		     (x->cpu_quota < 1000 || x->cpu_quota > INT64_C(18446744073709551))))
			return hv_error_set(err, -EINVAL, k,
					    "%s=%s: must be 1000-18446744073709551 (microseconds "
					    "per vCPU), or negative for no limit",
					    k, v);
		return 0;
	}
	return 1;
}

/* Reads one extra spec of a flavor of vcpus vCPUs into x. Keys of other namespaces
 * (aggregate_instance_extra_specs:, ...) belong to the scheduler and pass; an unknown key
 * of hw:, hw_rng:, hw_video: or quota: is refused. */
static inline int
hv_xspec_add(struct hv_xspec *x, const char *k, const char *v, uint32_t vcpus, struct hv_error *err)
{
	for (int j = 0; j < 3; j++) {
		bool is_max = strcmp(k, hv_xspec_topo_max_keys[j]) == 0;
		if (!is_max && strcmp(k, hv_xspec_topo_keys[j]) != 0)
			continue;
		uint64_t u = 0;
		int r = hv_xspec_u64(k, v, 1, vcpus, &u, err);
		if (r < 0)
			return r;
		*(is_max ? &x->topo_max[j] : &x->topo[j]) = (uint32_t)u;
		x->topo_any = true;
		return 0;
	}
	if (strcmp(k, "hw:numa_nodes") == 0 || strcmp(k, "hw:numa_mempolicy") == 0 ||
	    strncmp(k, "hw:numa_cpus.", 13) == 0 || strncmp(k, "hw:numa_mem.", 12) == 0)
		return hv_xspec_numa(x, k, v, err);
	if (strncmp(k, "quota:disk_", 11) == 0 || strncmp(k, "quota:vif_", 10) == 0)
		return hv_xspec_io(x, k, v, err);
	int r = hv_xspec_scalar(x, k, v, err);
	if (r <= 0)
		return r;
	if (strncmp(k, "hw:", 3) == 0 || strncmp(k, "hw_rng:", 7) == 0 ||
	    strncmp(k, "hw_video:", 9) == 0 || strncmp(k, "quota:", 6) == 0)
		return hv_error_set(err, -EINVAL, k,
				    "%s: unknown extra spec in a namespace hvagent implements", k);
	return 0;
}

/* The rules between keys that need no host, once every key was added. */
static inline int
hv_xspec_finish(const struct hv_xspec *x, struct hv_error *err)
{
	for (int i = 0; i < 3; i++)
		if (x->topo[i] && x->topo_max[i] && x->topo[i] > x->topo_max[i])
			return hv_error_set(err, -EINVAL, hv_xspec_topo_keys[i],
					    "%s=%u is above %s=%u: the preferred value must not "
					    "exceed the maximum",
					    hv_xspec_topo_keys[i], x->topo[i],
					    hv_xspec_topo_max_keys[i], x->topo_max[i]);
	/* libvirt (and qemu's throttling) take a total or a read/write split, not both. */
	for (int kind = 0; kind < 2; kind++) {
		int total = kind ? 5 : 2;
		if (x->has_iotune[total] && (x->has_iotune[total - 2] || x->has_iotune[total - 1]))
			return hv_error_set(err, -EINVAL, hv_xspec_iotune_keys[total],
					    "%s excludes %s and %s", hv_xspec_iotune_keys[total],
					    hv_xspec_iotune_keys[total - 2],
					    hv_xspec_iotune_keys[total - 1]);
	}
	if ((x->rng_bytes != 0) != (x->rng_period != 0))
		return hv_error_set(err, -EINVAL,
				    x->rng_bytes ? "hw_rng:rate_period" : "hw_rng:rate_bytes",
				    "hw_rng:rate_bytes and hw_rng:rate_period go together");
	for (int d = 0; d < 2; d++)
		if ((x->has_vif[d][1] || x->has_vif[d][2]) && !x->has_vif[d][0])
			return hv_error_set(err, -EINVAL,
					    d ? "quota:vif_outbound_average"
					      : "quota:vif_inbound_average",
					    "quota:vif_%s_peak/burst need quota:vif_%s_average",
					    hv_xspec_vif_dirs[d], hv_xspec_vif_dirs[d]);
	return 0;
}

/* ---- the guest's NUMA cells */

static inline void
hv_bit_set(uint64_t *bits, unsigned i)
{
	bits[i / 64] |= UINT64_C(1) << (i % 64);
}

static inline bool
hv_bit_get(const uint64_t *bits, unsigned i)
{
	return bits[i / 64] & (UINT64_C(1) << (i % 64));
}

/* "0-3,8,10-11" -> bits below limit; returns the number of CPUs or -EINVAL. */
static inline int
hv_parse_cpuset(const char *s, unsigned limit, uint64_t *bits)
{
	int n = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	while (*p) {
		char *end;
		unsigned long a, b;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (a > b || b >= limit)
			return -EINVAL;
		for (unsigned long i = a; i <= b; i++) {
			if (!hv_bit_get(bits, (unsigned)i))
				n++;
			hv_bit_set(bits, (unsigned)i);
		}
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	return n;
}

enum hv_numa_policy {
	HV_NUMA_POLICY_NONE,
	HV_NUMA_POLICY_STRICT,
	HV_NUMA_POLICY_PREFERRED
};

/* The guest's NUMA cells: which vCPUs and how much memory each holds. */
struct hv_numa_split {
	uint32_t nodes; /* 0: no guest NUMA */
	enum hv_numa_policy policy;
	struct {
		uint64_t cpus[HV_XSPEC_MAX_VCPUS / 64];
		uint32_t n_cpus;
		uint64_t mem_mb;
	} cell[HV_XSPEC_MAX_CELLS];
};

/* The cells a flavor of vcpus vCPUs and ram_mb MB asks with hw:numa_nodes: an even split
 * (nova's), or hw:numa_cpus.N and hw:numa_mem.N, which must then cover every vCPU once and
 * add up to the flavor's memory. host_cells > 0 bounds the cells too (the driver, which
 * knows the host's); the scheduler and the flavor's check pass 0. */
static inline int
hv_xspec_numa_split(const struct hv_xspec *x, uint32_t vcpus, uint64_t ram_mb, uint32_t host_cells,
		    struct hv_numa_split *out, struct hv_error *err)
{
	uint32_t max_nodes = HV_XSPEC_MAX_CELLS;
	uint64_t seen[HV_XSPEC_MAX_VCPUS / 64] = {0}, nodes, mem_sum = 0;
	bool any_cpus = false, any_mem = false;

	memset(out, 0, sizeof *out);
	for (int i = 0; i < HV_XSPEC_MAX_CELLS; i++) {
		any_cpus |= x->numa_cpus[i] != NULL;
		any_mem |= x->numa_mem[i] != NULL;
	}
	if (!x->numa_nodes) {
		if (any_cpus || any_mem || x->numa_policy)
			return hv_error_set(err, -EINVAL,
					    any_cpus  ? "hw:numa_cpus"
					    : any_mem ? "hw:numa_mem"
						      : "hw:numa_mempolicy",
					    "%s needs hw:numa_nodes",
					    any_cpus  ? "hw:numa_cpus.N"
					    : any_mem ? "hw:numa_mem.N"
						      : "hw:numa_mempolicy");
		return 0;
	}
	if (vcpus > HV_XSPEC_MAX_VCPUS)
		return hv_error_set(err, -EINVAL, "hw:numa_nodes",
				    "hw:numa_nodes: a guest with NUMA cells has at most %d vCPUs",
				    HV_XSPEC_MAX_VCPUS);
	if (vcpus < max_nodes)
		max_nodes = vcpus;
	if (host_cells && host_cells < max_nodes)
		max_nodes = host_cells;
	if (hv_parse_u64(x->numa_nodes, &nodes) < 0 || nodes < 1 || nodes > max_nodes)
		return hv_error_set(err, -EINVAL, "hw:numa_nodes",
				    "hw:numa_nodes=%s: must be 1-%u (limited by vCPUs%s)",
				    x->numa_nodes, max_nodes,
				    host_cells ? " and the host's NUMA cells" : "");
	out->nodes = (uint32_t)nodes;
	if (x->numa_policy) {
		if (strcmp(x->numa_policy, "strict") == 0)
			out->policy = HV_NUMA_POLICY_STRICT;
		else if (strcmp(x->numa_policy, "preferred") == 0)
			out->policy = HV_NUMA_POLICY_PREFERRED;
		else
			return hv_error_set(err, -EINVAL, "hw:numa_mempolicy",
					    "hw:numa_mempolicy=%s: must be strict or preferred",
					    x->numa_policy);
	}
	for (uint32_t i = (uint32_t)nodes; i < HV_XSPEC_MAX_CELLS; i++)
		if (x->numa_cpus[i] || x->numa_mem[i])
			return hv_error_set(err, -EINVAL,
					    x->numa_cpus[i] ? "hw:numa_cpus" : "hw:numa_mem",
					    "%s.%u: only cells 0-%u exist with hw:numa_nodes=%u",
					    x->numa_cpus[i] ? "hw:numa_cpus" : "hw:numa_mem", i,
					    (unsigned)nodes - 1, (unsigned)nodes);
	if (!any_cpus && !any_mem) {
		/* An even split, as nova does; an uneven flavor must say how to split. */
		if (vcpus % nodes || ram_mb % nodes)
			return hv_error_set(err, -EINVAL, "hw:numa_nodes",
					    "hw:numa_nodes=%u does not divide %u vCPUs and %" PRIu64
					    " MB evenly: give hw:numa_cpus.N and hw:numa_mem.N",
					    (unsigned)nodes, vcpus, ram_mb);
		uint32_t per = vcpus / (uint32_t)nodes;
		for (uint32_t i = 0; i < nodes; i++) {
			for (uint32_t c = i * per; c < (i + 1) * per; c++)
				hv_bit_set(out->cell[i].cpus, c);
			out->cell[i].n_cpus = per;
			out->cell[i].mem_mb = ram_mb / nodes;
		}
		return 0;
	}
	for (uint32_t i = 0; i < nodes; i++) {
		uint64_t mb;
		int n;

		if (!x->numa_cpus[i] || !x->numa_mem[i])
			return hv_error_set(err, -EINVAL,
					    x->numa_cpus[i] ? "hw:numa_mem" : "hw:numa_cpus",
					    "%s.%u is missing: every cell 0-%u needs "
					    "hw:numa_cpus.N and hw:numa_mem.N",
					    x->numa_cpus[i] ? "hw:numa_mem" : "hw:numa_cpus", i,
					    (unsigned)nodes - 1);
		n = hv_parse_cpuset(x->numa_cpus[i], vcpus, out->cell[i].cpus);
		if (n <= 0)
			return hv_error_set(err, -EINVAL, "hw:numa_cpus",
					    "hw:numa_cpus.%u=%s: must be a CPU list like "
					    "0-3,6 within 0-%u",
					    i, x->numa_cpus[i], vcpus - 1);
		for (unsigned c = 0; c < vcpus; c++) {
			if (hv_bit_get(out->cell[i].cpus, c) && hv_bit_get(seen, c))
				return hv_error_set(err, -EINVAL, "hw:numa_cpus",
						    "hw:numa_cpus.%u: vCPU %u is already "
						    "in another cell",
						    i, c);
			if (hv_bit_get(out->cell[i].cpus, c))
				hv_bit_set(seen, c);
		}
		out->cell[i].n_cpus = (uint32_t)n;
		if (hv_parse_u64(x->numa_mem[i], &mb) < 0 || mb < 1 || mb > ram_mb)
			return hv_error_set(err, -EINVAL, "hw:numa_mem",
					    "hw:numa_mem.%u=%s: must be 1-%" PRIu64 " MB", i,
					    x->numa_mem[i], ram_mb);
		out->cell[i].mem_mb = mb;
		mem_sum += mb;
	}
	for (unsigned c = 0; c < vcpus; c++)
		if (!hv_bit_get(seen, c))
			return hv_error_set(err, -EINVAL, "hw:numa_cpus",
					    "hw:numa_cpus.N must cover every vCPU 0-%u "
					    "exactly once; vCPU %u is in no cell",
					    vcpus - 1, c);
	if (mem_sum != ram_mb)
		return hv_error_set(err, -EINVAL, "hw:numa_mem",
				    "hw:numa_mem.N add up to %" PRIu64
				    " MB, the flavor has %" PRIu64 " MB",
				    mem_sum, ram_mb);
	return 0;
}

#endif
