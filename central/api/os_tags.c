/* os_tags.c - nova 2.26's server tags over the service layer: /servers/{id}/tags[/{tag}]
 * and the tags, tags-any, not-tags and not-tags-any filters of the server lists. A front:
 * the rules of a tag are the service's (servertag.c); must never read the store. */
#include "os-priv.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"

static bool
has_tag(const json_t *s, const char *tag, size_t n)
{
	size_t i;
	json_t *t;
	json_array_foreach (json_object_get(s, "tags"), i, t) {
		const char *v = json_string_value(t);
		if (v && strlen(v) == n && strncmp(v, tag, n) == 0)
			return true;
	}
	return false;
}

/* How many of the comma-separated tags of list s has, and how many list holds. */
static void
count_tags(const json_t *s, const char *list, size_t *have, size_t *asked)
{
	*have = *asked = 0;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		if (n) {
			(*asked)++;
			*have += has_tag(s, p, n);
		}
		p += n + (p[n] == ',');
	}
}

bool
os_tags_match(const struct os_req *q, const json_t *s)
{
	const char *v;
	size_t have, asked;
	if (!os_mv(q, 26))
		return true;
	if ((v = os_query(q, "tags")) && (count_tags(s, v, &have, &asked), have < asked))
		return false;
	if ((v = os_query(q, "tags-any")) && (count_tags(s, v, &have, &asked), have == 0))
		return false;
	if ((v = os_query(q, "not-tags")) && (count_tags(s, v, &have, &asked), asked) &&
	    have == asked)
		return false;
	if ((v = os_query(q, "not-tags-any")) && (count_tags(s, v, &have, &asked), have > 0))
		return false;
	return true;
}

/* The service's answer to a tags change: 400 naming the field, 404 for a missing tag. */
static int
tags_change(struct os_front *f, struct os_req *q, json_t *args, const char *op, json_t **ret)
{
	struct hv_error err = {0};
	int r = svc_server_tags(f->svc, args, op, f->now, ret, &err);
	json_decref(args);
	if (r == -ENOENT && strcmp(op, "remove") == 0)
		os_error(q, 404, "%s", err.message);
	else if (r == -EINVAL)
		os_error(q, 400, "Invalid input for field/attribute %s. %s", err.field,
			 err.message);
	else if (r < 0)
		os_svc_error(q, r, &err);
	return r;
}

/* /servers/{id}/tags/{tag}: GET 204 or 404; PUT 201 (204 when it was there); DELETE 204. */
static void
tag_one(struct os_front *f, struct os_req *q, const json_t *s, const char *tag)
{
	json_t *res = NULL,
	       *args = json_pack("{s:s, s:s}", "server",
				 json_string_value(json_object_get(s, "uuid")), "tag", tag);
	bool had = has_tag(s, tag, strlen(tag));
	if (strcmp(q->method, "GET") == 0) {
		json_decref(args);
		return had ? os_reply(q, 204, NULL)
			   : os_error(q, 404, "Tag %s could not be found.", tag);
	}
	if (strcmp(q->method, "PUT") == 0) {
		if (!os_reader_refused(q) && tags_change(f, q, args, "add", &res) == 0) {
			os_reply(q, had ? 204 : 201, NULL);
		}
	} else if (strcmp(q->method, "DELETE") == 0) {
		if (!had) {
			json_decref(args);
			return os_error(q, 404, "Tag %s could not be found.", tag);
		}
		if (!os_reader_refused(q) && tags_change(f, q, args, "remove", &res) == 0)
			os_reply(q, 204, NULL);
	} else {
		json_decref(args);
		os_error(q, 405, "The method is not allowed here.");
	}
	json_decref(res);
}

void
os_server_tags(struct os_front *f, struct os_req *q, const char *id, const char *tag)
{
	json_t *s, *res = NULL, *doc = NULL, *body = NULL;
	if (!os_mv(q, 26))
		return os_error(q, 404, "The resource could not be found.");
	if (!(s = os_server_find(f, q, id)))
		return;
	const char *uuid = json_string_value(json_object_get(s, "uuid"));
	if (tag) {
		tag_one(f, q, s, tag);
	} else if (strcmp(q->method, "GET") == 0) {
		json_t *t = json_object_get(s, "tags");
		os_reply(q, 200, json_pack("{s:O}", "tags", json_is_array(t) ? t : json_array()));
	} else if (strcmp(q->method, "PUT") == 0) {
		if (!os_reader_refused(q) && os_body(q, NULL, &doc, &body) == 0) {
			json_t *args = json_pack("{s:s, s:O}", "server", uuid, "tags",
						 json_object_get(doc, "tags")
							 ? json_object_get(doc, "tags")
							 : json_null());
			if (tags_change(f, q, args, "set", &res) == 0)
				os_reply(q, 200, json_pack("{s:O}", "tags", res));
		}
	} else if (strcmp(q->method, "DELETE") == 0) {
		if (!os_reader_refused(q) &&
		    tags_change(f, q, json_pack("{s:s}", "server", uuid), "clear", &res) == 0)
			os_reply(q, 204, NULL);
	} else {
		os_error(q, 405, "The method is not allowed here.");
	}
	json_decref(res);
	json_decref(doc);
	json_decref(s);
}
