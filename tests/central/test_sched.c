/* The scheduler's pure core: each filter and weigher, with the guide's own examples
 * (sections 2.4-2.5, tables 2.7 and 2.8) where it gives one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched/sched.h"

/* A small cloud the tests reshape: host i has 8 vCPUs, 8 GB RAM, 100 GB disk. */
#define N 6
static struct sched_host hosts[N];
static char names[N][16];
static struct sched_config cfg;
static struct sched_table *tab;
static uint64_t rng = 42;

static void
reset(void)
{
	sched_config_default(&cfg);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "node-%d", i);
		hosts[i] = (struct sched_host){.id = names[i],
					       .up = true,
					       .enabled = true,
					       .vcpus = 8,
					       .ram_mb = 8192,
					       .disk_gb = 100,
					       .disk_available_least_gb = -1};
	}
}

static void
load(int n)
{
	sched_table_free(tab);
	tab = sched_table_new();
	for (int i = 0; i < n; i++)
		assert_int_equal(sched_table_put(tab, &hosts[i]), i);
}

/* The ids of the hosts that pass, as "node-0,node-3". */
static const char *
passing(const struct sched_request *r)
{
	static char out[256];
	struct sched_result res;
	struct hv_error err = {0};
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sched_table_len(tab); i++) {
		/* only host i is considered: the filters decide alone */
		struct sched_table *one = sched_table_new();
		sched_table_put(one, sched_table_host(tab, i));
		assert_int_equal(sched_select(&cfg, one, r, &rng, &res, &err), 0);
		if (res.host == 0)
			len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", len ? "," : "",
						sched_table_host(tab, i)->id);
		sched_table_free(one);
	}
	return out;
}

static const char *
chosen(const struct sched_request *r)
{
	struct sched_result res;
	struct hv_error err = {0};
	assert_int_equal(sched_select(&cfg, tab, r, &rng, &res, &err), 0);
	return res.host >= 0 ? sched_table_host(tab, (size_t)res.host)->id : "none";
}

static int
setup(void **state)
{
	(void)state;
	reset();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sched_table_free(tab);
	tab = NULL;
	return 0;
}

static void
filter_names_are_novas(void **state)
{
	struct hv_error err = {0};
	(void)state;
	assert_int_equal(sched_filter_parse("NUMATopologyFilter"), SF_NUMA_TOPOLOGY);
	assert_string_equal(sched_filter_name(SF_AGGREGATE_INSTANCE_EXTRA_SPECS),
			    "AggregateInstanceExtraSpecsFilter");
	assert_int_equal(sched_filter_parse("RamFiltre"), -1);
	assert_int_equal(sched_config_filters(&cfg, "RamFilter, NoSuchFilter", &err), -EINVAL);
	assert_string_equal(err.field, "scheduler_default_filters");
	assert_non_null(strstr(err.message, "NoSuchFilter"));
	assert_int_equal(cfg.n_filters, 8); /* unchanged */
	assert_int_equal(cfg.filters[0], SF_RETRY);
	assert_int_equal(cfg.filters[7], SF_SERVER_GROUP_AFFINITY);
	assert_true(cfg.ram_allocation_ratio == 1.5 && cfg.cpu_allocation_ratio == 16.0 &&
		    cfg.disk_allocation_ratio == 1.0);
	assert_int_equal(sched_config_filters(&cfg, "CoreFilter,DiskFilter", &err), 0);
	assert_int_equal(cfg.n_filters, 2);
}

/* RamFilter: total * 1.5 - used >= asked. CoreFilter: total * 16 - used, and never more
 * vCPUs than the host has. DiskFilter: min(free, disk_available_least). */
static void
ratio_filters_use_the_defaults(void **state)
{
	struct hv_error err = {0};
	(void)state;
	hosts[0].ram_used_mb = 8192; /* limit 12288: 4096 left */
	hosts[1].ram_used_mb = 8193;
	hosts[2].vcpus_used = 127;
	hosts[3].disk_used_gb = 50;
	hosts[4].disk_available_least_gb = 10;
	load(5);
	struct sched_request r = {.vcpus = 1, .ram_mb = 4096, .disk_gb = 20};
	assert_string_equal(passing(&r), "node-0,node-2,node-3,node-4");
	assert_int_equal(sched_config_filters(&cfg, "CoreFilter", &err), 0);
	r.vcpus = 2;
	assert_string_equal(passing(&r), "node-0,node-1,node-3,node-4");
	r.vcpus = 9; /* more than any host's 8 physical CPUs */
	assert_string_equal(passing(&r), "");
	assert_int_equal(sched_config_filters(&cfg, "DiskFilter", &err), 0);
	r.disk_gb = 50;
	assert_string_equal(passing(&r), "node-0,node-1,node-2,node-3");
	r.disk_gb = 51;
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
}

