/* store.h - hvcentral's durable state behind one interface: hosts, pending agent keys,
 * instances and the command journal, so a controller restart loses nothing. Today's
 * backend is SQLite in WAL mode (sqlite.c, its schema versioned by migrations applied at
 * open). Records cross this boundary as jansson objects (the same shape the API returns);
 * the caller owns every json_t it gets back. Never logs, never talks to a socket, holds no
 * rule (those are the service layer's).
 *
 * Why an opaque handle and plain functions rather than a struct of function pointers: a
 * backend is chosen when hvcentral is built, one per binary (a replicated engine such as
 * dqlite replaces SQLite, it does not run beside it). A second backend is a second file
 * implementing this header, picked in central/meson.build; no caller changes, nothing
 * dispatches at run time, and there is no second list of every operation to keep in step
 * with this one. */
#ifndef HVC_STORE_H
#define HVC_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <hvagent/error.h>

struct store;

/* Opens (creating when absent) the database at path, in WAL mode, and brings its schema
 * to this release's version; -EPROTO for a file a newer release wrote. ":memory:" works
 * for tests. */
int store_open(const char *path, struct store **ret, struct hv_error *err);
void store_free(struct store *s);

/* Groups many writes into one transaction (the controller wraps each loop turn). Nested
 * calls are counted; only the outermost commits. */
int store_begin(struct store *s, struct hv_error *err);
int store_commit(struct store *s, struct hv_error *err);
/* Undoes every write since the matching store_begin (an inner level undoes only its own),
 * so a request that fails half way leaves nothing behind. */
void store_rollback(struct store *s);

/* ---- hosts -------------------------------------------------------------------------- */
/* Records that host_id spoke now (creating the row on first contact). */
int store_host_seen(struct store *s, const char *host_id, const char *public_key,
		    const char *address, int64_t now_ms, struct hv_error *err);
/* A new agent process (HELLO): boot id, version; the sequence restarts. */
int store_host_hello(struct store *s, const char *host_id, const char *boot_id,
		     const char *agent_version, struct hv_error *err);
/* Sequence bookkeeping for SNAPSHOT/DELTA ordering. *ret_boot_id may be "" when unknown. */
int store_host_seq(struct store *s, const char *host_id, uint64_t *ret_seq, char ret_boot_id[80],
		   struct hv_error *err);
int store_host_set_seq(struct store *s, const char *host_id, uint64_t seq, struct hv_error *err);
/* Replaces the host's resource record (the REPORT/SNAPSHOT host body); takes a reference. */
int store_host_set_resources(struct store *s, const char *host_id, json_t *resources,
			     struct hv_error *err);
/* An operator's word on host_id's compute service: disabled (reason may be NULL) and forced
 * down, as stored until changed again. -ENOENT (err untouched) for an unknown host. */
int store_host_set_service(struct store *s, const char *host_id, bool disabled, const char *reason,
			   bool forced_down, struct hv_error *err);
/* {host_id, public_key, address, boot_id, agent_version, last_seen_ms, resources,
 * service_disabled, service_reason, forced_down}; -ENOENT. */
int store_host_get(struct store *s, const char *host_id, json_t **ret, struct hv_error *err);
int store_host_list(struct store *s, json_t **ret, struct hv_error *err);
/* Just the liveness timestamp (the request path must not parse the resource record). */
int
store_host_last_seen(struct store *s, const char *host_id, int64_t *ret_ms, struct hv_error *err);

/* ---- pending keys (refused by ZAP, waiting for `hv host accept`) ---------------------- */
/* Any peer can offer a key, so the list is bounded: keys not seen for STORE_PENDING_TTL_MS
 * are dropped, and past STORE_PENDING_MAX the ones kept are those seen more than once (a
 * real agent retries), newest first. */
#define STORE_PENDING_MAX 128
#define STORE_PENDING_TTL_MS (24 * 3600 * 1000LL)
int store_pending_record(struct store *s, const char *public_key, const char *address,
			 int64_t now_ms, struct hv_error *err);
/* [{public_key, address, first_seen_ms, last_seen_ms, attempts}] */
int store_pending_list(struct store *s, json_t **ret, struct hv_error *err);
/* Finds a pending key by full key or by a unique prefix of at least 8 characters;
 * -ENOENT, or -EINVAL when the prefix is ambiguous. */
int store_pending_find(struct store *s, const char *key_or_prefix, char ret_key[41],
		       struct hv_error *err);
