/* flavor.c - the rules of flavors: what a flavor may hold (the same limits as an inline
 * flavor, extra specs checked by the validator the hosts use), who may use a private one,
 * and the protocol flavor a spawn carries. The guide's defaults come with the store's
 * migration. Must never encode a reply or touch a socket, and never logs. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extraspec.h"
#include "json.h"

/* The extra specs as every host reads them (common/extraspec.h, the libvirt driver's own
 * reading): a value a host would refuse never reaches a flavor. The field names the key,
 * under where ("args.extra_specs.hw:numa_nodes"). */
static int
extra_specs_check(const struct hv_kv *kv, size_t n, int64_t vcpus, const char *where,
		  struct hv_error *err)
{
	struct hv_xspec x;
	char field[300];
	int r = 0;
	hv_xspec_init(&x);
	for (size_t i = 0; i < n && r == 0; i++)
		r = hv_xspec_add(&x, kv[i].key, kv[i].value, (uint32_t)vcpus, err);
	if (r == 0)
		r = hv_xspec_finish(&x, err);
	if (r < 0) { /* a key too long for the field is named in the message anyway */
		snprintf(field, sizeof field, "%s.extra_specs.%s", where, err->field);
		memcpy(err->field, field, sizeof err->field - 1);
		err->field[sizeof err->field - 1] = '\0';
	}
	return r;
}

/* Extra specs: at most 128 string pairs (keys and values <= 255 bytes), then the values
 * the hosts' validator would refuse, so a flavor never holds what no host would boot. */
static int
specs_check(json_t *specs, const char *where, int64_t vcpus, struct hv_error *err)
{
	json_t *wrap = json_pack("{s:O}", "extra_specs", specs);
	struct hv_kv *kv = NULL;
	size_t n = 0;
	int r = hj_str_map(wrap, where, "extra_specs", HJ_REQUIRED, 128, 255, 255, &kv, &n, err);
	json_decref(wrap);
	if (r < 0)
		return r;
	r = extra_specs_check(kv, n, vcpus, where, err);
	free(kv);
	return r;
}

static const char *const create_args[] = {
	"name", "id",        "vcpus",       "ram",         "disk",    "ephemeral",
	"swap", "is_public", "description", "extra_specs", "project", NULL,
};

static int
flavor_new_id(json_t *args, char ret[PROTO_MAX_ID + 1], struct hv_error *err)
{
	const char *id = NULL;
	int r = hj_str(args, "args", "id", HJ_OPTIONAL, PROTO_MAX_ID, &id, err);
	if (r < 0)
		return r;
	if (!id || strcmp(id, "auto") == 0) { /* nova's client says "auto" for a new UUID */
		proto_uuid4(ret);
		return 0;
	}
	if (!proto_id_valid(id))
		return hv_error_set(err, -EINVAL, "args.id",
				    "args.id: not a flavor id (1-64 of A-Z a-z 0-9 . _ : -)");
	snprintf(ret, PROTO_MAX_ID + 1, "%s", id);
	return 0;
}

