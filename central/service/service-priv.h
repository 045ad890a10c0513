/* service-priv.h - the service layer's state, shared by its files (service.c, server.c,
 * host.c) and nobody else: a front or the daemon must never include it. */
#ifndef HVC_SERVICE_PRIV_H
#define HVC_SERVICE_PRIV_H

#include <string.h>

#include "sched/sched.h"
#include "service.h"

struct svc {
	struct store *store; /* borrowed */
	struct ctl *ctl;     /* borrowed: the command journal */
	struct allow *allow; /* borrowed, may be NULL */
	struct reg_intervals liveness;
	struct sched_config sched; /* [scheduler] (schedconf.c) */
	char sched_weights[1024];  /* [metrics] weight_setting: sched's weights name into it */
	char default_zone[256];    /* [scheduler] default_availability_zone */
	struct imgdata *images;    /* borrowed, may be NULL: no image catalog data */
	struct place_table *place; /* the hosts as the scheduler saw them last (place.c) */
	struct ctok *consoles;     /* console tokens (console.c); NULL: no console proxy */
	char console_base[256];    /* where console URLs point, without a trailing '/' */
	int64_t token_ttl_ms;      /* how long a new token is valid; 0: an hour */
};

/* The most servers one create makes (nova's max_count is bounded by the quota alone). */
#define SVC_MAX_COUNT 100

/* The project created at first start, and the one a request without a project uses. */
#define SVC_DEFAULT_PROJECT "admin"

/* Creates what a new catalog starts with (the default project) when it is empty. */
int svc_seed(struct svc *sv, int64_t now, struct hv_error *err);
/* The project named or numbered `project` (NULL: the default); -ENOENT naming field. */
int svc_project_find(struct svc *sv, const char *project, const char *field, json_t **ret,
		     struct hv_error *err);

/* What a create adds to a project's usage. */
struct svc_quota_ask {
	int64_t instances, cores, ram, key_pairs;
	int64_t floating_ips, security_groups, security_group_rules;
};
/* -EDQUOT (nova's message) when the project's usage plus ask would pass a limit; the caller
 * checks inside the store transaction that then writes what it asked for. */
int svc_quota_check(struct svc *sv, const char *project_id, const struct svc_quota_ask *ask,
		    struct hv_error *err);

/* A flavor's sizes: vcpus 1-1024, ram MiB 1-16777216, disk GiB 0-65536, ephemeral GiB
 * 0-65536, swap MiB 0-1048576, as an inline flavor (args.flavor) and a catalog flavor take
 * them; read from obj at `where`, errors naming where.key. */
struct svc_sizes {
	int64_t vcpus, ram, disk, ephemeral, swap;
};
int svc_sizes_from(json_t *obj, const char *where, struct svc_sizes *ret, struct hv_error *err);

/* The protocol flavor (docs/protocol.md section 6.4) of the catalog flavor `flavor` (name
 * or id) for a server of project_id: a private flavor the project may not use is -ENOENT,
 * as nova hides it. */
int svc_flavor_for(struct svc *sv, const char *flavor, const char *project_id, json_t **ret,
		   struct hv_error *err);

/* The OpenSSH public key line of the project's key pair `name` (a new string, caller
 * frees); -ENOENT naming field. */
int svc_keypair_public(struct svc *sv, const char *project_id, const char *name, const char *field,
		       char **ret, struct hv_error *err);

/* A string member of a stored record, or def when absent or not a string. */
static inline const char *
field_or(const json_t *o, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : def;
}

/* A stored host row's compute service as every rule sees it: disabled by an operator
 * (svc_host_service) or by the host's own configuration (its report's status); *why (may
 * be NULL) the reason given, or NULL. */
static inline bool
svc_host_disabled(const json_t *row, const char **why)
{
	const json_t *res = json_object_get(row, "resources");
	bool mine = json_is_true(json_object_get(row, "service_disabled"));
	bool own = strcmp(field_or(res, "status", ""), "disabled") == 0;
	if (why)
		*why = mine  ? field_or(row, "service_reason", NULL)
		       : own ? field_or(res, "disabled_reason", NULL)
			     : NULL;
	return mine || own;
}

