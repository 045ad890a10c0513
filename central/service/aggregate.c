/* aggregate.c - the rules of host aggregates and of availability zones as users see them:
 * unique names, metadata keys as nova allows them, a host in several aggregates but never in
 * two availability zones (nova refuses that too), no delete while hosts remain; the zone a
 * host is in is its aggregates' availability_zone, else the configured default zone. Must
 * never encode a reply or touch a socket. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define AGG_MAX_META 64
#define AZ_KEY "availability_zone"

/* nova's aggregate metadata keys: 1-255 of letters, digits, - _ : . and space */
static int
meta_key_ok(const char *key, const char *field, struct hv_error *err)
{
	size_t n = strlen(key);
	if (n == 0 || n > 255 ||
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. ") != n)
		return hv_error_set(err, -EINVAL, field,
				    "%s: '%s' is not a metadata key (1-255 of letters, digits, - _ "
				    ": . and space)",
				    field, key);
	return 0;
}

/* A zone name: 1-255 bytes, no ':' (nova's "ZONE:HOST" names a forced host). */
static int
zone_ok(const char *zone, const char *field, struct hv_error *err)
{
	size_t n = strlen(zone);
	if (n == 0 || n > 255 || strchr(zone, ':') || zone[0] == ' ' || zone[n - 1] == ' ')
		return hv_error_set(err, -EINVAL, field,
				    "%s: '%s' is not a zone name (1-255 bytes, no ':' and no "
				    "leading or trailing space)",
				    field, zone);
	return 0;
}

static int
name_ok(const char *name, struct hv_error *err)
{
	size_t n = strlen(name);
	if (n == 0 || name[0] == ' ' || name[n - 1] == ' ')
		return hv_error_set(err, -EINVAL, "args.name",
				    "args.name: must not be empty nor begin or end with a space");
	return 0;
}

/* Merges args.properties (string values) and args.availability_zone into meta. */
static int
meta_merge(json_t *args, json_t *meta, struct hv_error *err)
{
	struct hv_kv *kv = NULL;
	size_t n = 0;
	const char *zone = NULL;
	char field[300];
	int r = hj_str_map(args, "args", "properties", HJ_OPTIONAL, AGG_MAX_META, 255, 255, &kv, &n,
			   err);
	if (r < 0 || (r = hj_str(args, "args", AZ_KEY, HJ_OPTIONAL, 255, &zone, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		hj_path(field, sizeof field, "args.properties", kv[i].key, 0);
		if ((r = meta_key_ok(kv[i].key, field, err)) < 0 ||
		    (strcmp(kv[i].key, AZ_KEY) == 0 && (r = zone_ok(kv[i].value, field, err)) < 0))
			goto out;
		json_object_set_new(meta, kv[i].key, json_string(kv[i].value));
	}
	if (zone) {
		if ((r = zone_ok(zone, "args." AZ_KEY, err)) < 0)
			goto out;
		json_object_set_new(meta, AZ_KEY, json_string(zone));
	}
	if (json_object_size(meta) > AGG_MAX_META)
		r = hv_error_set(err, -EINVAL, "args.properties",
				 "args.properties: more than %d metadata keys", AGG_MAX_META);
out:
	free(kv);
	return r < 0 ? r : 0;
}

static int
agg_find(struct svc *sv, const char *agg, const char *field, json_t **ret, struct hv_error *err)
{
	int r = store_aggregate_get(sv->store, agg, ret, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, field, "%s: no aggregate '%s'", field, agg);
	return r;
}

static int64_t
agg_id(const json_t *agg)
{
	return json_integer_value(json_object_get(agg, "id"));
}

/* -EINVAL naming field when host, put in a zone `zone`, would be in two zones through an
 * aggregate other than `self`. */
static int
zone_conflict(struct svc *sv, const char *host, const char *zone, int64_t self, const char *field,
	      struct hv_error *err)
{
	json_t *all = NULL, *a, *h;
	size_t i, k;
	if (!zone)
		return 0;
	int r = store_aggregate_list(sv->store, &all, err);
	json_array_foreach (all, i, a) {
		const char *other = field_or(a, AZ_KEY, NULL);
		if (r < 0 || agg_id(a) == self || !other || strcmp(other, zone) == 0)
			continue;
		json_array_foreach (json_object_get(a, "hosts"), k, h)
			if (strcmp(json_string_value(h), host) == 0)
				r = hv_error_set(err, -EINVAL, field,
						 "%s: host '%s' is in availability zone '%s' "
						 "(aggregate '%s'): a host is in one zone only",
						 field, host, other, field_or(a, "name", ""));
	}
	json_decref(all);
	return r;
}

/* The checks of a metadata change on an aggregate with hosts: each keeps one zone. */
static int
hosts_keep_one_zone(struct svc *sv, const json_t *agg, const char *zone, struct hv_error *err)
{
	size_t i;
	json_t *h;
	int r = 0;
	json_array_foreach (json_object_get(agg, "hosts"), i, h)
		if (r == 0)
			r = zone_conflict(sv, json_string_value(h), zone, agg_id(agg),
					  "args." AZ_KEY, err);
	return r;
}

static const char *const create_args[] = {"name", AZ_KEY, "properties", NULL};

int
svc_aggregate_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *name;
	char uuid[37], id[24];
	int64_t nid = 0;
	json_t *meta = json_object();
	int r;
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = name_ok(name, err)) < 0 || (r = meta_merge(args, meta, err)) < 0)
		goto out;
	proto_uuid4(uuid);
	json_t *rec = json_pack("{s:s, s:s, s:O}", "uuid", uuid, "name", name, "metadata", meta);
	r = store_aggregate_insert(sv->store, rec, now, &nid, err);
	json_decref(rec);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: an aggregate named '%s' already exists", name);
	if (r < 0)
		goto out;
	snprintf(id, sizeof id, "%lld", (long long)nid);
	r = store_aggregate_get(sv->store, id, ret, err);
out:
	json_decref(meta);
	return r;
}