int
svc_flavor_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *name, *desc = NULL, *project = NULL;
	bool is_public = true;
	json_t *specs = NULL, *access = NULL;
	struct svc_sizes z = {0};
	char id[PROTO_MAX_ID + 1];
	int r;
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = svc_sizes_from(args, "args", &z, err)) < 0 ||
	    (r = hj_bool(args, "args", "is_public", HJ_OPTIONAL, &is_public, err)) < 0 ||
	    (r = hj_str(args, "args", "description", HJ_OPTIONAL, 255, &desc, err)) < 0 ||
	    (r = hj_obj(args, "args", "extra_specs", HJ_OPTIONAL, &specs, err)) < 0 ||
	    (r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &project, err)) < 0 ||
	    (r = flavor_new_id(args, id, err)) < 0)
		return r;
	if (!*name || name[0] == ' ' || name[strlen(name) - 1] == ' ')
		return hv_error_set(err, -EINVAL, "args.name",
				    "args.name: must not be empty nor begin or end with a space");
	if (specs && (r = specs_check(specs, "args", z.vcpus, err)) < 0)
		return r;
	if (project && is_public)
		return hv_error_set(err, -EINVAL, "args.project",
				    "args.project: a public flavor has no access list (make it "
				    "private)");
	if (project && (r = svc_project_find(sv, project, "args.project", &access, err)) < 0)
		return r;
	json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:O?}", "id", id,
			      "name", name, "vcpus", (json_int_t)z.vcpus, "ram", (json_int_t)z.ram,
			      "disk", (json_int_t)z.disk, "ephemeral", (json_int_t)z.ephemeral,
			      "swap", (json_int_t)z.swap, "is_public", is_public, "description",
			      desc ? desc : "", "extra_specs", specs);
	if (f && !specs)
		json_object_set_new(f, "extra_specs", json_object());
	if ((r = store_begin(sv->store, err)) < 0)
		goto out;
	r = store_flavor_insert(sv->store, f, now, err);
	if (r == -EEXIST && strcmp(err->field, "id") == 0)
		r = hv_error_set(err, -EEXIST, "args.id",
				 "args.id: a flavor with id '%s' already exists", id);
	else if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: a flavor named '%s' already exists", name);
	if (r == 0 && access)
		r = store_flavor_access_set(sv->store, id, field_or(access, "id", ""), true, err);
	if (r < 0) {
		store_rollback(sv->store);
		goto out;
	}
	if ((r = store_commit(sv->store, err)) == 0)
		r = svc_flavor_show(sv, id, ret, err);
out:
	json_decref(f);
	json_decref(access);
	return r;
}

int
svc_flavor_list(struct svc *sv, const char *which, json_t **ret, struct hv_error *err)
{
	int is_public = !which || strcmp(which, "public") == 0 ? 1
			: strcmp(which, "private") == 0        ? 0
							       : -1;
	return store_flavor_list(sv->store, is_public, ret, err);
}

static int
flavor_find(struct svc *sv, const char *flavor, const char *field, json_t **ret,
	    struct hv_error *err)
{
	int r = store_flavor_get(sv->store, flavor, ret, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, field, "%s: no flavor with name or id '%s'",
				    field, flavor);
	return r;
}

int
svc_flavor_show(struct svc *sv, const char *flavor, json_t **ret, struct hv_error *err)
{
	json_t *f = NULL, *access = NULL;
	int r = flavor_find(sv, flavor, "args.flavor", &f, err);
	if (r < 0)
		return r;
	if (!json_is_true(json_object_get(f, "is_public")) &&
	    (r = store_flavor_access_list(sv->store, field_or(f, "id", ""), &access, err)) < 0) {
		json_decref(f);
		return r;
	}
	json_object_set_new(f, "access_project_ids", access ? access : json_null());
	*ret = f;
	return 0;
}

int
svc_flavor_delete(struct svc *sv, const char *flavor, struct hv_error *err)
{
	json_t *f = NULL;
	int r = flavor_find(sv, flavor, "args.flavor", &f, err);
	if (r == 0)
		r = store_flavor_delete(sv->store, field_or(f, "id", ""), err);
	json_decref(f);
	return r;
}

/* The access change of a set (add) or unset: args.project, a private flavor only. */
static int
access_change(struct svc *sv, json_t *f, json_t *args, bool add, struct hv_error *err)
{
	const char *project = NULL;
	json_t *p = NULL;
	int r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &project, err);
	if (r <= 0)
		return r;
	if (json_is_true(json_object_get(f, "is_public")))
		return hv_error_set(err, -EINVAL, "args.project",
				    "args.project: flavor '%s' is public: it has no access list",
				    field_or(f, "name", ""));
	if ((r = svc_project_find(sv, project, "args.project", &p, err)) == 0)
		r = store_flavor_access_set(sv->store, field_or(f, "id", ""), field_or(p, "id", ""),
					    add, err);
	json_decref(p);
	return r;
}

/* The extra specs after a set (args.extra_specs merged in) or an unset (the keys of the
 * array args.extra_specs removed); a new reference. */