static inline bool
svc_host_forced_down(const json_t *row)
{
	return json_is_true(json_object_get(row, "forced_down"));
}

/* {host_id: nova's host_status (UP, DOWN, MAINTENANCE, UNKNOWN)} of every known host. */
int svc_host_statuses(struct svc *sv, int64_t now, json_t **ret, struct hv_error *err);

/* The host the scheduler picks for a new server of this (protocol) flavor, reading
 * args.availability_zone, args.image and args.hints, never one of tried (an array of
 * {host, reason}, may be NULL); -ENOSPC naming what each filter removed when none fits
 * (place.c). ret_limits (may be NULL) receives the spawn's limits (protocol 6.4): what the
 * filters checked the host against, for its claim; caller owns. The guest NUMA cells of
 * server uuid count on the host cells chosen until the server leaves the host. */
int svc_place(struct svc *sv, const char *uuid, const json_t *flavor, const json_t *args,
	      const char *project, const json_t *group, const json_t *tried, int64_t now,
	      char ret_host[PROTO_MAX_ID + 1], json_t **ret_limits, struct hv_error *err);
/* The part of a create's args the scheduler reads, kept in the spawn ("placement") so a
 * refused claim can be placed again as the create asked. New reference. */
json_t *svc_place_request(const json_t *args);
/* Host's report or servers changed: the next decision reads it again (ctx: the svc; the
 * link's ctl_host_fn). */
void svc_place_dirty(void *ctx, const char *host);
void svc_place_free(struct svc *sv);
/* The link's ctl_place_fn (ctx: the svc): a spawn refused by refused_host's claim goes to
 * another host, up to scheduler_max_attempts; else -ENOSPC with every attempt's reason. */
int svc_place_again(void *ctx, const char *uuid, json_t *spawn, const char *refused_host,
		    const char *why, int64_t now, char ret_host[PROTO_MAX_ID + 1],
		    struct hv_error *err);

/* The server group a create names (args.server_group, or nova's args.hints.group), with
 * its members; *ret NULL when none is named. -ENOENT naming the field. */
int svc_create_group(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err);
/* The group by id or by a name only one group has; -ENOENT naming field. */
int svc_server_group_find(struct svc *sv, const char *group, const char *field, json_t **ret,
			  struct hv_error *err);
/* nova's scheduler defaults with the filters of the hints, zone "nova" (schedconf.c). */
void svc_sched_defaults(struct svc *sv);

/* ---- networking inside the service layer (network.c, secgroup.c, floatip.c) ------------ */
/* A new UUID4 id. */
void svc_new_id(char ret[37]);
/* An IPv4 CIDR with host bits zero; -EINVAL naming field. */
int svc_cidr4_parse(const char *s, const char *field, uint32_t *ret_net, int *ret_len,
		    struct hv_error *err);
/* args.project (name or id; default the default project) as its id. */
int svc_net_project(struct svc *sv, json_t *args, char ret[33], struct hv_error *err);
/* A record of kind by id or by name in project (shared and external networks from any);
 * -ENOENT naming field. */
int svc_net_find(struct svc *sv, const char *kind, const char *project_id, const char *ref,
		 const char *field, json_t **ret, struct hv_error *err);
/* Journals a host-scoped firewall command (protocol 6.6) to host. */
int svc_net_journal(struct svc *sv, const char *host, const char *command, json_t *body,
		    int64_t now, struct hv_error *err);
/* The lowest free address of net for owner: {subnet_id, ip_address}; -ENOSPC naming field. */
int svc_net_claim_ip(struct svc *sv, json_t *net, const char *owner, const char *field,
		     json_t **ret_fixed_ip, struct hv_error *err);
int
svc_network_make(struct svc *sv, const char *project, const char *name, bool external, bool shared,
		 const char *subnet_range, int64_t now, json_t **ret, struct hv_error *err);
int svc_port_make(struct svc *sv, json_t *net, const char *project, const char *device_id,
		  const char *host, json_t *groups, const char *field, int64_t now, json_t **ret,
		  struct hv_error *err);
