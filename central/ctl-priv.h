/* ctl-priv.h - what the agent link (link.c) and the command journal (journal.c) share: the
 * controller's state and the journal steps the link's answers finish. Included by those two
 * files only; the service layer, the fronts and the daemon go through ctl.h. */
#ifndef HVC_CTL_PRIV_H
#define HVC_CTL_PRIV_H

#include "ctl.h"

struct sent {
	char msg_id[37];
	char cmd_id[PROTO_MAX_ID + 1];
};

/* The secret fields of one open command, wiped when it finishes. */
struct secret {
	char cmd_id[PROTO_MAX_ID + 1];
	json_t *fields; /* {"admin_pass": "...", ...} */
};

struct ctl {
	struct store *store;
	struct secret *sec;
	size_t n_sec, cap_sec;
	/* when each host was last heard, and when that was last written: liveness needs
	 * seconds, not every message, and a write per message would be most of the store's
	 * work; what was heard counts even when it could not be written (disk full) */
	struct seen {
		char host[PROTO_MAX_ID + 1];
		int64_t written_ms, heard_ms;
	} * seen;
	size_t n_seen, cap_seen;
	json_t *seen_at; /* host id -> index into seen: one entry per host that spoke */
	struct ctl_config cfg;
	struct imgdata *images; /* borrowed, may be NULL: catalog images are not served */
	struct ctl_pull *pulls; /* snapshots being taken from hosts (link_image.c) */
	size_t n_pulls, cap_pulls;
	int64_t next_pull_scan_ms;
	ctl_send_fn send;
	ctl_done_fn done;
	void *cb;
	ctl_place_fn place; /* may be NULL */
	void *place_ctx;
	ctl_host_fn watch; /* may be NULL */
	void *watch_ctx;
	ctl_known_fn known; /* may be NULL: every host is known */
	void *known_ctx;
	struct sent *ring; /* recently sent COMMANDs, oldest overwritten */
	size_t ring_pos;
	struct hv_error scratch; /* for store errors nobody is waiting for */
	/* records of another host's instances a message tried to change, for the daemon to
	 * log (ctl_take_refused): the first one's reason and how many */
	struct hv_error refused;
	unsigned n_refused;
};

/* Records the outcome of an open command and announces it (done callback). */
void ctl_finish(struct ctl *c, const struct store_cmd *cmd, bool ok, json_t *result);
/* A command refused or lost before it ran: its task is cleared (a spawn leaves error). */
void ctl_undo_task(struct ctl *c, const struct store_cmd *cmd, const char *why, int64_t now);
/* The cmd_id of a COMMAND sent with msg_id (to read an ERROR's corr_id), or NULL. */
const char *ctl_cmd_for_msg(struct ctl *c, const char *msg_id);

/* link.c: one message to a host, sent after the turn commits; body is stolen. */
int ctl_send_simple(struct ctl *c, const char *host_id, enum proto_type type, const char *corr_id,
		    json_t *body);
/* link.c: counts a refused part of a host's message for the daemon to log. */
void ctl_refuse(struct ctl *c, const struct hv_error *why);

/* link_image.c: catalog image data on the link. */
/* A host's IMAGE_GET: a chunk of an image one of its servers uses, or why not. */
void ctl_image_get(struct ctl *c, const char *host, const struct proto_msg *m);
/* A host's IMAGE_DATA: a chunk of a snapshot being taken from it. */
void ctl_image_data(struct ctl *c, const char *host, const struct proto_msg *m, int64_t now);
/* A snapshot RESULT's data.image {id, size, sha256}: its data is taken from the host. */
void ctl_pull_start(struct ctl *c, const char *host, json_t *image, int64_t now);
/* Asks again for chunks not answered in time; gives up after a while (image killed). */
void ctl_pull_tick(struct ctl *c, int64_t now);

#endif
