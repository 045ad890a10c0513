/* numa.c - the exact NUMA fit. nova tries every ordering of host cells for the guest's
 * cells (16 host x 8 guest cells: ~500 million fit calls); but whether a guest cell fits a
 * host cell does not depend on where the other guest cells went, as long as each has a
 * cell of its own. So it is a bipartite matching: Kuhn's augmenting paths, at most
 * n_guest searches each visiting n_host cells once. Most hosts need no search at all: when
 * n_guest host cells each hold the largest guest cell, they hold any of them. */
#include "sched-priv.h"

#include <string.h>

struct match {
	uint64_t fits[SCHED_MAX_GUEST_CELLS]; /* host cells each guest cell fits */
	int8_t owner[SCHED_MAX_CELLS];        /* guest cell on each host cell, -1 none */
	uint64_t seen;
};

static bool
fits(const struct sched_cell *h, const struct sched_cell *g, double cpu_ratio, double ram_ratio)
{
	return (double)h->cpus * cpu_ratio - (double)h->cpus_used >= (double)g->cpus &&
	       (double)h->mem_mb * ram_ratio - (double)h->mem_used_mb >= (double)g->mem_mb &&
	       g->cpus <= h->cpus; /* a guest cell never has more vCPUs than its cell's CPUs */
}

static bool
augment(struct match *m, size_t g, size_t n_host)
{
	for (size_t h = 0; h < n_host; h++) {
		uint64_t bit = (uint64_t)1 << h;
		if (!(m->fits[g] & bit) || (m->seen & bit))
			continue;
		m->seen |= bit;
		if (m->owner[h] < 0 || augment(m, (size_t)m->owner[h], n_host)) {
			m->owner[h] = (int8_t)g;
			return true;
		}
	}
	return false;
}

void
sched_numa_req_init(struct sched_numa_req *q, const struct sched_cell *guest, size_t n_guest)
{
	*q = (struct sched_numa_req){.guest = guest, .n = n_guest};
	if (n_guest)
		q->small = guest[0];
	for (size_t g = 0; g < n_guest; g++) {
		q->big.cpus = guest[g].cpus > q->big.cpus ? guest[g].cpus : q->big.cpus;
		q->big.mem_mb = guest[g].mem_mb > q->big.mem_mb ? guest[g].mem_mb : q->big.mem_mb;
		q->small.cpus = guest[g].cpus < q->small.cpus ? guest[g].cpus : q->small.cpus;
		q->small.mem_mb =
			guest[g].mem_mb < q->small.mem_mb ? guest[g].mem_mb : q->small.mem_mb;
	}
}

bool
sched_numa_fit_req(const struct sched_numa_req *q, const struct sched_cell *host, size_t n_host,
		   double cpu_ratio, double ram_ratio, int8_t map[SCHED_MAX_GUEST_CELLS])
{
	const struct sched_cell *guest = q->guest;
	size_t n_guest = q->n, n_big = 0, n_small = 0;
	struct match m;

	memset(map, -1, SCHED_MAX_GUEST_CELLS);
	if (n_guest > SCHED_MAX_GUEST_CELLS || n_host > SCHED_MAX_CELLS || n_guest > n_host)
		return false;
	for (size_t h = 0; h < n_host && n_big < n_guest; h++) {
		if (fits(&host[h], &q->big, cpu_ratio, ram_ratio))
			map[n_big++] = (int8_t)h;
		else
			n_small += fits(&host[h], &q->small, cpu_ratio, ram_ratio);
	}
	if (n_big == n_guest)
		return true; /* guest cell g on the g-th cell that holds the largest */
	if (n_big + n_small < n_guest)
		return false; /* fewer cells than guest cells hold even the smallest */
	memset(map, -1, SCHED_MAX_GUEST_CELLS);
	memset(m.owner, -1, sizeof m.owner);
	for (size_t g = 0; g < n_guest; g++) {
		m.fits[g] = 0;
		for (size_t h = 0; h < n_host; h++)
			if (fits(&host[h], &guest[g], cpu_ratio, ram_ratio))
				m.fits[g] |= (uint64_t)1 << h;
		if (!m.fits[g])
			return false; /* no cell can take it: no need to search */
	}
	for (size_t g = 0; g < n_guest; g++) {
		m.seen = 0;
		if (!augment(&m, g, n_host))
			return false;
	}
	for (size_t h = 0; h < n_host; h++)
		if (m.owner[h] >= 0)
			map[m.owner[h]] = (int8_t)h;
	return true;
}

bool
sched_numa_fit(const struct sched_cell *host, size_t n_host, const struct sched_cell *guest,
	       size_t n_guest, double cpu_ratio, double ram_ratio,
	       int8_t map[SCHED_MAX_GUEST_CELLS])
{
	struct sched_numa_req q;
	sched_numa_req_init(&q, guest, n_guest);
	return sched_numa_fit_req(&q, host, n_host, cpu_ratio, ram_ratio, map);
}
