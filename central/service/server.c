/* server.c - the rules of servers: what a create or an action may carry and from which
 * state it may start (common/lifecycle.h, the agent's own table), which host may take it
 * (up, enabled), and the protocol body it becomes; then the command journal sends it.
 * Every argument is checked before anything changes, and errors name the field. Must never
 * encode a reply or read a socket (the fronts do), and never logs. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "ids.h"
#include "json.h"
#include "lifecycle.h"

/* An API action's protocol command (common/lifecycle.h holds the table): the API says
 * delete where the wire says destroy; spawn and console_log have requests of their own.
 * -1 when not an action. */
static int
action_cmd(const char *action)
{
	if (strcmp(action, "delete") == 0)
		return LC_CMD_DESTROY;
	int cmd = lc_cmd_parse(action);
	if (cmd == LC_CMD_SPAWN || cmd == LC_CMD_DESTROY || cmd == LC_CMD_CONSOLE_LOG)
		return -1;
	return cmd;
}

bool
svc_action_allowed(const char *action, bool hard, const char *vm_state)
{
	int cmd = action_cmd(action), vm = lc_vm_parse(vm_state);
	if (cmd < 0 || vm < 0 || vm == LC_VM_DELETED)
		return false;
	return lc_allowed((enum lc_cmd)cmd, hard, (enum lc_vm)vm);
}

const char *
svc_task_for(const char *action, bool hard)
{
	int cmd = action_cmd(action);
	return cmd < 0 ? NULL : lc_task_name(lc_task_for((enum lc_cmd)cmd, hard));
}

/* A new server goes only to a host that says it is enabled (protocol §8.3): a disabled
 * host refuses every command until its hypervisor is back. */
static int
check_host_enabled(struct svc *sv, const char *host, struct hv_error *err)
{
	json_t *h = NULL;
	int r = store_host_get(sv->store, host, &h, err);
	if (r < 0)
		return r;
	const char *why = NULL;
	if (svc_host_disabled(h, &why))
		r = hv_error_set(err, -EHOSTUNREACH, "host",
				 "host '%s' is disabled (%s); create the "
				 "server on another host or when it is enabled again",
				 host, why ? why : "no reason given");
	else if (svc_host_forced_down(h))
		r = hv_error_set(err, -EHOSTDOWN, "host", "host '%s' is forced down", host);
	json_decref(h);
	return r;
}

static int
check_host_up(struct svc *sv, const char *host, int64_t now, struct hv_error *err)
{
	int64_t seen = 0;
	if (store_host_last_seen(sv->store, host, &seen, NULL) < 0)
		return hv_error_set(err, -ENOENT, "host",
				    "no host named '%s' has connected (see hv host list)", host);
	seen = ctl_heard_ms(sv->ctl, host, seen);
	if (reg_state_at(seen, now, &sv->liveness) == REG_DOWN)
		return hv_error_set(err, -EHOSTDOWN, "host",
				    "host '%s' is down (no report for %lld s)", host,
				    (long long)((now - seen) / 1000));
	return 0;
}

int
svc_sizes_from(json_t *o, const char *where, struct svc_sizes *z, struct hv_error *err)
{
	int r;
	if ((r = hj_int(o, where, "vcpus", HJ_REQUIRED, 1, 1024, &z->vcpus, err)) < 0 ||
	    (r = hj_int(o, where, "ram", HJ_REQUIRED, 1, 16777216, &z->ram, err)) < 0 ||
	    (r = hj_int(o, where, "disk", HJ_REQUIRED, 0, 65536, &z->disk, err)) < 0 ||
	    (r = hj_int(o, where, "ephemeral", HJ_OPTIONAL, 0, 65536, &z->ephemeral, err)) < 0 ||
	    (r = hj_int(o, where, "swap", HJ_OPTIONAL, 0, 1048576, &z->swap, err)) < 0)
		return r;
	return 0;
}

/* The protocol flavor (§6.4) from the API's args.flavor {vcpus, ram, disk, ephemeral?,
 * swap?} and args.properties (its extra specs). */
static int
flavor_from_args(json_t *args, json_t **ret, struct hv_error *err)
{
	json_t *flavor, *props = NULL;
	struct svc_sizes z = {0};
	int r;
	static const char *const known[] = {"vcpus", "ram", "disk", "ephemeral", "swap", NULL};
	if ((r = hj_obj(args, "args", "flavor", HJ_REQUIRED, &flavor, err)) < 0 ||
	    (r = hj_known_keys(flavor, "args.flavor", known, err)) < 0 ||
	    (r = svc_sizes_from(flavor, "args.flavor", &z, err)) < 0 ||
	    (r = hj_obj(args, "args", "properties", HJ_OPTIONAL, &props, err)) < 0)
		return r;
	struct hv_kv *kv = NULL;
	size_t n_kv = 0;
	if (props && (r = hj_str_map(args, "args", "properties", HJ_OPTIONAL, 128, 255, 255, &kv,
				     &n_kv, err)) < 0)
		return r;
	free(kv);
	char fname[64];
	snprintf(fname, sizeof fname, "custom-%lld-%lld-%lld", (long long)z.vcpus, (long long)z.ram,
		 (long long)z.disk);
	*ret = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", fname, "vcpus",
			 (json_int_t)z.vcpus, "ram_mb", (json_int_t)z.ram, "root_gb",
			 (json_int_t)z.disk, "ephemeral_gb", (json_int_t)z.ephemeral, "swap_mb",
			 (json_int_t)z.swap, "extra_specs",
			 props ? json_incref(props) : json_object());
	return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}

/* The protocol image object for the image id at args.<key> with args.image_format (the
 * format the host's image store recorded; default qcow2) and args.image_properties
 * (hvcentral keeps no image catalog: the properties an image needs, such as
 * hw_qemu_guest_agent, come with the command); absent optional: *ret NULL. */
static int
image_from_args(json_t *args, const char *key, int flags, json_t **ret, struct hv_error *err)
{
	const char *id = NULL;
	json_t *props = NULL;
	char field[32];
	int r = hj_str(args, "args", key, flags, PROTO_MAX_ID, &id, err);
	*ret = NULL;
	if (r <= 0)
		return r;
	snprintf(field, sizeof field, "args.%s", key);
	if (!proto_id_valid(id))
		return hv_error_set(err, -EINVAL, field,
				    "%s: not an image id (1-64 of A-Z a-z 0-9 . _ : -)", field);
	const char *format = "qcow2";
	if ((r = hj_enum(args, "args", "image_format", HJ_OPTIONAL, "qcow2|raw", &format, err)) <
		    0 ||
	    (r = hj_obj(args, "args", "image_properties", HJ_OPTIONAL, &props, err)) < 0)
		return r;
	if (props) {
		struct hv_kv *kv = NULL;
		size_t n_kv = 0;
		if ((r = hj_str_map(args, "args", "image_properties", HJ_OPTIONAL, 128, 255, 255,
				    &kv, &n_kv, err)) < 0)
			return r;
		free(kv);
	}
	*ret = json_pack("{s:s, s:s, s:o}", "id", id, "format", format, "properties",
			 props ? json_deep_copy(props) : json_object());
	return 1;
}

