/* sched-priv.h - shared by the scheduler's own files (sched.c, match.c, numa.c) alone. */
#ifndef HVC_SCHED_PRIV_H
#define HVC_SCHED_PRIV_H

#include <jansson.h>
#include <netinet/in.h>

#include "sched.h"

/* JsonFilter: parse (and check every operator and variable) once per request, evaluate
 * per host. */
int sched_query_parse(const char *text, json_t **ret, struct hv_error *err);
bool sched_query_eval(const json_t *q, double free_ram_mb, double free_disk_mb,
		      double total_usable_ram_mb, double vcpus_total, double vcpus_used);

/* A guest's cells prepared once per decision for the fit of each host: the largest and the
 * smallest cell (each field alone) decide most hosts without a search. */
struct sched_numa_req {
	const struct sched_cell *guest;
	size_t n;
	struct sched_cell big, small;
};
void sched_numa_req_init(struct sched_numa_req *q, const struct sched_cell *guest, size_t n_guest);
/* sched_numa_fit for a prepared guest. */
bool
sched_numa_fit_req(const struct sched_numa_req *q, const struct sched_cell *host, size_t n_host,
		   double cpu_ratio, double ram_ratio, int8_t map[SCHED_MAX_GUEST_CELLS]);

struct sched_net {
	struct in_addr addr;
	uint32_t mask; /* network order */
};
int sched_cidr_parse(const char *ip, const char *cidr, struct sched_net *ret, struct hv_error *err);
bool sched_cidr_has(const struct sched_net *net, const char *ip);

#endif