/* Aggregate*Filter: the aggregate's ratio, the smallest when the host is in several, else
 * the config's. */
static void
aggregate_ratios_override_the_config(void **state)
{
	struct hv_error err = {0};
	static const struct sched_kv strict[] = {{"ram_allocation_ratio", "1.0"},
						 {"cpu_allocation_ratio", "1.0"}};
	static const struct sched_kv loose[] = {{"ram_allocation_ratio", "2.0"}};
	static const struct sched_aggregate aggs[] = {{"strict", strict, 2}, {"loose", loose, 1}};
	static const size_t in_strict[] = {0}, in_loose[] = {1}, in_both[] = {0, 1};
	(void)state;
	cfg.aggregates = aggs;
	cfg.n_aggregates = 2;
	for (int i = 0; i < 4; i++)
		hosts[i].ram_used_mb = 8192;
	hosts[0].aggregates = in_strict, hosts[0].n_aggregates = 1;
	hosts[1].aggregates = in_loose, hosts[1].n_aggregates = 1;
	hosts[2].aggregates = in_both, hosts[2].n_aggregates = 2;
	load(4); /* node-3: no aggregate, the config's 1.5 */
	assert_int_equal(sched_config_filters(&cfg, "AggregateRamFilter", &err), 0);
	struct sched_request r = {.vcpus = 1, .ram_mb = 4096};
	assert_string_equal(passing(&r), "node-1,node-3");
	r.ram_mb = 6000;
	assert_string_equal(passing(&r), "node-1");
	assert_int_equal(sched_config_filters(&cfg, "AggregateCoreFilter", &err), 0);
	hosts[0].vcpus_used = 8;
	load(4);
	r.vcpus = 1;
	assert_string_equal(passing(&r), "node-1,node-2,node-3");
	/* the limits the agent re-checks are the aggregate's */
	struct sched_result res;
	cfg.n_filters = 0;
	hosts[0].vcpus_used = 0;
	hosts[0].ram_used_mb = 0;
	load(1);
	assert_int_equal(sched_config_filters(&cfg, "AggregateRamFilter,AggregateCoreFilter", &err),
			 0);
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
	assert_int_equal(res.host, 0);
	assert_int_equal(res.limits.ram_mb, 8192);
	assert_int_equal(res.limits.vcpus, 8);
	assert_int_equal(res.limits.disk_gb, 100);
}

static void
compute_filter_skips_down_and_disabled_hosts(void **state)
{
	(void)state;
	hosts[1].up = false;
	hosts[2].enabled = false;
	load(3);
	struct sched_request r = {.vcpus = 1, .ram_mb = 512};
	assert_string_equal(passing(&r), "node-0");
	for (int i = 0; i < 20; i++)
		assert_string_equal(chosen(&r), "node-0");
}

/* The guide's JsonFilter example: ['>=', '$free_disk_mb', 200 * 1024]. */
static void
json_filter_reads_the_guides_query(void **state)
{
	struct hv_error err = {0};
	struct sched_result res;
	(void)state;
	for (int i = 0; i < 3; i++)
		hosts[i].disk_gb = 300;
	hosts[1].disk_used_gb = 150;
	hosts[2].disk_available_least_gb = 199;
	load(3);
	assert_int_equal(sched_config_filters(&cfg, "JsonFilter", &err), 0);
	struct sched_request r = {
		.vcpus = 1, .ram_mb = 512, .query = "[\">=\", \"$free_disk_mb\", 204800]"};
	assert_string_equal(passing(&r), "node-0");
	r.query = "[\"and\", [\">=\", \"$free_ram_mb\", 1024], [\"<\", \"$vcpus_used\", 1], "
		  "[\"not\", [\"=\", \"$vcpus_total\", 4]]]";
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
	r.query = "[\"in\", \"$vcpus_total\", 2, 4]";
	assert_string_equal(passing(&r), "");
	r.query = "[\">=\", \"$free_disk\", 1]";
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), -EINVAL);
	assert_string_equal(err.field, "hints.query");
	assert_non_null(strstr(err.message, "$free_disk"));
	r.query = "[\">=\", ";
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), -EINVAL);
	assert_string_equal(err.field, "hints.query");
	r.query = "[\"xor\", 1, 2]";
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), -EINVAL);
}

