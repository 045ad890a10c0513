/* os_compute.c - the Compute 2.1 subset of the REST front: the version documents and
 * microversion negotiation (2.1 to MV_MAX), servers (create, list paged and sorted and
 * encoded straight to JSON text, show, rename, delete and the actions of the lifecycle
 * table) in nova's shapes at the request's microversion, and the routing of the rest
 * (os_catalog.c, os_admin.c, os_actions.c). Which project a request may see is decided
 * here from its token (admin: any; others: their own, and what is not theirs is "not
 * found"); every other rule is the service layer's. */
#include "os-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api.h"
#include "ids.h"
#include "json.h"

/* The highest microversion served: every change of a resource served here up to it is
 * honoured (docs/openstack-api.md lists them). */
#define MV_MAX_MINOR 60
#define MV_MAX "2.60"

/* ---- shapes ------------------------------------------------------------------------- */

json_t *
os_links(const struct os_front *f, const char *coll, const char *id)
{
	char self[400], book[400];
	snprintf(self, sizeof self, "%s/compute/v2.1/%s/%s", f->public_url, coll, id);
	snprintf(book, sizeof book, "%s/compute/%s/%s", f->public_url, coll, id);
	return json_pack("[{s:s, s:s}, {s:s, s:s}]", "rel", "self", "href", self, "rel", "bookmark",
			 "href", book);
}

/* nova's status from (vm_state, task_state): api/openstack/common.py's table. */
static const char *
server_status(const char *vm, const char *task)
{
	static const struct {
		const char *vm, *task, *status;
	} map[] = {
		{"active", "rebooting", "REBOOT"},
		{"active", "rebooting_hard", "HARD_REBOOT"},
		{"active", "rebuilding", "REBUILD"},
		{"active", "resize_migrating", "RESIZE"},
		{"active", "updating_password", "PASSWORD"},
		{"stopped", "resize_migrating", "RESIZE"},
		{"stopped", "rebuilding", "REBUILD"},
		{"resized", "resize_reverting", "REVERT_RESIZE"},
		{"active", NULL, "ACTIVE"},
		{"building", NULL, "BUILD"},
		{"stopped", NULL, "SHUTOFF"},
		{"paused", NULL, "PAUSED"},
		{"suspended", NULL, "SUSPENDED"},
		{"rescued", NULL, "RESCUE"},
		{"resized", NULL, "VERIFY_RESIZE"},
		{"error", NULL, "ERROR"},
		{"deleted", NULL, "DELETED"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].vm, vm) == 0 && (!map[i].task || strcmp(map[i].task, task) == 0))
			return map[i].status;
	return "UNKNOWN";
}

/* OS-EXT-STS:power_state as nova's integers. */
static int
power_state(const char *p)
{
	static const char *const names[] = {"nostate",  "running", "",        "paused",
					    "shutdown", "",        "crashed", "suspended"};
	for (int i = 0; i < 8; i++)
		if (*names[i] && strcmp(names[i], p) == 0)
			return i;
	return 0;
}

/* A server keeps its flavor's copy by name; the id is the catalog's, while it lasts.
 * ids caches name -> id for the servers of one reply. */
static const char *
flavor_id_of(const struct os_front *f, const char *name, json_t *ids)
{
	struct hv_error err = {0};
	json_t *cat = NULL;
	const char *id = json_string_value(json_object_get(ids, name));
	if (id || !*name)
		return id ? id : name;
	if (svc_flavor_show(f->svc, name, &cat, &err) == 0)
		json_object_set(ids, name, json_object_get(cat, "id"));
	else
		json_object_set_new(ids, name, json_string(name));
	json_decref(cat);
	return json_string_value(json_object_get(ids, name));
}

static void
jw_links(struct os_jw *w, const struct os_front *f, const char *coll, const char *id)
{
	char href[400];
	os_jw_open(w, "links", '[');
	os_jw_open(w, NULL, '{');
	os_jw_str(w, "rel", "self");
	snprintf(href, sizeof href, "%s/compute/v2.1/%s/%s", f->public_url, coll, id);
	os_jw_str(w, "href", href);
	os_jw_close(w, '}');
	os_jw_open(w, NULL, '{');
	os_jw_str(w, "rel", "bookmark");
	snprintf(href, sizeof href, "%s/compute/%s/%s", f->public_url, coll, id);
	os_jw_str(w, "href", href);
	os_jw_close(w, '}');
	os_jw_close(w, ']');
}

/* The server's flavor: {id, links} before 2.47, its own copy embedded from 2.47. */
static void
jw_server_flavor(struct os_jw *w, const struct os_front *f, const struct os_req *q, const json_t *s,
		 json_t *ids)
{
	const json_t *fl = json_object_get(s, "flavor");
	os_jw_open(w, "flavor", '{');
	if (os_mv(q, 47)) {
		os_jw_int(w, "vcpus", os_num(fl, "vcpus"));
		os_jw_int(w, "ram", os_num(fl, "ram_mb"));
		os_jw_int(w, "disk", os_num(fl, "root_gb"));
		os_jw_int(w, "ephemeral", os_num(fl, "ephemeral_gb"));
		os_jw_int(w, "swap", os_num(fl, "swap_mb"));
		os_jw_str(w, "original_name", os_field(fl, "name"));
		const json_t *specs = json_object_get(fl, "extra_specs");
		if (json_is_object(specs))
			os_jw_json(w, "extra_specs", specs);
		else
			os_jw_raw(w, "extra_specs", "{}");
	} else {
		const char *id = flavor_id_of(f, os_field(fl, "name"), ids);
		os_jw_str(w, "id", id);
		jw_links(w, f, "flavors", id);
	}
	os_jw_close(w, '}');
}

/* One server in nova's shape at the request's microversion, as the object member (NULL:
 * an array's element); extra (may be NULL) adds members of its own (rebuild's adminPass).
 * ids caches flavor name -> id for the servers of one reply. */
