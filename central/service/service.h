/* service.h - hvcentral's service layer: every rule a request is held to, called by every
 * front (the hv ZeroMQ API today, the REST API later) so the fronts decode and encode and
 * hold no rule of their own. It decides what a request may do given the stored state
 * (argument validation naming the field, the lifecycle table of common/lifecycle.h, a
 * host's liveness and status) and what a read returns, then works through the store and
 * the agent link's command journal (ctl.h). Must never touch a socket, encode a reply or
 * log; must never include a front (api/). */
#ifndef HVC_SERVICE_H
#define HVC_SERVICE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <hvagent/error.h>

#include "allow.h"
#include "ctl.h"
#include "registry.h"
#include "store/store.h"

struct svc;

/* Borrows store, ctl and allow (which may be NULL: no host accept, no allowlist rows) for
 * the service's lifetime; liveness is copied. */
int svc_new(struct store *store, struct ctl *ctl, struct allow *allow,
	    const struct reg_intervals *liveness, struct svc **ret, struct hv_error *err);
void svc_free(struct svc *sv);
/* A reload's new liveness intervals (copied), for the host checks from now on. */
void svc_set_liveness(struct svc *sv, const struct reg_intervals *liveness);

/* ---- servers ------------------------------------------------------------------------ */
/* args: {name, host, image, flavor{vcpus, ram, disk, ephemeral?, swap?}, properties?{},
 * key_data?, admin_pass?, user_data? (base64), config_drive?, project?}.
 * Creates the instance (vm_state building, task_state spawning) and journals a spawn. */
