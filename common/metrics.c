/* metrics.c - Prometheus text format and the /metrics server (see metrics.h). Must never
 * block the daemon's loop: the server runs on libmicrohttpd's own thread. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hv-features.h"

#if HAVE_MICROHTTPD
#include <microhttpd.h>
#endif

const double mx_bounds[MX_BUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

void
mx_family(struct hv_text *t, const char *name, const char *type, const char *help)
{
	hv_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline (the format's only rule). */
static void
append_labels(struct hv_text *t, const char *const *labels, const char *le)
{
	bool first = true;

	if ((!labels || !labels[0]) && !le)
		return;
	hv_text_printf(t, "{");
	for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		hv_text_printf(t, "%s%s=\"", first ? "" : ",", labels[i]);
		for (const char *c = labels[i + 1]; *c; c++) {
			if (*c == '\\' || *c == '"')
				hv_text_printf(t, "\\%c", *c);
			else if (*c == '\n')
				hv_text_printf(t, "\\n");
			else
				hv_text_printf(t, "%c", *c);
		}
		hv_text_printf(t, "\"");
		first = false;
	}
	if (le)
		hv_text_printf(t, "%sle=\"%s\"", first ? "" : ",", le);
	hv_text_printf(t, "}");
}

static void
append_value(struct hv_text *t, double v)
{
	if (isinf(v))
		hv_text_printf(t, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		hv_text_printf(t, " NaN\n");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		hv_text_printf(t, " %lld\n", (long long)v);
	else
		hv_text_printf(t, " %.9g\n", v);
}

void
mx_sample(struct hv_text *t, const char *name, const char *const *labels, double value)
{
	hv_text_printf(t, "%s", name);
	append_labels(t, labels, NULL);
	append_value(t, value);
}

void
mx_observe(struct mx_histogram *h, double seconds)
{
	for (size_t i = 0; i < MX_BUCKETS; i++)
		if (seconds <= mx_bounds[i]) {
			h->counts[i]++;
			break;
		}
	h->count++;
	h->sum += seconds;
}

void
mx_histogram_write(struct hv_text *t, const char *name, const char *const *labels,
		   const struct mx_histogram *h)
{
	uint64_t cumulative = 0;
	char le[32];

	for (size_t i = 0; i < MX_BUCKETS; i++) {
		cumulative += h->counts[i];
		snprintf(le, sizeof le, "%g", mx_bounds[i]);
		hv_text_printf(t, "%s_bucket", name);
		append_labels(t, labels, le);
		append_value(t, (double)cumulative);
	}
	hv_text_printf(t, "%s_bucket", name);
	append_labels(t, labels, "+Inf");
	append_value(t, (double)h->count);
	hv_text_printf(t, "%s_sum", name);
	append_labels(t, labels, NULL);
	append_value(t, h->sum);
	hv_text_printf(t, "%s_count", name);
	append_labels(t, labels, NULL);
	append_value(t, (double)h->count);
}

/* ---- the server ---------------------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, struct hv_error *err);

int
mx_listen_addr(const char *listen, struct sockaddr_storage *ss)
{
	return parse_listen(listen, ss, NULL) < 0 ? -EINVAL : 0;
}

/* "PORT" or "ADDRESS:PORT" ("[v6]:PORT") -> a numeric socket address. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, struct hv_error *err)
{
	char host[128] = "127.0.0.1";
	const char *port = listen, *colon = strrchr(listen, ':');
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				 .ai_socktype = SOCK_STREAM},
			*res = NULL;
	char *end;
	long p;

	if (colon) {
		const char *h = listen;
		size_t n = (size_t)(colon - listen);

		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof host)
			goto bad;
		memcpy(host, h, n);
		host[n] = '\0';
		port = colon + 1;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (errno || end == port || *end || p < 1 || p > 65535)
		goto bad;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		goto bad;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
bad:
	return hv_error_set(err, -EINVAL, "metrics.listen",
			    "[metrics] listen: \"%s\" is not PORT or ADDRESS:PORT (numeric)",
			    listen);
}

#if HAVE_MICROHTTPD
struct mx_server {
	struct MHD_Daemon *d;
	mx_render_fn fn;
	void *ctx;
};

static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct mx_server *s = cls;
	struct hv_text t = {0};
	struct MHD_Response *resp;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result r;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		hv_text_printf(&t, "only GET /metrics\n");
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		hv_text_printf(&t, "only GET /metrics\n");
	} else {
		s->fn(s->ctx, &t);
	}
	if (t.oom) {
		hv_text_release(&t);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(t.len, t.buf ? t.buf : (char *)"",
					       t.buf ? MHD_RESPMEM_MUST_FREE
						     : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(t.buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

int
mx_server_start(const char *listen, mx_render_fn fn, void *ctx, struct mx_server **ret,
		struct hv_error *err)
{
	struct sockaddr_storage ss = {0};
	struct mx_server *s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	int r = parse_listen(listen, &ss, err);

	if (r < 0)
		return r;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!(s = calloc(1, sizeof *s)))
		return hv_error_set(err, -ENOMEM, "metrics.listen", "out of memory");
	s->fn = fn;
	s->ctx = ctx;
	/* one connection at a time: a scraper, not a crowd; the port comes from SOCK_ADDR */
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, answer, s, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, 8U, MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				MHD_OPTION_END);
	if (!s->d) {
		free(s);
		return hv_error_set(err, -EADDRNOTAVAIL, "metrics.listen",
				    "[metrics] listen: cannot listen on %s", listen);
	}
	*ret = s;
	return 0;
}

void
mx_server_free(struct mx_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
#else
struct mx_server {
	int unused;
};

int
mx_server_start(const char *listen, mx_render_fn fn, void *ctx, struct mx_server **ret,
		struct hv_error *err)
{
	struct sockaddr_storage ss;
	int r = parse_listen(listen, &ss, err);

	(void)fn;
	(void)ctx;
	(void)ret;
	if (r < 0)
		return r;
	return hv_error_set(err, -ENOTSUP, "metrics.listen",
			    "[metrics] listen: this build has no /metrics (libmicrohttpd)");
}

void
mx_server_free(struct mx_server *s)
{
	(void)s;
}
#endif
