/* numa.c - the exact NUMA fit. nova tries every ordering of host cells for the guest's
 * cells (16 host x 8 guest cells: ~500 million fit calls); but whether a guest cell fits a
 * host cell does not depend on where the other guest cells went, as long as each has a
 * cell of its own. So it is a bipartite matching: Kuhn's augmenting paths, at most
 * n_guest searches each visiting n_host cells once. */
#include "sched.h"

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

bool
sched_numa_fit(const struct sched_cell *host, size_t n_host, const struct sched_cell *guest,
	       size_t n_guest, double cpu_ratio, double ram_ratio,
	       int8_t map[SCHED_MAX_GUEST_CELLS])
{
	struct match m;

	memset(map, -1, SCHED_MAX_GUEST_CELLS);
	if (n_guest > SCHED_MAX_GUEST_CELLS || n_host > SCHED_MAX_CELLS || n_guest > n_host)
		return false;
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
