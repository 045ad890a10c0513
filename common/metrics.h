/* metrics.h - the Prometheus text exposition format (version 0.0.4) and the two daemons'
 * /metrics endpoint. The format half is pure: a growable text with families, samples and
 * histograms. The server half (libmicrohttpd, its own thread) answers GET /metrics with
 * what a render callback writes, on that thread: the callback must only touch what is
 * safe from there (copies under a lock, thread-safe driver calls). Built without
 * libmicrohttpd (HAVE_MICROHTTPD 0), starting a server fails with -ENOTSUP. Never put a
 * secret in a label. */
#ifndef HV_METRICS_H
#define HV_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <hvagent/error.h>

#include "text.h"

/* ---- the text format (appended to a text.h hv_text) ------------------------------------ */
/* # HELP and # TYPE lines; type is "gauge", "counter" or "histogram". */
void mx_family(struct hv_text *t, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. labels is NULL or alternating names and values ending
 * with NULL ({"domain", uuid, NULL}); values are escaped here. */
void mx_sample(struct hv_text *t, const char *name, const char *const *labels, double value);

/* A histogram with fixed upper bounds (seconds), for one label set. */
#define MX_BUCKETS 12
struct mx_histogram {
	uint64_t counts[MX_BUCKETS]; /* per bound, not cumulative */
	uint64_t count;
	double sum;
};
/* The bounds every histogram here uses: 1 ms to 300 s, then +Inf. */
extern const double mx_bounds[MX_BUCKETS];
void mx_observe(struct mx_histogram *h, double seconds);
/* name_bucket{labels,le=...}, name_sum and name_count (the family line is the caller's). */
void mx_histogram_write(struct hv_text *t, const char *name, const char *const *labels,
			const struct mx_histogram *h);

/* ---- the server --------------------------------------------------------------------- */
/* Appends the current metrics to t. Called on the server's thread. */
typedef void (*mx_render_fn)(void *ctx, struct hv_text *t);
struct mx_server;
/* Listens on listen, "PORT" (127.0.0.1) or "ADDRESS:PORT" ("[::1]:9177" for IPv6), and
 * serves GET /metrics. Returns 0 and *ret, or -errno with err (field "metrics.listen"). */
int mx_server_start(const char *listen, mx_render_fn fn, void *ctx, struct mx_server **ret,
		    struct hv_error *err);
/* The listen syntax above as a numeric socket address; -EINVAL when it does not parse
 * (for another server of the daemon). */
struct sockaddr_storage;
int mx_listen_addr(const char *listen, struct sockaddr_storage *ss);
/* Stops the thread (waiting for a scrape in progress). NULL-safe. */
void mx_server_free(struct mx_server *s);

#endif