static int
specs_after(json_t *f, json_t *args, bool set, json_t **ret, struct hv_error *err)
{
	json_t *specs = json_deep_copy(json_object_get(f, "extra_specs")), *change = NULL;
	int r = set ? hj_obj(args, "args", "extra_specs", HJ_OPTIONAL, &change, err)
		    : hj_arr(args, "args", "extra_specs", HJ_OPTIONAL, 128, &change, err);
	if (r < 0 || !specs) {
		json_decref(specs);
		return r < 0 ? r : hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	size_t i;
	json_t *k;
	if (set && change)
		json_object_update(specs, change);
	json_array_foreach (change, i, k) {
		char field[48];
		snprintf(field, sizeof field, "args.extra_specs[%zu]", i);
		if (!json_is_string(k) || !json_object_get(specs, json_string_value(k))) {
			json_decref(specs);
			return hv_error_set(err, json_is_string(k) ? -ENOENT : -EINVAL, field,
					    "%s: %s", field,
					    json_is_string(k) ? "the flavor has no such extra spec"
							      : "expected a string");
		}
		json_object_del(specs, json_string_value(k));
	}
	*ret = specs;
	return 0;
}

static const char *const set_args[] = {"flavor", "extra_specs", "description", "project", NULL};
static const char *const unset_args[] = {"flavor", "extra_specs", "project", NULL};

int
svc_flavor_update(struct svc *sv, json_t *args, bool set, json_t **ret, struct hv_error *err)
{
	const char *flavor, *desc = NULL;
	json_t *f = NULL, *specs = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", set ? set_args : unset_args, err)) < 0 ||
	    (r = hj_str(args, "args", "flavor", HJ_REQUIRED, 255, &flavor, err)) < 0 ||
	    (set && (r = hj_str(args, "args", "description", HJ_OPTIONAL, 255, &desc, err)) < 0) ||
	    (r = flavor_find(sv, flavor, "args.flavor", &f, err)) < 0)
		return r;
	char id[PROTO_MAX_ID + 1];
	snprintf(id, sizeof id, "%s", field_or(f, "id", ""));
	if ((r = specs_after(f, args, set, &specs, err)) < 0 ||
	    (r = specs_check(specs, "args", json_integer_value(json_object_get(f, "vcpus")), err)) <
		    0 ||
	    (r = store_begin(sv->store, err)) < 0)
		goto out;
	if ((r = store_flavor_update(sv->store, id, specs, desc, err)) < 0 ||
	    (r = access_change(sv, f, args, set, err)) < 0) {
		store_rollback(sv->store);
		goto out;
	}
	if ((r = store_commit(sv->store, err)) == 0)
		r = svc_flavor_show(sv, id, ret, err);
out:
	json_decref(f);
	json_decref(specs);
	return r;
}

int
svc_flavor_for(struct svc *sv, const char *flavor, const char *project_id, json_t **ret,
	       struct hv_error *err)
{
	json_t *f = NULL, *access = NULL;
	int r = flavor_find(sv, flavor, "args.flavor", &f, err);
	if (r < 0)
		return r;
	bool allowed = json_is_true(json_object_get(f, "is_public"));
	if (!allowed &&
	    (r = store_flavor_access_list(sv->store, field_or(f, "id", ""), &access, err)) == 0) {
		size_t i;
		json_t *p;
		json_array_foreach (access, i, p)
			allowed = allowed || strcmp(json_string_value(p), project_id) == 0;
		json_decref(access);
	}
	if (r == 0 && !allowed) /* as nova: a private flavor is not there for others */
		r = hv_error_set(err, -ENOENT, "args.flavor",
				 "args.flavor: no flavor with name or id '%s'", flavor);
	if (r == 0)
		*ret = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O}", "id",
				 field_or(f, "id", ""), "name", field_or(f, "name", ""), "vcpus",
				 json_object_get(f, "vcpus"), "ram_mb", json_object_get(f, "ram"),
				 "root_gb", json_object_get(f, "disk"), "ephemeral_gb",
				 json_object_get(f, "ephemeral"), "swap_mb",
				 json_object_get(f, "swap"), "extra_specs",
				 json_object_get(f, "extra_specs"));
	json_decref(f);
	return r;
}