/* When args.image names a catalog image the project may use, spawn's image becomes the
 * catalog's (its id, format, properties under args.image_properties, size and sha256: a
 * host without it fetches it) and *ret_image its id, and answers 1; otherwise the
 * host-local id stays, and 0. */
static int
catalog_image(struct svc *sv, json_t *args, const char *project, json_t *spawn,
	      const char **ret_image, struct hv_error *err)
{
	json_t *cat = NULL, *pimage = json_object_get(spawn, "image");
	int r = svc_image_for(sv, *ret_image, project, &cat, err);
	if (r <= 0)
		return r;
	const char *given = json_string_value(json_object_get(args, "image_format"));
	if (given && strcmp(given, field_or(cat, "format", "")) != 0) {
		r = hv_error_set(
			err, -EINVAL, "args.image_format",
			"args.image_format: '%s' disagrees with image %s, uploaded as '%s'", given,
			field_or(cat, "id", ""), field_or(cat, "format", ""));
		json_decref(cat);
		return r;
	}
	json_object_update(json_object_get(cat, "properties"),
			   json_object_get(pimage, "properties"));
	json_object_set_new(spawn, "image_min",
			    json_pack("{s:O, s:O}", "disk", json_object_get(cat, "min_disk"), "ram",
				      json_object_get(cat, "min_ram")));
	json_object_del(cat, "min_disk");
	json_object_del(cat, "min_ram");
	json_object_set_new(spawn, "image", cat);
	*ret_image = field_or(cat, "id", "");
	return 1;
}

/* nova's check of a catalog image's min_disk (GiB) and min_ram (MiB) against the flavor;
 * the minimums travel in spawn's "image_min", removed here (the host never sees them). */
static int
image_fits_flavor(json_t *spawn, const json_t *flavor, struct hv_error *err)
{
	json_t *min = json_object_get(spawn, "image_min");
	int64_t disk = json_integer_value(json_object_get(min, "disk")),
		ram = json_integer_value(json_object_get(min, "ram"));
	int64_t root = json_integer_value(json_object_get(flavor, "root_gb")),
		mem = json_integer_value(json_object_get(flavor, "ram_mb"));
	int r = 0;
	if (min && root > 0 && root < disk)
		r = hv_error_set(err, -EINVAL, "args.flavor",
				 "args.flavor: its disk of %lld GB is smaller than the image's "
				 "min_disk of %lld GB",
				 (long long)root, (long long)disk);
	else if (min && mem < ram)
		r = hv_error_set(err, -EINVAL, "args.flavor",
				 "args.flavor: its %lld MB of memory is less than the image's "
				 "min_ram of %lld MB",
				 (long long)mem, (long long)ram);
	json_object_del(spawn, "image_min");
	return r;
}

/* User data: base64 by the one rule (common/base64.h) and at most 64 KiB once decoded, as
 * the agent and nova limit it. The decoded copy is wiped: user data is a secret field. */
static int
user_data_check(const char *s, struct hv_error *err)
{
	unsigned char *bin = NULL;
	size_t n = 0;
	int r = hv_base64_decode(s, strlen(s), &bin, &n);

	if (r == -ENOMEM)
		return hv_error_set(err, r, "args.user_data", "args.user_data: out of memory");
	if (r < 0)
		return hv_error_set(err, -EINVAL, "args.user_data", "args.user_data: not base64");
	sodium_memzero(bin, n);
	free(bin);
	if (n > HV_USER_DATA_MAX)
		return hv_error_set(err, -EINVAL, "args.user_data",
				    "args.user_data: %zu bytes once decoded, more than 64 KiB", n);
	return 0;
}

/* Copies the optional identity fields a spawn or rebuild may carry (protocol §6.4) into
 * body, and the secret ones (admin_pass, user_data) into secrets. A rebuild may replace
 * the user data (as nova's rebuild does) but not add or drop the config drive. */
static int
identity_from_args(json_t *args, bool spawn, json_t *body, json_t *secrets, struct hv_error *err)
{
	const char *key = NULL, *pass = NULL, *user_data = NULL;
	bool drive = false;
	int r;
	if ((r = hj_str(args, "args", "key_data", HJ_OPTIONAL, 8192, &key, err)) < 0 ||
	    (r = hj_str(args, "args", "admin_pass", HJ_OPTIONAL, 255, &pass, err)) < 0 ||
	    (r = hj_str(args, "args", "user_data", HJ_OPTIONAL, 87384, &user_data, err)) < 0)
		return r;
	if (spawn && (r = hj_bool(args, "args", "config_drive", HJ_OPTIONAL, &drive, err)) < 0)
		return r;
	if (key && (!*key || (strncmp(key, "ssh-", 4) != 0 && strncmp(key, "ecdsa-", 6) != 0 &&
			      strncmp(key, "sk-", 3) != 0)))
		return hv_error_set(
			err, -EINVAL, "args.key_data",
			"args.key_data: not an OpenSSH public key line (ssh-ed25519 AAAA...)");
	if (user_data && (r = user_data_check(user_data, err)) < 0)
		return r;
	/* An empty password would be set as the guest's root password: no password at all. */
	if (pass && !*pass)
		return hv_error_set(
			err, -EINVAL, "args.admin_pass",
			"args.admin_pass: must not be empty (leave it out to set none)");
	if (key)
		json_object_set_new(body, "key_data", json_string(key));
	if (pass)
		json_object_set_new(secrets, "admin_pass", json_string(pass));
	if (user_data)
		json_object_set_new(secrets, "user_data", json_string(user_data));
	if (spawn)
		json_object_set_new(body, "config_drive", json_boolean(drive));
	return 0;
}

/* The guest's hostname from the server's display name, as nova derives it: lower case,
 * spaces, dots and underscores become '-', anything else outside [a-z0-9-] is dropped,
 * no '-' at either end, at most 63 bytes. "" when nothing is left (the host then uses its
 * documented default). */
static void
hostname_from_name(const char *name, char out[64])
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && n < 63; p++) {
		unsigned char ch = *p >= 'A' && *p <= 'Z' ? (unsigned char)(*p - 'A' + 'a') : *p;
		if (ch == ' ' || ch == '.' || ch == '_')
			ch = '-';
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch == '-' && n > 0))
			out[n++] = (char)ch;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

/* A name shaped like a UUID (any case) is refused: every `server` argument takes a name or
 * a uuid, and the uuid is looked up first, so such a name could shadow another server or
 * be shadowed by one. Nova accepts it and leaves clients to guess; here the ambiguity
 * cannot arise. */
