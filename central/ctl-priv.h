/* ctl-priv.h - what the agent link (link.c) and the command journal (journal.c) share: the
 * controller's state and the journal steps the link's answers finish. Included by those two
 * files only; the service layer, the fronts and the daemon go through ctl.h. */
#ifndef HVC_CTL_PRIV_H
#define HVC_CTL_PRIV_H

#include "ctl.h"

#define SEEN_CACHE 64

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
	struct {
		char host[PROTO_MAX_ID + 1];
		int64_t written_ms, heard_ms;
	} seen[SEEN_CACHE];
	struct ctl_config cfg;
	struct imgdata *images; /* borrowed, may be NULL: catalog images are not served */
	ctl_send_fn send;
	ctl_done_fn done;
	void *cb;
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

#endif
