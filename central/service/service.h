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
/* The store took back what this turn wrote: the scheduler's table of hosts, which may hold
 * some of it, is read again whole at the next decision. */
void svc_place_forget(struct svc *sv);

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
/* ---- remote consoles (console.c): URLs of hvcentral's console proxy ---------------- */
struct ctok_target;
/* The proxy serves at base_url (copied); its tokens live ttl_ms. Called by the front that
 * carries the consoles; until then svc_console_url is -ENOTSUP. */
int svc_console_serve(struct svc *sv, const char *base_url, int64_t ttl_ms, struct hv_error *err);
/* Forgets every token; no URL is issued after. */
void svc_console_stop(struct svc *sv);
bool svc_console_served(const struct svc *sv);
/* The proxy's URL of server's console, from its host's get_console answer endpoint
 * {type: vnc|serial, host, port, password?} (borrowed; its password is copied into the
 * token's target, never into the URL). ret_log_id: what a log line may show of the token.
 * -ENOTSUP when no proxy is served, -ENOENT when the server is gone or left its host. */
int svc_console_url(struct svc *sv, const char *server, const json_t *endpoint, int64_t now_ms,
		    char ret_url[512], char ret_log_id[9], struct hv_error *err);
/* Uses up token and fills *ret with its console: -ENOENT (one answer) when the token is
 * unknown, used, expired, or its server is deleted, being deleted or on another host. */
int svc_console_use(struct svc *sv, const char *token, int64_t now_ms, struct ctok_target *ret,
		    struct hv_error *err);
/* Whether the console of *to may stay open: its server is there, not being deleted, and
 * still on the host that served the console. */
bool svc_console_alive(struct svc *sv, const struct ctok_target *to);
/* Forgets the tokens whose time passed, and every token of server when it is not NULL. */
void svc_console_expire(struct svc *sv, int64_t now_ms, const char *server);

/* host may be NULL (all hosts); deleted servers only when with_deleted. */
int svc_server_list(struct svc *sv, const char *host, bool with_deleted, json_t **ret,
		    struct hv_error *err);
/* args {server, host?, admin_pass?}: nova's evacuate. The server's host must be down
 * (fenced); the server (active, stopped or error, no task) is rebuilt from its image on
 * host (up, enabled, not its own) or where the scheduler places it: a spawn of the same
 * uuid there, task_state rebuilding. Its old host, when it comes back, gets a destroy of
 * what it still holds and never starts it. Secrets it was built with (user data) are not
 * kept: only admin_pass, when given, is injected again. */
int svc_server_evacuate(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret_instance,
			char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err);
/* host reported uuid destroyed (a delete's destroy, not an evacuated leftover's): its
 * ports, addresses and floating-IP associations are freed. */
int svc_server_destroyed(struct svc *sv, const char *host, const char *uuid, int64_t now,
			 struct hv_error *err);
/* args {server, name}: the server's new name (checked as a create's; unique among live
 * servers, -EEXIST naming args.name). Answers svc_server_show's record. */