static bool
name_is_uuid(const char *name)
{
	char lower[37];
	size_t n = strlen(name);
	if (n != 36)
		return false;
	for (size_t i = 0; i <= n; i++)
		lower[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
	return hv_uuid_valid(lower);
}

/* The project that will own a new server: args.project (a name or id), else the default
 * one; a disabled project creates nothing. */
static int
owner_project(struct svc *sv, json_t *args, char ret[33], struct hv_error *err)
{
	const char *name = NULL;
	json_t *p = NULL;
	int r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &name, err);
	if (r < 0 || (r = svc_project_find(sv, name, "args.project", &p, err)) < 0)
		return r;
	if (json_is_false(json_object_get(p, "enabled")))
		r = hv_error_set(err, -EINVAL, "args.project",
				 "args.project: project '%s' is disabled", field_or(p, "name", ""));
	snprintf(ret, 33, "%s", field_or(p, "id", ""));
	json_decref(p);
	return r;
}

/* The args each request reads; any other is refused (hj_known_keys). */
static const char *const create_args[] = {
	"name",
	"host",
	"image",
	"image_catalog",
	"image_format",
	"image_properties",
	"flavor",
	"properties",
	"key_data",
	"key_name",
	"admin_pass",
	"user_data",
	"config_drive",
	"project",
	"min_count",
	"max_count",
	"availability_zone",
	"hints",
	"networks",
	"security_groups",
	"server_group",
	"metadata",
	"description",
	"tags",
	NULL,
};

/* The protocol flavor of a create: args.flavor is a catalog flavor's name or id (its extra
 * specs come with it), or an inline {vcpus, ram, disk, ...} with args.properties. */
static int
create_flavor(struct svc *sv, json_t *args, const char *project_id, json_t **ret,
	      struct hv_error *err)
{
	const char *name = json_string_value(json_object_get(args, "flavor"));
	if (!name)
		return flavor_from_args(args, ret, err);
	if (json_object_get(args, "properties"))
		return hv_error_set(err, -EINVAL, "args.properties",
				    "args.properties: only with an inline flavor (a catalog "
				    "flavor carries its extra specs: hv flavor set)");
	json_t *f = NULL;
	int r = svc_flavor_for(sv, name, project_id, &f, err);
	if (r < 0)
		return r;
	json_object_del(f, "id"); /* the protocol flavor (section 6.4) names it only */
	*ret = f;
	return 0;
}

/* args.key_name (a key pair of the project) becomes the spawn's key_data, as an inline
 * args.key_data does; not both. */
static int
create_key(struct svc *sv, json_t *args, const char *project_id, json_t *spawn,
	   struct hv_error *err)
{
	const char *name = NULL;
	char *line = NULL;
	int r = hj_str(args, "args", "key_name", HJ_OPTIONAL, 255, &name, err);
	if (r <= 0)
		return r;
	if (json_object_get(args, "key_data"))
		return hv_error_set(err, -EINVAL, "args.key_name",
				    "args.key_name: give a key pair or key_data, not both");
	if ((r = svc_keypair_public(sv, project_id, name, "args.key_name", &line, err)) < 0)
		return r;
	json_object_set_new(spawn, "key_data", json_string(line));
	json_object_set_new(spawn, "key_name", json_string(name));
	free(line);
	return 0;
}

/* How many servers to create: max_count when the quota allows it, else as many as it
 * allows down to min_count (nova's rule); fewer than min_count is -EDQUOT naming the limit
 * that stops them, and nothing is created. */
static int
create_count(struct svc *sv, json_t *args, const char *project_id, const json_t *flavor,
	     int64_t *ret, struct hv_error *err)
{
	int64_t min = 1, max = 0;
	int r;
	if ((r = hj_int(args, "args", "min_count", HJ_OPTIONAL, 1, SVC_MAX_COUNT, &min, err)) < 0 ||
	    (r = hj_int(args, "args", "max_count", HJ_OPTIONAL, 1, SVC_MAX_COUNT, &max, err)) < 0)
		return r;
	if (!max)
		max = min;
	if (max < min)
		return hv_error_set(err, -EINVAL, "args.max_count",
				    "args.max_count: %lld is below min_count %lld", (long long)max,
				    (long long)min);
	int64_t vcpus = json_integer_value(json_object_get(flavor, "vcpus"));
	int64_t ram = json_integer_value(json_object_get(flavor, "ram_mb"));
	for (int64_t n = max; n >= min; n--) {
		struct hv_error why;
		struct svc_quota_ask ask = {.instances = n, .cores = n * vcpus, .ram = n * ram};
		r = svc_quota_check(sv, project_id, &ask, n == min ? err : &why);
		if (r == 0)
			*ret = n;
		if (r != -EDQUOT || n == min)
			return r;
	}
	return -EDQUOT; /* not reached: the loop ends at min */
}

/* What every server of one create shares, checked before any is written. */
#define META_MAX 128 /* nova's metadata_items quota */

/* A server's user metadata at args.<key>: an object of strings, keys 1-255 bytes, values up
 * to 255, at most META_MAX with the `have` already set (over it: -EDQUOT, nova's quota). */
static int
metadata_check(const json_t *meta, const char *key, size_t have, struct hv_error *err)
{
	struct hv_kv *kv = NULL;
	size_t n = 0;
	char where[32];
	if (!meta)
		return 0;
	snprintf(where, sizeof where, "args.%s", key);
	json_t *wrap = json_pack("{s:O}", key, meta);
	int r = hj_str_map(wrap, "args", key, HJ_REQUIRED, SIZE_MAX, 255, 255, &kv, &n, err);
	json_decref(wrap);
	free(kv);
	if (r < 0)
		return r;
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)meta, k, v)
		if (!*k)
			return hv_error_set(err, -EINVAL, where, "%s: an empty key", where);
	if (have + n > META_MAX)
		return hv_error_set(err, -EDQUOT, where,
				    "Quota exceeded for metadata_items: at most %d", META_MAX);
	return 0;
}

struct create_plan {
	const char *name, *host, *image; /* host NULL: each server is placed by the scheduler */
	json_t *args;                    /* borrowed: the scheduler reads its zone and hints */
	char project[33];
	json_t *flavor;  /* protocol flavor */
	json_t *spawn;   /* the spawn body without name, hostname or flavor */
	json_t *secrets; /* admin_pass, user_data */
	json_t *group;   /* the server group each server joins, or NULL */
	int64_t count;
	json_t *nets, *groups; /* network and security group records, NULL without networks */
	json_t *ports;         /* the ports of server i, written with it */
	json_t *limits;        /* the scheduler's limits for server i (null: a forced host) */
};

static void
create_plan_release(struct create_plan *p)
{
	json_decref(p->flavor);
	json_decref(p->spawn);
	json_decref(p->nets);
	json_decref(p->groups);
	json_decref(p->ports);
	json_decref(p->limits);
	json_decref(p->group);
	ctl_secrets_free(p->secrets);
}

static int
create_name_check(const char *name, struct hv_error *err)
{
	if (!*name)
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	if (name_is_uuid(name))
		return hv_error_set(err, -EINVAL, "args.name",
				    "args.name: '%s' is shaped like a server uuid (a server is "
				    "found by name or uuid, so a name must not be one)",
				    name);
	return 0;
}

