/* service-priv.h - the service layer's state, shared by its files (service.c, server.c,
 * host.c) and nobody else: a front or the daemon must never include it. */
#ifndef HVC_SERVICE_PRIV_H
#define HVC_SERVICE_PRIV_H

#include "service.h"

struct svc {
	struct store *store; /* borrowed */
	struct ctl *ctl;     /* borrowed: the command journal */
	struct allow *allow; /* borrowed, may be NULL */
	struct reg_intervals liveness;
	struct imgdata *images; /* borrowed, may be NULL: no image catalog data */
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

/* The host the scheduler picks for a new server of this (protocol) flavor, reading
 * args.availability_zone, args.image and args.hints; -ENOSPC naming what each filter
 * removed when none fits (place.c). */
int svc_place(struct svc *sv, const json_t *flavor, const json_t *args, const char *project,
	      int64_t now, char ret_host[PROTO_MAX_ID + 1], struct hv_error *err);

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