static void
jw_server(struct os_jw *w, const char *member, const struct os_front *f, const struct os_req *q,
	  const json_t *s, json_t *ids, const json_t *extra)
{
	char created[32], updated[32];
	const char *id = os_field(s, "uuid"), *vm = os_field(s, "vm_state"),
		   *task = os_field(s, "task_state"), *key = os_field(s, "key_name");
	const json_t *addr = json_object_get(s, "addresses"),
		     *groups = json_object_get(s, "security_groups");
	os_time(os_num(s, "created_ms"), created);
	os_time(os_num(s, "updated_ms"), updated);
	os_jw_open(w, member, '{');
	os_jw_str(w, "id", id);
	os_jw_str(w, "name", os_field(s, "name"));
	os_jw_str(w, "status", server_status(vm, task));
	os_jw_str(w, "tenant_id", os_field(s, "project_id"));
	os_jw_str(w, "user_id", "");
	const json_t *meta = json_object_get(s, "metadata");
	if (json_is_object(meta))
		os_jw_json(w, "metadata", meta);
	else
		os_jw_raw(w, "metadata", "{}");
	os_jw_str(w, "hostId", "");
	os_jw_open(w, "image", '{');
	os_jw_str(w, "id", os_field(s, "image"));
	jw_links(w, f, "images", os_field(s, "image"));
	os_jw_close(w, '}');
	jw_server_flavor(w, f, q, s, ids);
	os_jw_str(w, "created", created);
	os_jw_str(w, "updated", updated);
	if (json_is_object(addr))
		os_jw_json(w, "addresses", addr);
	else
		os_jw_raw(w, "addresses", "{}");
	os_jw_str(w, "accessIPv4", "");
	os_jw_str(w, "accessIPv6", "");
	jw_links(w, f, "servers", id);
	os_jw_str(w, "OS-DCF:diskConfig", "MANUAL");
	os_jw_int(w, "progress", 0);
	os_jw_str(w, "OS-EXT-AZ:availability_zone",
		  json_object_get(s, "availability_zone") ? os_field(s, "availability_zone")
							  : "nova");
	os_jw_str(w, "config_drive",
		  json_is_true(json_object_get(s, "config_drive")) ? "True" : "");
	os_jw_str(w, "key_name", *key ? key : NULL);
	os_jw_str(w, "OS-EXT-STS:vm_state", vm);
	os_jw_str(w, "OS-EXT-STS:task_state", *task ? task : NULL);
	os_jw_int(w, "OS-EXT-STS:power_state", power_state(os_field(s, "power_state")));
	os_jw_str(w, "OS-SRV-USG:launched_at", strcmp(vm, "building") ? created : NULL);
	os_jw_raw(w, "OS-SRV-USG:terminated_at", "null");
	os_jw_raw(w, "os-extended-volumes:volumes_attached", "[]");
	if (json_array_size(groups))
		os_jw_json(w, "security_groups", groups);
	else
		os_jw_raw(w, "security_groups", "[{\"name\":\"default\"}]");
	if (os_is_admin(q)) {
		os_jw_str(w, "OS-EXT-SRV-ATTR:host", os_field(s, "host"));
		os_jw_str(w, "OS-EXT-SRV-ATTR:hypervisor_hostname", os_field(s, "host"));
		os_jw_str(w, "OS-EXT-SRV-ATTR:instance_name", id);
	}
	if (os_is_admin(q) && os_mv(q, 3)) {
		os_jw_str(w, "OS-EXT-SRV-ATTR:hostname", os_field(s, "name"));
		os_jw_str(w, "OS-EXT-SRV-ATTR:reservation_id", "");
		os_jw_int(w, "OS-EXT-SRV-ATTR:launch_index", 0);
		os_jw_str(w, "OS-EXT-SRV-ATTR:kernel_id", "");
		os_jw_str(w, "OS-EXT-SRV-ATTR:ramdisk_id", "");
		os_jw_str(w, "OS-EXT-SRV-ATTR:root_device_name", "/dev/vda");
		os_jw_raw(w, "OS-EXT-SRV-ATTR:user_data", "null");
	}
	if (os_mv(q, 9))
		os_jw_raw(w, "locked", "false");
	if (os_mv(q, 16) && os_is_admin(q))
		os_jw_str(w, "host_status", os_field(s, "host_status"));
	if (os_mv(q, 19))
		os_jw_json(w, "description", json_object_get(s, "description"));
	if (os_mv(q, 26) && json_is_array(json_object_get(s, "tags")))
		os_jw_json(w, "tags", json_object_get(s, "tags"));
	else if (os_mv(q, 26))
		os_jw_raw(w, "tags", "[]");
	const char *fault = os_field(s, "fault");
	if (strcmp(vm, "error") == 0 && *fault) {
		os_jw_open(w, "fault", '{');
		os_jw_int(w, "code", 500);
		os_jw_str(w, "created", updated);
		os_jw_str(w, "message", fault);
		os_jw_str(w, "details", "");
		os_jw_close(w, '}');
	}
	const char *k;
	const json_t *v;
	json_object_foreach ((json_t *)extra, k, v)
		os_jw_json(w, k, v);
	os_jw_close(w, '}');
}

/* {"server": {...}} of one record, shown as svc_server_show answers it. */
static void
server_reply(struct os_front *f, struct os_req *q, unsigned status, const json_t *s,
	     const json_t *extra)
{
	struct os_jw w = {0};
	json_t *ids = json_object();
	os_jw_open(&w, NULL, '{');
	jw_server(&w, "server", f, q, s, ids, extra);
	os_jw_close(&w, '}');
	json_decref(ids);
	os_reply_jw(q, status, &w);
}

/* ---- the version documents and microversions ----------------------------------------- */

static json_t *
version_doc(const struct os_front *f)
{
	char href[300];
	snprintf(href, sizeof href, "%s/compute/v2.1/", f->public_url);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", "v2.1",
			 "status", "CURRENT", "version", MV_MAX, "min_version", "2.1", "updated",
			 "2013-07-23T11:33:21Z", "links", "rel", "self", "href", href,
			 "media-types", "base", "application/json", "type",
			 "application/vnd.openstack.compute+json;version=2.1");
}

/* The version asked: OpenStack-API-Version's "compute X" (among services, comma-separated)
 * wins over X-OpenStack-Nova-API-Version; into buf, "" when neither asks. */
