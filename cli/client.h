/* client.h - the client side of hvcentral's API socket (docs/api.md): one JSON request, one
 * JSON reply, over ZeroMQ (a DEALER to hvcentral's ROUTER, ipc:// by default). Used by `hv`
 * and by the benchmarks. Never logs; never prints. */
#ifndef HV_CLIENT_H
#define HV_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <hvagent/error.h>

/* The endpoint hv uses: the explicit one, else $HV_API, else endpoint_default(). */
void hvc_resolve_endpoint(const char *explicit_ep, char *buf, size_t size);

struct hvc;

int hvc_open(const char *endpoint, struct hvc **ret, struct hv_error *err);
void hvc_free(struct hvc *c);

/* Sends {"id", "op", "args", "wait", "timeout_ms"} and waits for the reply.
 * args is borrowed (NULL = {}). reply_timeout_ms bounds the whole exchange.
 * Returns 0 and *ret_result (new reference, may be NULL), or:
 *   -EHOSTUNREACH  hvcentral cannot be reached (no socket, no reply in time)
 *   -ETIMEDOUT     hvcentral answered that the wait ran out
 *   -EREMOTEIO     hvcentral refused the request; err has its field and message and
 *                  *ret_code (when non-NULL) its code ("invalid", "not_found", ...). */
int
hvc_call(struct hvc *c, const char *op, json_t *args, bool wait, int64_t timeout_ms,
	 int64_t reply_timeout_ms, json_t **ret_result, char ret_code[32], struct hv_error *err);

/* Pipelined use (benchmarks): send now, collect replies as they come. The request id is
 * returned in *ret_id; hvc_recv returns the id of the reply it got. */
int hvc_send(struct hvc *c, const char *op, json_t *args, bool wait, int64_t timeout_ms,
	     uint64_t *ret_id, struct hv_error *err);
int hvc_recv(struct hvc *c, int64_t timeout_ms, uint64_t *ret_id, json_t **ret_reply,
	     struct hv_error *err);

#endif