static void
extra_spec_operators_are_novas(void **state)
{
	(void)state;
	assert_true(sched_spec_match("QEMU", "QEMU"));
	assert_false(sched_spec_match("KVM", "QEMU"));
	assert_true(sched_spec_match("QEMU", "s== QEMU"));
	assert_true(sched_spec_match("KVM", "s!= QEMU"));
	assert_true(sched_spec_match("2048", "= 1024")); /* "=" is "at least" */
	assert_false(sched_spec_match("512", "= 1024"));
	assert_true(sched_spec_match("1024", "== 1024.0"));
	assert_true(sched_spec_match("4", "<= 4"));
	assert_false(sched_spec_match("abc", ">= 1"));
	assert_true(sched_spec_match("sse4 avx", "<in> avx"));
	assert_true(sched_spec_match("sse4 avx aes", "<all-in> avx aes"));
	assert_false(sched_spec_match("sse4 avx", "<all-in> avx aes"));
	assert_true(sched_spec_match("b", "<or> a <or> b <or> c"));
	assert_false(sched_spec_match("d", "<or> a <or> b"));
	assert_false(sched_spec_match(NULL, "s== x"));
}

static void
compute_capabilities_match_the_host(void **state)
{
	struct hv_error err = {0};
	static const struct sched_kv qemu[] = {{"hypervisor_type", "QEMU"},
					       {"cpu_info:arch", "x86_64"}};
	static const struct sched_kv kvm[] = {{"hypervisor_type", "KVM"},
					      {"cpu_info:arch", "x86_64"}};
	(void)state;
	hosts[0].caps = qemu, hosts[0].n_caps = 2;
	hosts[1].caps = kvm, hosts[1].n_caps = 2;
	load(2);
	assert_int_equal(sched_config_filters(&cfg, "ComputeCapabilitiesFilter", &err), 0);
	struct sched_kv specs[] = {{"capabilities:hypervisor_type", "s== QEMU"},
				   {"hw:cpu_policy", "dedicated"}, /* not this filter's */
				   {"quota:cpu_period", "1000"}};
	struct sched_request r = {
		.vcpus = 1, .ram_mb = 512, .extra_specs = specs, .n_extra_specs = 3};
	assert_string_equal(passing(&r), "node-0");
	specs[0] = (struct sched_kv){"cpu_info:arch", "x86_64"}; /* unscoped: read too */
	assert_string_equal(passing(&r), "node-0,node-1");
	specs[0] = (struct sched_kv){"SpecialComp", "True"}; /* no host has it */
	assert_string_equal(passing(&r), "");
}

/* The guide's AggregateInstanceExtraSpecsFilter example: an aggregate with SpecialComp=True
 * and a flavor asking for it. */
static void
aggregate_extra_specs_follow_the_guide(void **state)
{
	struct hv_error err = {0};
	static const struct sched_kv special[] = {{"SpecialComp", "True"}};
	static const struct sched_kv other[] = {{"ssd", "true,false"}};
	static const struct sched_aggregate aggs[] = {{"special", special, 1}, {"other", other, 1}};
	static const size_t a0[] = {0}, a1[] = {1};
	(void)state;
	cfg.aggregates = aggs;
	cfg.n_aggregates = 2;
	hosts[0].aggregates = a0, hosts[0].n_aggregates = 1;
	hosts[1].aggregates = a1, hosts[1].n_aggregates = 1;
	load(3);
	assert_int_equal(sched_config_filters(&cfg, "AggregateInstanceExtraSpecsFilter", &err), 0);
	struct sched_kv specs[] = {{"aggregate_instance_extra_specs:SpecialComp", "True"}};
	struct sched_request r = {
		.vcpus = 1, .ram_mb = 512, .extra_specs = specs, .n_extra_specs = 1};
	assert_string_equal(passing(&r), "node-0");
	specs[0] = (struct sched_kv){"ssd", "false"}; /* one of the aggregate's values */
	assert_string_equal(passing(&r), "node-1");
	specs[0] = (struct sched_kv){"hw:numa_nodes", "2"}; /* another scope: not judged */
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
}

static void
availability_zones_come_from_aggregates(void **state)
{
	static const struct sched_kv az1[] = {{"availability_zone", "az1"}};
	static const struct sched_aggregate aggs[] = {{"zone1", az1, 1}};
	static const size_t a0[] = {0};
	(void)state;
	cfg.aggregates = aggs;
	cfg.n_aggregates = 1;
	hosts[0].aggregates = a0, hosts[0].n_aggregates = 1;
	load(2);
	struct sched_request r = {.vcpus = 1, .ram_mb = 512, .availability_zone = "az1"};
	assert_string_equal(passing(&r), "node-0");
	r.availability_zone = "nova"; /* the default zone of hosts in none */
	assert_string_equal(passing(&r), "node-1");
	r.availability_zone = NULL;
	assert_string_equal(passing(&r), "node-0,node-1");
}

