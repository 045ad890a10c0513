/* ctl.h - the agent link: the agent side of HVA/1 (docs/protocol.md, link.c) and the
 * command journal (journal.c). It mirrors each host's instances from SNAPSHOT/DELTA, asks
 * RESYNC on a sequence gap or a new boot, journals every command in the store before it
 * is sent, resends it with the same cmd_id until the agent answers, and fails it when its
 * deadline passes unanswered. Sockets stay outside: messages leave through a send callback
 * and finished commands are announced through a done callback. Holds no rule of what a
 * user may ask (the service layer does); never logs. */
#ifndef HVC_CTL_H
#define HVC_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <hvagent/error.h>

#include "proto.h"
#include "registry.h"
#include "store/store.h"

struct ctl_config {
	struct reg_intervals liveness;
	int64_t cmd_timeout_ms;      /* deadline of a command after it is created */
	int64_t retry_ms;            /* resend a command not acknowledged after this long */
	int64_t acked_retry_ms;      /* resend an acknowledged command still without RESULT */
	int64_t host_cmd_max_age_ms; /* a firewall command its host has not acknowledged
				      * after this long is dropped (0: never) */
};
void ctl_config_default(struct ctl_config *cfg);

/* Sends msg to host_id; returns 0, -EHOSTUNREACH (not connected) or -EAGAIN (queue full). */
typedef int (*ctl_send_fn)(void *ctx, const char *host_id, const struct proto_msg *msg);
/* A command finished. ok: result is the RESULT body; otherwise result is
 * {"code", "message", "field"?}. Borrowed for the call. */
typedef void (*ctl_done_fn)(void *ctx, const char *cmd_id, bool ok, json_t *result);

struct ctl;

int ctl_new(struct store *store, const struct ctl_config *cfg, ctl_send_fn send, ctl_done_fn done,
	    void *cb_ctx, struct ctl **ret, struct hv_error *err);
void ctl_free(struct ctl *c);
/* A reload's new intervals and timeouts (copied): commands created or retried from now on
 * use them; what is already scheduled keeps its time. */
void ctl_set_config(struct ctl *c, const struct ctl_config *cfg);

/* One message from an agent whose identity the caller checked (ZAP User-Id == header
 * host_id). It changes only host_id's own instances. address may be NULL. */
void ctl_on_agent(struct ctl *c, const char *host_id, const char *address,
		  const struct proto_msg *msg, int64_t now_ms);
/* How many parts of the messages handled since the last call were refused (each changed
 * nothing): a record, removal or result for what another host owns, a report that does not
 * check out; the first one's reason in *ret. Resets the count. */
unsigned ctl_take_refused(struct ctl *c, struct hv_error *ret);
/* Resends due commands and fails expired ones. Returns the ms until the next due time
 * (capped at 1000) so the loop knows how long to sleep. */
/* When host was last heard from: stored_ms (the store's last_seen) or later. */
int64_t ctl_heard_ms(const struct ctl *c, const char *host, int64_t stored_ms);
int64_t ctl_tick(struct ctl *c, int64_t now_ms);

/* A spawn whose claim refused_host refused (protocol 6.4 "limits"): 0 with ret_host, the
 * host to send it to instead, and spawn (the journaled body) updated for it; < 0 with err
 * saying why it goes nowhere (the server then ends in error with that reason). */
typedef int (*ctl_place_fn)(void *ctx, const char *uuid, json_t *spawn, const char *refused_host,
			    const char *why, int64_t now_ms, char ret_host[PROTO_MAX_ID + 1],
			    struct hv_error *err);
/* Who places a refused spawn again; without one, a refusal fails the spawn. */
void ctl_set_placer(struct ctl *c, ctl_place_fn fn, void *ctx);

/* Something host said changed its report or its servers in the store (REPORT, SNAPSHOT,
 * DELTA, RESULT, ERROR): whoever keeps a view of them reads it again. */
typedef void (*ctl_host_fn)(void *ctx, const char *host);
void ctl_set_host_watch(struct ctl *c, ctl_host_fn fn, void *ctx);

/* Whether host may still connect (its key is in the allowlist): a firewall command queued
 * for a host that may not is dropped, as nothing can ever take it. */
typedef bool (*ctl_known_fn)(void *ctx, const char *host);
void ctl_set_host_known(struct ctl *c, ctl_known_fn fn, void *ctx);

struct imgdata;
/* Borrows d (the catalog's image files) for the link's lifetime: hosts fetch images from it
 * (IMAGE_GET) when a server of theirs was created from one. */
void ctl_set_images(struct ctl *c, struct imgdata *d);

/* ---- what the service layer asks ----------------------------------------------------- */
/* Journals `command` for the instance uuid on host and sends it at once when the host is
 * connected; the journal row is written before anything leaves, so a crash can never lose
 * a command the agent runs. args is the protocol body (modified: each field named in
 * secrets is replaced by "<field>_redacted": true); secrets (may be NULL) holds the secret
 * fields, kept in memory only until the command finishes. The caller keeps both. */
int
ctl_queue(struct ctl *c, const char *host, const char *uuid, const char *command, json_t *args,
	  json_t *secrets, int64_t now_ms, char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* A host-scoped firewall command (protocol 6.6: no uuid) without a deadline: resent until
 * the host acknowledges it, so a host that returns gets every security-group and
 * floating-IP change it missed, in the order they were made; but not forever: it is
 * dropped (failed with code "expired", its message naming the host) when the host left
 * the allowlist, or when it waited longer than host_cmd_max_age_ms. */
int ctl_queue_host(struct ctl *c, const char *host, const char *command, json_t *args, int64_t now,
		   char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* Journals a destroy of uuid on host, a server evacuated from it, with no deadline: it is
 * resent until that host acknowledges it, however long it stays away. delete_disks false
 * keeps the disks (an evacuation on shared storage: the new host boots them). */
int ctl_queue_leftover_destroy(struct ctl *c, const char *host, const char *uuid, bool delete_disks,
			       int64_t now);
/* Wipes every string of a secret-fields object and drops the caller's reference.
 * NULL-safe. */
void ctl_secrets_free(json_t *fields);

#endif
