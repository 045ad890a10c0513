/* os-priv.h - what the REST front's files share (os_http.c: server, requests, replies,
 * errors; os_identity.c: Keystone v3; os_compute.c: Compute 2.1) and nobody else. */
#ifndef HVC_OS_PRIV_H
#define HVC_OS_PRIV_H

#include <sys/types.h>

#include <jansson.h>

#include "os.h"
#include "text.h"

enum os_service {
	OS_NONE,
	OS_IDENTITY,
	OS_COMPUTE,
	OS_IMAGE,
	OS_NETWORK
};

struct os_req {
	void *conn; /* struct MHD_Connection */
	char method[8];
	char *path;
	json_t *query;                                 /* {name: value or null} */
	json_t *query_all;                             /* {name: [every value, in order]} */
	char *token, *subject_token, *mv_new, *mv_old; /* copied request headers */
	unsigned mv; /* the compute microversion 2.mv the request negotiated (os_compute.c) */
	char *body;
	size_t len;
	bool too_big;
	/* an image's data (PUT .../file): the body arrives a chunk at a time, each stored
	 * before the next is read; failed once a reply is set, the rest is then dropped */
	bool upload, final, failed;
	int64_t received;
	void *hash; /* crypto_hash_sha256_state of the data received */
	/* a reply streaming an image's data (GET .../file) */
	char file_id[64];
	int64_t file_offset, file_size;
	struct os_front *front;
	enum os_service service;
	json_t *auth; /* what the request's token grants (svc_token_check), NULL before */
	/* the reply */
	unsigned status;
	char *reply;
	json_t *headers; /* {name: value} */
	char request_id[45];
	int state;
	uint64_t seq;
	/* waiting for an agent's answer (os_wait) */
	char cmd_id[PROTO_MAX_ID + 1];
	long lines; /* console output: keep the last lines only (0 = all) */
	/* a console URL asked for: the reply's shape (2.6's remote_console or the 2.1
	 * actions' console), its protocol and type; the server and its project */
	char console_key[16], console_proto[8], console_type[8];
	char console_server[64], console_project[64];
	int64_t deadline_ms;
};

struct os_front {
	struct svc *svc;
	void *d; /* struct MHD_Daemon */
	char public_url[256];
	size_t max_body;
	int64_t max_image;        /* bytes of one image's data */
	char *tls_cert, *tls_key; /* PEM text MHD reads at start; the key wiped at free */
	size_t tls_key_len;
	int64_t now;
	struct os_req **in, **pend, **wait;
	char (*left)[64]; /* images whose upload its client gave up, to queue again */
	size_t n_left, cap_left;
	size_t n_in, cap_in, n_pend, cap_pend, n_wait, cap_wait;
	uint64_t seq;
	struct os_console *console;
	struct os_policy *policy; /* NULL: nova's defaults (os_policy.c) */
};

/* The policy file at path (os_policy.c's header comment): -EINVAL naming its line or rule;
 * *ret_ignored the names in it hvcentral does not enforce (caller owns both). */
struct os_policy;
int os_policy_load(const char *path, struct os_policy **ret, json_t **ret_ignored,
		   struct hv_error *err);
void os_policy_free(struct os_policy *p);
/* Whether role may do what rule names (NULL p: nova's defaults, admins only). */
bool os_policy_allows(const struct os_policy *p, const char *rule, const char *role);

