/* servertag.c - the rules of what a user says about a server beyond its name: its
 * description (nova 2.19) and its tags (nova 2.26: at most 50, each 1-60 characters without
 * '/' or ','), checked before anything is stored, errors naming the field. Must never
 * encode a reply and never logs. */
#include "service-priv.h"

#include <string.h>

#include "json.h"

#define TAGS_MAX 50
#define TAG_LEN 60
#define DESCRIPTION_LEN 255

int
svc_server_description_check(const json_t *args, const char *key, struct hv_error *err)
{
	const char *d;
	if (json_is_null(json_object_get(args, key)))
		return 0;
	return hj_str(args, "args", key, HJ_OPTIONAL, DESCRIPTION_LEN, &d, err) < 0 ? -EINVAL : 0;
}

int
svc_server_tag_check(const char *tag, const char *field, struct hv_error *err)
{
	size_t n = strlen(tag);
	if (n == 0 || n > TAG_LEN)
		return hv_error_set(err, -EINVAL, field, "%s: a tag is 1-%d characters", field,
				    TAG_LEN);
	if (strpbrk(tag, "/,"))
		return hv_error_set(err, -EINVAL, field, "%s: a tag holds no '/' or ','", field);
	for (const unsigned char *c = (const unsigned char *)tag; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return hv_error_set(err, -EINVAL, field,
					    "%s: a tag holds no control character", field);
	return 0;
}

int
svc_server_tags_from(const json_t *tags, const char *field, json_t **ret, struct hv_error *err)
{
	char at[64];
	size_t i;
	json_t *t;
	if (!json_is_array(tags))
		return hv_error_set(err, -EINVAL, field, "%s: a list of strings", field);
	json_t *set = json_array(), *seen = json_object();
	json_array_foreach (tags, i, t) {
		hj_path(at, sizeof at, field, NULL, i);
		int r = json_is_string(t) ? svc_server_tag_check(json_string_value(t), at, err)
					  : hv_error_set(err, -EINVAL, at, "%s: not a string", at);
		if (r < 0) {
			json_decref(set);
			json_decref(seen);
			return r;
		}
		if (!json_object_get(seen, json_string_value(t))) {
			json_object_set_new(seen, json_string_value(t), json_true());
			json_array_append(set, t);
		}
	}
	json_decref(seen);
	if (json_array_size(set) > TAGS_MAX) {
		json_decref(set);
		return hv_error_set(err, -EINVAL, field, "%s: at most %d tags", field, TAGS_MAX);
	}
	*ret = set;
	return 0;
}

/* The live server `server` of args, its uuid at ret_uuid (within *ret_inst). */
static int
live_server(struct svc *sv, const json_t *args, json_t **ret_inst, struct hv_error *err)
{
	const char *server;
	int r = hj_str(args, "args", "server", HJ_REQUIRED, 255, &server, err);
	if (r < 0 || (r = store_instance_get(sv->store, server, ret_inst, err)) < 0)
		return r;
	if (strcmp(field_or(*ret_inst, "vm_state", ""), "deleted") == 0) {
		json_decref(*ret_inst);
		*ret_inst = NULL;
		return hv_error_set(err, -ENOENT, "server", "server '%s' is deleted", server);
	}
	return 0;
}

int
svc_server_describe(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const keys[] = {"server", "description", NULL};
	json_t *inst = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", keys, err)) < 0 ||
	    (r = svc_server_description_check(args, "description", err)) < 0 ||
	    (r = live_server(sv, args, &inst, err)) < 0)
		return r;
	const char *uuid = field_or(inst, "uuid", "");
	r = store_instance_set_description(
		sv->store, uuid, json_string_value(json_object_get(args, "description")), now, err);
	if (r == 0)
		r = svc_server_show(sv, uuid, ret, err);
	json_decref(inst);
	return r;
}

/* The tags after op: "set" replaces them all with args.tags, "add" and "remove" one
 * args.tag, "clear" removes them all. */
static int
tags_after(const json_t *now_tags, const json_t *args, const char *op, json_t **ret,
	   struct hv_error *err)
{
	const char *tag = NULL;
	size_t i;
	json_t *t;
	if (strcmp(op, "set") == 0)
		return svc_server_tags_from(json_object_get(args, "tags"), "args.tags", ret, err);
	if (strcmp(op, "clear") == 0) {
		*ret = json_array();
		return 0;
	}
	int r = hj_str(args, "args", "tag", HJ_REQUIRED, 0, &tag, err);
	if (r < 0 || (r = svc_server_tag_check(tag, "args.tag", err)) < 0)
		return r;
	json_t *out = json_array();
	json_array_foreach (now_tags, i, t)
		if (strcmp(json_string_value(t) ? json_string_value(t) : "", tag) != 0)
			json_array_append(out, t);
	if (strcmp(op, "add") == 0)
		json_array_append_new(out, json_string(tag));
	else if (json_array_size(out) == json_array_size(now_tags)) {
		json_decref(out);
		return hv_error_set(err, -ENOENT, "args.tag", "the server has no tag '%s'", tag);
	}
	if (json_array_size(out) > TAGS_MAX) {
		json_decref(out);
		return hv_error_set(err, -EINVAL, "args.tag", "args.tag: at most %d tags",
				    TAGS_MAX);
	}
	*ret = out;
	return 0;
}

int
svc_server_tags(struct svc *sv, json_t *args, const char *op, int64_t now, json_t **ret,
		struct hv_error *err)
{
	static const char *const keys[] = {"server", "tags", "tag", NULL};
	json_t *inst = NULL, *tags = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", keys, err)) < 0 ||
	    (r = live_server(sv, args, &inst, err)) < 0)
		return r;
	const char *uuid = field_or(inst, "uuid", "");
	json_t *have = json_object_get(inst, "tags");
	if ((r = tags_after(json_is_array(have) ? have : NULL, args, op, &tags, err)) == 0 &&
	    (r = store_instance_set_tags(sv->store, uuid, tags, now, err)) == 0)
		*ret = json_incref(tags);
	json_decref(tags);
	json_decref(inst);
	return r;
}