static void
image_filters(void **state)
{
	struct hv_error err = {0};
	static const struct sched_kv x86[] = {
		{"supported_instances", "x86_64:qemu:hvm,i686:qemu:hvm"}};
	static const struct sched_kv arm[] = {{"supported_instances", "aarch64:qemu:hvm"}};
	static const struct sched_kv windows[] = {{"os_type", "windows"}};
	static const struct sched_aggregate aggs[] = {{"win", windows, 1}};
	static const size_t a0[] = {0};
	(void)state;
	hosts[0].caps = x86, hosts[0].n_caps = 1;
	hosts[1].caps = arm, hosts[1].n_caps = 1;
	hosts[1].aggregates = a0, hosts[1].n_aggregates = 1;
	cfg.aggregates = aggs;
	cfg.n_aggregates = 1;
	load(3);
	assert_int_equal(sched_config_filters(&cfg, "ImagePropertiesFilter", &err), 0);
	struct sched_kv props[] = {{"hw_architecture", "aarch64"}};
	struct sched_request r = {
		.vcpus = 1, .ram_mb = 512, .image_props = props, .n_image_props = 1};
	assert_string_equal(passing(&r), "node-1");
	props[0] = (struct sched_kv){"img_hv_type", "qemu"};
	assert_string_equal(passing(&r), "node-0,node-1");
	props[0] = (struct sched_kv){"os_type", "linux"}; /* nothing this filter reads */
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
	assert_int_equal(sched_config_filters(&cfg, "AggregateImagePropertiesIsolation", &err), 0);
	assert_string_equal(passing(&r), "node-0,node-2"); /* windows aggregate refuses linux */
	props[0] = (struct sched_kv){"os_type", "windows"};
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
}

static void
tenant_and_isolated_hosts(void **state)
{
	struct hv_error err = {0};
	static const struct sched_kv tenants[] = {{"filter_tenant_id", "p1,p2"}};
	static const struct sched_aggregate aggs[] = {{"private", tenants, 1}};
	static const size_t a0[] = {0};
	static const char *const iso_images[] = {"secure-img"}, *const iso_hosts[] = {"node-2"};
	(void)state;
	cfg.aggregates = aggs;
	cfg.n_aggregates = 1;
	hosts[0].aggregates = a0, hosts[0].n_aggregates = 1;
	load(3);
	assert_int_equal(sched_config_filters(&cfg, "AggregateMultiTenancyIsolation", &err), 0);
	struct sched_request r = {
		.vcpus = 1, .ram_mb = 512, .project_id = "p2", .image_id = "cirros"};
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
	r.project_id = "p3";
	assert_string_equal(passing(&r), "node-1,node-2");
	assert_int_equal(sched_config_filters(&cfg, "IsolatedHostsFilter", &err), 0);
	cfg.isolated_images = iso_images, cfg.n_isolated_images = 1;
	cfg.isolated_hosts = iso_hosts, cfg.n_isolated_hosts = 1;
	assert_string_equal(passing(&r), "node-0,node-1");
	r.image_id = "secure-img";
	assert_string_equal(passing(&r), "node-2");
	cfg.restrict_isolated_hosts_to_isolated_images = false;
	r.image_id = "cirros";
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
}

static void
hints_place_near_and_apart(void **state)
{
	struct hv_error err = {0};
	static const char *const on0[] = {"a0"}, *const on1[] = {"b1", "c1"};
	(void)state;
	hosts[0].instances = on0, hosts[0].n_instances = 1;
	hosts[1].instances = on1, hosts[1].n_instances = 2;
	hosts[0].ip = "10.0.1.5";
	hosts[1].ip = "10.0.2.5";
	load(3);
	const char *const want[] = {"c1"};
	assert_int_equal(sched_config_filters(&cfg, "SameHostFilter,DifferentHostFilter", &err), 0);
	struct sched_request r = {.vcpus = 1, .ram_mb = 512, .same_host = want, .n_same_host = 1};
	assert_string_equal(passing(&r), "node-1");
	r.n_same_host = 0;
	r.different_host = want, r.n_different_host = 1;
	assert_string_equal(passing(&r), "node-0,node-2");
	r.n_different_host = 0;
	assert_int_equal(sched_config_filters(&cfg, "SimpleCIDRAffinityFilter", &err), 0);
	r.near_ip = "10.0.1.77", r.cidr = "/24";
	assert_string_equal(passing(&r), "node-0");
	r.cidr = "/16";
	assert_string_equal(passing(&r), "node-0,node-1");
	struct sched_result res;
	r.cidr = "/33";
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), -EINVAL);
	assert_string_equal(err.field, "hints.cidr");
	r.cidr = "/24", r.near_ip = "10.0.1";
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), -EINVAL);
	assert_string_equal(err.field, "hints.build_near_host_ip");
}

