/* api.h - hvcentral's API for hv and scripts (docs/api.md): one JSON request in, one JSON
 * reply out, on a ROUTER socket the caller owns. Requests marked "wait" are answered when
 * their command finishes or their timeout passes. A front: it decodes and encodes, the
 * service layer validates and decides (errors name the field). Never logs, never touches a
 * socket itself; nothing but the daemon's main.c includes it. */
#ifndef HVC_API_H
#define HVC_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvagent/error.h>

#include "service/service.h"

struct api_client {
	unsigned char id[256]; /* ROUTER routing id of the requester */
	size_t id_len;
	bool delim; /* the request had an empty delimiter frame (REQ/DEALER style) */
};

/* Sends text (one frame) to client. */
typedef void (*api_reply_fn)(void *ctx, const struct api_client *cl, const char *text);

struct api;

/* Borrows svc for the API's lifetime. */
int
api_new(struct svc *svc, api_reply_fn reply, void *cb_ctx, struct api **ret, struct hv_error *err);
void api_free(struct api *a);
void api_on_request(struct api *a, const struct api_client *cl, const void *data, size_t len,
		    int64_t now_ms);
/* Completes requests waiting on cmd_id (wire this to ctl's done callback). */
void api_on_done(struct api *a, const char *cmd_id, bool ok, json_t *result, int64_t now_ms);
/* Answers waits whose timeout passed. */
void api_tick(struct api *a, int64_t now_ms);
/* How many requests are waiting (for tests and shutdown). */
size_t api_waiting(const struct api *a);

/* The last `lines` lines of text (all of it when lines <= 0), as a console log request
 * asks; a pointer into text. */
const char *api_tail_lines(const char *text, long lines);

/* Taking back a turn whose changes could not be stored (its transaction failed): */
/* the last request parked so far; */
uint64_t api_mark(const struct api *a);
/* answers with the error every request parked after mark, and forgets it; */
void api_abort_since(struct api *a, uint64_t mark, const char *code, const char *message);
/* the error reply to send instead of reply (same request id); malloc'd, NULL without
 * memory. */
char *api_error_instead(const char *reply, const char *code, const char *message);

#endif
