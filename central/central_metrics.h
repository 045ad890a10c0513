/* central_metrics.h - hvcentral's /metrics ([metrics] listen): hosts by liveness state, servers by
 * vm_state, command latency by action. The loop refreshes a rendered page (it owns the
 * store); the server thread only copies that page. Never reads the store off the loop. */
#ifndef HVC_CENTRAL_METRICS_H
#define HVC_CENTRAL_METRICS_H

#include <stdint.h>

#include <hvagent/error.h>

#include "registry.h"
#include "store/store.h"

struct cmx;

/* listen "" or NULL: *ret NULL and nothing served. -errno with err otherwise. */
int cmx_new(const char *listen, struct cmx **ret, struct hv_error *err);
void cmx_free(struct cmx *m);
/* A command finished: its action and how long since it was created. NULL-safe. */
void cmx_command(struct cmx *m, const char *action, int64_t created_ms, int64_t now_ms);
/* Renders the page again from the store when a second has passed. NULL-safe. */
void cmx_refresh(struct cmx *m, struct store *store, const struct reg_intervals *liveness,
		 int64_t now_ms);

#endif