static void
server_groups_and_retries(void **state)
{
	(void)state;
	load(4);
	const char *const members[] = {"node-2"}, *const tried[] = {"node-0", "node-1"};
	struct sched_request r = {.vcpus = 1,
				  .ram_mb = 512,
				  .group_policy = SCHED_GROUP_AFFINITY,
				  .group_hosts = members,
				  .n_group_hosts = 1};
	assert_string_equal(passing(&r), "node-2");
	r.group_policy = SCHED_GROUP_ANTI_AFFINITY;
	assert_string_equal(passing(&r), "node-0,node-1,node-3");
	r.tried = tried, r.n_tried = 2;
	assert_string_equal(chosen(&r), "node-3");
	r.group_policy = SCHED_GROUP_AFFINITY;
	r.n_group_hosts = 0; /* the group's first member goes anywhere */
	assert_string_equal(passing(&r), "node-2,node-3");
}

/* The guide's NUMA example: 8 vCPUs and 4 GB as cells of 6+2 CPUs and 3+1 GB fit a host
 * with two nodes, not a host with one (each guest cell needs a host cell of its own). */
static void
numa_fit_follows_the_guide(void **state)
{
	struct hv_error err = {0};
	static const struct sched_cell two[] = {{8, 0, 8192, 0}, {8, 0, 8192, 0}};
	static const struct sched_cell one[] = {{16, 0, 16384, 0}};
	static const struct sched_cell guest[] = {{6, 0, 3072, 0}, {2, 0, 1024, 0}};
	(void)state;
	hosts[0].cells = two, hosts[0].n_cells = 2, hosts[0].vcpus = 16;
	hosts[1].cells = one, hosts[1].n_cells = 1, hosts[1].vcpus = 16;
	load(2);
	assert_int_equal(sched_config_filters(&cfg, "NUMATopologyFilter", &err), 0);
	struct sched_request r = {.vcpus = 8, .ram_mb = 4096, .numa = guest, .n_numa = 2};
	assert_string_equal(passing(&r), "node-0");
	struct sched_result res;
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
	assert_int_equal(res.host, 0);
	assert_true(res.limits.cells[0] >= 0 && res.limits.cells[1] >= 0 &&
		    res.limits.cells[0] != res.limits.cells[1]);
}

/* First fit puts the small guest cell on the big host cell and then finds no room for the
 * big one; the matching moves it. */
static void
numa_fit_is_exact_where_first_fit_fails(void **state)
{
	static const struct sched_cell host[] = {{4, 0, 4096, 0}, {2, 0, 2048, 0}};
	static const struct sched_cell guest[] = {{2, 0, 1024, 0}, {4, 0, 1024, 0}};
	static const struct sched_cell used[] = {{4, 3, 4096, 0}, {2, 0, 2048, 0}};
	int8_t map[SCHED_MAX_GUEST_CELLS];
	(void)state;
	assert_true(sched_numa_fit(host, 2, guest, 2, 1.0, 1.0, map));
	assert_int_equal(map[0], 1);
	assert_int_equal(map[1], 0);
	assert_int_equal(map[2], -1);
	assert_false(sched_numa_fit(used, 2, guest, 2, 1.0, 1.0, map)); /* 3 of 4 taken */
	assert_true(sched_numa_fit(used, 2, guest, 2, 2.0, 1.0, map));  /* oversubscribed */
	assert_false(sched_numa_fit(host, 2, guest, 2, 1.0, 0.2, map));
	assert_false(sched_numa_fit(host, 1, guest, 2, 16.0, 1.5, map)); /* one cell, two asked */
}

/* The fit's shortcuts (every cell holding the largest guest cell; too few holding the
 * smallest) and its search agree with trying every assignment, on random small cells. */
static bool
brute_fit(const struct sched_cell *h, size_t nh, const struct sched_cell *g, size_t ng, size_t k,
	  uint32_t taken)
{
	if (k == ng)
		return true;
	for (size_t c = 0; c < nh; c++) {
		if (taken & (1u << c) || g[k].cpus > h[c].cpus ||
		    (double)h[c].cpus * 2.0 - h[c].cpus_used < g[k].cpus ||
		    (double)h[c].mem_mb - h[c].mem_used_mb < g[k].mem_mb)
			continue;
		if (brute_fit(h, nh, g, ng, k + 1, taken | 1u << c))
			return true;
	}
	return false;
}