int
svc_aggregate_list(struct svc *sv, json_t **ret, struct hv_error *err)
{
	return store_aggregate_list(sv->store, ret, err);
}

int
svc_aggregate_show(struct svc *sv, const char *agg, json_t **ret, struct hv_error *err)
{
	return agg_find(sv, agg, "args.aggregate", ret, err);
}

static const char *const set_args[] = {"aggregate", "name", AZ_KEY, "properties", NULL};
static const char *const unset_args[] = {"aggregate", "properties", NULL};

/* unset: args.properties is a list of keys to remove. */
static int
meta_remove(json_t *args, json_t *meta, struct hv_error *err)
{
	json_t *keys = NULL, *k;
	size_t i;
	char field[64];
	int r = hj_arr(args, "args", "properties", HJ_REQUIRED, AGG_MAX_META, &keys, err);
	if (r < 0)
		return r;
	json_array_foreach (keys, i, k) {
		hj_path(field, sizeof field, "args.properties", NULL, i);
		if (!json_is_string(k))
			return hv_error_set(err, -EINVAL, field, "%s: not a string", field);
		if (!json_object_get(meta, json_string_value(k)))
			return hv_error_set(err, -ENOENT, field,
					    "%s: the aggregate has no key '%s'", field,
					    json_string_value(k));
		json_object_del(meta, json_string_value(k));
	}
	return 0;
}

int
svc_aggregate_update(struct svc *sv, json_t *args, bool set, json_t **ret, struct hv_error *err)
{
	const char *agg, *name = NULL;
	json_t *rec = NULL, *meta = NULL;
	char id[24];
	int r;
	if ((r = hj_known_keys(args, "args", set ? set_args : unset_args, err)) < 0 ||
	    (r = hj_str(args, "args", "aggregate", HJ_REQUIRED, 255, &agg, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_OPTIONAL, 255, &name, err)) < 0 ||
	    (name && (r = name_ok(name, err)) < 0) ||
	    (r = agg_find(sv, agg, "args.aggregate", &rec, err)) < 0)
		return r;
	meta = json_deep_copy(json_object_get(rec, "metadata"));
	if ((r = set ? meta_merge(args, meta, err) : meta_remove(args, meta, err)) < 0 ||
	    (r = hosts_keep_one_zone(sv, rec, field_or(meta, AZ_KEY, NULL), err)) < 0)
		goto out;
	r = store_aggregate_update(sv->store, agg_id(rec), name, meta, err);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: an aggregate named '%s' already exists", name);
	if (r < 0)
		goto out;
	snprintf(id, sizeof id, "%lld", (long long)agg_id(rec));
	r = store_aggregate_get(sv->store, id, ret, err);
out:
	json_decref(meta);
	json_decref(rec);
	return r;
}

