/* os_route.c - the REST front's requests without the HTTP server: replies, error bodies in
 * each service's format, the body and query decoders, the token check, and the routing of
 * a request to its service (os_identity.c, os_compute.c,
 * os_image.c, os_network.c). Independent of
 * libmicrohttpd, so the fuzz target drives it as the server does. Must never log a
 * request's body or headers (they hold passwords and tokens). */
#include "os-priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "json.h"
#include "vec.h"

void
os_reply(struct os_req *q, unsigned status, json_t *body)
{
	free(q->reply);
	q->reply = body ? hj_dump(body) : NULL;
	q->status = status;
	json_decref(body);
}

static void
jw_key(struct os_jw *w, const char *key)
{
	if (w->comma)
		hv_text_append(&w->t, ",", 1);
	w->comma = true;
	if (key) {
		hj_text_string(&w->t, key, strlen(key));
		hv_text_append(&w->t, ":", 1);
	}
}

void
os_jw_open(struct os_jw *w, const char *key, char bracket)
{
	jw_key(w, key);
	hv_text_append(&w->t, &bracket, 1);
	w->comma = false;
}

void
os_jw_close(struct os_jw *w, char bracket)
{
	hv_text_append(&w->t, &bracket, 1);
	w->comma = true;
}

void
os_jw_str(struct os_jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	if (v)
		hj_text_string(&w->t, v, strlen(v));
	else
		hv_text_append(&w->t, "null", 4);
}

void
os_jw_int(struct os_jw *w, const char *key, long long v)
{
	jw_key(w, key);
	hv_text_printf(&w->t, "%lld", v);
}

void
os_jw_raw(struct os_jw *w, const char *key, const char *literal)
{
	jw_key(w, key);
	hv_text_append(&w->t, literal, strlen(literal));
}

void
os_jw_reserve(struct os_jw *w, size_t bytes)
{
	/* a hint: on failure the writes grow the text as they go */
	if (!w->t.oom)
		(void)HV_GROW(w->t.buf, w->t.cap, w->t.len + bytes + 1);
}

void
os_jw_json(struct os_jw *w, const char *key, const json_t *v)
{
	char *text = v ? hj_dump(v) : NULL;
	jw_key(w, key);
	if (v && !text)
		w->t.oom = true;
	hv_text_printf(&w->t, "%s", text ? text : "null");
	free(text);
}

void
os_reply_jw(struct os_req *q, unsigned status, struct os_jw *w)
{
	if (w->t.oom || !w->t.buf) {
		hv_text_release(&w->t);
		return os_error(q, 503, "out of memory");
	}
	free(q->reply);
	q->reply = w->t.buf;
	q->status = status;
	w->t = (struct hv_text){0};
	w->comma = false;
}

void
os_header(struct os_req *q, const char *name, const char *value)
{
	json_object_set_new(q->headers, name, json_string(value));
}

static const char *
compute_fault(unsigned status)
{
	switch (status) {
	case 400: return "badRequest";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "itemNotFound";
	case 405: return "badMethod";
	case 409: return "conflictingRequest";
	case 413: return "overLimit";
	case 501: return "notImplemented";
	case 503: return "serviceUnavailable";
	default: return "computeFault";
	}
}