static void
numa_fit_agrees_with_every_assignment(void **state)
{
	uint64_t s = 7;
	int fits = 0;
	(void)state;
	for (int round = 0; round < 20000; round++) {
		struct sched_cell h[6], g[4];
		int8_t map[SCHED_MAX_GUEST_CELLS];
		size_t nh = 1 + (s = s * 6364136223846793005u + 1) % 6, ng = 1 + (s >> 20) % 4;
		for (size_t c = 0; c < nh; c++) {
			s = s * 6364136223846793005u + 1;
			h[c] = (struct sched_cell){
				(uint32_t)(2 + (s >> 33) % 6), (uint32_t)((s >> 40) % 8),
				1024 * (1 + (s >> 45) % 4), 512 * ((s >> 50) % 4)};
		}
		for (size_t k = 0; k < ng; k++) {
			s = s * 6364136223846793005u + 1;
			g[k] = (struct sched_cell){(uint32_t)(1 + (s >> 33) % 6), 0,
						   512 * (1 + (s >> 40) % 4), 0};
		}
		bool want = brute_fit(h, nh, g, ng, 0, 0);
		bool got = sched_numa_fit(h, nh, g, ng, 2.0, 1.0, map);
		assert_int_equal(got, want);
		fits += got;
		for (size_t k = 0; got && k < ng; k++) { /* the map is an assignment that fits */
			assert_true(map[k] >= 0 && (size_t)map[k] < nh);
			for (size_t j = 0; j < k; j++)
				assert_int_not_equal(map[j], map[k]);
			assert_true(brute_fit(&h[map[k]], 1, &g[k], 1, 0, 0));
		}
	}
	assert_true(fits > 2000 && fits < 18000); /* both answers were asked often */
}

/* A claim counts the guest's cells on the host cells the fit chose, so the next guest
 * between two reports does not land on a full cell. */
static void
numa_claims_fill_the_cells(void **state)
{
	struct hv_error err = {0};
	static const struct sched_cell two[] = {{4, 0, 4096, 0}, {4, 0, 4096, 0}};
	static const struct sched_cell guest[] = {{4, 0, 2048, 0}, {4, 0, 2048, 0}};
	(void)state;
	hosts[0].cells = two, hosts[0].n_cells = 2;
	load(1);
	cfg.cpu_allocation_ratio = 1.0;
	assert_int_equal(sched_config_filters(&cfg, "NUMATopologyFilter", &err), 0);
	struct sched_request r = {.vcpus = 8, .ram_mb = 4096, .numa = guest, .n_numa = 2};
	struct sched_result res;
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
	assert_int_equal(res.host, 0);
	sched_claim(tab, 0, &r, &res.limits);
	const struct sched_host *h = sched_table_host(tab, 0);
	assert_int_equal(h->cells[0].cpus_used + h->cells[1].cpus_used, 8);
	assert_int_equal(h->cells[0].mem_used_mb + h->cells[1].mem_used_mb, 4096);
	assert_int_equal(two[0].cpus_used, 0); /* the caller's cells are the table's copy */
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
	assert_int_equal(res.host, -1);
	assert_non_null(strstr(res.why, "NUMATopologyFilter removed 1"));
	assert_int_equal(sched_table_put(tab, &hosts[0]), 0); /* a report replaces the claim */
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
	assert_int_equal(res.host, 0);
}

/* RAM weigher: the most free RAM wins with a positive multiplier (spread); a negative
 * multiplier stacks. */
static void
ram_weigher_spreads_or_stacks(void **state)
{
	(void)state;
	hosts[0].ram_used_mb = 4096;
	hosts[1].ram_used_mb = 1024;
	hosts[2].ram_used_mb = 6144;
	load(3);
	struct sched_request r = {.vcpus = 1, .ram_mb = 512};
	assert_string_equal(chosen(&r), "node-1");
	cfg.ram_weight_multiplier = -1.0;
	assert_string_equal(chosen(&r), "node-2");
	cfg.ram_weight_multiplier = -3.5; /* the size does not change the order */
	assert_string_equal(chosen(&r), "node-2");
}