int
svc_aggregate_host(struct svc *sv, const char *agg, const char *host, bool add, json_t **ret,
		   struct hv_error *err)
{
	json_t *rec = NULL, *h = NULL;
	char id[24];
	int r = agg_find(sv, agg, "args.aggregate", &rec, err);
	if (r < 0)
		return r;
	if (add && (r = store_host_get(sv->store, host, &h, err)) == -ENOENT)
		r = hv_error_set(err, -ENOENT, "args.host", "args.host: no host named '%s'", host);
	json_decref(h);
	if (r < 0 || (add && (r = zone_conflict(sv, host, field_or(rec, AZ_KEY, NULL), agg_id(rec),
						"args.host", err)) < 0))
		goto out;
	r = store_aggregate_host(sv->store, agg_id(rec), host, add, err);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.host",
				 "args.host: host '%s' is in aggregate '%s' already", host,
				 field_or(rec, "name", ""));
	else if (r == -ENOENT)
		r = hv_error_set(err, -ENOENT, "args.host",
				 "args.host: host '%s' is not in aggregate '%s'", host,
				 field_or(rec, "name", ""));
	if (r < 0)
		goto out;
	snprintf(id, sizeof id, "%lld", (long long)agg_id(rec));
	r = store_aggregate_get(sv->store, id, ret, err);
out:
	json_decref(rec);
	return r;
}

int
svc_aggregate_delete(struct svc *sv, const char *agg, struct hv_error *err)
{
	json_t *rec = NULL;
	int r = agg_find(sv, agg, "args.aggregate", &rec, err);
	if (r < 0)
		return r;
	size_t n = json_array_size(json_object_get(rec, "hosts"));
	if (n)
		r = hv_error_set(err, -EEXIST, "args.aggregate",
				 "args.aggregate: aggregate '%s' still has %zu host(s): remove "
				 "them first",
				 field_or(rec, "name", ""), n);
	else
		r = store_aggregate_delete(sv->store, agg_id(rec), err);
	json_decref(rec);
	return r;
}

const char *
svc_host_zone(const json_t *aggregates, const char *host, const char *default_zone)
{
	size_t i, k;
	json_t *a, *h;
	json_array_foreach (aggregates, i, a) {
		const char *zone = field_or(a, AZ_KEY, NULL);
		if (zone)
			json_array_foreach (json_object_get(a, "hosts"), k, h)
				if (strcmp(json_string_value(h), host) == 0)
					return zone;
	}
	return default_zone;
}

int
svc_zone_check(struct svc *sv, const char *zone, const char *field, struct hv_error *err)
{
	json_t *aggs = NULL, *a;
	size_t i, n = strcspn(zone, ":"); /* nova's ZONE:HOST names the zone first */
	int r = store_aggregate_list(sv->store, &aggs, err);
	if (r < 0)
		return r;
	bool known = strlen(sv->default_zone) == n && strncmp(sv->default_zone, zone, n) == 0;
	json_array_foreach (aggs, i, a) {
		const char *z = field_or(a, AZ_KEY, "");
		known = known || (strlen(z) == n && strncmp(z, zone, n) == 0);
	}
	json_decref(aggs);
	if (known)
		return 0;
	return hv_error_set(err, -ENOENT, field,
			    "%s: no availability zone '%.*s' (hv availability zone list)", field,
			    (int)n, zone);
}

/* Adds host to zone's row of zones ({name: {zone_name, zone_state, hosts}}). */
static void
zone_add(json_t *zones, const char *zone, const char *host, bool available)
{
	json_t *z = json_object_get(zones, zone);
	if (!z) {
		z = json_pack("{s:s, s:s, s:[]}", "zone_name", zone, "zone_state", "not available",
			      "hosts");
		json_object_set_new(zones, zone, z);
	}
	json_array_append_new(json_object_get(z, "hosts"), json_string(host));
	if (available)
		json_object_set_new(z, "zone_state", json_string("available"));
}

int
svc_availability_zone_list(struct svc *sv, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *hosts = NULL, *aggs = NULL, *zones = json_object(), *h, *z;
	const char *k;
	size_t i;
	int r;
	if ((r = svc_host_list(sv, now, &hosts, err)) < 0 ||
	    (r = store_aggregate_list(sv->store, &aggs, err)) < 0)
		goto out;
	json_array_foreach (hosts, i, h) {
		const char *id = field_or(h, "host_id", NULL);
		if (!id || strcmp(field_or(h, "state", ""), "pending") == 0)
			continue;
		/* available: the zone has a host that is up and enabled, as nova says of a
		 * zone with a compute service up */
		bool up = strcmp(field_or(h, "state", ""), "up") == 0 &&
			  strcmp(field_or(h, "status", ""), "enabled") == 0;
		zone_add(zones, svc_host_zone(aggs, id, sv->default_zone), id, up);
	}
	*ret = json_array();
	json_object_foreach (zones, k, z)
		json_array_append(*ret, z);
out:
	json_decref(hosts);
	json_decref(aggs);
	json_decref(zones);
	return r;
}
