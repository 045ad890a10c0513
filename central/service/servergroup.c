/* servergroup.c - the rules of server groups: a name and one of nova's policies per group,
 * the servers created into it as its members, and what the scheduler needs of a group (its
 * policy, the hosts its live members are on). Must never encode a reply or touch a
 * socket. */
#include "service-priv.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

static const char policies[] = "affinity|anti-affinity|soft-affinity|soft-anti-affinity";
static const char *const create_args[] = {"name", "policy", "project", NULL};

int
svc_server_group_create(struct svc *sv, json_t *args, int64_t now, json_t **ret,
			struct hv_error *err)
{
	const char *name, *policy, *project = NULL;
	json_t *p = NULL;
	char id[37];
	int r;
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = hj_enum(args, "args", "policy", HJ_REQUIRED, policies, &policy, err)) < 0 ||
	    (r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &project, err)) < 0)
		return r;
	if (!*name)
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	if ((r = svc_project_find(sv, project, "args.project", &p, err)) < 0)
		return r;
	proto_uuid4(id);
	json_t *g = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name", name, "policy", policy,
			      "project_id", field_or(p, "id", ""));
	json_decref(p);
	r = store_server_group_insert(sv->store, g, now, err);
	json_decref(g);
	return r < 0 ? r : store_server_group_get(sv->store, id, ret, err);
}

/* Drops the members that were deleted since, as nova forgets them. */
static void
live_members(struct svc *sv, json_t *g)
{
	json_t *members = json_object_get(g, "members"), *live = json_array(), *m;
	size_t i;
	json_array_foreach (members, i, m) {
		json_t *inst = NULL;
		if (store_instance_get(sv->store, json_string_value(m), &inst, NULL) == 0 &&
		    strcmp(field_or(inst, "vm_state", ""), "deleted") != 0)
			json_array_append(live, m);
		json_decref(inst);
	}
	json_object_set_new(g, "members", live);
}

int
svc_server_group_list(struct svc *sv, const char *project, json_t **ret, struct hv_error *err)
{
	json_t *p = NULL;
	json_t *g;
	size_t i;
	int r = project ? svc_project_find(sv, project, "args.project", &p, err) : 0;
	if (r == 0)
		r = store_server_group_list(sv->store, p ? field_or(p, "id", "") : NULL, ret, err);
	json_decref(p);
	json_array_foreach (r == 0 ? *ret : NULL, i, g)
		live_members(sv, g);
	return r;
}

int
svc_server_group_find(struct svc *sv, const char *group, const char *field, json_t **ret,
		      struct hv_error *err)
{
	int r = store_server_group_get(sv->store, group, ret, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, field, "%s: no server group '%s'", field, group);
	if (r == -EINVAL) { /* a name several groups share */
		char why[sizeof err->message];
		snprintf(why, sizeof why, "%s", err->message);
		return hv_error_set(err, -EINVAL, field, "%s: %s", field, why);
	}
	return r;
}

int
svc_server_group_show(struct svc *sv, const char *group, json_t **ret, struct hv_error *err)
{
	int r = svc_server_group_find(sv, group, "args.group", ret, err);
	if (r == 0)
		live_members(sv, *ret);
	return r;
}

int
svc_server_group_delete(struct svc *sv, const char *group, struct hv_error *err)
{
	json_t *g = NULL;
	int r = svc_server_group_find(sv, group, "args.group", &g, err);
	if (r == 0)
		r = store_server_group_delete(sv->store, field_or(g, "id", ""), err);
	json_decref(g);
	return r;
}

int
svc_create_group(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	const char *named = NULL, *hinted;
	int r = hj_str(args, "args", "server_group", HJ_OPTIONAL, 255, &named, err);
	if (r < 0)
		return r;
	hinted = json_string_value(json_object_get(json_object_get(args, "hints"), "group"));
	if (json_object_get(json_object_get(args, "hints"), "group") && !hinted)
		return hv_error_set(err, -EINVAL, "args.hints.group",
				    "args.hints.group: a server group id");
	if (named && hinted && strcmp(named, hinted) != 0)
		return hv_error_set(err, -EINVAL, "args.server_group",
				    "args.server_group: differs from args.hints.group");
	*ret = NULL;
	if (!named && !hinted)
		return 0;
	return svc_server_group_find(sv, named ? named : hinted,
				     named ? "args.server_group" : "args.hints.group", ret, err);
}