static void
metrics_weigher_and_unavailable_hosts(void **state)
{
	struct hv_error err = {0};
	struct sched_result res;
	static const struct sched_metric m0[] = {{"cpu.percent", 10}}, m1[] = {{"cpu.percent", 20}},
					 m2[] = {{"cpu.percent", 30}};
	char setting[] = "cpu.percent=1.0";
	(void)state;
	hosts[0].metrics = m0, hosts[0].n_metrics = 1;
	hosts[1].metrics = m1, hosts[1].n_metrics = 1;
	hosts[2].metrics = m2, hosts[2].n_metrics = 1;
	load(4); /* node-3 reports no metric */
	assert_int_equal(sched_config_weights(&cfg, setting, &err), 0);
	assert_int_equal(cfg.n_weights, 1);
	assert_string_equal(cfg.weights[0].metric, "cpu.percent");
	cfg.ram_weight_multiplier = 0;
	struct sched_request r = {.vcpus = 1, .ram_mb = 512};
	/* required (nova's default): a host without the metric stops the decision, naming it */
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), -ENOSPC);
	assert_string_equal(err.field, "metrics.required");
	assert_non_null(strstr(err.message, "node-3"));
	/* MetricFilter removes it first */
	cfg.filters[cfg.n_filters++] = SF_METRIC;
	assert_string_equal(chosen(&r), "node-2");
	cfg.n_filters--;
	/* not required: it ranks below every reporting host, whatever the sign */
	cfg.metrics_required = false;
	assert_string_equal(chosen(&r), "node-2");
	cfg.metrics_weight_multiplier = -1.0;
	assert_string_equal(chosen(&r), "node-0");
	/* and the reporting hosts keep their spread: with RAM weighed at half the metric,
	 * node-0/1/2 score 0.5+0, 0.25+0.5, 0+1 and the metric decides; nova's -10000
	 * sentinel would make their metric part 0.998/0.999/1.0 and RAM would decide
	 * (node-0: 1.498) */
	cfg.ram_weight_multiplier = 0.5;
	cfg.metrics_weight_multiplier = 1.0;
	hosts[0].ram_used_mb = 0, hosts[1].ram_used_mb = 100, hosts[2].ram_used_mb = 200;
	load(4);
	assert_string_equal(chosen(&r), "node-2");
	char bad[] = "cpu.percent";
	assert_int_equal(sched_config_weights(&cfg, bad, &err), -EINVAL);
	assert_string_equal(err.field, "metrics.weight_setting");
}

static void
subset_size_picks_among_the_best(void **state)
{
	int seen[N] = {0};
	(void)state;
	for (int i = 0; i < N; i++)
		hosts[i].ram_used_mb = (uint64_t)i * 1024; /* node-0 best ... node-5 worst */
	load(N);
	cfg.host_subset_size = 3;
	struct sched_request r = {.vcpus = 1, .ram_mb = 512};
	for (int k = 0; k < 300; k++) {
		const char *h = chosen(&r);
		seen[h[5] - '0']++;
	}
	assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
	assert_int_equal(seen[3] + seen[4] + seen[5], 0);
	/* the same seed, the same choices */
	uint64_t a = 7, b = 7;
	struct sched_result ra, rb;
	struct hv_error err = {0};
	for (int k = 0; k < 20; k++) {
		sched_select(&cfg, tab, &r, &a, &ra, &err);
		sched_select(&cfg, tab, &r, &b, &rb, &err);
		assert_int_equal(ra.host, rb.host);
	}
}

static void
no_valid_host_says_which_filters_removed_what(void **state)
{
	struct hv_error err = {0};
	struct sched_result res;
	(void)state;
	hosts[0].up = false;
	hosts[1].ram_used_mb = 12288;
	hosts[2].ram_used_mb = 12288;
	load(3);
	struct sched_request r = {.vcpus = 1, .ram_mb = 1024};
	assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
	assert_int_equal(res.host, -1);
	assert_int_equal(res.removed[SF_RAM], 2);
	assert_int_equal(res.removed[SF_COMPUTE], 1);
	assert_string_equal(res.why,
			    "No valid host was found: 3 hosts; RamFilter removed 2, ComputeFilter "
			    "removed 1");
}

/* Claims: 200 creates over 5 small hosts (8 vCPUs x 16, 8 GB x 1.5 each) never exceed a
 * host's ratios; the ones beyond the cloud's room find no host. */
static void
claims_never_overcommit(void **state)
{
	struct hv_error err = {0};
	(void)state;
	assert_int_equal(
		sched_config_filters(&cfg, "ComputeFilter,RamFilter,CoreFilter,DiskFilter", &err),
		0);
	load(5);
	struct sched_request r = {.vcpus = 2, .ram_mb = 512, .disk_gb = 1};
	int placed = 0;
	for (int k = 0; k < 200; k++) {
		struct sched_result res;
		assert_int_equal(sched_select(&cfg, tab, &r, &rng, &res, &err), 0);
		if (res.host < 0)
			continue;
		sched_claim(tab, (size_t)res.host, &r, &res.limits);
		placed++;
	}
	for (size_t i = 0; i < 5; i++) {
		const struct sched_host *h = sched_table_host(tab, i);
		assert_true(h->ram_used_mb <= 12288);
		assert_true(h->vcpus_used <= 128);
		assert_true(h->disk_used_gb <= 100);
	}
	assert_int_equal(placed, 5 * 24); /* RAM is the limit: 12288 / 512 per host */
}