int
svc_server_rename(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* One server by uuid or name; svc_server_show adds its recent commands. -ENOENT. */
int svc_server_get(struct svc *sv, const char *server, json_t **ret, struct hv_error *err);
int svc_server_show(struct svc *sv, const char *server, json_t **ret, struct hv_error *err);
/* Adds to each of svc_server_list's records (borrowed, changed in place) what show adds
 * beside its commands: addresses and security_groups (from its ports) and
 * availability_zone (its host's now) and host_status (nova 2.16, its host's). A record whose ports cannot be read has none. */
int svc_server_views(struct svc *sv, json_t *insts, struct hv_error *err);
/* args {server, set? {key: value}, replace? (set becomes the whole), unset? [keys]}: a
 * live server's user metadata changed (strings; keys 1-255 bytes, values up to 255, at
 * most 128: -EDQUOT over it; an unset key it lacks: -ENOENT). Answers the new metadata. */
int svc_server_metadata(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
			struct hv_error *err);
/* args {server, description (null: none)}: a live server's description (nova 2.19: at
 * most 255 characters). Answers svc_server_show's record. */
int svc_server_describe(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
			struct hv_error *err);
/* A live server's tags (nova 2.26) after op: "set" (args.tags, the whole list), "add" or
 * "remove" (args.tag; removing one it lacks: -ENOENT) or "clear". At most 50 tags of 1-60
 * characters without '/' or ',' (-EINVAL naming the field). Answers the new tags. */
int svc_server_tags(struct svc *sv, json_t *args, const char *op, int64_t now_ms, json_t **ret,
		    struct hv_error *err);
/* Pure: the checks of one tag and of args.key as a description, errors naming field. */
int svc_server_tag_check(const char *tag, const char *field, struct hv_error *err);
/* Pure: tags (an array) as a set, each checked, duplicates dropped, at most 50: a new
 * reference, or -EINVAL naming field. */
int svc_server_tags_from(const json_t *tags, const char *field, json_t **ret, struct hv_error *err);
int svc_server_description_check(const json_t *args, const char *key, struct hv_error *err);
/* The commands a server was sent, newest first (its last 1000): {cmd_id, action, state,
 * created_ms, error?}. -ENOENT. */
int svc_server_actions(struct svc *sv, const char *server, json_t **ret, struct hv_error *err);

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
/* args {host, disabled?, disabled_reason?, forced_down?}: an operator's word on a host's
 * compute service (nova's os-services), kept until changed; what is not given stays.
 * Enabling clears the reason. A disabled host takes no new server (its own stay); a forced
 * down one is down to the scheduler and to evacuate. Answers svc_host_show's record. */
int
svc_host_service(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
int svc_host_accept(struct svc *sv, const char *what, const char *name, json_t **ret,
		    struct hv_error *err);

/* ---- networking (network.c, secgroup.c, floatip.c) --------------------------------------- */
/* Neutron's records (docs/api.md). Each takes its request's args (project?: a name or id,
 * default the default project) and answers a record, a list, or {} for a delete. */
typedef int
svc_net_fn(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err);
svc_net_fn svc_network_create, svc_network_list, svc_network_show, svc_network_delete;
/* args {network, name?}: renames one of the project's own networks (name unique in it). */
svc_net_fn svc_network_update;
svc_net_fn svc_subnet_create, svc_subnet_list, svc_subnet_show, svc_subnet_delete;
svc_net_fn svc_port_list, svc_port_show;
svc_net_fn svc_secgroup_create, svc_secgroup_list, svc_secgroup_show, svc_secgroup_delete;
svc_net_fn svc_sgrule_create, svc_sgrule_list, svc_sgrule_delete;
svc_net_fn svc_fip_create, svc_fip_list, svc_fip_show, svc_fip_delete;
/* args {floating_ip, server}: associate with the server's first port; {floating_ip,
 * server?}: disassociate. */
svc_net_fn svc_fip_associate, svc_fip_disassociate;
/* The external network of hvcentral's [network] external_cidr: made (named name, in the
 * default project, router:external, one subnet of cidr) when no network has that name;
 * an empty cidr makes nothing. A bad cidr is -EINVAL naming external_cidr. */
int svc_network_external(struct svc *sv, const char *name, const char *cidr, int64_t now,
			 struct hv_error *err);
/* args {server, group}: the server's ports join or leave the group. */
svc_net_fn svc_server_add_secgroup, svc_server_remove_secgroup;
/* args {port, security_groups: [ids]}: the port's groups become exactly those (groups of
 * the port's project, each once, at most 16), as Neutron's port update sets them; the
 * server's other ports keep theirs. Answers the port. */
svc_net_fn svc_port_set_groups;
/* ---- aggregates, zones, server groups, usage, hypervisors, scheduler config ------------ */
/* args: {name (unique), availability_zone?, properties?{}}: {id, uuid, name,
 * availability_zone, metadata, hosts, created_ms}. */
int svc_aggregate_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
			 struct hv_error *err);
int svc_aggregate_list(struct svc *sv, json_t **ret, struct hv_error *err);
/* agg: an id or name. -ENOENT naming args.aggregate. */
int svc_aggregate_show(struct svc *sv, const char *agg, json_t **ret, struct hv_error *err);
/* set: args {aggregate, name?, availability_zone?, properties?{} merged in};
 * unset: args {aggregate, properties: [keys]}. A zone change that would put one of its
 * hosts in two zones is refused. */
int
svc_aggregate_update(struct svc *sv, json_t *args, bool set, json_t **ret, struct hv_error *err);
/* Adds (add) or removes a known host; refused when it would be in two zones. */
int svc_aggregate_host(struct svc *sv, const char *agg, const char *host, bool add, json_t **ret,
		       struct hv_error *err);
/* -EEXIST (conflict) while it has hosts. */
int svc_aggregate_delete(struct svc *sv, const char *agg, struct hv_error *err);
/* Pure: the zone of host, the availability_zone of one of its aggregates (as
 * svc_aggregate_list answers them), else default_zone. */
const char *svc_host_zone(const json_t *aggregates, const char *host, const char *default_zone);
/* 0 when zone (or the zone of nova's ZONE:HOST) is the default zone or an aggregate's;
 * else -ENOENT naming field. */
int svc_zone_check(struct svc *sv, const char *zone, const char *field, struct hv_error *err);
/* [{zone_name, zone_state: "available"|"not available", hosts}]: zones with hosts. */
int svc_availability_zone_list(struct svc *sv, int64_t now_ms, json_t **ret, struct hv_error *err);
/* args: {name, policy: affinity|anti-affinity|soft-affinity|soft-anti-affinity, project?}:
 * {id, name, policy, project_id, members, created_ms}. */
int svc_server_group_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
			    struct hv_error *err);
