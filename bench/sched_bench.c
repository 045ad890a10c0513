/* sched_bench - scheduler decisions per second and their latency (p50/p99) at 1 000 and
 * 10 000 hosts, with the default filters and with NUMATopologyFilter + the metrics weigher,
 * and the NUMA fit of 8 guest cells on 16 host cells. Prints figures beside the targets and
 * the published anchors; never a verdict on the machine's speed (the exit status is 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/sched.h"

#define DECISIONS 20000

static double
clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double
now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static uint64_t seed = 88172645463325252ull;

static uint64_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

struct cloud {
	struct sched_host *h;
	char (*id)[24];
	struct sched_cell (*cells)[2];
	struct sched_metric (*metrics)[1];
	struct sched_table *t;
};

static void
cloud_make(struct cloud *c, size_t n)
{
	c->h = calloc(n, sizeof *c->h);
	c->id = calloc(n, sizeof *c->id);
	c->cells = calloc(n, sizeof *c->cells);
	c->metrics = calloc(n, sizeof *c->metrics);
	c->t = sched_table_new();
	for (size_t i = 0; i < n; i++) {
		snprintf(c->id[i], sizeof c->id[i], "compute-%05zu", i);
		uint32_t cpus = 32 + 16 * (uint32_t)(rnd() % 4);
		uint64_t ram = 65536 + 32768 * (rnd() % 8);
		/* the cells hold what the host's usage holds, unevenly; claims fill them */
		uint32_t vused = (uint32_t)(rnd() % (cpus * 4));
		uint64_t rused = rnd() % ram, r0 = rused * (rnd() % 101) / 100;
		uint32_t v0 = vused * (uint32_t)(rnd() % 101) / 100;
		c->cells[i][0] = (struct sched_cell){cpus / 2, v0, ram / 2, r0};
		c->cells[i][1] = (struct sched_cell){cpus / 2, vused - v0, ram / 2, rused - r0};
		c->metrics[i][0] = (struct sched_metric){"cpu.percent", (double)(rnd() % 100)};
		c->h[i] = (struct sched_host){.id = c->id[i],
					      .up = rnd() % 50 != 0,
					      .enabled = true,
					      .vcpus = cpus,
					      .vcpus_used = vused,
					      .ram_mb = ram,
					      .ram_used_mb = rused,
					      .disk_gb = 2000,
					      .disk_used_gb = rnd() % 1500,
					      .disk_available_least_gb = -1,
					      .cells = c->cells[i],
					      .n_cells = 2,
					      .metrics = c->metrics[i],
					      .n_metrics = 1};
		sched_table_put(c->t, &c->h[i]);
	}
}

static void
cloud_free(struct cloud *c)
{
	sched_table_free(c->t);
	free(c->h);
	free(c->id);
	free(c->cells);
	free(c->metrics);
}

static void
run(const char *what, const struct sched_config *cfg, size_t n, const struct sched_request *req,
    double target)
{
	struct cloud c;
	static double lat[DECISIONS];
	uint64_t rng = 1;
	size_t placed = 0;

	cloud_make(&c, n);
	double t0 = now_us(), cpu0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	for (int k = 0; k < DECISIONS; k++) {
		struct sched_result res;
		struct hv_error err = {0};
		double a = now_us();
		if (sched_select(cfg, c.t, req, &rng, &res, &err) < 0) {
			fprintf(stderr, "sched_bench: %s\n", err.message);
			exit(1);
		}
		if (res.host >= 0) { /* claim, as hvcentral does, so the cloud fills */
			sched_claim(c.t, (size_t)res.host, req, &res.limits);
			placed++;
		}
		lat[k] = now_us() - a;
	}
	double total = now_us() - t0, cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	qsort(lat, DECISIONS, sizeof *lat, cmp_double);
	double rate = DECISIONS / (total / 1e6);
	printf("%-34s %6zu hosts: %9.0f decisions/s  p50 %6.1f us  p99 %6.1f us  (%zu placed)  "
	       "target >= %.0f/s, p99 <= 1000 us: %s\n",
	       what, n, rate, lat[DECISIONS / 2], lat[DECISIONS * 99 / 100], placed, target,
	       rate >= target && lat[DECISIONS * 99 / 100] <= 1000 ? "met" : "MISSED");
	/* on a shared machine the wall clock counts time the bench waited for a core: the CPU
	 * time says what the decisions themselves cost */
	printf("%34s %6s        %9.0f decisions per CPU second (%.0f %% of the wall time on "
	       "a core)\n",
	       "", "", DECISIONS / (cpu / 1e6), 100 * cpu / total);
	cloud_free(&c);
}

int
main(void)
{
	struct sched_config def, numa;
	struct hv_error err = {0};
	char weights[] = "cpu.percent=-1.0";
	static const struct sched_cell guest[] = {{4, 0, 2048, 0}, {4, 0, 2048, 0}};
	struct sched_request small = {.vcpus = 2, .ram_mb = 2048, .disk_gb = 20};
	struct sched_request cells = {
		.vcpus = 8, .ram_mb = 4096, .disk_gb = 20, .numa = guest, .n_numa = 2};

	sched_config_default(&def);
	sched_config_default(&numa);
	if (sched_config_filters(&numa,
				 "RetryFilter,AvailabilityZoneFilter,RamFilter,ComputeFilter,"
				 "ComputeCapabilitiesFilter,ImagePropertiesFilter,"
				 "ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,"
				 "MetricFilter,NUMATopologyFilter",
				 &err) < 0 ||
	    sched_config_weights(&numa, weights, &err) < 0) {
		fprintf(stderr, "sched_bench: %s\n", err.message);
		return 1;
	}
	printf("hvcentral scheduler, %d decisions per run, each placed server claimed\n",
	       DECISIONS);
	run("default filters, RAM weigher", &def, 1000, &small, 10000);
	run("default filters, RAM weigher", &def, 10000, &small, 10000);
	run("+ NUMATopologyFilter + metrics", &numa, 1000, &cells, 2000);
	run("+ NUMATopologyFilter + metrics", &numa, 10000, &cells, 2000);

	/* 16 host cells x 8 guest cells: nova's permutations took ~500 M fit calls here. Only
	 * 5 host cells hold a 7-CPU guest cell and 4 guest cells have 7, so no shortcut
	 * decides: the matching searches (and finds the one way: the 7s on 4 of the 5). */
	struct sched_cell host[16], g[8];
	int8_t map[SCHED_MAX_GUEST_CELLS];
	for (int i = 0; i < 16; i++)
		host[i] = (struct sched_cell){8, i < 5 ? 1 : 2, 16384, 2048 * (uint64_t)(i % 3)};
	for (int i = 0; i < 8; i++)
		g[i] = (struct sched_cell){6 + (uint32_t)(i % 2), 0, 8192, 0};
	int fits = 0, reps = 20000;
	double t0 = now_us();
	for (int k = 0; k < reps; k++)
		fits += sched_numa_fit(host, 16, g, 8, 1.0, 1.0, map);
	double per = (now_us() - t0) / reps;
	printf("NUMA fit, 16 host cells x 8 guest cells (searched): %.2f us per fit (%s)  target "
	       "< 1000 us: %s\n",
	       per, fits == reps ? "fits" : "does not fit", per < 1000 ? "met" : "MISSED");
	printf("anchors: kube-scheduler 680-810 pods/s at 5 000 nodes (CI floor); Nomad 3 750 "
	       "placements/s at 5 000 hosts; nova: NUMA 16x8 ~500 M fit calls, minutes (LP "
	       "#1978372)\n");
	return 0;
}
