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

struct sched_net {
	struct in_addr addr;
	uint32_t mask; /* network order */
};
int sched_cidr_parse(const char *ip, const char *cidr, struct sched_net *ret, struct hv_error *err);
bool sched_cidr_has(const struct sched_net *net, const char *ip);

#endif