int store_pending_remove(struct store *s, const char *public_key, struct hv_error *err);

/* ---- instances ------------------------------------------------------------------------ */
/* inst: {uuid, name, host, image, flavor{}, properties{}, vm_state, task_state,
 * power_state}; -EEXIST when the uuid or a live instance with that name exists. */
int store_instance_insert(struct store *s, json_t *inst, int64_t now_ms, struct hv_error *err);
/* By uuid, or by name (the live instance first, else the latest deleted one). -ENOENT. */
int
store_instance_get(struct store *s, const char *uuid_or_name, json_t **ret, struct hv_error *err);
/* Renames a live instance: -ENOENT (err untouched) when there is none; -EEXIST (field
 * "name") when another live instance has the name. */
int store_instance_rename(struct store *s, const char *uuid, const char *name, int64_t now_ms,
			  struct hv_error *err);
/* Sets a live instance's user metadata (an object of strings, borrowed): -ENOENT (err
 * untouched) when there is none. */
int store_instance_set_metadata(struct store *s, const char *uuid, const json_t *metadata,
				int64_t now_ms, struct hv_error *err);
/* Sets a live instance's description (NULL: none) or its tags (an array of strings,
 * borrowed): -ENOENT (err untouched) when there is none. */
int store_instance_set_description(struct store *s, const char *uuid, const char *description,
				   int64_t now_ms, struct hv_error *err);
int store_instance_set_tags(struct store *s, const char *uuid, const json_t *tags, int64_t now_ms,
			    struct hv_error *err);
/* Moves a live instance to host, recording the host it leaves as evacuated_from, with
 * task_state rebuilding. -ENOENT (err untouched) when there is none. */
int store_instance_evacuate(struct store *s, const char *uuid, const char *host, int64_t now_ms,
			    struct hv_error *err);
/* Places a live instance (one whose spawn a host refused) on host instead, with fault
 * (the story of its placement so far). -ENOENT (err untouched) when there is none. */
int store_instance_move(struct store *s, const char *uuid, const char *host, const char *fault,
			int64_t now_ms, struct hv_error *err);
/* 1 when uuid was evacuated from host (not back there since) and that is now forgotten, so
 * its leftover there is destroyed once; 0 otherwise. */
int store_instance_take_leftover(struct store *s, const char *uuid, const char *host,
				 struct hv_error *err);
/* The journaled args of the latest `action` command for uuid (secret fields show as
 * "<field>_redacted"). -ENOENT (err untouched) when there is none. */
int store_cmd_last_args(struct store *s, const char *uuid, const char *action, json_t **ret,
			struct hv_error *err);
/* host may be NULL (all hosts); deleted instances are left out unless with_deleted. */
int store_instance_list(struct store *s, const char *host, bool with_deleted, json_t **ret,
			struct hv_error *err);
/* Any NULL argument leaves that column alone; "" clears task_state/fault. -ENOENT. */
int store_instance_set_state(struct store *s, const char *uuid, const char *vm_state,
			     const char *task_state, const char *power_state, const char *fault,
			     int64_t now_ms, struct hv_error *err);
/* The same change reported by host: applied only to an instance on that host. -ENOENT when
 * no instance has the uuid, -EPERM (err names the owner) when another host's does: a host
 * is trusted only for its own instances. */
int
store_instance_report_state(struct store *s, const char *host, const char *uuid,
			    const char *vm_state, const char *task_state, const char *power_state,
			    const char *fault, int64_t now_ms, struct hv_error *err);
/* After a resize, its confirmation or revert, or a rebuild: the flavor (its extra_specs
 * become the properties) and/or the image; NULL leaves a column alone. -ENOENT. */
int store_instance_set_spec(struct store *s, const char *uuid, json_t *flavor, const char *image,
			    int64_t now_ms, struct hv_error *err);
/* Instance uuids the store places on host (not deleted), as a JSON array of strings. */
int store_instance_uuids_on(struct store *s, const char *host, json_t **ret, struct hv_error *err);

/* ---- projects and quotas (sqlite_catalog.c) ------------------------------------------- */
/* project: {id, name, description, enabled}; -EEXIST (field "name") when the id or name is
 * taken. */