static void
microversion_asked(const struct os_req *q, char buf[32])
{
	const char *v = q->mv_old ? q->mv_old : "";
	for (const char *p = q->mv_new; p && *p; p += strcspn(p, ","), p += *p == ',') {
		p += strspn(p, " \t");
		if (strncasecmp(p, "compute", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
			v = p + 7 + strspn(p + 7, " \t");
			break;
		}
	}
	size_t n = strcspn(v, " \t,");
	snprintf(buf, 32, "%.*s", (int)(n < 31 ? n : 31), v);
}

/* Sets q->mv from the request's headers (none: 2.1; "latest": the maximum) and the reply's
 * version headers; false after replying 400 (not MAJOR.MINOR) or 406 (outside the range). */
static bool
microversion_ok(struct os_req *q)
{
	char v[32], *end, now[16];
	microversion_asked(q, v);
	unsigned long major = 2, minor = 1;
	bool valid = true;
	if (strcasecmp(v, "latest") == 0) {
		minor = MV_MAX_MINOR;
	} else if (*v) {
		major = strtoul(v, &end, 10);
		valid = end != v && *end == '.' && end[1] >= '0' && end[1] <= '9';
		if (valid) {
			minor = strtoul(end + 1, &end, 10);
			valid = !*end && end - v < 12;
		}
	}
	q->mv = 1;
	if (!valid) {
		os_error(q, 400,
			 "API Version String %.20s is of invalid format. Must be of format "
			 "MajorNum.MinorNum.",
			 v);
		return false;
	}
	if (major != 2 || minor < 1 || minor > MV_MAX_MINOR) {
		os_header(q, "OpenStack-API-Version", "compute " MV_MAX);
		os_header(q, "X-OpenStack-Nova-API-Version", MV_MAX);
		os_header(q, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
		os_error(q, 406,
			 "Version %.20s is not supported by the API. Minimum is 2.1 and maximum "
			 "is " MV_MAX ".",
			 v);
		return false;
	}
	q->mv = (unsigned)minor;
	snprintf(now, sizeof now, "2.%u", q->mv);
	char both[24];
	snprintf(both, sizeof both, "compute %s", now);
	os_header(q, "OpenStack-API-Version", both);
	os_header(q, "X-OpenStack-Nova-API-Version", now);
	os_header(q, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
	return true;
}

/* ---- servers -------------------------------------------------------------------------- */

static bool
mine(const struct os_req *q, const json_t *o)
{
	return os_is_admin(q) ||
	       strcmp(os_field(o, "project_id"), os_field(q->auth, "project_id")) == 0;
}

json_t *
os_server_find(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *s = NULL;
	if (!hj_is_uuid(id) || svc_server_get(f->svc, id, &s, &err) < 0 ||
	    strcmp(os_field(s, "vm_state"), "deleted") == 0 || !mine(q, s)) {
		json_decref(s);
		os_error(q, 404, "Instance %s could not be found.", id);
		return NULL;
	}
	return s;
}

bool
os_reader_refused(struct os_req *q)
{
	if (strcmp(os_field(q->auth, "role"), "reader") != 0)
		return false;
	os_error(q, 403,
		 "Policy doesn't allow this operation to be performed: the reader role "
		 "only reads.");
	return true;
}

bool
os_admin_refused(struct os_req *q, const char *rule)
{
	if (os_policy_allows(q->front ? q->front->policy : NULL, rule, os_field(q->auth, "role")))
		return false;
	os_error(q, 403, "Policy doesn't allow %s to be performed.", rule);
	return true;
}

/* The last path segment of a reference (nova takes ids or their URLs). */
static const char *
ref_id(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	return slash ? slash + 1 : ref;
}

/* nova's valid status filters (2.38: any other is a 400). */
static bool
status_known(const char *v)
{
	static const char *const known[] = {
		"ACTIVE",    "BUILD",        "DELETED",       "ERROR",   "HARD_REBOOT",
		"MIGRATING", "PASSWORD",     "PAUSED",        "REBOOT",  "REBUILD",
		"RESCUE",    "RESIZE",       "REVERT_RESIZE", "SHELVED", "SHELVED_OFFLOADED",
		"SHUTOFF",   "SOFT_DELETED", "SUSPENDED",     "UNKNOWN", "VERIFY_RESIZE"};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcasecmp(v, known[i]) == 0)
			return true;
	return false;
}

static bool
query_match(const struct os_req *q, const json_t *s)
{
	const char *v;
	if ((v = os_query(q, "name")) && !strstr(os_field(s, "name"), v))
		return false;
	if ((v = os_query(q, "status")) &&
	    strcasecmp(v, server_status(os_field(s, "vm_state"), os_field(s, "task_state"))) != 0)
		return false;
	if ((v = os_query(q, "host")) && os_is_admin(q) && strcmp(v, os_field(s, "host")) != 0)
		return false;
	if ((v = os_query(q, "image")) && strcmp(ref_id(v), os_field(s, "image")) != 0)
		return false;
	if ((v = os_query(q, "flavor")) &&
	    strcmp(ref_id(v), os_field(json_object_get(s, "flavor"), "name")) != 0)
		return false;
	return os_tags_match(q, s);
}

/* nova's sort keys and the record's fields they order by (created_ms and updated_ms as
 * numbers, the rest as text). */
static const struct {
	const char *key, *field;
} sort_keys[] = {
	{"created_at", "created_ms"},
	{"updated_at", "updated_ms"},
	{"launched_at", "created_ms"},
	{"display_name", "name"},
	{"hostname", "name"},
	{"uuid", "uuid"},
	{"vm_state", "vm_state"},
	{"task_state", "task_state"},
	{"power_state", "power_state"},
	{"host", "host"},
	{"node", "host"},
	{"project_id", "project_id"},
	{"image_ref", "image"},
	{"key_name", "key_name"},
	{"user_id", "user_id"},
};

#define MAX_SORT 8

struct sort_spec {
	const char *field[MAX_SORT];
	bool desc[MAX_SORT];
	size_t n;
};

static int
sort_cmp(const json_t *a, const json_t *b, const struct sort_spec *sp)
{
	for (size_t i = 0; i < sp->n; i++) {
		int c;
		const char *k = sp->field[i];
		if (strcmp(k, "created_ms") == 0 || strcmp(k, "updated_ms") == 0)
			c = (os_num(a, k) > os_num(b, k)) - (os_num(a, k) < os_num(b, k));
		else
			c = strcmp(os_field(a, k), os_field(b, k));
		if (c)
			return sp->desc[i] ? -c : c;
	}
	return 0;
}

static const struct sort_spec *sort_now; /* qsort has no context argument */

static int
sort_qcmp(const void *a, const void *b)
{
	return sort_cmp(*(json_t *const *)a, *(json_t *const *)b, sort_now);
}

/* sort_key / sort_dir (each repeatable, paired in order; nova's default created_at desc),
 * then uuid desc so that a marker always names one place; -1 after replying 400. */
static int
sort_spec_of(struct os_req *q, struct sort_spec *sp)
{
	const json_t *keys = os_query_all(q, "sort_key"), *dirs = os_query_all(q, "sort_dir");
	size_t n = json_array_size(keys) ? json_array_size(keys) : 1;
	if (n >= MAX_SORT || json_array_size(dirs) > n) {
		os_error(q, 400, "Invalid sort: at most %d sort_key, one sort_dir each",
			 MAX_SORT - 1);
		return -1;
	}
	sp->n = 0;
	for (size_t i = 0; i < n; i++) {
		const char *k = json_array_size(keys) ? json_string_value(json_array_get(keys, i))
						      : "created_at";
		const char *d = json_string_value(json_array_get(dirs, i));
		size_t j = 0;
		while (k && j < sizeof sort_keys / sizeof sort_keys[0] &&
		       strcmp(sort_keys[j].key, k) != 0)
			j++;
		if (!k || j == sizeof sort_keys / sizeof sort_keys[0]) {
			os_error(q, 400,
				 "Invalid input for field/attribute sort_key. Value: %.64s.",
				 k ? k : "");
			return -1;
		}
		if (d && strcmp(d, "asc") != 0 && strcmp(d, "desc") != 0) {
			os_error(q, 400,
				 "Invalid input for field/attribute sort_dir. Value: %.64s.", d);
			return -1;
		}
		sp->field[sp->n] = sort_keys[j].field;
		/* an unpaired key takes the last direction given, desc when none */
		if (!d && json_array_size(dirs))
			d = json_string_value(json_array_get(dirs, json_array_size(dirs) - 1));
		sp->desc[sp->n++] = !d || strcmp(d, "desc") == 0;
	}
	sp->field[sp->n] = "uuid";
	sp->desc[sp->n] = sp->desc[sp->n - 1];
	sp->n++;
	return 0;
}

#define MAX_LIMIT 1000

/* A marker no longer listed: nova still finds a deleted server (Horizon lists from the
 * row it has just deleted), and the page starts where that server would sort. */
static int
marker_deleted(struct os_front *f, struct os_req *q, json_t **all, size_t n, const char *m,
	       size_t *first)
{
	struct hv_error err = {0};
	json_t *rec = NULL;
	if (!hv_uuid_valid(m) || svc_server_show(f->svc, m, &rec, &err) < 0 || !mine(q, rec) ||
	    strcmp(os_field(rec, "vm_state"), "deleted") != 0) {
		json_decref(rec);
		return -1;
	}
	for (*first = 0; *first < n && sort_cmp(all[*first], rec, sort_now) < 0; (*first)++)
		;
	json_decref(rec);
	return 0;
}

/* limit (0..; at most MAX_LIMIT) and marker (a server of the list: the page starts after
 * it); -1 after replying 400. */
static int
page_of(struct os_front *f, struct os_req *q, json_t **all, size_t n, size_t *first, size_t *count)
{
	const char *l = os_query(q, "limit"), *m = os_query(q, "marker");
	long long limit = MAX_LIMIT;
	char *end;
	if (l) {
		limit = strtoll(l, &end, 10);
		if (!*l || *end || limit < 0) {
			os_error(q, 400, "limit param must be an integer (got %.32s)", l);
			return -1;
		}
		if (limit > MAX_LIMIT)
			limit = MAX_LIMIT;
	}
	*first = 0;
	if (m) {
		while (*first < n && strcmp(os_field(all[*first], "uuid"), m) != 0)
			(*first)++;
		if (*first < n) {
			(*first)++;
		} else if (marker_deleted(f, q, all, n, m, first) < 0) {
			os_error(q, 400, "marker [%.64s] not found", m);
			return -1;
		}
	}
	*count = n - *first < (size_t)limit ? n - *first : (size_t)limit;
	return 0;
}

/* The servers the request may list: its project's; an admin's all_tenants every project's
 * (project_id narrowing them); -1 after replying. */
static int
servers_visible(struct os_front *f, struct os_req *q, json_t **ret)
{
	struct hv_error err = {0};
	json_t *list = NULL, *out = json_array(), *s;
	const char *all = os_query(q, "all_tenants"), *v = os_query(q, "status");
	bool every = os_is_admin(q) && all && strcmp(all, "0") != 0 && strcasecmp(all, "false");
	const char *project = os_query(q, "project_id");
	if (!project)
		project = os_query(q, "tenant_id");
	if (v && !status_known(v)) {
		json_decref(out);
		os_error(q, 400, "Invalid status value: %.32s", v);
		return -1;
	}
	int r = svc_server_list(f->svc, NULL, false, &list, &err);
	if (r < 0) {
		json_decref(out);
		os_svc_error(q, r, &err);
		return -1;
	}
	size_t i;
	json_array_foreach (list, i, s) {
		const char *owner = os_field(s, "project_id");
		if (!every && !(project && os_is_admin(q)) &&
		    strcmp(owner, os_field(q->auth, "project_id")) != 0)
			continue;
		if (project && os_is_admin(q) && strcmp(owner, project) != 0)
			continue;
		if (query_match(q, s))
			json_array_append(out, s);
	}
	json_decref(list);
	*ret = out;
	return 0;
}

static void
servers_list(struct os_front *f, struct os_req *q, bool detail)
{
	struct hv_error err = {0};
	struct sort_spec sp;
	json_t *list = NULL, *page = NULL, *ids = NULL, *s;
	json_t **all = NULL;
	size_t n, first, count;
	if (sort_spec_of(q, &sp) < 0 || servers_visible(f, q, &list) < 0)
		return;
	n = json_array_size(list);
	if (n && !(all = calloc(n, sizeof *all))) {
		os_error(q, 503, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		all[i] = json_array_get(list, i);
	sort_now = &sp;
	if (n > 1) /* an empty list has no array to sort */
		qsort(all, n, sizeof *all, sort_qcmp);
	if (page_of(f, q, all, n, &first, &count) < 0)
		goto out;
	page = json_array();
	for (size_t i = first; i < first + count; i++)
		json_array_append(page, all[i]);
	if (detail)
		svc_server_views(f->svc, page, &err);
	struct os_jw w = {0};
	ids = json_object();
	os_jw_reserve(&w, count * (detail ? 1536 : 256)); /* a server's view: about 1.4 KiB */
	os_jw_open(&w, NULL, '{');
	os_jw_open(&w, "servers", '[');
	size_t i;
	json_array_foreach (page, i, s) {
		if (detail) {
			jw_server(&w, NULL, f, q, s, ids, NULL);
			continue;
		}
		os_jw_open(&w, NULL, '{');
		os_jw_str(&w, "id", os_field(s, "uuid"));
		os_jw_str(&w, "name", os_field(s, "name"));
		jw_links(&w, f, "servers", os_field(s, "uuid"));
		os_jw_close(&w, '}');
	}
	os_jw_close(&w, ']');
	if (count && first + count < n) {
		/* more after this page: nova's link to the next one */
		char href[600];
		snprintf(href, sizeof href, "%s/compute/v2.1/servers%s?limit=%zu&marker=%s",
			 f->public_url, detail ? "/detail" : "", count,
			 os_field(all[first + count - 1], "uuid"));
		os_jw_open(&w, "servers_links", '[');
		os_jw_open(&w, NULL, '{');
		os_jw_str(&w, "rel", "next");
		os_jw_str(&w, "href", href);
		os_jw_close(&w, '}');
		os_jw_close(&w, ']');
	}
	os_jw_close(&w, '}');
	os_reply_jw(q, 200, &w);
out:
	free(all);
	json_decref(ids);
	json_decref(page);
	json_decref(list);
}

/* nova's random admin password: 12 of letters and digits. */
static void
admin_pass_new(char ret[13])
{
	static const char abc[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	for (int i = 0; i < 12; i++)
		ret[i] = abc[randombytes_uniform(sizeof abc - 1)];
	ret[12] = '\0';
}

/* The list under key of [{sub: "NAME"}] as args[key] = ["NAME", ...]; -1 after replying
 * 400 naming the entry. */
static int
ref_list(struct os_req *q, json_t *list, const char *key, const char *sub, json_t *a)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach (list, i, v) {
		const char *ref = json_string_value(json_object_get(v, sub));
		if (!ref || !*ref) {
			json_decref(out);
			os_error(q, 400,
				 "Invalid input for field/attribute %s[%zu]: \"%s\" is required",
				 key, i, sub);
			return -1;
		}
		json_array_append_new(out, json_string(ref));
	}
	json_object_set_new(a, key, out);
	return 0;
}

/* networks: "auto" and "none" (nova's 2.37 words; hvcentral makes no network by itself, so
 * both mean no port) or [{"uuid"}], one port each, and security_groups [{"name"}]. A
 * pre-made port ({"port"}) is refused: ports are made with their server here. */
static int
net_args(struct os_req *q, json_t *srv, json_t *a)
{
	json_t *nets = json_object_get(srv, "networks"), *groups;
	const char *word = json_string_value(nets);
	if (word && strcmp(word, "auto") != 0 && strcmp(word, "none") != 0) {
		os_error(q, 400,
			 "Invalid input for field/attribute networks: \"auto\", \"none\" "
			 "or a list");
		return -1;
	}
	if (nets && !word && !json_is_array(nets)) {
		os_error(q, 400, "Invalid input for field/attribute networks: a list is required");
		return -1;
	}
	for (size_t i = 0; json_is_array(nets) && i < json_array_size(nets); i++)
		if (json_object_get(json_array_get(nets, i), "port")) {
			os_error(q, 400,
				 "Invalid input for field/attribute networks[%zu].port: ports are "
				 "made with their server; give the network's uuid",
				 i);
			return -1;
		}
	if (json_is_array(nets) && ref_list(q, nets, "networks", "uuid", a) < 0)
		return -1;
	groups = json_object_get(srv, "security_groups");
	if (groups && !json_is_array(groups)) {
		os_error(q, 400,
			 "Invalid input for field/attribute security_groups: a list is required");
		return -1;
	}
	return groups ? ref_list(q, groups, "security_groups", "name", a) : 0;
}

/* The body's server {...} as the service's create args; -1 after replying 400. */
static int
create_args(struct os_req *q, json_t *srv, char pass[256], json_t **ret)
{
	static const char *const copy[][2] = {
		{"name", "name"},
		{"key_name", "key_name"},
		{"min_count", "min_count"},
		{"max_count", "max_count"},
		{"availability_zone", "availability_zone"},
		{"user_data", "user_data"},
		{"metadata", "metadata"},
	};
	const char *image = json_string_value(json_object_get(srv, "imageRef"));
	const char *flavor = json_string_value(json_object_get(srv, "flavorRef"));
	if (!image || !*image || !flavor || !*flavor) {
		os_error(q, 400, "imageRef and flavorRef are required (strings)");
		return -1;
	}
	/* Glance's images only: a host's own store is for hv's --host */
	json_t *a = json_pack("{s:s, s:b, s:s, s:O}", "image", ref_id(image), "image_catalog", 1,
			      "flavor", ref_id(flavor), "project",
			      json_object_get(q->auth, "project_id"));
	if (net_args(q, srv, a) < 0) {
		json_decref(a);
		return -1;
	}
	for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
		json_t *v = json_object_get(srv, copy[i][0]);
		if (v && !json_is_null(v))
			json_object_set(a, copy[i][1], v);
	}
	json_t *desc = json_object_get(srv, "description");
	if (desc && !os_mv(q, 19)) {
		json_decref(a);
		os_error(q, 400,
			 "Invalid input for field/attribute server: description is "
			 "served from microversion 2.19");
		return -1;
	}
	if (desc)
		json_object_set(a, "description", desc);
	json_t *tags = json_object_get(srv, "tags");
	if (tags && !os_mv(q, 52)) {
		json_decref(a);
		os_error(q, 400,
			 "Invalid input for field/attribute server: tags on create are "
			 "served from microversion 2.52");
		return -1;
	}
	if (tags)
		json_object_set(a, "tags", tags);
	json_t *cd = json_object_get(srv, "config_drive");
	if (json_is_boolean(cd) || json_is_string(cd))
		json_object_set_new(a, "config_drive",
				    json_boolean(json_is_true(cd) ||
						 (json_is_string(cd) && *json_string_value(cd))));
	const char *given = json_string_value(json_object_get(srv, "adminPass"));
	if (given)
		snprintf(pass, 256, "%s", given);
	else
		admin_pass_new(pass);
	json_object_set_new(a, "admin_pass", json_string(pass));
	*ret = a;
	return 0;
}

/* nova's [{"name"}] of the groups asked for (the service's default when none). */
static json_t *
group_names(const json_t *names)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach (names, i, v)
		json_array_append_new(out, json_pack("{s:O}", "name", v));
	if (!json_array_size(out))
		json_array_append_new(out, json_pack("{s:s}", "name", "default"));
	return out;
}

/* A create's error as nova answers it: what the request names but cannot be found is a 400
 * (the image, the flavor, a network, the key pair) in nova's words; the rest as usual. */
static void
create_error(struct os_req *q, const json_t *args, int r, const struct hv_error *err)
{
	unsigned i;
	if (r != -ENOENT)
		return os_svc_error(q, r, err);
	if (strcmp(err->field, "args.image") == 0)
		return os_error(q, 400, "Can not find requested image");
	if (strcmp(err->field, "args.flavor") == 0)
		return os_error(q, 400, "Flavor %s could not be found.", os_field(args, "flavor"));
	if (strcmp(err->field, "args.key_name") == 0)
		return os_error(q, 400, "Invalid key_name provided.");
	if (sscanf(err->field, "args.networks[%u]", &i) == 1)
		return os_error(
			q, 400, "Network %s could not be found.",
			json_string_value(json_array_get(json_object_get(args, "networks"), i)));
	os_svc_error(q, r, err);
}

static void
server_create(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *srv, *args = NULL, *inst = NULL;
	char pass[256] = "", cmd[PROTO_MAX_ID + 1];
	if (os_reader_refused(q) || os_body(q, "server", &doc, &srv) < 0)
		return;
	json_t *hints = json_object_get(doc, "os:scheduler_hints");
	if (!hints)
		hints = json_object_get(doc, "OS-SCH-HNT:scheduler_hints");
	if (hints && !json_is_object(hints)) {
		os_error(q, 400, "Invalid input for field/attribute os:scheduler_hints: an object");
		hj_wipe_string(json_object_get(srv, "adminPass"));
		json_decref(doc);
		return;
	}
	if (create_args(q, srv, pass, &args) == 0) {
		if (json_object_size(hints)) /* nova's hints, as hv's --hint: the service checks */
			json_object_set(args, "hints", hints);
		int r = svc_server_create(f->svc, args, f->now, &inst, cmd, &err);
		if (r < 0) {
			create_error(q, args, r, &err);
		} else {
			const char *id = os_field(inst, "uuid");
			os_reply(q, 202,
				 json_pack("{s:{s:s, s:o, s:s, s:s, s:o}}", "server", "id", id,
					   "links", os_links(f, "servers", id), "adminPass", pass,
					   "OS-DCF:diskConfig", "MANUAL", "security_groups",
					   group_names(json_object_get(args, "security_groups"))));
			char loc[400];
			snprintf(loc, sizeof loc, "%s/compute/v2.1/servers/%s", f->public_url, id);
			os_header(q, "Location", loc);
		}
		hj_wipe_string(json_object_get(args, "admin_pass"));
		hj_wipe_string(json_object_get(args, "user_data"));
	}
	hj_wipe_string(json_object_get(srv, "adminPass"));
	hj_wipe_string(json_object_get(srv, "user_data"));
	sodium_memzero(pass, sizeof pass);
	json_decref(inst);
	json_decref(args);
	json_decref(doc);
}

/* A refused action in nova's words: "Cannot 'pause' instance X while it is in vm_state
 * stopped". */
static void
action_error(struct os_req *q, int r, const struct hv_error *err, const char *action,
	     const json_t *s)
{
	if (r == -EPERM)
		return os_error(q, 409, "Cannot '%s' instance %s while it is in vm_state %s",
				action, os_field(s, "uuid"), os_field(s, "vm_state"));
	if (r == -EBUSY)
		return os_error(q, 409, "Cannot '%s' instance %s while it is in task_state %s",
				action, os_field(s, "uuid"),
				*os_field(s, "task_state") ? os_field(s, "task_state") : "busy");
	os_svc_error(q, r, err);
}

/* nova's action keys and the service's commands; status is the reply's. */
static const struct {
	const char *key, *command;
	unsigned status;
} actions[] = {
	{"reboot", "reboot", 202},
	{"pause", "pause", 202},
	{"unpause", "unpause", 202},
	{"suspend", "suspend", 202},
	{"resume", "resume", 202},
	{"os-stop", "stop", 202},
	{"os-start", "start", 202},
	{"resize", "resize", 202},
	{"confirmResize", "confirm_resize", 204},
	{"revertResize", "revert_resize", 202},
	{"rebuild", "rebuild", 202},
	{"rescue", "rescue", 200},
	{"unrescue", "unrescue", 202},
	{"createImage", "snapshot", 202},
	{"changePassword", "set_admin_password", 202},
};

/* The args of one action from its body; -1 after replying 400. */
static int
action_args(struct os_front *f, struct os_req *q, const char *key, json_t *body, json_t *args,
	    bool *hard, char pass[256])
{
	const char *v;
	if (strcmp(key, "reboot") == 0) {
		v = json_string_value(json_object_get(body, "type"));
		if (!v || (strcasecmp(v, "SOFT") != 0 && strcasecmp(v, "HARD") != 0)) {
			os_error(q, 400, "reboot.type: SOFT or HARD");
			return -1;
		}
		*hard = strcasecmp(v, "HARD") == 0;
	} else if (strcmp(key, "resize") == 0) {
		if (!(v = json_string_value(json_object_get(body, "flavorRef")))) {
			os_error(q, 400, "resize.flavorRef is required");
			return -1;
		}
		json_object_set_new(args, "flavor", json_string(ref_id(v)));
	} else if (strcmp(key, "rebuild") == 0) {
		if (!(v = json_string_value(json_object_get(body, "imageRef")))) {
			os_error(q, 400, "rebuild.imageRef is required");
			return -1;
		}
		json_object_set_new(args, "image", json_string(ref_id(v)));
		v = json_string_value(json_object_get(body, "adminPass"));
		v ? snprintf(pass, 256, "%s", v) : (admin_pass_new(pass), 0);
		json_object_set_new(args, "admin_pass", json_string(pass));
	} else if (strcmp(key, "rescue") == 0) {
		if ((v = json_string_value(json_object_get(body, "rescue_image_ref"))))
			json_object_set_new(args, "image", json_string(ref_id(v)));
	} else if (strcmp(key, "createImage") == 0) {
		if (!(v = json_string_value(json_object_get(body, "name")))) {
			os_error(q, 400, "createImage.name is required");
			return -1;
		}
		json_object_set_new(args, "name", json_string(v));
	} else if (strcmp(key, "changePassword") == 0) {
		if (!(v = json_string_value(json_object_get(body, "adminPass")))) {
			os_error(q, 400, "changePassword.adminPass is required");
			return -1;
		}
		json_object_set_new(args, "password", json_string(v));
	}
	return 0;
}

static void
action_reply(struct os_front *f, struct os_req *q, const char *key, unsigned status, json_t *inst,
	     const char *pass)
{
	if (strcmp(key, "rebuild") == 0) {
		json_t *extra = json_pack("{s:s}", "adminPass", pass);
		server_reply(f, q, status, inst, extra);
		hj_wipe_string(json_object_get(extra, "adminPass"));
		return json_decref(extra);
	}
	if (strcmp(key, "rescue") == 0) /* the guest keeps its password: nothing new to tell */
		return os_reply(q, status, json_pack("{s:s}", "adminPass", ""));
	if (strcmp(key, "createImage") == 0) {
		char loc[400];
		const char *image = os_field(json_object_get(inst, "image_snapshot"), "id");
		if (os_mv(q, 45)) /* the id in the body, no Location */
			return os_reply(q, status, json_pack("{s:s}", "image_id", image));
		snprintf(loc, sizeof loc, "%s/compute/v2.1/images/%s", f->public_url, image);
		os_header(q, "Location", loc);
	}
	os_reply(q, status, NULL);
}

/* os-getConsoleOutput {length?}: answered when the host sends the log (os_compute_done). */
static void
console_output(struct os_front *f, struct os_req *q, const json_t *s, json_t *body)
{
	struct hv_error err = {0};
	char cmd[PROTO_MAX_ID + 1];
	json_t *len = json_object_get(body, "length");
	long lines = 0;
	if (json_is_integer(len))
		lines = (long)json_integer_value(len);
	else if (json_is_string(len))
		lines = strtol(json_string_value(len), NULL, 10);
	else if (len && !json_is_null(len))
		return os_error(q, 400, "os-getConsoleOutput.length: an integer");
	if (lines < 0 || lines > 100000)
		return os_error(q, 400, "os-getConsoleOutput.length: -1 or 0-100000");
	int r = svc_console_log(f->svc, os_field(s, "uuid"), 1000000, f->now, cmd, &err);
	if (r < 0)
		return action_error(q, r, &err, "os-getConsoleOutput", s);
	os_wait(f, q, cmd, lines);
}

void
os_compute_done(struct os_req *q, bool ok, json_t *result)
{
	if (!ok) {
		const char *msg = json_string_value(json_object_get(result, "message"));
		return os_error(q, 409, "%s", msg ? msg : "the host could not run the command");
	}
	const char *out =
		json_string_value(json_object_get(json_object_get(result, "data"), "output"));
	os_reply(q, 200, json_pack("{s:s}", "output", api_tail_lines(out ? out : "", q->lines)));
}

static void evacuate(struct os_front *f, struct os_req *q, const json_t *s, json_t *body);
/* addSecurityGroup / removeSecurityGroup {"name"}: the server's ports join or leave. */
static void
secgroup_action(struct os_front *f, struct os_req *q, const json_t *s, const char *key,
		json_t *body)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	const char *name = json_string_value(json_object_get(body, "name"));
	if (!name || !*name)
		return os_error(q, 400, "Invalid input for field/attribute %s.name: a string", key);
	json_t *args = json_pack("{s:s, s:s, s:O}", "server", os_field(s, "uuid"), "group", name,
				 "project", json_object_get(q->auth, "project_id"));
	int r = (strcmp(key, "addSecurityGroup") == 0
			 ? svc_server_add_secgroup
			 : svc_server_remove_secgroup)(f->svc, args, f->now, &res, &err);
	r < 0 ? os_svc_error(q, r, &err) : os_reply(q, 202, NULL);
	json_decref(res);
	json_decref(args);
}

static void
server_action(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body = NULL, *s = NULL, *inst = NULL, *args = json_object();
	char pass[256] = "", cmd[PROTO_MAX_ID + 1];
	bool hard = false;
	if (os_reader_refused(q) || !(s = os_server_find(f, q, id)) ||
	    os_body(q, NULL, &doc, &body) < 0)
		goto out;
	const char *key =
		json_object_size(doc) == 1 ? json_object_iter_key(json_object_iter(doc)) : NULL;
	if (key && strcmp(key, "os-getConsoleOutput") == 0) {
		console_output(f, q, s, json_object_get(doc, key));
		goto out;
	}
	if (key && strcmp(key, "evacuate") == 0) {
		evacuate(f, q, s, json_object_get(doc, key));
		goto out;
	}
	if (key && os_console_action(f, q, s, key, json_object_get(doc, key)))
		goto out;
	if (key &&
	    (strcmp(key, "addSecurityGroup") == 0 || strcmp(key, "removeSecurityGroup") == 0)) {
		secgroup_action(f, q, s, key, json_object_get(doc, key));
		goto out;
	}
	size_t i = 0;
	while (key && i < sizeof actions / sizeof actions[0] && strcmp(actions[i].key, key) != 0)
		i++;
	if (!key || i == sizeof actions / sizeof actions[0]) {
		os_error(q, 400, "There is no such action: %s", key ? key : "(none)");
		goto out;
	}
	body = json_object_get(doc, key);
	if (action_args(f, q, key, body, args, &hard, pass) < 0)
		goto out;
	int r = svc_server_command(f->svc, os_field(s, "uuid"), actions[i].command, hard, args,
				   f->now, &inst, cmd, &err);
	if (r < 0)
		action_error(q, r, &err, key, s);
	else
		action_reply(f, q, key, actions[i].status, inst, pass);
out:
	hj_wipe_string(json_object_get(args, "password"));
	hj_wipe_string(json_object_get(args, "admin_pass"));
	if (json_is_object(body))
		hj_wipe_string(json_object_get(body, "adminPass"));
	sodium_memzero(pass, sizeof pass);
	json_decref(inst);
	json_decref(args);
	json_decref(doc);
	json_decref(s);
}

/* nova's evacuate action (admins): {host?, adminPass?, onSharedStorage?} -> 200 {adminPass}.
 * onSharedStorage boots the server's own disk on the new host: no password then (null). */
static void
evacuate(struct os_front *f, struct os_req *q, const json_t *s, json_t *body)
{
	struct hv_error err = {0};
	char pass[13] = "";
	const char *given = json_string_value(json_object_get(body, "adminPass"));
	json_t *host = json_object_get(body, "host"), *inst = NULL;
	char cmd[PROTO_MAX_ID + 1];
	if (os_admin_refused(q, "os_compute_api:os-evacuate"))
		return;
	if (!json_is_object(body) || (host && !json_is_null(host) && !json_is_string(host)) ||
	    (json_object_get(body, "adminPass") && !given)) {
		os_error(q, 400, "Invalid input for field/attribute evacuate.");
		return;
	}
	bool shared = json_is_true(json_object_get(body, "onSharedStorage"));
	if (shared && given) { /* nova's wording */
		os_error(q, 400, "admin password can't be changed on existing disk");
		return;
	}
	if (!given && !shared)
		admin_pass_new(pass);
	json_t *args = json_pack("{s:s}", "server", os_field(s, "uuid"));
	if (shared)
		json_object_set_new(args, "on_shared_storage", json_true());
	else
		json_object_set_new(args, "admin_pass", json_string(given ? given : pass));
	if (json_is_string(host))
		json_object_set(args, "host", host);
	int r = svc_server_evacuate(f->svc, args, f->now, &inst, cmd, &err);
	hj_wipe_string(json_object_get(args, "admin_pass"));
	json_decref(args);
	if (r == -EPERM && strstr(err.message, "not down")) /* nova: 400, host still in use */
		os_error(q, 400, "%s", err.message);
	else if (r < 0)
		action_error(q, r, &err, "evacuate", s);
	else if (os_mv(q, 14)) /* nova from 2.14: no body, the password is the caller's */
		os_reply(q, 200, NULL);
	else if (shared)
		os_reply(q, 200, json_pack("{s:n}", "adminPass"));
	else
		os_reply(q, 200, json_pack("{s:s}", "adminPass", given ? given : pass));
	sodium_memzero(pass, sizeof pass);
	json_decref(inst);
}

/* PUT /servers/{id} {"server": {"name"?, "description"? (2.19)}}: nova's update. */
static void
server_update(struct os_front *f, struct os_req *q, const json_t *s)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body = NULL, *inst = NULL, *args;
	const char *k;
	json_t *v;
	int r = 0;
	if (os_reader_refused(q) || os_body(q, "server", &doc, &body) < 0)
		goto out;
	json_object_foreach (body, k, v) {
		if ((strcmp(k, "name") == 0 && json_is_string(v)) ||
		    (strcmp(k, "description") == 0 && os_mv(q, 19)))
			continue;
		os_error(q, 400,
			 "Invalid input for field/attribute server.%.64s: only 'name'%s may be "
			 "updated",
			 k, os_mv(q, 19) ? " and 'description'" : "");
		goto out;
	}
	if (json_object_get(body, "name")) {
		args = json_pack("{s:s, s:O}", "server", os_field(s, "uuid"), "name",
				 json_object_get(body, "name"));
		r = svc_server_rename(f->svc, args, f->now, &inst, &err);
		json_decref(args);
	}
	if (r == 0 && json_object_get(body, "description")) {
		json_decref(inst);
		inst = NULL;
		args = json_pack("{s:s, s:O}", "server", os_field(s, "uuid"), "description",
				 json_object_get(body, "description"));
		r = svc_server_describe(f->svc, args, f->now, &inst, &err);
		json_decref(args);
		if (r == -EINVAL)
			snprintf(err.message, sizeof err.message,
				 "Invalid input for field/attribute description: a string of "
				 "at most 255 characters, or null");
	}
	if (r == 0 && !inst)
		r = svc_server_show(f->svc, os_field(s, "uuid"), &inst, &err);
	if (r < 0) {
		r == -EINVAL ? os_error(q, 400, "%s", err.message) : os_svc_error(q, r, &err);
		goto out;
	}
	server_reply(f, q, 200, inst, NULL);
out:
	json_decref(inst);
	json_decref(doc);
}