/* args.tags (optional) checked and made a set in place. */
static int
create_tags(json_t *args, struct hv_error *err)
{
	json_t *set = NULL;
	if (!json_object_get(args, "tags") || json_is_null(json_object_get(args, "tags")))
		return 0;
	int r = svc_server_tags_from(json_object_get(args, "tags"), "args.tags", &set, err);
	if (r == 0)
		json_object_set_new(args, "tags", set);
	return r;
}

static int
create_plan(struct svc *sv, json_t *args, int64_t now, struct create_plan *p, struct hv_error *err)
{
	json_t *pimage = NULL, *hints = NULL;
	const char *az = NULL;
	bool catalog_only = false;
	int r;
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &p->name, err)) < 0 ||
	    (r = hj_str(args, "args", "host", HJ_OPTIONAL, PROTO_MAX_ID, &p->host, err)) < 0 ||
	    (r = hj_str(args, "args", "availability_zone", HJ_OPTIONAL, 255, &az, err)) < 0 ||
	    (r = hj_obj(args, "args", "hints", HJ_OPTIONAL, &hints, err)) < 0 ||
	    (r = hj_bool(args, "args", "image_catalog", HJ_OPTIONAL, &catalog_only, err)) < 0 ||
	    (r = image_from_args(args, "image", HJ_REQUIRED, &pimage, err)) < 0)
		return r;
	p->args = args;
	p->image = json_string_value(json_object_get(args, "image"));
	p->spawn = json_object();
	p->secrets = json_object();
	json_object_set_new(p->spawn, "image", pimage);
	if ((r = create_name_check(p->name, err)) < 0 ||
	    (az && (r = svc_zone_check(sv, az, "args.availability_zone", err)) < 0))
		return r;
	if (p->host && !proto_id_valid(p->host))
		return hv_error_set(err, -EINVAL, "args.host", "args.host: not a host id");
	if ((r = owner_project(sv, args, p->project, err)) < 0 ||
	    (r = catalog_image(sv, args, p->project, p->spawn, &p->image, err)) < 0)
		return r;
	if (r == 0 && catalog_only)
		return hv_error_set(err, -ENOENT, "args.image",
				    "args.image: no image '%s' in the catalog for this project",
				    p->image);
	/* the owner: the host injects only one project's disks in a batch */
	json_object_set_new(p->spawn, "project_id", json_string(p->project));
	if ((r = create_flavor(sv, args, p->project, &p->flavor, err)) < 0 ||
	    (r = image_fits_flavor(p->spawn, p->flavor, err)) < 0 ||
	    (r = identity_from_args(args, true, p->spawn, p->secrets, err)) < 0 ||
	    (r = create_key(sv, args, p->project, p->spawn, err)) < 0 ||
	    (r = svc_net_plan(sv, args, p->project, now, &p->nets, &p->groups, err)) < 0 ||
	    (p->host && (r = check_host_up(sv, p->host, now, err)) < 0) ||
	    (p->host && (r = check_host_enabled(sv, p->host, err)) < 0) ||
	    (r = svc_create_group(sv, args, &p->group, err)) < 0 ||
	    (r = metadata_check(json_object_get(args, "metadata"), "metadata", 0, err)) < 0 ||
	    (r = svc_server_description_check(args, "description", err)) < 0 ||
	    (r = create_tags(args, err)) < 0 ||
	    (r = create_count(sv, args, p->project, p->flavor, &p->count, err)) < 0)
		return r;
	return 0;
}

/* The name of server i (1-based) of n: nova's "NAME-i" when there are several. */
static void
nth_name(const char *name, int64_t i, int64_t n, char *ret, size_t size)
{
	if (n == 1)
		snprintf(ret, size, "%s", name);
	else
		snprintf(ret, size, "%s-%lld", name, (long long)i);
}

static json_t *
instance_new(const struct create_plan *p, const char *uuid, const char *name, const char *host,
	     int64_t now)
{
	const char *key = json_string_value(json_object_get(p->args, "key_name"));
	return json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:s, s:n, s:I, s:I, s:s, s:s, "
			 "s:o, s:b, s:o, s:o}",
			 "uuid", uuid, "name", name, "host", host, "image", p->image, "flavor",
			 p->flavor, "properties", json_object_get(p->flavor, "extra_specs"),
			 "vm_state", "building", "task_state", "spawning", "power_state", "nostate",
			 "fault", "created_ms", (json_int_t)now, "updated_ms", (json_int_t)now,
			 "project_id", p->project, "key_name", key ? key : "", "metadata",
			 json_is_object(json_object_get(p->args, "metadata"))
				 ? json_incref(json_object_get(p->args, "metadata"))
				 : json_object(),
			 "config_drive", json_is_true(json_object_get(p->args, "config_drive")),
			 "description",
			 json_is_string(json_object_get(p->args, "description"))
				 ? json_incref(json_object_get(p->args, "description"))
				 : json_null(),
			 "tags",
			 json_is_array(json_object_get(p->args, "tags"))
				 ? json_incref(json_object_get(p->args, "tags"))
				 : json_array());
}

/* Writes every server of the plan; the caller's transaction makes it all or none. */
static int
create_write(struct svc *sv, const struct create_plan *p, int64_t now, json_t *insts,
	     struct hv_error *err)
{
	char name[300];
	int r = 0;
	json_array_clear(p->ports);
	json_array_clear(p->limits);
	for (int64_t i = 1; r == 0 && i <= p->count; i++) {
		nth_name(p->name, i, p->count, name, sizeof name);
		if (strlen(name) > 255)
			return hv_error_set(err, -EINVAL, "args.name",
					    "args.name: '%s' is longer than 255 bytes", name);
		/* placed one by one: the servers written before count against each host */
		char placed[PROTO_MAX_ID + 1], uuid[37];
		json_t *limits = NULL;
		proto_uuid4(uuid);
		if (!p->host && (r = svc_place(sv, uuid, p->flavor, p->args, p->project, p->group,
					       NULL, now, placed, &limits, err)) < 0)
			return r;
		json_array_append_new(p->limits, limits ? limits : json_null());
		json_t *inst = instance_new(p, uuid, name, p->host ? p->host : placed, now),
		       *ports = NULL;
		if (p->host) /* a forced host's new server counts at the next placement too */
			svc_place_dirty(sv, p->host);
		if ((r = store_instance_insert(sv->store, inst, now, err)) == -EEXIST)
			r = hv_error_set(err, -EEXIST, "args.name",
					 "args.name: a server named '%s' already exists", name);
		if (r == 0 && p->nets &&
		    (r = svc_net_ports_create(sv, p->project, field_or(inst, "uuid", ""),
					      field_or(inst, "host", ""), p->nets, p->groups, now,
					      &ports, err)) == 0)
			json_array_append_new(p->ports, ports);
		if (r == 0 && p->group) { /* the next server of this create sees it placed */
			const char *gid = field_or(p->group, "id", ""),
				   *u = field_or(inst, "uuid", "");
			r = store_server_group_add(sv->store, gid, u, err);
			json_array_append_new(json_object_get(p->group, "members"), json_string(u));
		}
		json_array_append_new(insts, inst);
	}
	return r;
}