/* The tap of a port: "tap" and the first 11 characters of its id (protocol 6.4). */
void svc_port_ifname(const json_t *port, char out[16]);
/* The project's default group, made on first use. */
int svc_secgroup_default(struct svc *sv, const char *project, int64_t now, json_t **ret,
			 struct hv_error *err);
int svc_secgroup_find(struct svc *sv, const char *project, const char *ref, const char *field,
		      int64_t now, json_t **ret, struct hv_error *err);
/* Journals g's sg_update to host after the groups it names as remote; done holds the ids
 * sent already. */
int svc_secgroup_send(struct svc *sv, const char *host, const json_t *g, json_t *done, int64_t now,
		      struct hv_error *err);
/* The members of the groups of ids (an object used as a set) changed: every group naming one
 * as remote is sent again to its hosts but host (NULL: none), the members plugged on other
 * hosts than the receiver being /32 rules beside the remote-group rule. */
int svc_secgroup_members_changed(struct svc *sv, json_t *ids, const char *host, int64_t now,
				 struct hv_error *err);
/* Deletes on host (sg_delete) the groups of ids (an object used as a set: modified) and
 * the groups they name as remote that no port of host needs any more, a group before the
 * groups it names: the host holds only the groups its ports use. */
int svc_secgroup_prune(struct svc *sv, const char *host, json_t *ids, int64_t now,
		       struct hv_error *err);
/* A create's args.networks and args.security_groups (default: the default group) as
 * records; both NULL when the server has no network. */
int svc_net_plan(struct svc *sv, json_t *args, const char *project, int64_t now, json_t **ret_nets,
		 json_t **ret_groups, struct hv_error *err);
/* One port per network for server uuid on host (written in the caller's transaction). */
int
svc_net_ports_create(struct svc *sv, const char *project, const char *uuid, const char *host,
		     json_t *nets, json_t *groups, int64_t now, json_t **ret, struct hv_error *err);
/* Journals the groups' sg_update and each port's port_plug to host, and sets spawn.ports. */
int svc_net_before_spawn(struct svc *sv, const char *host, json_t *groups, json_t *ports,
			 json_t *spawn, int64_t now, struct hv_error *err);
/* A deleted server's ports: floating IPs disassociated, ports unplugged and removed. */
int svc_net_ports_release(struct svc *sv, const char *host, const char *uuid, int64_t now,
			  struct hv_error *err);
/* An evacuated server's ports move from its host to target: unplugged and their floating
 * IPs' NAT removed on the old host, bound to target, whose groups, port_plug and
 * fip_associate are journaled before the spawn (spawn.ports set). */
int svc_net_evacuate(struct svc *sv, const json_t *inst, const char *target, json_t *spawn,
		     int64_t now, struct hv_error *err);
/* Nova's view of each server's networking set into each of insts (an array of records):
 * "addresses" {network name: [{version, addr, OS-EXT-IPS:type fixed|floating,
 * OS-EXT-IPS-MAC:mac_addr}]} and "security_groups" [{name}]. */
int svc_net_server_view(struct svc *sv, json_t *insts, struct hv_error *err);
/* Disassociates the floating IPs of port_id. */
int svc_fip_release_port(struct svc *sv, const char *port_id, int64_t now, struct hv_error *err);

/* The protocol image {id, format, properties, size, sha256} (plus the image's min_disk and
 * min_ram, for the caller to check and remove) of the catalog image `ref` (id
 * or name) for a server of project: 1 with *ret, 0 when the catalog has no such image or hides
 * it from the project (the ref may name an image a host already stores), or an error
 * naming args.image (not active, an ambiguous name). */
int svc_image_for(struct svc *sv, const char *ref, const char *project, json_t **ret,
		  struct hv_error *err);

/* Registers the snapshot `snap` {id, name, format} of the server record inst as a queued
 * catalog image (image_type snapshot, instance_uuid, base_image_ref, image_location),
 * private to the server's project; the link takes its data from the host once the
 * snapshot's RESULT announces its checksum. Without an images dir, nothing. */
int
svc_image_snapshot(struct svc *sv, json_t *inst, json_t *snap, int64_t now, struct hv_error *err);

#endif
