/* os.h - hvcentral's OpenStack-compatible REST front (docs/openstack-api.md): Keystone v3
 * tokens and Compute 2.1 over the service layer, served by libmicrohttpd from the daemon's
 * own loop. A request is read and answered inside the loop turn's store transaction; its
 * reply waits on its (suspended) connection until that transaction commits, and becomes a
 * 503 when the turn is taken back. A front: it decodes, encodes and maps errors; the rules
 * are the service layer's. Nothing but main.c includes it. */
#ifndef HVC_OS_H
#define HVC_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/error.h>

#include "service/service.h"

struct os_config {
	const char *listen;           /* "PORT" or "ADDRESS:PORT" */
	const char *public_url;       /* what the catalog tells clients; "" = http(s)://LISTEN */
	size_t max_body;              /* bytes; a larger request body is refused with 413 */
	int64_t max_image;            /* bytes of one image's data (PUT /v2/images/ID/file) */
	const char *tls_cert_file;    /* PEM certificate chain; with tls_key_file: HTTPS only */
	const char *tls_key_file;     /* PEM private key */
	const char *console_base_url; /* where console URLs point; "" = public_url */
	int64_t console_token_ttl;    /* seconds a console token stays usable */
	const char *novnc_dir;        /* noVNC's pages served at the root; "" = none */
};

struct os_front;

/* Listens (borrowing svc for the front's lifetime); -ENOTSUP without libmicrohttpd. */
int
os_new(struct svc *svc, const struct os_config *cfg, struct os_front **ret, struct hv_error *err);
/* Reads the policy file at path ("" = none: nova's defaults) in place of the one in force;
 * on error (-EINVAL naming the line or rule) the one in force stays. *ret_ignored: the
 * rule names the file holds that hvcentral does not enforce, for the caller to log (caller
 * owns; NULL when none was read). */
int os_set_policy(struct os_front *f, const char *path, json_t **ret_ignored, struct hv_error *err);
/* Answers what is still waiting with 503, then stops. NULL-safe. */
void os_free(struct os_front *f);
/* The file descriptor to poll for input (readable: call os_run). */
int os_fd(const struct os_front *f);
/* How long the loop may wait before calling os_run (0: requests are waiting). */
int64_t os_timeout_ms(const struct os_front *f);
/* Reads what arrived and handles every complete request inside the caller's transaction;
 * the replies wait for os_flush. */
void os_run(struct os_front *f, int64_t now_ms);
/* Completes the requests waiting on cmd_id (wire this to ctl's done callback, as
 * api_on_done); their replies wait for os_flush like any other. */
void os_on_done(struct os_front *f, const char *cmd_id, bool ok, json_t *result);
/* Answers the waits whose time passed with 503. */
void os_tick(struct os_front *f, int64_t now_ms);
/* Taking back a turn: the last reply so far; every reply after mark becomes a 503 with
 * message, in its service's error format. */
uint64_t os_mark(const struct os_front *f);
void os_take_back(struct os_front *f, uint64_t mark, const char *message);
/* After the commit: sends the replies. */
void os_flush(struct os_front *f);

#endif