/* Journals the spawn of a written server; a failure leaves it in error, with the reason. */
static int
create_spawn(struct svc *sv, const struct create_plan *p, json_t *inst, json_t *ports,
	     json_t *limits, int64_t now, char cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	const char *name = json_string_value(json_object_get(inst, "name"));
	const char *uuid = json_string_value(json_object_get(inst, "uuid"));
	json_t *spawn = json_deep_copy(p->spawn);
	char hostname[64];
	json_object_set_new(spawn, "name", json_string(name));
	json_object_set(spawn, "flavor", p->flavor);
	json_object_set_new(spawn, "power_on", json_true());
	if (json_is_object(limits)) { /* placed by the scheduler: the host's claim checks it */
		json_object_set(spawn, "limits", limits);
		json_object_set_new(
			spawn, "placement",
			json_pack("{s:o, s:[]}", "request", svc_place_request(p->args), "tried"));
	}
	hostname_from_name(name, hostname);
	if (*hostname)
		json_object_set_new(spawn, "hostname", json_string(hostname));
	const char *host = json_string_value(json_object_get(inst, "host"));
	/* the zone of the host it was placed on, for the config drive, as nova's metadata */
	json_t *aggs = NULL;
	int r = store_aggregate_list(sv->store, &aggs, err);
	if (r == 0)
		json_object_set_new(spawn, "availability_zone",
				    json_string(svc_host_zone(aggs, host, sv->default_zone)));
	json_decref(aggs);
	/* the host knows the groups and has the ports fenced before the guest exists */
	if (r == 0 && ports)
		r = svc_net_before_spawn(sv, host, p->groups, ports, spawn, now, err);
	if (r == 0)
		r = ctl_queue(sv->ctl, host, uuid, "spawn", spawn, p->secrets, now, cmd_id, err);
	json_decref(spawn);
	if (r < 0)
		store_instance_set_state(sv->store, uuid, "error", "", NULL, err->message, now,
					 NULL);
	return r;
}

int
svc_server_create(struct svc *sv, json_t *args, int64_t now, json_t **ret_instance,
		  char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	struct create_plan p = {.ports = json_array(), .limits = json_array()};
	json_t *insts = json_array(), *servers = json_array();
	/* the quota is read and the servers written in one transaction: no other write can
	 * come between the check and what it allowed */
	int r = store_begin(sv->store, err);
	if (r == 0 && ((r = create_plan(sv, args, now, &p, err)) < 0 ||
		       (r = create_write(sv, &p, now, insts, err)) < 0))
		store_rollback(sv->store);
	else if (r == 0)
		r = store_commit(sv->store, err);
	size_t i;
	json_t *inst;
	json_array_foreach (insts, i, inst) {
		char cmd[PROTO_MAX_ID + 1];
		if (r < 0 && i > 0) /* written but not journaled: never left building */
			store_instance_set_state(
				sv->store, json_string_value(json_object_get(inst, "uuid")),
				"error", "", NULL, "not spawned: the journal failed", now, NULL);
		if (r < 0 || (r = create_spawn(sv, &p, inst, json_array_get(p.ports, i),
					       json_array_get(p.limits, i), now, cmd, err)) < 0)
			continue;
		if (i == 0)
			snprintf(ret_cmd_id, PROTO_MAX_ID + 1, "%s", cmd);
		json_array_append_new(
			servers, json_pack("{s:O, s:O, s:s}", "uuid", json_object_get(inst, "uuid"),
					   "name", json_object_get(inst, "name"), "cmd_id", cmd));
	}
	if (r == 0) {
		/* the first server's record, as written; several: all of them under servers */
		*ret_instance = json_incref(json_array_get(insts, 0));
		if (p.count > 1)
			json_object_set(*ret_instance, "servers", servers);
	}
	json_decref(servers);
	json_decref(insts);
	create_plan_release(&p);
	return r;
}

/* A snapshot's image id: a UUID, as Glance's are (clients tell an id from a name by its
 * shape: novaclient looks a non-UUID up by name and finds nothing). */
static void
snapshot_image_id(char ret[PROTO_MAX_ID + 1])
{
	proto_uuid4(ret);
}

/* The protocol body of an action (docs/protocol.md §6.4) from the API args; secret fields
 * go to secrets, what the caller should see at once (a snapshot's new image, as "image_snapshot") to
 * ret_extra. */
static int
action_body(const char *command, bool hard, json_t *args, json_t *body, json_t *secrets,
	    json_t **ret_extra, struct hv_error *err)
{
	json_t *o = NULL;
	const char *v = NULL;
	int r = 0;
	if (strcmp(command, "reboot") == 0) {
		json_object_set_new(body, "type", json_string(hard ? "hard" : "soft"));
	} else if (strcmp(command, "resize") == 0) {
		if ((r = flavor_from_args(args, &o, err)) < 0)
			return r;
		json_object_set_new(body, "flavor", o);
	} else if (strcmp(command, "rebuild") == 0 || strcmp(command, "rescue") == 0) {
		bool rebuild = command[2] == 'b';
		if ((r = image_from_args(args, "image", rebuild ? HJ_REQUIRED : HJ_OPTIONAL, &o,
					 err)) < 0)
			return r;
		if (o)
			json_object_set_new(body, "image", o);
		if (rebuild && (r = identity_from_args(args, false, body, secrets, err)) < 0)
			return r;
	} else if (strcmp(command, "snapshot") == 0) {
		char id[PROTO_MAX_ID + 1];
		if ((r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &v, err)) < 0)
			return r;
		if (!*v)
			return hv_error_set(err, -EINVAL, "args.name",
					    "args.name: must not be empty");
		snapshot_image_id(id);
		json_object_set_new(body, "image_id", json_string(id));
		json_object_set_new(body, "format", json_string("qcow2"));
		*ret_extra = json_pack("{s:{s:s, s:s, s:s}}", "image_snapshot", "id", id, "name", v,
				       "format", "qcow2");
	} else if (strcmp(command, "get_console") == 0) {
		v = "vnc";
		if ((r = hj_enum(args, "args", "type", HJ_OPTIONAL, "vnc|serial", &v, err)) < 0)
			return r;
		json_object_set_new(body, "type", json_string(v));
	} else if (strcmp(command, "set_admin_password") == 0) {
		const char *user = NULL;
		if ((r = hj_str(args, "args", "password", HJ_REQUIRED, 255, &v, err)) < 0 ||
		    (r = hj_str(args, "args", "user", HJ_OPTIONAL, 32, &user, err)) < 0)
			return r;
		if (!*v)
			return hv_error_set(err, -EINVAL, "args.password",
					    "args.password: must not be empty");
		if (user &&
		    (!*user ||
		     strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(user) ||
		     !strchr("abcdefghijklmnopqrstuvwxyz_", user[0])))
			return hv_error_set(err, -EINVAL, "args.user",
					    "args.user: 1-32 of [a-z_][a-z0-9_-]");
		json_object_set_new(secrets, "password", json_string(v));
		if (user)
			json_object_set_new(body, "user", json_string(user));
	}
	return 0;
}