int svc_server_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret_instance,
		      char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* Any action of the lifecycle table (protocol §6.5) by its API name (delete, reboot, stop,
 * ...; hard applies to reboot only), its fields read from the API args:
 * resize {flavor (inline, with properties?, or a catalog flavor's name or id)}, rebuild {image, admin_pass?, key_data?, user_data?}, rescue {image?},
 * snapshot {name} (the reply's "image_snapshot" names the new image), get_console {type?},
 * set_admin_password {password, user?}. Refused with -EBUSY (task in flight) or -EPERM
 * (not allowed from the current vm_state). Secret fields are journaled as
 * "<field>_redacted": true and kept in memory until the command finishes. */
int svc_server_command(struct svc *sv, const char *server, const char *action, bool hard,
		       json_t *args, int64_t now_ms, json_t **ret_instance,
		       char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* svc_server_command without arguments (the simple actions). */
int
svc_server_action(struct svc *sv, const char *server, const char *action, bool hard, int64_t now_ms,
		  json_t **ret_instance, char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* Journals a console_log command (read-only; allowed while a task runs). */
int svc_console_log(struct svc *sv, const char *server, int64_t max_bytes, int64_t now_ms,
		    char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* host may be NULL (all hosts); deleted servers only when with_deleted. */
int svc_server_list(struct svc *sv, const char *host, bool with_deleted, json_t **ret,
		    struct hv_error *err);
/* One server by uuid or name; svc_server_show adds its recent commands. -ENOENT. */
int svc_server_get(struct svc *sv, const char *server, json_t **ret, struct hv_error *err);
int svc_server_show(struct svc *sv, const char *server, json_t **ret, struct hv_error *err);

/* Pure: may `action` (API name) start from vm_state? hard applies to reboot. */
bool svc_action_allowed(const char *action, bool hard, const char *vm_state);
/* The task_state an action runs under ("pausing"), or NULL for read-only commands. */
const char *svc_task_for(const char *action, bool hard);

/* ---- projects and quotas (project.c) --------------------------------------------------- */
/* args: {name (1-64 bytes, unique), description?, enabled? (default true)}. */
int svc_project_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
		       struct hv_error *err);
int svc_project_list(struct svc *sv, json_t **ret, struct hv_error *err);
/* project: a name or id; NULL is the project created at first start. -ENOENT. */
int svc_project_show(struct svc *sv, const char *project, json_t **ret, struct hv_error *err);
/* {project_id, project, <resource>: limit..., in_use: {<resource>: n...}}; -1 is unlimited. */
int svc_quota_show(struct svc *sv, const char *project, json_t **ret, struct hv_error *err);
/* quotas: {<resource>: limit (-1 = unlimited)}, borrowed; all checked before any is set.
 * Answers as svc_quota_show. */
int svc_quota_set(struct svc *sv, const char *project, json_t *quotas, json_t **ret,
		  struct hv_error *err);

/* ---- flavors (flavor.c) ------------------------------------------------------------------ */
/* args: {name, id? (default a new UUID), vcpus, ram, disk, ephemeral?, swap?, is_public?,
 * description?, extra_specs?{}, project? (a private flavor's first allowed project)}.
 * The answer is svc_flavor_show's. */
int
svc_flavor_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* which: "public" (default when NULL), "private" or "all". */
int svc_flavor_list(struct svc *sv, const char *which, json_t **ret, struct hv_error *err);
/* By id or name, with access_project_ids (null for a public flavor). -ENOENT. */
int svc_flavor_show(struct svc *sv, const char *flavor, json_t **ret, struct hv_error *err);
int svc_flavor_delete(struct svc *sv, const char *flavor, struct hv_error *err);
/* set: args {flavor, extra_specs?{} merged in, description?, project? allowed};
 * unset: args {flavor, extra_specs?[keys] removed, project? no longer allowed}. */
int svc_flavor_update(struct svc *sv, json_t *args, bool set, json_t **ret, struct hv_error *err);

/* ---- key pairs (keypair.c) ------------------------------------------------------------- */
/* args: {name, project?, public_key?}. Without public_key, generates an ed25519 key pair
 * and answers its private key once, as "private_key" in OpenSSH format; nothing keeps it.
 * With one, imports it (checked as the agent checks a key). Counts against key_pairs. */
int svc_keypair_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
		       struct hv_error *err);
/* project: a name or id, NULL for the default project. */
int svc_keypair_list(struct svc *sv, const char *project, json_t **ret, struct hv_error *err);
int svc_keypair_show(struct svc *sv, const char *project, const char *name, json_t **ret,
		     struct hv_error *err);
int svc_keypair_delete(struct svc *sv, const char *project, const char *name, struct hv_error *err);

/* ---- hosts -------------------------------------------------------------------------- */
/* Every known host with its liveness, allowed hosts that never connected, and pending keys
 * as {"state": "pending"} rows. */
int svc_host_list(struct svc *sv, int64_t now_ms, json_t **ret, struct hv_error *err);
int
svc_host_show(struct svc *sv, const char *host, int64_t now_ms, json_t **ret, struct hv_error *err);
/* Allows the pending agent `what` (its key, a unique prefix of 8+, or its address) as
 * host `name`: {host_id, public_key, state: "accepted"}. */
int svc_host_accept(struct svc *sv, const char *what, const char *name, json_t **ret,
		    struct hv_error *err);

/* ---- identity (identity.c): the REST front's users, roles and tokens ------------------ */
/* The longest token text accepted (issued ones are 43 characters). */
#define SVC_TOKEN_MAX 255
/* args: {name, project (name or id), role: admin|member|reader, password (8+ bytes; only
 * its argon2id hash is kept)}. Answers svc_user_show's record. */
int
svc_user_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* {id, name, created_ms, roles: [{project_id, project, role}]}; -ENOENT. */
int svc_user_show(struct svc *sv, const char *user, json_t **ret, struct hv_error *err);
int svc_user_list(struct svc *sv, json_t **ret, struct hv_error *err);
/* Deletes the user, its roles and its tokens. */
int svc_user_delete(struct svc *sv, const char *user, struct hv_error *err);
/* A new token for user (name or id) scoped to project (name or id), when the password
 * matches and the user has a role there; -EACCES otherwise, never saying which part was
 * wrong. ret_token is the token's only copy (the caller wipes it); *ret_ctx what it grants:
 * {user_id, user, project_id, project, role, roles[], issued_ms, expires_ms}. */
int svc_token_issue(struct svc *sv, const char *user, const char *password, const char *project,
		    int64_t now_ms, char ret_token[SVC_TOKEN_MAX + 1], json_t **ret_ctx,
		    struct hv_error *err);
/* What a valid, unexpired token grants (as svc_token_issue's ctx); -EACCES otherwise. */
int svc_token_check(struct svc *sv, const char *token, int64_t now_ms, json_t **ret_ctx,
		    struct hv_error *err);
int svc_token_revoke(struct svc *sv, const char *token, struct hv_error *err);
/* The projects user_id has a role on, as project records. */
int svc_user_projects(struct svc *sv, const char *user_id, json_t **ret, struct hv_error *err);

#endif