/* project NULL: every project's groups. */
int svc_server_group_list(struct svc *sv, const char *project, json_t **ret, struct hv_error *err);
int svc_server_group_show(struct svc *sv, const char *group, json_t **ret, struct hv_error *err);
int svc_server_group_delete(struct svc *sv, const char *group, struct hv_error *err);
/* args: {project?, start?, end?} (YYYY-MM-DD[THH:MM:SS], UTC; default the 4 weeks to now),
 * {marker?, limit?}: a page of the servers (those after the server marker names, in
 * creation order, at most limit of them; an unknown marker is -EINVAL naming args.marker),
 * server_usages? (the list's rows with theirs too).
 * Not detailed: nova's tenant_usages list (one row per project that used anything);
 * detailed: one project's (default admin) with server_usages. */
int svc_usage(struct svc *sv, json_t *args, bool detailed, int64_t now_ms, json_t **ret,
	      struct hv_error *err);
/* os-hypervisors rows: capacity reported, *_used and running_vms from hvcentral's records,
 * "reported" and "measured" from the host's report; show adds numa_cells and cpu_info. */
int svc_hypervisor_list(struct svc *sv, int64_t now_ms, json_t **ret, struct hv_error *err);
int svc_hypervisor_show(struct svc *sv, const char *host, int64_t now_ms, json_t **ret,
			struct hv_error *err);
/* The sums of the list's numbers over every hypervisor, and count. */
int svc_hypervisor_stats(struct svc *sv, int64_t now_ms, json_t **ret, struct hv_error *err);
/* [scheduler] of c: applied only when every key checks out, else an error naming it. */
struct cfg;
int svc_set_scheduler(struct svc *sv, const struct cfg *c, struct hv_error *err);
/* ---- images (image.c) ------------------------------------------------------------------- */
struct imgdata;
/* Borrows d (the images dir) for the service's lifetime; without it images are refused. */
void svc_set_images(struct svc *sv, struct imgdata *d);
/* args: {name, disk_format raw|qcow2 (as given, never probed), container_format? bare,
 * visibility? (default shared), min_disk?, min_ram?, protected?, properties?{}, project?,
 * id?}. A new image is queued: its data follows with svc_image_upload. Answers as show. */
int
svc_image_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* args: {image (id or name), offset (the bytes received so far), data (base64, at most
 * PROTO_IMAGE_CHUNK bytes)}: {id, uploaded}. */