/* A resize to a catalog flavor (args.flavor its name or id, as a create takes it): its
 * protocol flavor, extra specs included, goes into body and 1 is returned; 0 leaves an
 * inline flavor to action_body. */
static int
resize_catalog_flavor(struct svc *sv, const char *command, json_t *args, const json_t *inst,
		      json_t *body, struct hv_error *err)
{
	const char *name = json_string_value(json_object_get(args, "flavor"));
	json_t *f = NULL;
	if (strcmp(command, "resize") != 0 || !name)
		return 0;
	if (json_object_get(args, "properties"))
		return hv_error_set(err, -EINVAL, "args.properties",
				    "args.properties: only with an inline flavor (a catalog "
				    "flavor carries its extra specs)");
	int r = svc_flavor_for(sv, name, field_or(inst, "project_id", ""), &f, err);
	if (r < 0)
		return r;
	json_object_del(f, "id");
	json_object_set_new(body, "flavor", f);
	return 1;
}

/* The args a command reads besides those of its request (server, action, hard; a console
 * request has only server). */
static const struct {
	enum lc_cmd cmd;
	const char *const args[8];
} command_args[] = {
	{LC_CMD_RESIZE, {"flavor", "properties"}},
	{LC_CMD_REBUILD,
	 {"image", "image_format", "image_properties", "admin_pass", "key_data", "user_data"}},
	{LC_CMD_RESCUE, {"image", "image_format", "image_properties"}},
	{LC_CMD_SNAPSHOT, {"name"}},
	{LC_CMD_GET_CONSOLE, {"type"}},
	{LC_CMD_SET_ADMIN_PASSWORD, {"password", "user"}},
};

static int
check_command_args(enum lc_cmd cmd, json_t *args, struct hv_error *err)
{
	const char *known[16];
	size_t n = 0;
	known[n++] = "server";
	if (cmd != LC_CMD_GET_CONSOLE) {
		known[n++] = "action";
		known[n++] = "hard";
	}
	for (size_t i = 0; i < sizeof command_args / sizeof command_args[0]; i++)
		for (size_t j = 0; command_args[i].cmd == cmd && command_args[i].args[j]; j++)
			known[n++] = command_args[i].args[j];
	known[n] = NULL;
	return hj_known_keys(args, "args", known, err);
}

int
svc_server_command(struct svc *sv, const char *server, const char *action, bool hard, json_t *args,
		   int64_t now, json_t **ret_instance, char ret_cmd_id[PROTO_MAX_ID + 1],
		   struct hv_error *err)
{
	int cmd = action_cmd(action);
	if (cmd < 0)
		return hv_error_set(err, -EINVAL, "args.action",
				    "args.action: '%s' is not an action (see docs/api.md)", action);
	int r = check_command_args((enum lc_cmd)cmd, args, err);
	if (r < 0)
		return r;
	if (hard && cmd != LC_CMD_REBOOT)
		return hv_error_set(err, -EINVAL, "args.hard", "args.hard: only applies to reboot");
	json_t *inst = NULL, *body = json_object(), *secrets = json_object(), *extra = NULL;
	r = store_instance_get(sv->store, server, &inst, err);
	if (r < 0)
		goto out;
	const char *uuid = json_string_value(json_object_get(inst, "uuid"));
	const char *host = json_string_value(json_object_get(inst, "host"));
	const char *vm = json_string_value(json_object_get(inst, "vm_state"));
	const char *task = svc_task_for(action, hard), *command = lc_cmd_name((enum lc_cmd)cmd);
	char u[37], h[PROTO_MAX_ID + 1];
	snprintf(u, sizeof u, "%s", uuid);
	snprintf(h, sizeof h, "%s", host);

	if (strcmp(vm, "deleted") == 0) {
		r = hv_error_set(err, -ENOENT, "server", "server %s is deleted", server);
		goto out;
	}
	/* read-only commands (get_console) run beside a task, as on the agent */
	if (task && store_cmd_inflight_for(sv->store, u, err) > 0) {
		const char *now_task = json_string_value(json_object_get(inst, "task_state"));
		r = hv_error_set(err, -EBUSY, "server",
				 "server %s has a task in flight (%s); retry "
				 "when task_state is empty",
				 server, now_task && *now_task ? now_task : "queued");
		goto out;
	}
	if (!svc_action_allowed(action, hard, vm)) {
		char from[128];
		lc_allowed_text((enum lc_cmd)cmd, hard, from, sizeof from);
		r = hv_error_set(err, -EPERM, "server",
				 "cannot %s%s server %s while it is %s "
				 "(allowed from: %s)",
				 hard ? "hard " : "", action, server, vm, from);
		goto out;
	}
	if ((r = resize_catalog_flavor(sv, command, args, inst, body, err)) < 0 ||
	    (r == 0 && (r = action_body(command, hard, args, body, secrets, &extra, err)) < 0) ||
	    (r = check_host_up(sv, h, now, err)) < 0)
		goto out;
	/* a rebuild or rescue image may be the catalog's, fetched by the host as a spawn's */
	if (json_object_get(body, "image")) {
		const char *ref = field_or(json_object_get(body, "image"), "id", "");
		if ((r = catalog_image(sv, args, field_or(inst, "project_id", ""), body, &ref,
				       err)) < 0 ||
		    (r = image_fits_flavor(body, json_object_get(inst, "flavor"), err)) < 0)
			goto out;
	}
	/* a snapshot is a catalog image, queued until the host's data is taken */
	if (strcmp(command, "snapshot") == 0 &&
	    (r = svc_image_snapshot(sv, inst, json_object_get(extra, "image_snapshot"), now, err)) <
		    0)
		goto out;
	if (task) {
		store_instance_set_state(sv->store, u, NULL, task, NULL, NULL, now, err);
		svc_place_dirty(sv, h); /* a task under way weighs (io_ops) */
	}
	r = ctl_queue(sv->ctl, h, u, command, body, secrets, now, ret_cmd_id, err);
	if (r < 0)
		goto out;
	if (task)
		json_object_set_new(inst, "task_state", json_string(task));
	json_object_set_new(inst, "updated_ms", json_integer(now));
	if (extra)
		json_object_update(inst, extra);
	*ret_instance = inst;
	inst = NULL;
out:
	json_decref(inst);
	json_decref(body);
	json_decref(extra);
	ctl_secrets_free(secrets);
	return r;
}

int
svc_server_action(struct svc *sv, const char *server, const char *action, bool hard, int64_t now,
		  json_t **ret_instance, char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	json_t *args = json_object();
	int r = svc_server_command(sv, server, action, hard, args, now, ret_instance, ret_cmd_id,
				   err);
	json_decref(args);
	return r;
}