static const char *
identity_title(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 413: return "Request Entity Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

static const char *
neutron_type(unsigned status)
{
	switch (status) {
	case 400: return "BadRequest";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "HTTPMethodNotAllowed";
	case 409: return "Conflict";
	default: return "NeutronException";
	}
}

static json_t *
error_body(enum os_service service, unsigned status, const char *msg)
{
	json_t *m = json_string(msg);
	if (!m)
		m = json_string("the request is not valid (its bytes are not UTF-8)");
	if (service == OS_NETWORK && status != 401)
		return json_pack("{s:{s:s, s:o, s:s}}", "NeutronError", "type",
				 neutron_type(status), "message", m, "detail", "");
	/* keystonemiddleware answers a compute request's bad token in keystone's format */
	if (service != OS_COMPUTE || status == 401)
		return json_pack("{s:{s:i, s:s, s:o}}", "error", "code", (int)status, "title",
				 identity_title(status), "message", m);
	return json_pack("{s:{s:i, s:o}}", compute_fault(status), "code", (int)status, "message",
			 m);
}

void
os_error(struct os_req *q, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	os_reply(q, status, error_body(q->service, status, msg));
}

void
os_svc_error(struct os_req *q, int r, const struct hv_error *err)
{
	unsigned status;
	switch (r) {
	case -EINVAL: status = 400; break;
	case -EACCES: status = 401; break;
	case -EDQUOT: status = 403; break;
	case -ENOENT: status = 404; break;
	case -EEXIST:
	case -EBUSY:
	case -EPERM:
	case -ENOSPC: status = 409; break;
	case -ENOMEM: status = 503; break;
	default: status = 500; break;
	}
	os_error(q, status, "%s", err->message[0] ? err->message : "the request failed");
}

int
os_body(struct os_req *q, const char *key, json_t **doc, json_t **ret)
{
	struct hv_error err = {0};
	json_t *v;
	if (hj_parse(q->body ? q->body : "", q->len, "body", true, doc, &err) < 0) {
		os_error(q, 400, "Malformed request body: %s", err.message);
		return -1;
	}
	if (key && !json_is_object(v = json_object_get(*doc, key))) {
		os_error(q, 400, "Invalid input for field/attribute %s: an object is required",
			 key);
		json_decref(*doc);
		*doc = NULL;
		return -1;
	}
	*ret = key ? v : *doc;
	return 0;
}

const char *
os_query(const struct os_req *q, const char *name)
{
	return json_string_value(json_object_get(q->query, name));
}

const json_t *
os_query_all(const struct os_req *q, const char *name)
{
	return json_object_get(q->query_all, name);
}

void
os_query_add(struct os_req *q, const char *name, const char *value)
{
	json_t *v = value ? json_string(value) : json_null(), *all;
	if (!v) /* not UTF-8: seen as given without a value */
		v = json_null();
	if (!q->query_all)
		q->query_all = json_object();
	if (!(all = json_object_get(q->query_all, name)))
		json_object_set_new(q->query_all, name, all = json_array());
	json_array_append(all, v);
	json_object_set_new(q->query, name, v);
}

void
os_time(int64_t ms, char ret[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ret, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool
os_authenticate(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	if (q->token && svc_token_check(f->svc, q->token, f->now, &q->auth, &err) == 0)
		return true;
	os_error(q, 401, "The request you have made requires authentication.");
	os_header(q, "WWW-Authenticate", "Keystone uri=\"/identity\"");
	return false;
}

bool
os_is_admin(const struct os_req *q)
{
	const char *role = json_string_value(json_object_get(q->auth, "role"));
	return role && strcmp(role, "admin") == 0;
}

void
os_req_free(struct os_req *q)
{
	if (!q)
		return;
	free(q->path);
	json_decref(q->query);
	json_decref(q->query_all);
	/* a token or a password may be in any of these */
	if (q->token)
		sodium_memzero(q->token, strlen(q->token));
	if (q->subject_token)
		sodium_memzero(q->subject_token, strlen(q->subject_token));
	if (q->body)
		sodium_memzero(q->body, q->len);
	free(q->hash);
	free(q->token);
	free(q->subject_token);
	free(q->mv_new);
	free(q->mv_old);
	free(q->body);
	free(q->reply);
	json_decref(q->headers);
	json_decref(q->auth);
	free(q);
}

/* ---- routing ------------------------------------------------------------------------- */

static bool
strip(const char **path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(*path, prefix, n) != 0 || ((*path)[n] && (*path)[n] != '/'))
		return false;
	*path += n;
	return true;
}

void
os_dispatch(struct os_front *f, struct os_req *q)
{
	const char *rest = q->path;
	if (strip(&rest, "/compute") || strncmp(rest, "/v2.1", 5) == 0) {
		q->service = OS_COMPUTE;
		if (q->too_big)
			return os_error(q, 413, "Request is too large (at most %zu bytes).",
					f->max_body);
		return os_compute_route(f, q, rest);
	}
	if (strip(&rest, "/image")) {
		q->service = OS_IMAGE;
		return q->too_big ? os_error(q, 413, "Request is too large.")
				  : os_image_route(f, q, rest);
	}
	if (strip(&rest, "/network")) {
		q->service = OS_NETWORK;
		return q->too_big ? os_error(q, 413, "Request is too large.")
				  : os_network_route(f, q, rest);
	}
	q->service = OS_IDENTITY;
	if (q->too_big)
		return os_error(q, 413, "Request is too large.");
	strip(&rest, "/identity");
	os_identity_route(f, q, rest);
}

#define WAIT_MS 60000

int
os_wait(struct os_front *f, struct os_req *q, const char *cmd_id, long lines)
{
	if (HV_GROW(f->wait, f->cap_wait, f->n_wait + 1) < 0) {
		os_error(q, 503, "out of memory");
		return -1;
	}
	snprintf(q->cmd_id, sizeof q->cmd_id, "%s", cmd_id);
	q->lines = lines;
	q->deadline_ms = f->now + WAIT_MS;
	q->seq = ++f->seq;
	f->wait[f->n_wait++] = q;
	return 0;
}