int
svc_image_upload(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* args: {image, sha256}: the image is active when the data received hashes to sha256;
 * otherwise the upload is discarded (the image stays queued). Answers as show. */
int
svc_image_finish(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
int svc_image_list(struct svc *sv, json_t **ret, struct hv_error *err);
/* By id or name (a name several images share is refused); "uploaded" while not active. */
int svc_image_show(struct svc *sv, const char *image, json_t **ret, struct hv_error *err);
/* args: {image, name?, visibility?, min_disk?, min_ram?, protected?, properties?{} merged,
 * properties_remove?[names]}. */
int svc_image_set(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* args: {image, offset}: {id, offset, data (base64, at most PROTO_IMAGE_CHUNK bytes), eof,
 * size, sha256} of an active image. */
int svc_image_download(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err);
/* An upload given up (its client failed or left): the data received is discarded and the
 * image is queued again. Quiet when there is none. */
void svc_image_abort(struct svc *sv, const char *image, int64_t now_ms);
/* Refused (-EPERM) while the image is protected. */
int svc_image_delete(struct svc *sv, const char *image, struct hv_error *err);
/* ---- identity (identity.c): the REST front's users, roles and tokens ------------------ */
/* The longest token text accepted (issued ones are 43 characters). */
#define SVC_TOKEN_MAX 255
/* The roles, each implying those after it (keystone's implied roles). */
extern const char *const svc_roles[];
/* args: {name, project (name or id), role: admin|member|reader, password (8+ bytes; only
 * its argon2id hash is kept)}. Answers svc_user_show's record. */
int
svc_user_create(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret, struct hv_error *err);
/* {id, name, created_ms, roles: [{project_id, project, role, roles: [the roles it grants]}]};
 * -ENOENT. */
int svc_user_show(struct svc *sv, const char *user, json_t **ret, struct hv_error *err);
int svc_user_list(struct svc *sv, json_t **ret, struct hv_error *err);
/* Deletes the user, its roles and its tokens. */
int svc_user_delete(struct svc *sv, const char *user, struct hv_error *err);
/* How long tokens issued from now on stay valid (ttl_ms > 0; keystone's default an hour). */
void svc_set_token_ttl(struct svc *sv, int64_t ttl_ms);
/* A new token for user (name or id) scoped to project (name or id; NULL: unscoped, good
 * only for asking which projects the user has), when the password matches and the user has
 * a role there; -EACCES otherwise, never saying which part was wrong. ret_token is the
 * token's only copy (the caller wipes it); *ret_ctx what it grants: {user_id, user,
 * project_id, project, role, roles[], issued_ms, expires_ms} (the project's keys absent
 * when unscoped). */
int svc_token_issue(struct svc *sv, const char *user, const char *password, const char *project,
		    int64_t now_ms, char ret_token[SVC_TOKEN_MAX + 1], json_t **ret_ctx,
		    struct hv_error *err);
/* A new token from a valid one (keystone's token method: no password hashed, so cheap),
 * scoped to project (name or id; NULL: unscoped), expiring when the first one does. */
int svc_token_rescope(struct svc *sv, const char *token, const char *project, int64_t now_ms,
		      char ret_token[SVC_TOKEN_MAX + 1], json_t **ret_ctx, struct hv_error *err);
/* What a valid, unexpired token grants (as svc_token_issue's ctx), scoped or not. */
int svc_token_validate(struct svc *sv, const char *token, int64_t now_ms, json_t **ret_ctx,
		       struct hv_error *err);
/* The same for a project-scoped token only (what every service but identity requires);
 * -EACCES otherwise. */
int svc_token_check(struct svc *sv, const char *token, int64_t now_ms, json_t **ret_ctx,
		    struct hv_error *err);
int svc_token_revoke(struct svc *sv, const char *token, struct hv_error *err);
/* The projects user_id has a role on, as project records. */
int svc_user_projects(struct svc *sv, const char *user_id, json_t **ret, struct hv_error *err);

#endif
