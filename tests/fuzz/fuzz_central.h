/* fuzz_central.h - the controller as the central fuzz targets (fuzz_link.c, fuzz_api.c)
 * drive it, as tests/central/test_ctl_model.c does: an in-memory store, the agent link and
 * the service layer, two hosts that said HELLO and SNAPSHOT with servers in many states, and
 * two commands in flight. Each input runs alone: the hosts and servers are written once,
 * each input gets a new agent link and service layer and queues the two commands inside a
 * savepoint of the store that is rolled back afterwards; its ids are the same every time
 * (fuzz_det.c), so seeds can answer its commands. */
#ifndef HV_FUZZ_CENTRAL_H
#define HV_FUZZ_CENTRAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl.h"
#include "service/service.h"

#define FZC_T0 1800000000000
#define FZC_MAX_SENT 8
#define FZC_BOOT_1 "b0000000-0000-4000-8000-000000000001" /* node-1's boot_id */
#define FZC_BOOT_2 "b0000000-0000-4000-8000-000000000002"

struct fzc {
	struct store *store;
	struct ctl *ctl;
	struct svc *svc;
	/* the COMMANDs ctl sent, oldest first (msg_id and cmd_id, to answer them) */
	int n_cmds;
	char cmd_id[FZC_MAX_SENT][PROTO_MAX_ID + 1];
	char msg_id[FZC_MAX_SENT][37];
	int n_sent, n_done;
	/* called for each finished command (NULL: none) */
	void (*on_done)(void *ctx, const char *cmd_id, bool ok, json_t *result);
	void *done_ctx;
};

/* Builds the fixture; aborts when it cannot (a broken fixture is no finding). */
void fzc_open(struct fzc *f);
void fzc_close(struct fzc *f);
/* host says type with body (taken) at now, seq 0 meaning none. */
void fzc_agent_says(struct fzc *f, const char *host, enum proto_type type, uint64_t seq,
		    json_t *body, int64_t now);
/* The servers of host as the store has them (uuid -> "vm_state/task_state/power_state/
 * host"), for checks that one host's messages leave the other's servers alone. */
json_t *fzc_servers_of(struct fzc *f, const char *host);

#endif