int
svc_console_log(struct svc *sv, const char *server, int64_t max_bytes, int64_t now,
		char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	json_t *inst = NULL;
	int r = store_instance_get(sv->store, server, &inst, err);
	if (r < 0)
		return r;
	char u[37], h[PROTO_MAX_ID + 1];
	snprintf(u, sizeof u, "%s", json_string_value(json_object_get(inst, "uuid")));
	snprintf(h, sizeof h, "%s", json_string_value(json_object_get(inst, "host")));
	const char *vm = json_string_value(json_object_get(inst, "vm_state"));
	if (strcmp(vm, "building") == 0 || strcmp(vm, "deleted") == 0)
		r = hv_error_set(err, -EPERM, "server", "server %s is %s: no console yet", server,
				 vm);
	json_decref(inst);
	if (r < 0 || (r = check_host_up(sv, h, now, err)) < 0)
		return r;
	json_t *args = json_pack("{s:I}", "max_bytes", (json_int_t)max_bytes);
	r = ctl_queue(sv->ctl, h, u, "console_log", args, NULL, now, ret_cmd_id, err);
	json_decref(args);
	return r;
}

int
svc_server_list(struct svc *sv, const char *host, bool with_deleted, json_t **ret,
		struct hv_error *err)
{
	return store_instance_list(sv->store, host, with_deleted, ret, err);
}

int
svc_server_get(struct svc *sv, const char *server, json_t **ret, struct hv_error *err)
{
	return store_instance_get(sv->store, server, ret, err);
}

/* Where an evacuated server goes: the host asked (up, enabled, not the one it leaves), else
 * the scheduler's choice (the source, down, is never chosen). */
static int
evacuate_target(struct svc *sv, const json_t *inst, const char *asked, int64_t now,
		char ret[PROTO_MAX_ID + 1], struct hv_error *err)
{
	const char *source = field_or(inst, "host", "");
	int r;
	if (!asked) {
		json_t *place_args = json_pack("{s:s}", "image", field_or(inst, "image", ""));
		r = svc_place(sv, field_or(inst, "uuid", NULL), json_object_get(inst, "flavor"),
			      place_args, field_or(inst, "project_id", ""), NULL, NULL, now, ret,
			      NULL, err);
		json_decref(place_args);
		return r;
	}
	if (!proto_id_valid(asked))
		return hv_error_set(err, -EINVAL, "args.host", "args.host: not a host id");
	if (strcmp(asked, source) == 0)
		return hv_error_set(err, -EINVAL, "args.host",
				    "args.host: '%s' is the host the server is evacuated from",
				    asked);
	if ((r = check_host_up(sv, asked, now, err)) < 0 ||
	    (r = check_host_enabled(sv, asked, err)) < 0) {
		snprintf(err->field, sizeof err->field, "args.host");
		return r;
	}
	snprintf(ret, PROTO_MAX_ID + 1, "%s", asked);
	return 0;
}

/* An operator forced the host down (nova's forced_down): evacuate need not wait for its
 * liveness to lapse. */
static bool
source_forced_down(struct svc *sv, const char *host)
{
	json_t *h = NULL;
	bool down = store_host_get(sv->store, host, &h, NULL) == 0 && svc_host_forced_down(h);
	json_decref(h);
	return down;
}

int
svc_server_evacuate(struct svc *sv, json_t *args, int64_t now, json_t **ret_instance,
		    char ret_cmd_id[PROTO_MAX_ID + 1], struct hv_error *err)
{
	static const char *const keys[] = {"server", "host", "admin_pass", "on_shared_storage",
					   NULL};
	const char *server, *asked = NULL, *pass = NULL, *k;
	char target[PROTO_MAX_ID + 1];
	json_t *inst = NULL, *spawn = NULL, *secrets = json_object(), *v;
	int64_t seen = 0;
	bool shared = false;
	void *tmp;
	int r;
	if ((r = hj_known_keys(args, "args", keys, err)) < 0 ||
	    (r = hj_str(args, "args", "server", HJ_REQUIRED, 255, &server, err)) < 0 ||
	    (r = hj_str(args, "args", "host", HJ_OPTIONAL, PROTO_MAX_ID, &asked, err)) < 0 ||
	    (r = hj_str(args, "args", "admin_pass", HJ_OPTIONAL, 255, &pass, err)) < 0 ||
	    (r = hj_bool(args, "args", "on_shared_storage", HJ_OPTIONAL, &shared, err)) < 0 ||
	    (r = store_instance_get(sv->store, server, &inst, err)) < 0)
		goto out;
	const char *uuid = field_or(inst, "uuid", ""), *source = field_or(inst, "host", ""),
		   *vm = field_or(inst, "vm_state", ""), *task = field_or(inst, "task_state", "");
	if (pass && !*pass) {
		r = hv_error_set(err, -EINVAL, "args.admin_pass",
				 "args.admin_pass: must not be empty");
		goto out;
	}
	/* nova's rule: the disk booted again keeps the password it holds */
	if (pass && shared) {
		r = hv_error_set(err, -EINVAL, "args.admin_pass",
				 "args.admin_pass: a server evacuated on shared storage boots "
				 "its own disk, which keeps its password");
		goto out;
	}
	if (strcmp(vm, "deleted") == 0) {
		r = hv_error_set(err, -ENOENT, "server", "server '%s' is deleted", server);
		goto out;
	}
	if (*task) {
		r = hv_error_set(err, -EBUSY, "server",
				 "server '%s' has task %s in flight; evacuate "
				 "it when the task is over",
				 server, task);
		goto out;
	}
	/* nova's rule: a server that is building, paused or resizing is not evacuated */
	if (strcmp(vm, "active") != 0 && strcmp(vm, "stopped") != 0 && strcmp(vm, "error") != 0) {
		r = hv_error_set(err, -EPERM, "server",
				 "server '%s' is %s: only an active, stopped "
				 "or error server is evacuated",
				 server, vm);
		goto out;
	}
	store_host_last_seen(sv->store, source, &seen, NULL);
	seen = ctl_heard_ms(sv->ctl, source, seen);
	if (reg_state_at(seen, now, &sv->liveness) != REG_DOWN && !source_forced_down(sv, source)) {
		r = hv_error_set(err, -EPERM, "server",
				 "the host of server '%s', %s, is not down (heard %lld s ago): "
				 "evacuate only from a host that is down, after fencing it",
				 server, source, (long long)((now - seen) / 1000));
		goto out;
	}
	if ((r = evacuate_target(sv, inst, asked, now, target, err)) < 0)
		goto out;
	r = store_cmd_last_args(sv->store, uuid, "spawn", &spawn, err);
	if (r == -ENOENT)
		r = hv_error_set(err, -ENOENT, "server",
				 "server '%s' has no journaled spawn to "
				 "rebuild it from",
				 server);
	if (r < 0)
		goto out;
	/* rebuilt from its image: the secrets it was built with are not kept anywhere */
	json_object_foreach_safe (spawn, tmp, k, v)
		if (strlen(k) > 9 && strcmp(k + strlen(k) - 9, "_redacted") == 0)
			json_object_del(spawn, k);
	/* the limits were the first host's: the new one is not held to them */
	json_object_del(spawn, "limits");
	json_object_del(spawn, "placement");
	if (pass)
		json_object_set_new(secrets, "admin_pass", json_string(pass));
	/* nova's: a stopped server is rebuilt stopped, an active or errored one runs */
	json_object_set_new(spawn, "power_on", json_boolean(strcmp(vm, "stopped") != 0));
	/* on shared storage the target boots the disk the source wrote, rebuilding nothing */
	if (shared)
		json_object_set_new(spawn, "reuse_disk", json_true());
	if ((r = svc_net_evacuate(sv, inst, target, spawn, now, err)) < 0)
		goto out;
	svc_place_dirty(sv, source);
	svc_place_dirty(sv, target);
	if ((r = store_instance_evacuate(sv->store, uuid, target, now, err)) == -ENOENT)
		r = hv_error_set(err, -ENOENT, "server", "server '%s' is deleted", server);
	if (r < 0 || (r = ctl_queue(sv->ctl, target, uuid, "spawn", spawn, secrets, now, ret_cmd_id,
				    err)) < 0)
		goto out;
	/* what is left on the old host is destroyed when it returns, before anything could
	 * start it again; journaled without a deadline. A shared disk is the target's now. */
	if ((r = ctl_queue_leftover_destroy(sv->ctl, source, uuid, !shared, now)) < 0) {
		r = hv_error_set(err, r, "server", "cannot journal the destroy of its leftover");
		goto out;
	}
	r = svc_server_show(sv, uuid, ret_instance, err);
out:
	json_decref(inst);
	json_decref(spawn);
	ctl_secrets_free(secrets);
	return r;
}

