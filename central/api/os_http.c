/* os_http.c - the REST front's HTTP side (see os.h): libmicrohttpd driven from the
 * daemon's loop through its epoll descriptor, each request's body bounded, read whole, then
 * handled by os_run inside the loop's transaction while its connection stays suspended;
 * os_flush resumes it once the transaction committed. Every reply carries a request id.
 * Must never log a request's body or headers (they hold passwords and tokens), nor answer
 * before the changes a reply reports are stored. */
#include "os-priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "hv-features.h"
#include "json.h"
#include "metrics.h"
#include "vec.h"

#if HAVE_MICROHTTPD
#include <microhttpd.h>

enum {
	Q_RECEIVING,
	Q_WAITING,
	Q_READY,
	Q_DONE
};

void
os_reply(struct os_req *q, unsigned status, json_t *body)
{
	free(q->reply);
	q->reply = body ? hj_dump(body) : NULL;
	q->status = status;
	json_decref(body);
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

static json_t *
error_body(enum os_service service, unsigned status, const char *msg)
{
	json_t *m = json_string(msg);
	if (!m)
		m = json_string("the request is not valid (its bytes are not UTF-8)");
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

/* ---- requests ------------------------------------------------------------------------ */

static void
req_free(struct os_req *q)
{
	if (!q)
		return;
	free(q->path);
	json_decref(q->query);
	/* a token or a password may be in any of these */
	if (q->token)
		sodium_memzero(q->token, strlen(q->token));
	if (q->subject_token)
		sodium_memzero(q->subject_token, strlen(q->subject_token));
	if (q->body)
		sodium_memzero(q->body, q->len);
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

static char *
header_copy(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
	return v ? strdup(v) : NULL;
}

static enum MHD_Result
query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	json_t *v = value ? json_string(value) : json_null();
	json_object_set_new(cls, key, v ? v : json_null());
	return MHD_YES;
}

static struct os_req *
req_new(struct MHD_Connection *conn, const char *url, const char *method)
{
	struct os_req *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	char uuid[37];
	proto_uuid4(uuid);
	snprintf(q->request_id, sizeof q->request_id, "req-%s", uuid);
	snprintf(q->method, sizeof q->method, "%s", method);
	q->conn = conn;
	q->path = strdup(url);
	q->query = json_object();
	q->headers = json_object();
	q->token = header_copy(conn, "X-Auth-Token");
	q->subject_token = header_copy(conn, "X-Subject-Token");
	q->mv_new = header_copy(conn, "OpenStack-API-Version");
	q->mv_old = header_copy(conn, "X-OpenStack-Nova-API-Version");
	if (!q->path || !q->query || !q->headers) {
		req_free(q);
		return NULL;
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, q->query);
	return q;
}

static enum MHD_Result
send_reply(struct os_req *q)
{
	static const char empty[] = "";
	size_t n = q->reply ? strlen(q->reply) : 0;
	struct MHD_Response *resp =
		q->reply
			? MHD_create_response_from_buffer(n, q->reply, MHD_RESPMEM_MUST_FREE)
			: MHD_create_response_from_buffer(0, (void *)empty, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	q->reply = NULL;
	if (n)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, "x-openstack-request-id", q->request_id);
	if (q->service == OS_COMPUTE)
		MHD_add_response_header(resp, "x-compute-request-id", q->request_id);
	const char *k;
	json_t *v;
	json_object_foreach (q->headers, k, v)
		MHD_add_response_header(resp, k, json_string_value(v));
	enum MHD_Result r = MHD_queue_response(q->conn, q->status ? q->status : 500, resp);
	MHD_destroy_response(resp);
	q->state = Q_DONE;
	return r;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct os_front *f = cls;
	struct os_req *q = *con_cls;
	(void)version;
	if (!q) {
		if (!(q = req_new(conn, url, method)))
			return MHD_NO;
		*con_cls = q;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		/* read and dropped, then answered 413: a client still sending would miss an
		 * answer sent before it finished */
		if (cl && strtoull(cl, NULL, 10) > f->max_body)
			q->too_big = true;
		return MHD_YES;
	}
	if (q->state == Q_READY)
		return send_reply(q);
	if (q->state != Q_RECEIVING)
		return MHD_YES;
	if (*upload_size) {
		if (!q->too_big && q->len + *upload_size <= f->max_body) {
			char *b = realloc(q->body, q->len + *upload_size + 1);
			if (!b)
				return MHD_NO;
			memcpy(b + q->len, upload, *upload_size);
			q->body = b;
			q->len += *upload_size;
			q->body[q->len] = '\0';
		} else if (!q->too_big) {
			q->too_big = true;
			sodium_memzero(q->body, q->len);
			free(q->body);
			q->body = NULL;
			q->len = 0;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (HV_GROW(f->in, f->cap_in, f->n_in + 1) < 0)
		return MHD_NO;
	f->in[f->n_in++] = q;
	q->state = Q_WAITING;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)conn;
	(void)code;
	req_free(*con_cls);
	*con_cls = NULL;
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

static void
dispatch(struct os_front *f, struct os_req *q)
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
	q->service = OS_IDENTITY;
	if (q->too_big)
		return os_error(q, 413, "Request is too large.");
	strip(&rest, "/identity");
	os_identity_route(f, q, rest);
}

void
os_run(struct os_front *f, int64_t now)
{
	f->now = now;
	MHD_run(f->d);
	for (size_t i = 0; i < f->n_in; i++) {
		struct os_req *q = f->in[i];
		dispatch(f, q);
		if (HV_GROW(f->pend, f->cap_pend, f->n_pend + 1) < 0) {
			/* cannot keep it for the commit: answered now with the error */
			os_error(q, 503, "out of memory");
			q->state = Q_READY;
			MHD_resume_connection(q->conn);
			continue;
		}
		if (q->cmd_id[0]) /* parked by os_wait: answered by os_on_done */
			continue;
		q->seq = ++f->seq;
		f->pend[f->n_pend++] = q;
	}
	f->n_in = 0;
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

/* A waiting request whose reply is set goes with the turn's other replies. */
static void
unwait(struct os_front *f, size_t i)
{
	struct os_req *q = f->wait[i];
	f->wait[i] = f->wait[--f->n_wait];
	q->cmd_id[0] = '\0';
	q->seq = ++f->seq;
	if (HV_GROW(f->pend, f->cap_pend, f->n_pend + 1) == 0) {
		f->pend[f->n_pend++] = q;
	} else { /* no room to hold it: sent now */
		q->state = Q_READY;
		MHD_resume_connection(q->conn);
	}
}

void
os_on_done(struct os_front *f, const char *cmd_id, bool ok, json_t *result)
{
	for (size_t i = 0; i < f->n_wait;) {
		if (strcmp(f->wait[i]->cmd_id, cmd_id) != 0) {
			i++;
			continue;
		}
		os_compute_done(f->wait[i], ok, result);
		unwait(f, i);
	}
}

void
os_tick(struct os_front *f, int64_t now)
{
	for (size_t i = 0; i < f->n_wait;) {
		if (now < f->wait[i]->deadline_ms) {
			i++;
			continue;
		}
		os_error(f->wait[i], 503, "the host did not answer in time (command %s)",
			 f->wait[i]->cmd_id);
		unwait(f, i);
	}
}

int64_t
os_timeout_ms(const struct os_front *f)
{
	MHD_UNSIGNED_LONG_LONG t = 0;
	if (f->n_in)
		return 0;
	if (MHD_get_timeout(f->d, &t) != MHD_YES || t > 200)
		return 200;
	return (int64_t)t;
}

uint64_t
os_mark(const struct os_front *f)
{
	return f->seq;
}

void
os_take_back(struct os_front *f, uint64_t mark, const char *message)
{
	/* a wait begun in the turn waits for a command that was never stored */
	for (size_t i = 0; i < f->n_wait;) {
		if (f->wait[i]->seq <= mark) {
			i++;
			continue;
		}
		json_object_clear(f->wait[i]->headers);
		os_error(f->wait[i], 503, "%s", message);
		unwait(f, i);
	}
	for (size_t i = 0; i < f->n_pend; i++) {
		struct os_req *q = f->pend[i];
		if (q->seq <= mark)
			continue;
		json_object_clear(q->headers);
		os_error(q, 503, "%s", message);
	}
}

void
os_flush(struct os_front *f)
{
	if (!f->n_pend)
		return;
	for (size_t i = 0; i < f->n_pend; i++) {
		f->pend[i]->state = Q_READY;
		MHD_resume_connection(f->pend[i]->conn);
	}
	f->n_pend = 0;
	MHD_run(f->d);
}

int
os_fd(const struct os_front *f)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_EPOLL_FD);
	return i ? i->epoll_fd : -1;
}

int
os_new(struct svc *svc, const struct os_config *cfg, struct os_front **ret, struct hv_error *err)
{
	struct sockaddr_storage ss = {0};
	if (mx_listen_addr(cfg->listen, &ss) < 0)
		return hv_error_set(err, -EINVAL, "openstack.listen",
				    "[openstack] listen: \"%s\" is not PORT or ADDRESS:PORT "
				    "(numeric)",
				    cfg->listen);
	struct os_front *f = calloc(1, sizeof *f);
	if (!f)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	f->svc = svc;
	f->max_body = cfg->max_body;
	if (cfg->public_url && *cfg->public_url)
		snprintf(f->public_url, sizeof f->public_url, "%s", cfg->public_url);
	else
		snprintf(f->public_url, sizeof f->public_url, "http://%s", cfg->listen);
	size_t n = strlen(f->public_url);
	while (n && f->public_url[n - 1] == '/')
		f->public_url[--n] = '\0';
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	f->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, 512U, MHD_OPTION_CONNECTION_TIMEOUT,
				60U, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				MHD_OPTION_END);
	if (!f->d) {
		free(f);
		return hv_error_set(err, -EADDRNOTAVAIL, "openstack.listen",
				    "[openstack] listen: cannot listen on %s", cfg->listen);
	}
	*ret = f;
	return 0;
}

void
os_free(struct os_front *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_in; i++) {
		struct os_req *q = f->in[i];
		q->service = OS_COMPUTE;
		os_error(q, 503, "hvcentral is stopping");
		if (HV_GROW(f->pend, f->cap_pend, f->n_pend + 1) == 0)
			f->pend[f->n_pend++] = q;
	}
	f->n_in = 0;
	os_tick(f, INT64_MAX);
	os_flush(f);
	MHD_stop_daemon(f->d);
	free(f->wait);
	free(f->in);
	free(f->pend);
	free(f);
}