static void
server_one(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *s = os_server_find(f, q, id), *inst = NULL;
	char cmd[PROTO_MAX_ID + 1];
	if (!s)
		return;
	if (strcmp(q->method, "GET") == 0) {
		json_t *view = NULL;
		/* the service's view adds the addresses and groups of the server's ports */
		if (svc_server_show(f->svc, os_field(s, "uuid"), &view, &err) == 0) {
			json_decref(s);
			s = view;
		}
		server_reply(f, q, 200, s, NULL);
	} else if (strcmp(q->method, "DELETE") == 0) {
		if (!os_reader_refused(q)) {
			int r = svc_server_action(f->svc, os_field(s, "uuid"), "delete", false,
						  f->now, &inst, cmd, &err);
			r < 0 ? action_error(q, r, &err, "delete", s) : os_reply(q, 204, NULL);
		}
	} else if (strcmp(q->method, "PUT") == 0) {
		server_update(f, q, s);
	} else {
		os_error(q, 405, "The method is not allowed here.");
	}
	json_decref(inst);
	json_decref(s);
}

/* /servers/{id}/metadata (GET; PUT replaces, POST merges {"metadata"}) and
 * /metadata/{key} (GET, PUT {"meta": {key: value}}, DELETE), nova's shapes. */
static void
server_metadata(struct os_front *f, struct os_req *q, const char *id, const char *key)
{
	struct hv_error err = {0};
	json_t *s = os_server_find(f, q, id), *doc = NULL, *body = NULL, *res = NULL, *args;
	bool get = strcmp(q->method, "GET") == 0, del = strcmp(q->method, "DELETE") == 0;
	bool put = strcmp(q->method, "PUT") == 0, post = strcmp(q->method, "POST") == 0;
	int r;
	if (!s)
		return;
	const json_t *meta = json_object_get(s, "metadata");
	if (get && !key) {
		os_reply(q, 200, json_pack("{s:O}", "metadata", meta ? meta : json_object()));
	} else if (get) {
		json_t *v = json_object_get(meta, key);
		v ? os_reply(q, 200, json_pack("{s:{s:O}}", "meta", key, v))
		  : os_error(q, 404, "Metadata item was not found");
	} else if ((key ? !(put || del) : !(put || post)) || os_reader_refused(q)) {
		if (!q->reply)
			os_error(q, 405, "The method is not allowed here.");
	} else if (!del && os_body(q, key ? "meta" : "metadata", &doc, &body) < 0) {
		/* answered */
	} else if (key && !del && (json_object_size(body) != 1 || !json_object_get(body, key))) {
		os_error(q, 400, "Request body and URI mismatch");
	} else {
		args = json_pack("{s:s}", "server", os_field(s, "uuid"));
		if (del)
			json_object_set_new(args, "unset", json_pack("[s]", key));
		else
			json_object_set(args, "set", body);
		if (put && !key)
			json_object_set_new(args, "replace", json_true());
		r = svc_server_metadata(f->svc, args, f->now, &res, &err);
		json_decref(args);
		if (r == -ENOENT && del)
			os_error(q, 404, "Metadata item was not found");
		else if (r < 0)
			os_svc_error(q, r, &err);
		else if (del)
			os_reply(q, 204, NULL);
		else
			os_reply(q, 200,
				 key ? json_pack("{s:O}", "meta", body)
				     : json_pack("{s:O}", "metadata", res));
	}
	json_decref(res);
	json_decref(doc);
	json_decref(s);
}

