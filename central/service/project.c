/* project.c - the rules of projects and their quotas: names, the project created at first
 * start, the limits (nova's and neutron's defaults unless set) and the check a create
 * makes against them, inside the store transaction that writes what it creates. Must
 * never encode a reply or touch a socket, and never logs. */
#include "service-priv.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

/* nova's and neutron's defaults; -1 is unlimited */
static const struct {
	const char *name;
	int64_t def;
} quota_defaults[] = {
	{"instances", 10},    {"cores", 20},           {"ram", 51200},
	{"floating_ips", 50}, {"security_groups", 10}, {"security_group_rules", 100},
	{"key_pairs", 100},
};
#define N_QUOTAS (sizeof quota_defaults / sizeof quota_defaults[0])
#define QUOTA_MAX 2147483647LL

/* A project id as keystone writes one: 32 lower-case hex digits. */
static void
project_id_new(char ret[33])
{
	char u[37];
	size_t n = 0;
	proto_uuid4(u);
	for (const char *p = u; *p; p++)
		if (*p != '-')
			ret[n++] = *p;
	ret[n] = '\0';
}

static bool
shaped_like_id(const char *name)
{
	return strlen(name) == 32 && strspn(name, "0123456789abcdef") == 32;
}

static int
project_insert(struct svc *sv, const char *name, const char *desc, bool enabled, int64_t now,
	       json_t **ret, struct hv_error *err)
{
	char id[33];
	project_id_new(id);
	json_t *p = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "name", name, "description",
			      desc ? desc : "", "enabled", enabled);
	if (!p)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	int r = store_project_insert(sv->store, p, now, err);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: a project named '%s' already exists", name);
	if (r < 0) {
		json_decref(p);
		return r;
	}
	json_object_set_new(p, "created_ms", json_integer(now));
	if (ret)
		*ret = p;
	else
		json_decref(p);
	return 0;
}

int
svc_seed(struct svc *sv, int64_t now, struct hv_error *err)
{
	json_t *list = NULL, *p = NULL;
	int r = store_project_list(sv->store, &list, err);
	if (r < 0)
		return r;
	size_t n = json_array_size(list);
	json_decref(list);
	if (n == 0 &&
	    (r = project_insert(sv, SVC_DEFAULT_PROJECT, "the project created at first start", true,
				now, &p, err)) < 0)
		return r;
	json_decref(p);
	return 0;
}

static const char *const project_create_args[] = {"name", "description", "enabled", NULL};

int
svc_project_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *name, *desc = NULL;
	bool enabled = true;
	int r;
	if ((r = hj_known_keys(args, "args", project_create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 64, &name, err)) < 0 ||
	    (r = hj_str(args, "args", "description", HJ_OPTIONAL, 255, &desc, err)) < 0 ||
	    (r = hj_bool(args, "args", "enabled", HJ_OPTIONAL, &enabled, err)) < 0)
		return r;
	if (!*name)
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	/* a project is found by id or name, the id first: such a name could be shadowed */
	if (shaped_like_id(name))
		return hv_error_set(err, -EINVAL, "args.name",
				    "args.name: '%s' is shaped like a project id (32 hex digits)",
				    name);
	return project_insert(sv, name, desc, enabled, now, ret, err);
}

int
svc_project_list(struct svc *sv, json_t **ret, struct hv_error *err)
{
	return store_project_list(sv->store, ret, err);
}

int
svc_project_find(struct svc *sv, const char *project, const char *field, json_t **ret,
		 struct hv_error *err)
{
	int r = store_project_get(sv->store, project ? project : SVC_DEFAULT_PROJECT, ret, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, field, "%s: no project with name or id '%s'",
				    field, project ? project : SVC_DEFAULT_PROJECT);
	return r;
}

int
svc_project_show(struct svc *sv, const char *project, json_t **ret, struct hv_error *err)
{
	return svc_project_find(sv, project, "args.project", ret, err);
}

/* Every resource with its limit: the one set for the project, else the default. */
static int
quota_limits(struct svc *sv, const char *project_id, json_t **ret, struct hv_error *err)
{
	json_t *set = NULL;
	int r = store_quota_get(sv->store, project_id, &set, err);
	if (r < 0)
		return r;
	json_t *limits = json_object();
	for (size_t i = 0; i < N_QUOTAS; i++) {
		json_t *v = json_object_get(set, quota_defaults[i].name);
		json_object_set_new(limits, quota_defaults[i].name,
				    v ? json_incref(v) : json_integer(quota_defaults[i].def));
	}
	json_decref(set);
	*ret = limits;
	return 0;
}

/* What the project holds of each resource the catalog knows today; the others hold 0. */
static int
quota_usage(struct svc *sv, const char *project_id, json_t **ret, struct hv_error *err)
{
	json_t *used = NULL;
	int r = store_project_usage(sv->store, project_id, &used, err);
	if (r < 0)
		return r;
	if ((r = store_net_usage(sv->store, project_id, used, err)) < 0) {
		json_decref(used);
		return r;
	}
	for (size_t i = 0; i < N_QUOTAS; i++)
		if (!json_object_get(used, quota_defaults[i].name))
			json_object_set_new(used, quota_defaults[i].name, json_integer(0));
	*ret = used;
	return 0;
}