int store_project_insert(struct store *s, json_t *project, int64_t now_ms, struct hv_error *err);
/* By id, else by name: {id, name, description, enabled, created_ms}. -ENOENT, err untouched. */
int store_project_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err);
/* Every project, by name. */
int store_project_list(struct store *s, json_t **ret, struct hv_error *err);
/* The limits set for a project, {resource: limit}; resources never set are absent. */
int store_quota_get(struct store *s, const char *project_id, json_t **ret, struct hv_error *err);
int store_quota_set(struct store *s, const char *project_id, const char *resource, int64_t limit,
		    struct hv_error *err);
/* What the project holds: {instances, cores, ram} of its live instances (ram in MiB), and
 * key_pairs. */
int
store_project_usage(struct store *s, const char *project_id, json_t **ret, struct hv_error *err);

/* ---- flavors (sqlite_catalog.c) --------------------------------------------------------- */
/* flavor: {id, name, vcpus, ram, disk, ephemeral, swap, is_public, description,
 * extra_specs{}}; -EEXIST (field "id" or "name") when either is taken. */
int store_flavor_insert(struct store *s, json_t *flavor, int64_t now_ms, struct hv_error *err);
/* By id, else by name: the record above plus created_ms. -ENOENT, err untouched. */
int store_flavor_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err);
/* Every flavor by name; is_public -1 all, 0 private only, 1 public only. */
int store_flavor_list(struct store *s, int is_public, json_t **ret, struct hv_error *err);
/* Deletes the flavor and its access list (servers keep their copy). -ENOENT. */
int store_flavor_delete(struct store *s, const char *id, struct hv_error *err);
/* Replaces the flavor's extra specs (borrowed) and, when not NULL, its description. */
int store_flavor_update(struct store *s, const char *id, json_t *extra_specs,
			const char *description, struct hv_error *err);
/* The projects allowed a private flavor, as an array of ids. */
int store_flavor_access_list(struct store *s, const char *id, json_t **ret, struct hv_error *err);
/* add true: allow project_id (again is no change); false: remove it. */
int store_flavor_access_set(struct store *s, const char *id, const char *project_id, bool add,
			    struct hv_error *err);

/* ---- key pairs (sqlite_catalog.c) ------------------------------------------------------- */
/* kp: {project_id, name, type, public_key, fingerprint}; -EEXIST (field "name") when the
 * project has a key pair of that name. */
int store_keypair_insert(struct store *s, json_t *kp, int64_t now_ms, struct hv_error *err);
/* {project_id, name, type, public_key, fingerprint, created_ms}; -ENOENT, err untouched. */
int store_keypair_get(struct store *s, const char *project_id, const char *name, json_t **ret,
		      struct hv_error *err);
/* The project's key pairs by name. */
int store_keypair_list(struct store *s, const char *project_id, json_t **ret, struct hv_error *err);
/* -ENOENT, err untouched, when there is none. */
int store_keypair_delete(struct store *s, const char *project_id, const char *name,
			 struct hv_error *err);

/* ---- command journal ------------------------------------------------------------------ */
enum store_cmd_state {
	STORE_CMD_QUEUED, /* not yet sent, or to be sent again */
	STORE_CMD_SENT,   /* on the wire, waiting for ACK */
	STORE_CMD_ACKED,  /* the agent journaled it */
	STORE_CMD_DONE,   /* RESULT ok */
	STORE_CMD_FAILED, /* RESULT error, refused, or deadline passed */
};
const char *store_cmd_state_name(enum store_cmd_state st);

struct store_cmd {
	char cmd_id[40];
	char host_id[80];
	char uuid[40];
	char action[32];
	json_t *args; /* owned */
	enum store_cmd_state state;
	int attempts;
	int64_t created_ms;
	int64_t deadline_ms; /* wall clock */
	int64_t next_try_ms;
};
void store_cmd_clear(struct store_cmd *c); /* frees args */

int store_cmd_insert(struct store *s, const struct store_cmd *c, struct hv_error *err);
/* Reads a command without its args (ret->args NULL: the answer path never needs them);
 * store_cmd_due returns them. */
int store_cmd_get(struct store *s, const char *cmd_id, struct store_cmd *ret, json_t **ret_result,
		  struct hv_error *err);
/* result may be NULL; takes no reference. */
int store_cmd_update(struct store *s, const char *cmd_id, enum store_cmd_state state, int attempts,
		     int64_t next_try_ms, json_t *result, struct hv_error *err);
/* QUEUED/SENT -> ACKED for host's command cmd_id, next resend at next_try_ms; anything
 * else (unknown, other host, already acknowledged or finished) is left alone. */
