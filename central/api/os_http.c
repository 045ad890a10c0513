/* os_http.c - the REST front's HTTP side (see os.h): libmicrohttpd driven from the
 * daemon's loop through its epoll descriptor, each request's body bounded, read whole, then
 * handled by os_run inside the loop's transaction while its connection stays suspended;
 * os_flush resumes it once the transaction committed. Every reply carries a request id.
 * Must never log a request's body or headers (they hold passwords and tokens), nor answer
 * before the changes a reply reports are stored. */
#include "os-priv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "hv-features.h"
#include "json.h"
#include "log.h"
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

/* ---- requests ------------------------------------------------------------------------ */

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
	os_query_add(cls, key, value);
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
		os_req_free(q);
		return NULL;
	}
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, q);
	return q;
}

static ssize_t
read_file(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct os_req *q = cls;
	q->file_offset = (int64_t)pos;
	ssize_t n = os_image_read(q, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

/* One debug line per request answered (never its query, headers or body: they may hold
 * secrets); the path's bytes that are not printable ASCII, and blanks, are shown as '?'. */
static void
log_request(const struct os_req *q, unsigned status)
{
	char path[256];
	size_t i = 0;
	for (; q->path[i] && i < sizeof path - 1; i++)
		path[i] = q->path[i] > ' ' && q->path[i] < 127 ? q->path[i] : '?';
	path[i] = 0;
	log_debug("openstack request: method=%s path=%s%s status=%u request=%s", q->method, path,
		  q->path[i] ? "..." : "", status, q->request_id);
}

static enum MHD_Result
send_reply(struct os_req *q)
{
	static const char empty[] = "";
	size_t n = q->reply ? strlen(q->reply) : 0;
	struct MHD_Response *resp =
		q->file_id[0]
			? MHD_create_response_from_callback((uint64_t)q->file_size,
							    PROTO_IMAGE_CHUNK, read_file, q, NULL)
		: q->reply
			? MHD_create_response_from_buffer(n, q->reply, MHD_RESPMEM_MUST_FREE)
			: MHD_create_response_from_buffer(0, (void *)empty, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	if (!q->file_id[0])
		q->reply = NULL;
	if (n && !q->file_id[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, "x-openstack-request-id", q->request_id);
	if (q->service == OS_COMPUTE)
		MHD_add_response_header(resp, "x-compute-request-id", q->request_id);
	const char *k;
	json_t *v;
	json_object_foreach (q->headers, k, v)
		MHD_add_response_header(resp, k, json_string_value(v));
	if (hv_log_enabled(HV_LOG_DEBUG))
		log_request(q, q->status ? q->status : 500);
	enum MHD_Result r = MHD_queue_response(q->conn, q->status ? q->status : 500, resp);
	MHD_destroy_response(resp);
	q->state = Q_DONE;
	return r;
}

/* Hands the request to the loop's next turn, its connection suspended until answered. */
static enum MHD_Result
queue_req(struct os_front *f, struct os_req *q)
{
	if (HV_GROW(f->in, f->cap_in, f->n_in + 1) < 0)
		return MHD_NO;
	f->in[f->n_in++] = q;
	q->state = Q_WAITING;
	MHD_suspend_connection(q->conn);
	return MHD_YES;
}

/* An image's data: a chunk at most is held; once full it is stored by the next turn and
 * what the call did not take is offered again after the connection resumes. */
static enum MHD_Result
take_data(struct os_front *f, struct os_req *q, const char *data, size_t *size)
{
	if (!*size) {
		q->final = true;
		return queue_req(f, q);
	}
	if (q->failed) { /* answered already: the rest is read and dropped */
		*size = 0;
		return MHD_YES;
	}
	if (!q->body && !(q->body = malloc(PROTO_IMAGE_CHUNK)))
		return MHD_NO;
	size_t n = PROTO_IMAGE_CHUNK - q->len;
	if (n > *size)
		n = *size;
	memcpy(q->body + q->len, data, n);
	q->len += n;
	*size -= n;
	return q->len == PROTO_IMAGE_CHUNK ? queue_req(f, q) : MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct os_front *f = cls;
	struct os_req *q = *con_cls;
	int cr;
	(void)version;
	if (!q && os_console_request(f, conn, url, method, &cr))
		return (enum MHD_Result)cr;
	if (!q) {
		if (!(q = req_new(conn, url, method)))
			return MHD_NO;
		*con_cls = q;
		q->front = f;
		q->upload = os_image_upload(method, url);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		/* read and dropped, then answered 413: a client still sending would miss an
		 * answer sent before it finished */
		if (cl && !q->upload && strtoull(cl, NULL, 10) > f->max_body)
			q->too_big = true;
		return MHD_YES;
	}
	if (q->state == Q_READY)
		return send_reply(q);
	if (q->state != Q_RECEIVING)
		return MHD_YES;
	if (q->upload)
		return take_data(f, q, upload, upload_size);
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
	return queue_req(f, q);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode code)
{
	(void)conn;
	(void)code;
	if (*con_cls)
		os_image_left(cls, *con_cls);
	os_req_free(*con_cls);
	*con_cls = NULL;
}

void
os_run(struct os_front *f, int64_t now)
{
	f->now = now;
	MHD_run(f->d);
	os_console_reap(f->console, now);
	os_image_reap(f);
	for (size_t i = 0; i < f->n_in; i++) {
		struct os_req *q = f->in[i];
		os_dispatch(f, q);
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
		if (f->wait[i]->console_key[0])
			os_console_done(f->wait[i], ok, result);
		else
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
		q->failed = true;
	}
}

void
os_flush(struct os_front *f)
{
	if (!f->n_pend)
		return;
	for (size_t i = 0; i < f->n_pend; i++) {
		struct os_req *q = f->pend[i];
		/* an upload's stored chunk: its next one is read */
		q->state = q->upload && !q->final ? Q_RECEIVING : Q_READY;
		MHD_resume_connection(q->conn);
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

/* A PEM file of at most 1 MiB, NUL-terminated, in *ret (*ret_len bytes). */
static int
read_pem(const char *path, const char *field, char **ret, size_t *ret_len, struct hv_error *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return hv_error_set(err, -errno, field, "[openstack] %s: cannot open %s: %s",
				    field + 10, path, strerror(errno));
	char *buf = malloc((1 << 20) + 1);
	size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
	bool big = buf && n == 1 << 20 && fgetc(f) != EOF;
	fclose(f);
	if (!buf || big || n == 0 || !strstr(buf, "-----BEGIN ")) {
		if (buf)
			sodium_memzero(buf, n);
		free(buf);
		return hv_error_set(err, -EINVAL, field, "[openstack] %s: %s is not a PEM file",
				    field + 10, path);
	}
	buf[n] = '\0';
	*ret = buf;
	*ret_len = n;
	return 0;
}

static void
front_free(struct os_front *f)
{
	os_console_free(f->console);
	if (f->tls_key)
		sodium_memzero(f->tls_key, f->tls_key_len);
	free(f->tls_key);
	free(f->tls_cert);
	free(f);
}

/* [openstack] tls_cert_file and tls_key_file: both or neither. */
static int
load_tls(struct os_front *f, const struct os_config *cfg, struct hv_error *err)
{
	const char *cert = cfg->tls_cert_file, *key = cfg->tls_key_file;
	bool has_cert = cert && *cert, has_key = key && *key;
	size_t n;
	if (!has_cert && !has_key)
		return 0;
	if (has_cert != has_key)
		return hv_error_set(err, -EINVAL,
				    has_cert ? "openstack.tls_key_file" : "openstack.tls_cert_file",
				    "[openstack] %s: required with %s (HTTPS needs both)",
				    has_cert ? "tls_key_file" : "tls_cert_file",
				    has_cert ? "tls_cert_file" : "tls_key_file");
	int r = read_pem(cert, "openstack.tls_cert_file", &f->tls_cert, &n, err);
	if (r == 0)
		r = read_pem(key, "openstack.tls_key_file", &f->tls_key, &f->tls_key_len, err);
	return r;
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
	f->max_image = cfg->max_image;
	int r = load_tls(f, cfg, err);
	if (r < 0) {
		front_free(f);
		return r;
	}
	if (cfg->public_url && *cfg->public_url)
		snprintf(f->public_url, sizeof f->public_url, "%s", cfg->public_url);
	else
		snprintf(f->public_url, sizeof f->public_url, "%s://%s",
			 f->tls_cert ? "https" : "http", cfg->listen);
	size_t n = strlen(f->public_url);
	while (n && f->public_url[n - 1] == '/')
		f->public_url[--n] = '\0';
	if ((r = os_console_new(cfg, f->public_url, f->svc, &f->console, err)) < 0) {
		front_free(f);
		return r;
	}
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (f->tls_cert)
		flags |= MHD_USE_TLS;
	/* without TLS the HTTPS options end the list: MHD refuses them on a plain daemon */
	f->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, 512U, MHD_OPTION_CONNECTION_TIMEOUT,
				60U, MHD_OPTION_NOTIFY_COMPLETED, on_completed, f,
				f->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				f->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, f->tls_key, MHD_OPTION_END);
	if (!f->d) {
		bool tls = f->tls_cert != NULL;
		front_free(f);
		if (tls)
			return hv_error_set(err, -EINVAL, "openstack.tls_cert_file",
					    "[openstack] tls_cert_file: cannot serve HTTPS on %s "
					    "with this certificate and key (do they match?), or "
					    "cannot listen there",
					    cfg->listen);
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
	os_console_free(f->console); /* its proxies' handles are MHD's: before it stops */
	f->console = NULL;
	MHD_stop_daemon(f->d);
	free(f->left);
	free(f->wait);
	free(f->in);
	free(f->pend);
	os_policy_free(f->policy);
	front_free(f);
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
os_set_policy(struct os_front *f, const char *path, json_t **ret_ignored, struct hv_error *err)
{
	(void)f;
	(void)path;
	(void)err;
	*ret_ignored = NULL;
	return 0;
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