int
svc_quota_show(struct svc *sv, const char *project, json_t **ret, struct hv_error *err)
{
	json_t *p = NULL, *limits = NULL, *used = NULL;
	int r = svc_project_find(sv, project, "args.project", &p, err);
	const char *id = field_or(p, "id", "");
	if (r < 0 || (r = quota_limits(sv, id, &limits, err)) < 0 ||
	    (r = quota_usage(sv, id, &used, err)) < 0) {
		json_decref(p);
		json_decref(limits);
		return r;
	}
	json_t *out = json_pack("{s:s, s:s}", "project_id", id, "project", field_or(p, "name", ""));
	json_object_update(out, limits);
	json_object_set_new(out, "in_use", used);
	json_decref(limits);
	json_decref(p);
	*ret = out;
	return 0;
}

/* Checks every limit of `quotas` before any is written: a bad one changes nothing. A limit
 * below what the project already holds is refused, as nova refuses it. */
static int
quota_validate(json_t *quotas, json_t *used, struct hv_error *err)
{
	const char *k;
	json_t *v;
	if (json_object_size(quotas) == 0)
		return hv_error_set(err, -EINVAL, "args.quotas",
				    "args.quotas: give at least one limit to set");
	json_object_foreach (quotas, k, v) {
		size_t i;
		for (i = 0; i < N_QUOTAS && strcmp(quota_defaults[i].name, k) != 0; i++)
			;
		char field[96];
		snprintf(field, sizeof field, "args.quotas.%.64s", k);
		if (i == N_QUOTAS)
			return hv_error_set(err, -EINVAL, field,
					    "%s: not a quota (instances, cores, ram, floating_ips, "
					    "security_groups, security_group_rules, key_pairs)",
					    field);
		int64_t limit;
		int r = hj_int(quotas, "args.quotas", k, HJ_REQUIRED, -1, QUOTA_MAX, &limit, err);
		if (r < 0)
			return r;
		int64_t in_use = json_integer_value(json_object_get(used, k));
		if (limit >= 0 && limit < in_use)
			return hv_error_set(
				err, -EINVAL, field,
				"%s: %lld is below what the project already uses (%lld)", field,
				(long long)limit, (long long)in_use);
	}
	return 0;
}

int
svc_quota_set(struct svc *sv, const char *project, json_t *quotas, json_t **ret,
	      struct hv_error *err)
{
	json_t *p = NULL, *used = NULL;
	int r = svc_project_find(sv, project, "args.project", &p, err);
	if (r < 0)
		return r;
	char id[33];
	snprintf(id, sizeof id, "%s", field_or(p, "id", ""));
	json_decref(p);
	if ((r = quota_usage(sv, id, &used, err)) < 0)
		return r;
	r = quota_validate(quotas, used, err);
	json_decref(used);
	if (r < 0)
		return r;
	const char *k;
	json_t *v;
	if ((r = store_begin(sv->store, err)) < 0)
		return r;
	json_object_foreach (quotas, k, v) {
		if ((r = store_quota_set(sv->store, id, k, json_integer_value(v), err)) < 0) {
			store_rollback(sv->store);
			return r;
		}
	}
	if ((r = store_commit(sv->store, err)) < 0)
		return r;
	return svc_quota_show(sv, id, ret, err);
}

int
svc_quota_check(struct svc *sv, const char *project_id, const struct svc_quota_ask *ask,
		struct hv_error *err)
{
	json_t *limits = NULL, *used = NULL;
	int r = quota_limits(sv, project_id, &limits, err);
	if (r < 0 || (r = quota_usage(sv, project_id, &used, err)) < 0) {
		json_decref(limits);
		return r;
	}
	const struct {
		const char *name;
		int64_t want;
	} asks[] = {{"instances", ask->instances},
		    {"cores", ask->cores},
		    {"ram", ask->ram},
		    {"key_pairs", ask->key_pairs},
		    {"floating_ips", ask->floating_ips},
		    {"security_groups", ask->security_groups},
		    {"security_group_rules", ask->security_group_rules}};
	for (size_t i = 0; i < sizeof asks / sizeof asks[0] && r == 0; i++) {
		if (asks[i].want == 0)
			continue;
		int64_t limit = json_integer_value(json_object_get(limits, asks[i].name));
		int64_t in_use = json_integer_value(json_object_get(used, asks[i].name));
		if (limit >= 0 && in_use + asks[i].want > limit)
			r = hv_error_set(err, -EDQUOT, "quota",
					 "Quota exceeded for %s: Requested "
					 "%lld, but already used %lld of %lld %s",
					 asks[i].name, (long long)asks[i].want, (long long)in_use,
					 (long long)limit, asks[i].name);
	}
	json_decref(limits);
	json_decref(used);
	return r;
}