int store_cmd_mark_acked(struct store *s, const char *cmd_id, const char *host_id,
			 int64_t next_try_ms, struct hv_error *err);
/* Sends an open command to host instead, with args (copied), from next_try_ms on (a spawn
 * the scheduler placed again). -ENOENT (err untouched) when it is not open. */
int store_cmd_reroute(struct store *s, const char *cmd_id, const char *host, json_t *args,
		      int64_t next_try_ms, struct hv_error *err);
/* Commands not finished (QUEUED/SENT/ACKED) whose next_try_ms <= now, oldest first, at most
 * max. Returns how many were filled into out (each to be store_cmd_clear'ed). */
int store_cmd_due(struct store *s, int64_t now_ms, struct store_cmd *out, int max,
		  struct hv_error *err);
/* True when the instance has a command in flight (not DONE/FAILED). */
int store_cmd_inflight_for(struct store *s, const char *uuid, struct hv_error *err);
/* Commands of one instance, newest first, as JSON (for `hv server show`). */
int store_cmd_list_for(struct store *s, const char *uuid, int limit, json_t **ret,
		       struct hv_error *err);

/* ---- networking (sqlite_network.c) ------------------------------------------------------ */
/* Records are Neutron's, by kind: "network", "subnet", "port", "security_group" (its rules
 * in security_group_rules) and "floatingip"; each has "id", and "project_id" and "name"
 * when the kind has them. Networks and security groups have names unique per project. */
/* Inserts obj; -EEXIST (field "name") when the kind has that id, or the name is taken. */
int store_net_insert(struct store *s, const char *kind, json_t *obj, int64_t now_ms,
		     struct hv_error *err);
/* Replaces the stored body of obj's id; -ENOENT (err untouched) when there is none. */
int store_net_update(struct store *s, const char *kind, json_t *obj, struct hv_error *err);
/* -ENOENT, err untouched. */
int store_net_get(struct store *s, const char *kind, const char *id, json_t **ret,
		  struct hv_error *err);
int store_net_by_name(struct store *s, const char *kind, const char *project_id, const char *name,
		      json_t **ret, struct hv_error *err);
/* The kind's records whose body member `field` equals value (field NULL: all), oldest
 * first. */
int store_net_list(struct store *s, const char *kind, const char *field, const char *value,
		   json_t **ret, struct hv_error *err);
/* -ENOENT, err untouched. */
int store_net_delete(struct store *s, const char *kind, const char *id, struct hv_error *err);
/* Gives ip of network_id to owner (a port or floating IP id); -EEXIST, err untouched, when
 * it is taken. */
int store_net_ip_claim(struct store *s, const char *network_id, const char *ip,
		       const char *owner_id, struct hv_error *err);
/* Gives back every address owner_id holds. */
int store_net_ip_release(struct store *s, const char *owner_id, struct hv_error *err);
/* The hosts (array of strings, sorted) with a port ("binding:host_id") that is a member of
 * group_id or of a group with a rule whose remote_group_id is group_id. */
int
store_net_group_hosts(struct store *s, const char *group_id, json_t **ret, struct hv_error *err);
/* The ports (records) that are members of group_id, oldest first. */
int
store_net_group_ports(struct store *s, const char *group_id, json_t **ret, struct hv_error *err);
/* Sets floating_ips, security_groups and security_group_rules the project holds in used. */
int store_net_usage(struct store *s, const char *project_id, json_t *used, struct hv_error *err);
/* ---- host aggregates and server groups (sqlite_aggregate.c) ----------------------------- */
/* agg: {uuid, name, metadata{}}; the new numeric id in *ret_id. -EEXIST (field "name"). */
int store_aggregate_insert(struct store *s, json_t *agg, int64_t now_ms, int64_t *ret_id,
			   struct hv_error *err);
/* By id (digits), else by name: {id, uuid, name, availability_zone (the metadata key, or
 * null), metadata{}, hosts[], created_ms}. -ENOENT, err untouched. */
int
store_aggregate_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err);
/* Every aggregate by id, each as store_aggregate_get's. */
int store_aggregate_list(struct store *s, json_t **ret, struct hv_error *err);
/* Renames (name NULL: keeps it) and replaces the metadata (borrowed). -ENOENT; -EEXIST
 * (field "name") when another aggregate has the name. */