int
svc_server_destroyed(struct svc *sv, const char *host, const char *uuid, int64_t now,
		     struct hv_error *err)
{
	/* only now: a guest whose destroy failed still holds its addresses, which must not
	 * go to another server meanwhile */
	int r = store_begin(sv->store, err);
	if (r == 0)
		r = svc_net_ports_release(sv, host, uuid, now, err);
	if (r < 0) {
		store_rollback(sv->store);
		return r;
	}
	return store_commit(sv->store, err);
}

int
svc_server_rename(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const keys[] = {"server", "name", NULL};
	const char *server, *name;
	json_t *inst = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", keys, err)) < 0 ||
	    (r = hj_str(args, "args", "server", HJ_REQUIRED, 255, &server, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = create_name_check(name, err)) < 0 ||
	    (r = store_instance_get(sv->store, server, &inst, err)) < 0)
		return r;
	r = store_instance_rename(sv->store, field_or(inst, "uuid", ""), name, now, err);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: a server named '%s' already exists", name);
	else if (r == -ENOENT)
		r = hv_error_set(err, -ENOENT, "server", "server '%s' is deleted", server);
	if (r == 0)
		r = svc_server_show(sv, field_or(inst, "uuid", ""), ret, err);
	json_decref(inst);
	return r;
}

int
svc_server_metadata(struct svc *sv, json_t *args, int64_t now_ms, json_t **ret,
		    struct hv_error *err)
{
	static const char *const keys[] = {"server", "set", "replace", "unset", NULL};
	const char *server;
	bool replace = false;
	json_t *inst = NULL, *set = NULL, *unset = NULL, *meta;
	int r;
	if ((r = hj_known_keys(args, "args", keys, err)) < 0 ||
	    (r = hj_str(args, "args", "server", HJ_REQUIRED, 255, &server, err)) < 0 ||
	    (r = hj_obj(args, "args", "set", HJ_OPTIONAL, &set, err)) < 0 ||
	    (r = hj_bool(args, "args", "replace", HJ_OPTIONAL, &replace, err)) < 0 ||
	    (r = hj_arr(args, "args", "unset", HJ_OPTIONAL, META_MAX, &unset, err)) < 0 ||
	    (r = store_instance_get(sv->store, server, &inst, err)) < 0)
		return r;
	if (strcmp(field_or(inst, "vm_state", ""), "deleted") == 0) {
		json_decref(inst);
		return hv_error_set(err, -ENOENT, "server", "server '%s' is deleted", server);
	}
	meta = replace || !json_is_object(json_object_get(inst, "metadata"))
		       ? json_object()
		       : json_deep_copy(json_object_get(inst, "metadata"));
	size_t i, have = json_object_size(meta);
	json_t *k;
	if (set && !replace) { /* keys set again do not count twice */
		const char *key;
		json_t *v;
		json_object_foreach (set, key, v)
			have -= json_object_get(meta, key) != NULL;
	}
	r = metadata_check(set, "set", have, err);
	json_array_foreach (unset, i, k) {
		if (r == 0 && !json_object_get(meta, json_string_value(k)))
			r = hv_error_set(err, -ENOENT, "args.unset", "Metadata item was not found");
		else if (r == 0)
			json_object_del(meta, json_string_value(k));
	}
	if (r == 0 && set)
		json_object_update(meta, set);
	if (r == 0)
		r = store_instance_set_metadata(sv->store, field_or(inst, "uuid", ""), meta, now_ms,
						err);
	json_decref(inst);
	if (r < 0) {
		json_decref(meta);
		return r;
	}
	*ret = meta;
	return 0;
}

int
svc_server_actions(struct svc *sv, const char *server, json_t **ret, struct hv_error *err)
{
	json_t *inst = NULL;
	int r = store_instance_get(sv->store, server, &inst, err);
	if (r == 0)
		r = store_cmd_list_for(sv->store, field_or(inst, "uuid", ""), 1000, ret, err);
	json_decref(inst);
	return r;
}

int
svc_server_views(struct svc *sv, json_t *insts, struct hv_error *err)
{
	json_t *aggs = NULL, *status = NULL, *inst; /* nova's OS-EXT-AZ:availability_zone: its
							host's zone now */
	int r = store_aggregate_list(sv->store, &aggs, err);
	size_t i;
	svc_net_server_view(sv, insts, NULL);
	if (r == 0)
		r = svc_host_statuses(sv, proto_now_ms(), &status, err);
	json_array_foreach (insts, i, inst) {
		const char *host = field_or(inst, "host", "");
		const char *st = field_or(status, host, *host ? "UNKNOWN" : "");
		json_object_set_new(inst, "availability_zone",
				    json_string(svc_host_zone(aggs, host, sv->default_zone)));
		json_object_set_new(inst, "host_status", json_string(st));
	}
	json_decref(status);
	json_decref(aggs);
	return r < 0 ? r : 0;
}

int
svc_server_show(struct svc *sv, const char *server, json_t **ret, struct hv_error *err)
{
	json_t *inst = NULL, *hist = NULL;
	int r = store_instance_get(sv->store, server, &inst, err);
	if (r < 0)
		return r;
	if (store_cmd_list_for(sv->store, json_string_value(json_object_get(inst, "uuid")), 5,
			       &hist, err) == 0)
		json_object_set_new(inst, "recent_commands", hist);
	json_t *one = json_pack("[O]", inst);
	svc_server_views(sv, one, NULL);
	json_decref(one);
	*ret = inst;
	return 0;
}