static void
servers_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	bool get = strcmp(q->method, "GET") == 0;
	if (n == 1 && get)
		return servers_list(f, q, false);
	if (n == 1 && strcmp(q->method, "POST") == 0)
		return server_create(f, q);
	if (n == 2 && get && strcmp(seg[1], "detail") == 0)
		return servers_list(f, q, true);
	if (n == 2)
		return server_one(f, q, seg[1]);
	if (n == 3 && strcmp(seg[2], "action") == 0 && strcmp(q->method, "POST") == 0)
		return server_action(f, q, seg[1]);
	if (n == 3 && strcmp(seg[2], "remote-consoles") == 0 && strcmp(q->method, "POST") == 0)
		return os_remote_consoles(f, q, seg[1]);
	if (n >= 3 && n <= 4 && get && strcmp(seg[2], "os-instance-actions") == 0)
		return os_instance_actions(f, q, seg[1], n == 4 ? seg[3] : NULL);
	if ((n == 3 || n == 4) && strcmp(seg[2], "metadata") == 0)
		return server_metadata(f, q, seg[1], n == 4 ? seg[3] : NULL);
	if ((n == 3 || n == 4) && strcmp(seg[2], "tags") == 0)
		return os_server_tags(f, q, seg[1], n == 4 ? seg[3] : NULL);
	if (n == 3 && get && strcmp(seg[2], "os-volume_attachments") == 0) {
		json_t *s = os_server_find(f, q, seg[1]); /* no volumes here: none attached */
		if (s)
			os_reply(q, 200, json_pack("{s:[]}", "volumeAttachments"));
		return json_decref(s);
	}
	os_error(q, 404, "The resource could not be found.");
}