int store_aggregate_update(struct store *s, int64_t id, const char *name, json_t *metadata,
			   struct hv_error *err);
/* -ENOENT, err untouched. The caller removes its hosts first. */
int store_aggregate_delete(struct store *s, int64_t id, struct hv_error *err);
/* add: -EEXIST (err untouched) when host is in it already; remove: -ENOENT when not. */
int
store_aggregate_host(struct store *s, int64_t id, const char *host, bool add, struct hv_error *err);
/* g: {id, name, policy, project_id}. */
int store_server_group_insert(struct store *s, json_t *g, int64_t now_ms, struct hv_error *err);
/* By id, else by a name only one group has: {id, name, policy, project_id, created_ms,
 * members[uuid]}. -ENOENT, err untouched; -EINVAL (field "name") for a shared name. */
int
store_server_group_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err);
/* project_id NULL: every project's. */
int store_server_group_list(struct store *s, const char *project_id, json_t **ret,
			    struct hv_error *err);
/* Deletes the group and its member list (the servers stay). -ENOENT, err untouched. */
int store_server_group_delete(struct store *s, const char *id, struct hv_error *err);
int store_server_group_add(struct store *s, const char *id, const char *uuid, struct hv_error *err);
/* ---- images (sqlite_image.c) ------------------------------------------------------------ */
/* img: {id, name, disk_format, container_format, size (null until active), checksum,
 * os_hash_algo, os_hash_value, status, visibility, owner, min_disk, min_ram, protected,
 * properties{}}; -EEXIST when the id is taken. */
int store_image_insert(struct store *s, json_t *img, int64_t now_ms, struct hv_error *err);
/* By id: the record above plus created_ms, updated_ms. -ENOENT, err untouched. */
int store_image_get(struct store *s, const char *id, json_t **ret, struct hv_error *err);
/* The images named name (several may share one), oldest first. */
int store_image_by_name(struct store *s, const char *name, json_t **ret, struct hv_error *err);
/* Every image by name. */
int store_image_list(struct store *s, json_t **ret, struct hv_error *err);
/* Rewrites every field of the record img (as store_image_get returns it). -ENOENT. */
int store_image_update(struct store *s, json_t *img, int64_t now_ms, struct hv_error *err);
int store_image_delete(struct store *s, const char *id, struct hv_error *err);
/* 1 when a live instance on host was created from image id, or an open command of host
 * (a rebuild, a rescue) names it; else 0. */
int store_image_used_on(struct store *s, const char *host, const char *id, struct hv_error *err);
/* 1 with the cmd_id of the finished snapshot command that made image id, 0 when none. */
int store_image_snapshot_cmd(struct store *s, const char *id, char ret_cmd_id[40],
			     struct hv_error *err);
/* ---- identity: users, role assignments, tokens (sqlite_identity.c) -------------------- */
/* user: {id, name, password_hash}; -EEXIST (field "name") when the id or name is taken. */
int store_user_insert(struct store *s, json_t *user, int64_t now_ms, struct hv_error *err);
/* By id, else by name: {id, name, password_hash, created_ms}. -ENOENT, err untouched. */
int store_user_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err);
/* Every user by name, without password hashes: [{id, name, created_ms}]. */
int store_user_list(struct store *s, json_t **ret, struct hv_error *err);
/* Deletes the user with its role assignments and tokens. -ENOENT, err untouched. */
int store_user_delete(struct store *s, const char *id, struct hv_error *err);
/* Gives user_id the role on project_id (replacing the role it had there). */
int store_role_set(struct store *s, const char *user_id, const char *project_id, const char *role,
		   struct hv_error *err);
/* The user's assignments [{project_id, role}], or every user's (user_id NULL) with user_id. */
int store_role_list(struct store *s, const char *user_id, json_t **ret, struct hv_error *err);
/* A token by the hash of its text (never the text itself). */
int
store_token_insert(struct store *s, const char *hash, const char *user_id, const char *project_id,
		   int64_t issued_ms, int64_t expires_ms, struct hv_error *err);
/* {user_id, project_id, issued_ms, expires_ms}; -ENOENT, err untouched. */
int store_token_get(struct store *s, const char *hash, json_t **ret, struct hv_error *err);
/* Revokes one token (-ENOENT when unknown), or every token expired at now_ms. */
int store_token_delete(struct store *s, const char *hash, struct hv_error *err);
int store_token_purge(struct store *s, int64_t now_ms, struct hv_error *err);

#endif