static void
a_host_is_replaced_by_its_id(void **state)
{
	(void)state;
	load(3);
	hosts[1].ram_used_mb = 100;
	assert_int_equal(sched_table_put(tab, &hosts[1]), 1);
	assert_int_equal(sched_table_len(tab), 3);
	assert_int_equal(sched_table_host(tab, 1)->ram_used_mb, 100);
	/* many hosts: the index survives the table's growth */
	static char many[3000][16];
	for (int i = 0; i < 3000; i++) {
		struct sched_host h = hosts[0];
		snprintf(many[i], sizeof many[i], "h%d", i);
		h.id = many[i];
		assert_int_equal(sched_table_put(tab, &h), 3 + i);
	}
	struct sched_host again = hosts[0];
	again.id = "h1234";
	assert_int_equal(sched_table_put(tab, &again), 3 + 1234);
	assert_int_equal(sched_table_find(tab, "h2999"), 3 + 2999);
	assert_int_equal(sched_table_find(tab, "h3000"), -1);
}

/* nova's CPUWeigher, DiskWeigher, IoOpsWeigher and the soft server group weighers: each
 * normalised alone; with the RAM weigher off, each decides a choice it alone tells apart. */
static void
cpu_disk_io_ops_and_soft_group_weighers(void **state)
{
	struct sched_request r = {.vcpus = 1, .ram_mb = 512, .disk_gb = 1};
	cfg.ram_weight_multiplier = 0;
	hosts[0].vcpus_used = 4;
	hosts[2].disk_used_gb = 50;
	load(3);
	/* node-1 has the most free vCPUs and disk */
	assert_string_equal(chosen(&r), "node-1");
	cfg.cpu_weight_multiplier = -1.0; /* stacking on vCPUs: node-0, the busiest */
	cfg.disk_weight_multiplier = 0;
	assert_string_equal(chosen(&r), "node-0");

	reset();
	cfg.ram_weight_multiplier = 0;
	hosts[0].io_ops = 3;
	hosts[1].io_ops = 1;
	load(3);
	assert_string_equal(chosen(&r), "node-2"); /* -1.0: the idle host */
	cfg.io_ops_weight_multiplier = 2.0;
	assert_string_equal(chosen(&r), "node-0");

	/* soft groups filter nothing and weigh members: two on node-0, one on node-1 */
	reset();
	cfg.ram_weight_multiplier = 0;
	load(3);
	static const char *const members[] = {"node-0", "node-1", "node-0"};
	r.group_policy = SCHED_GROUP_ANTI_AFFINITY;
	r.group_soft = true;
	r.group_hosts = members;
	r.n_group_hosts = 3;
	assert_string_equal(chosen(&r), "node-2");
	assert_string_equal(passing(&r), "node-0,node-1,node-2");
	r.group_policy = SCHED_GROUP_AFFINITY;
	assert_string_equal(chosen(&r), "node-0");
	cfg.soft_affinity_weight_multiplier = 0; /* then the other weighers decide */
	hosts[1].vcpus_used = 0;
	hosts[0].vcpus_used = 2;
	load(3);
	assert_string_equal(chosen(&r), "node-1");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(filter_names_are_novas),
		T(ratio_filters_use_the_defaults),
		T(aggregate_ratios_override_the_config),
		T(compute_filter_skips_down_and_disabled_hosts),
		T(json_filter_reads_the_guides_query),
		T(extra_spec_operators_are_novas),
		T(compute_capabilities_match_the_host),
		T(aggregate_extra_specs_follow_the_guide),
		T(availability_zones_come_from_aggregates),
		T(image_filters),
		T(tenant_and_isolated_hosts),
		T(hints_place_near_and_apart),
		T(server_groups_and_retries),
		T(numa_fit_follows_the_guide),
		T(numa_fit_is_exact_where_first_fit_fails),
		T(numa_fit_agrees_with_every_assignment),
		T(numa_claims_fill_the_cells),
		T(ram_weigher_spreads_or_stacks),
		T(metrics_weigher_and_unavailable_hosts),
		T(subset_size_picks_among_the_best),
		T(no_valid_host_says_which_filters_removed_what),
		T(claims_never_overcommit),
		T(a_host_is_replaced_by_its_id),
		T(cpu_disk_io_ops_and_soft_group_weighers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
