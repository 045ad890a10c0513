/* ctl.h - the controller's core: the agent side of HVA/1 (docs/protocol.md) and the
 * commands the API asks for. It mirrors each host's instances from SNAPSHOT/DELTA, asks
 * RESYNC on a sequence gap or a new boot, journals every command in the store before it
 * is sent, resends it with the same cmd_id until the agent answers, and fails it when its
 * deadline passes unanswered. Sockets stay outside: messages leave through a send callback
 * and finished commands are announced through a done callback. Never logs. */
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
	int64_t cmd_timeout_ms; /* deadline of a command after it is created */
	int64_t retry_ms;       /* resend a command not acknowledged after this long */
	int64_t acked_retry_ms; /* resend an acknowledged command still without RESULT */
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

/* One message from an agent whose identity the caller checked (ZAP User-Id == routing id
 * == header host_id). address may be NULL. */
void ctl_on_agent(struct ctl *c, const char *host_id, const char *address,
		  const struct proto_msg *msg, int64_t now_ms);
/* Resends due commands and fails expired ones. Returns the ms until the next due time
 * (capped at 1000) so the loop knows how long to sleep. */
int64_t ctl_tick(struct ctl *c, int64_t now_ms);

/* ---- what the API asks ------------------------------------------------------------------- */
/* args: {name, host, image, flavor{vcpus, ram, disk, ephemeral?, swap?}, properties?{},
 * key_data?, admin_pass?, user_data? (base64), config_drive?}.
 * Creates the instance (vm_state building, task_state spawning) and journals a spawn. */
int ctl_server_create(struct ctl *c, json_t *args, int64_t now_ms, json_t **ret_instance,
		      char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* action: delete, reboot (hard?), stop, start, pause, unpause, suspend, resume. Refused
 * with -EBUSY (task in flight) or -EPERM (not allowed from the current vm_state). */
int ctl_server_action(struct ctl *c, const char *server, const char *action, bool hard,
		      int64_t now_ms, json_t **ret_instance, char ret_cmd_id[PROTO_MAX_ID + 1],
		      struct hv_error *err);
/* Any action of the state table (protocol §6.5), its fields read from the API args:
 * resize {flavor, properties?}, rebuild {image, admin_pass?, key_data?}, rescue {image?},
 * snapshot {name} (the reply's "image_snapshot" names the new image), get_console {type?},
 * set_admin_password {password, user?}. Secret fields are journaled as
 * "<field>_redacted": true and kept in memory until the command finishes. */
int ctl_server_command(struct ctl *c, const char *server, const char *action, bool hard,
		       json_t *args, int64_t now_ms, json_t **ret_instance,
		       char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* Journals a console_log command (read-only; allowed while a task runs). */
int ctl_console_log(struct ctl *c, const char *server, int64_t max_bytes, int64_t now_ms,
		    char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* Every known host with its liveness, plus pending keys as {"state": "pending"} rows. */
int ctl_host_list(struct ctl *c, const json_t *allowlist, const json_t *pending, int64_t now_ms,
		  json_t **ret, struct hv_error *err);
int ctl_host_show(struct ctl *c, const char *host, int64_t now_ms, json_t **ret,
		  struct hv_error *err);

/* Pure: may `action` start from vm_state (protocol §6.5)? hard applies to reboot. */
bool ctl_action_allowed(const char *action, bool hard, const char *vm_state);
/* The task_state an action runs under ("pausing"), or NULL for read-only commands. */
const char *ctl_task_for(const char *action, bool hard);

#endif