#else

int
os_new(struct svc *svc, const struct os_config *cfg, struct os_front **ret, struct hv_error *err)
{
	(void)svc;
	(void)cfg;
	(void)ret;
	return hv_error_set(err, -ENOTSUP, "openstack.listen",
			    "[openstack] listen: hvcentral was built without libmicrohttpd");
}

void
os_free(struct os_front *f)
{
	(void)f;
}

int
os_fd(const struct os_front *f)
{
	(void)f;
	return -1;
}

int64_t
os_timeout_ms(const struct os_front *f)
{
	(void)f;
	return 200;
}

void
os_run(struct os_front *f, int64_t now)
{
	(void)f;
	(void)now;
}

uint64_t
os_mark(const struct os_front *f)
{
	(void)f;
	return 0;
}

void
os_take_back(struct os_front *f, uint64_t mark, const char *message)
{
	/* a wait begun in the turn waits for a command that was never stored */
	for (size_t i = 0; i < f->n_wait;) {
		if (f->wait[i]->seq <= mark) {
			i++;
			continue;
		}
		json_object_clear(f->wait[i]->headers);
		os_error(f->wait[i], 503, "%s", message);
		unwait(f, i);
	}
	(void)f;
	(void)mark;
	(void)message;
}

void
os_flush(struct os_front *f)
{
	(void)f;
}

void
os_on_done(struct os_front *f, const char *cmd_id, bool ok, json_t *result)
{
	(void)f;
	(void)cmd_id;
	(void)ok;
	(void)result;
}

void
os_tick(struct os_front *f, int64_t now)
{
	(void)f;
	(void)now;
}
#endif