/* ---- routing -------------------------------------------------------------------------- */

#define MAX_SEGS 6

void
os_compute_route(struct os_front *f, struct os_req *q, const char *rest)
{
	char path[1024];
	char *seg[MAX_SEGS];
	int n = 0;
	if (!microversion_ok(q))
		return;
	if (!*rest || strcmp(rest, "/") == 0)
		return os_reply(q, 200, json_pack("{s:[o]}", "versions", version_doc(f)));
	if (strncmp(rest, "/v2.1", 5) != 0)
		return os_error(q, 404, "The resource could not be found.");
	rest += 5;
	if (!*rest || strcmp(rest, "/") == 0)
		return os_reply(q, 200, json_pack("{s:o}", "version", version_doc(f)));
	if (!os_authenticate(f, q))
		return;
	if (snprintf(path, sizeof path, "%s", rest) >= (int)sizeof path)
		return os_error(q, 404, "The resource could not be found.");
	for (char *save = NULL, *t = strtok_r(path, "/", &save); t && n <= MAX_SEGS;
	     t = strtok_r(NULL, "/", &save))
		if (n < MAX_SEGS)
			seg[n++] = t;
		else
			n++;
	if (n == 0 || n > MAX_SEGS)
		return os_error(q, 404, "The resource could not be found.");
	if (strcmp(seg[0], "servers") == 0)
		return servers_route(f, q, seg, n);
	if (strcmp(seg[0], "flavors") == 0)
		return os_flavors_route(f, q, seg, n);
	if (strcmp(seg[0], "os-keypairs") == 0)
		return os_keypairs_route(f, q, seg, n);
	if (strcmp(seg[0], "limits") == 0 && n == 1)
		return os_limits(f, q);
	if (strcmp(seg[0], "os-security-groups") == 0)
		return os_secgroups_route(f, q, seg, n);
	if (strcmp(seg[0], "os-quota-sets") == 0)
		return os_quotas_route(f, q, seg, n);
	if (os_admin_route(f, q, seg, n))
		return;
	os_error(q, 404, "The resource could not be found.");
}