/* A string member of a record, "" when absent or not a string; an integer member, 0. */
static inline const char *
os_field(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static inline json_int_t
os_num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A JSON text written directly, for the replies listing many records (no jansson tree per
 * record). Keys are escaped like values; a key NULL is a value inside an array. An
 * append that cannot allocate makes os_reply_jw answer 503. */
struct os_jw {
	struct hv_text t;
	bool comma; /* a value precedes in the object or array being written */
};
void os_jw_open(struct os_jw *w, const char *key, char bracket);
void os_jw_close(struct os_jw *w, char bracket);
void os_jw_str(struct os_jw *w, const char *key, const char *v); /* NULL: null */
void os_jw_int(struct os_jw *w, const char *key, long long v);
/* Room for about bytes more, when their number is known (a list's items): a hint. */
void os_jw_reserve(struct os_jw *w, size_t bytes);
/* A literal written as is: true, false, null, {}, []. */
void os_jw_raw(struct os_jw *w, const char *key, const char *literal);
void os_jw_json(struct os_jw *w, const char *key, const json_t *v);
/* Sets the reply to the text written (taken; w is emptied). */
void os_reply_jw(struct os_req *q, unsigned status, struct os_jw *w);

/* Sets the reply (body stolen; NULL for none). */
void os_reply(struct os_req *q, unsigned status, json_t *body);
void os_header(struct os_req *q, const char *name, const char *value);
/* An error in the request's service format: compute {"itemNotFound": {code, message}},
 * identity {"error": {code, title, message}}, network {"NeutronError": {type, message,
 * detail}}. */
void os_error(struct os_req *q, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The service layer's error as the status a client expects (-ENOENT 404, ...). */
void os_svc_error(struct os_req *q, int r, const struct hv_error *err);
/* The body as a JSON object holding key (*ret borrowed from *doc, which the caller frees);
 * -1 after replying 400. */
int os_body(struct os_req *q, const char *key, json_t **doc, json_t **ret);
/* Keeps the request until the agent answers cmd_id (os_on_done builds its reply from the
 * command's result); -1 after replying 503. */
int os_wait(struct os_front *f, struct os_req *q, const char *cmd_id, long lines);
/* The reply to a waiting request from its command's result (os_compute.c). */
void os_compute_done(struct os_req *q, bool ok, json_t *result);
/* A query parameter (its last value when repeated), or NULL. */
const char *os_query(const struct os_req *q, const char *name);
/* Every value of a repeated query parameter ("sort_key=a&sort_key=b"), or NULL. */
const json_t *os_query_all(const struct os_req *q, const char *name);
/* Records one query parameter as it is read (value NULL when it has no "="). */
void os_query_add(struct os_req *q, const char *name, const char *value);
/* Whether the request's compute microversion is 2.minor or later. */
static inline bool
os_mv(const struct os_req *q, unsigned minor)
{
	return q->mv >= minor;
}
/* ISO 8601 UTC ("2026-12-06T20:15:06Z") of a wall-clock time in ms. */
void os_time(int64_t ms, char ret[32]);
/* Checks X-Auth-Token (fills q->auth); false after replying 401. */
bool os_authenticate(struct os_front *f, struct os_req *q);
bool os_is_admin(const struct os_req *q);

/* Handles a request read whole: sets its reply (os_route.c). */
void os_dispatch(struct os_front *f, struct os_req *q);
/* Frees a request, wiping what may hold a secret. NULL-safe. */
void os_req_free(struct os_req *q);

void os_identity_route(struct os_front *f, struct os_req *q, const char *rest);
void os_compute_route(struct os_front *f, struct os_req *q, const char *rest);
/* The live server id names, when the request may see it (caller owns); else NULL after
 * replying 404 (os_compute.c). */
json_t *os_server_find(struct os_front *f, struct os_req *q, const char *id);
/* nova's [{rel: self}, {rel: bookmark}] links of /compute/v2.1/coll/id (os_compute.c). */
json_t *os_links(const struct os_front *f, const char *coll, const char *id);
/* 403 for a reader's write, or for a non-admin where nova's policy names rule; false when
 * the request may go on. */
bool os_reader_refused(struct os_req *q);
bool os_admin_refused(struct os_req *q, const char *rule);
/* flavors, os-keypairs, os-security-groups, limits, os-quota-sets (os_catalog.c). */
void os_flavors_route(struct os_front *f, struct os_req *q, char **seg, int n);
void os_keypairs_route(struct os_front *f, struct os_req *q, char **seg, int n);
void os_secgroups_route(struct os_front *f, struct os_req *q, char **seg, int n);
void os_quotas_route(struct os_front *f, struct os_req *q, char **seg, int n);
void os_limits(struct os_front *f, struct os_req *q);
/* /servers/{id}/tags[/{tag}] from 2.26 (404 before), and whether server s passes the
 * list's tag filters (os_tags.c). */
void os_server_tags(struct os_front *f, struct os_req *q, const char *id, const char *tag);
bool os_tags_match(const struct os_req *q, const json_t *s);
/* GET /servers/{id}/os-instance-actions[/{request_id}] (os_actions.c). */
void os_instance_actions(struct os_front *f, struct os_req *q, const char *server,
			 const char *request_id);
void os_image_route(struct os_front *f, struct os_req *q, const char *rest);
/* os-hypervisors, os-aggregates, os-availability-zone, os-server-groups and
 * os-simple-tenant-usage under /compute/v2.1 (seg: the path's n segments after it);
 * false when seg[0] is none of them (os_admin.c). */
bool os_admin_route(struct os_front *f, struct os_req *q, char **seg, int n);
/* Whether a request carries an image's data, which skips max_body (os_image.c). */
bool os_image_upload(const char *method, const char *path);
/* Notes an upload its client gave up before it ended (called as the request is freed). */
void os_image_left(struct os_front *f, const struct os_req *q);
/* Queues again the images of the uploads given up (inside the loop's transaction). */
void os_image_reap(struct os_front *f);
/* Up to len bytes of a GET .../file reply's data at q->file_offset; -1 on error. */
ssize_t os_image_read(struct os_req *q, char *buf, size_t len);
void os_network_route(struct os_front *f, struct os_req *q, const char *rest);

/* Remote consoles (os_console.c): the websocket proxy and noVNC's pages; the tokens are
 * the service layer's (svc_console_*), served from the proxy's URL once this is made. */
struct os_console;
/* Borrows svc for the proxy's lifetime. */
int os_console_new(const struct os_config *cfg, const char *public_url, struct svc *svc,
		   struct os_console **ret, struct hv_error *err);
/* Ends the proxies (waiting up to a second for their threads) and wipes the tokens. */
void os_console_free(struct os_console *c);
/* Closes the connections of the proxies that ended (on the loop's thread), wipes the
 * tokens whose time passed, and ends (every second) the open consoles whose server is
 * deleted or left its host. */
void os_console_reap(struct os_console *c, int64_t now_ms);
/* A websocket upgrade or a noVNC page: true once answered (*ret: MHD's result), false for
 * the REST front's own requests. conn: struct MHD_Connection. */
bool
os_console_request(struct os_front *f, void *conn, const char *url, const char *method, int *ret);
/* The reply to a console URL request from its get_console result (os_remote.c). */
void os_console_done(struct os_req *q, bool ok, json_t *result);
/* POST /servers/{id}/remote-consoles (os_remote.c). */
void os_remote_consoles(struct os_front *f, struct os_req *q, const char *id);
/* os-getVNCConsole and os-getSerialConsole of server s: false when key is neither. */
bool os_console_action(struct os_front *f, struct os_req *q, const json_t *s, const char *key,
		       const json_t *body);

#endif
