/* api.c - the hv API front: a thin decoder/encoder over the service layer. Each op reads
 * its arguments' shape, asks the service layer (which holds every rule) and answers
 * {"id", "ok": true, "result"} or {"id", "ok": false, "error": {"code", "field",
 * "message"}}. A waiting request is parked with its client's routing id until the command
 * it waits for finishes. Must never decide what a request may do, nor read the store. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "vec.h"

struct waiter {
	struct api_client cl;
	json_t *id; /* the request's id, echoed */
	char cmd_id[PROTO_MAX_ID + 1];
	char uuid[37];
	enum {
		W_RECORD,
		W_CONSOLE_LOG,
		W_CONSOLE
	} kind;        /* reply with the server record, data.output, or data
			* with the console proxy's url */
	long lines;    /* console log: keep the last lines only (0 = all) */
	json_t *extra; /* merged into the record (a snapshot's image) */
	int64_t deadline_ms;
	uint64_t seq; /* order of parking, for api_abort_since */
};

struct api {
	struct svc *svc;
	api_reply_fn reply;
	void *cb;
	struct waiter *w;
	size_t n_w, cap_w;
	uint64_t seq;
};

#define DEFAULT_WAIT_MS 300000
#define MAX_WAIT_MS 86400000

int
api_new(struct svc *svc, api_reply_fn reply, void *cb_ctx, struct api **ret, struct hv_error *err)
{
	struct api *a = calloc(1, sizeof *a);
	if (!a)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	a->svc = svc;
	a->reply = reply;
	a->cb = cb_ctx;
	*ret = a;
	return 0;
}

void
api_free(struct api *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_w; i++) {
		json_decref(a->w[i].id);
		json_decref(a->w[i].extra);
	}
	free(a->w);
	free(a);
}

size_t
api_waiting(const struct api *a)
{
	return a->n_w;
}

/* Every request gets exactly one reply: one that cannot be built or encoded (out of memory)
 * still answers, with a fixed text, rather than leave the client waiting. */
static void
send_reply(struct api *a, const struct api_client *cl, json_t *reply)
{
	static const char fallback[] = "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"internal\","
				       "\"message\":\"the reply could not be encoded\"}}";
	char *text = reply ? hj_dump(reply) : NULL;
	a->reply(a->cb, cl, text ? text : fallback);
	free(text);
	json_decref(reply);
}

/* A JSON string of s, which an error text may not be when it quotes a request's bytes. */
static json_t *
text_json(const char *s, const char *instead)
{
	json_t *t = json_string(s);
	return t ? t : json_string(instead);
}

static void
reply_ok(struct api *a, const struct api_client *cl, json_t *id, json_t *result)
{
	send_reply(a, cl,
		   json_pack("{s:O, s:b, s:o}", "id", id ? id : json_null(), "ok", 1, "result",
			     result ? result : json_null()));
}

static const char *
code_for(int r)
{
	return proto_code_for_errno(r, PROTO_MAP_API);
}

static json_t *
error_reply(json_t *id, const char *code, const char *field, const char *message, json_t *extra)
{
	json_t *e =
		json_pack("{s:s, s:o}", "code", code, "message",
			  text_json(message, "the request is not valid (its bytes are not UTF-8)"));
	if (e && field && *field)
		json_object_set_new(e, "field", text_json(field, "request"));
	if (extra)
		json_object_set(e, "result", extra);
	return json_pack("{s:O, s:b, s:o}", "id", id ? id : json_null(), "ok", 0, "error", e);
}

static void
reply_err(struct api *a, const struct api_client *cl, json_t *id, const char *code,
	  const char *field, const char *message, json_t *extra)
{
	send_reply(a, cl, error_reply(id, code, field, message, extra));
}

static void
reply_hv_err(struct api *a, const struct api_client *cl, json_t *id, int r,
	     const struct hv_error *err)
{
	reply_err(a, cl, id, code_for(r), err->field, err->message[0] ? err->message : "failed",
		  NULL);
}

static int
park(struct api *a, const struct api_client *cl, json_t *id, const char *cmd_id, const char *uuid,
     int kind, long lines, json_t *extra, int64_t deadline)
{
	if (HV_GROW(a->w, a->cap_w, a->n_w + 1) < 0)
		return -ENOMEM;
	struct waiter *w = &a->w[a->n_w++];
	memset(w, 0, sizeof *w);
	w->cl = *cl;
	w->id = json_incref(id);
	snprintf(w->cmd_id, sizeof w->cmd_id, "%s", cmd_id);
	snprintf(w->uuid, sizeof w->uuid, "%s", uuid ? uuid : "");
	w->kind = kind;
	w->lines = lines;
	w->extra = json_incref(extra);
	w->deadline_ms = deadline;
	w->seq = ++a->seq;
	return 0;
}

static void
unpark(struct api *a, size_t i)
{
	json_decref(a->w[i].id);
	json_decref(a->w[i].extra);
	a->w[i] = a->w[--a->n_w];
}

/* ---- ops ------------------------------------------------------------------------------------ */

struct req {
	json_t *id;
	json_t *args;
	bool wait;
	int64_t timeout_ms;
};

static void
op_host_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *hosts = NULL;
	int r = svc_host_list(a->svc, now, &hosts, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, hosts);
}

static void
op_host_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *host;
	json_t *h = NULL;
	int r = hj_str(q->args, "args", "host", HJ_REQUIRED, PROTO_MAX_ID, &host, &err);
	if (r >= 0)
		r = svc_host_show(a->svc, host, now, &h, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, h);
}

static void
op_host_accept(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *what, *name;
	json_t *host = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "key", HJ_REQUIRED, 64, &what, &err)) < 0 ||
	    (r = hj_str(q->args, "args", "name", HJ_REQUIRED, PROTO_MAX_ID, &name, &err)) < 0 ||
	    (r = svc_host_accept(a->svc, what, name, &host, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, host);
}

static void
op_server_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *host = NULL;
	bool deleted = false;
	json_t *list = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "host", HJ_OPTIONAL, PROTO_MAX_ID, &host, &err)) < 0 ||
	    (r = hj_bool(q->args, "args", "deleted", HJ_OPTIONAL, &deleted, &err)) < 0 ||
	    (r = svc_server_list(a->svc, host, deleted, &list, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, list);
}

static void
op_server_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *server;
	json_t *inst = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "server", HJ_REQUIRED, 255, &server, &err)) < 0 ||
	    (r = svc_server_show(a->svc, server, &inst, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, inst);
}

static void
op_server_rename(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *inst = NULL;
	int r = svc_server_rename(a->svc, q->args, now, &inst, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, inst);
}

/* Answers now, or parks the request until its command finishes. */
static void
answer_or_park(struct api *a, const struct api_client *cl, struct req *q, json_t *inst,
	       const char *cmd_id, int64_t now)
{
	if (!q->wait) {
		json_object_set_new(inst, "cmd_id", json_string(cmd_id));
		return reply_ok(a, cl, q->id, inst);
	}
	const char *uuid = inst ? json_string_value(json_object_get(inst, "uuid")) : NULL;
	/* what the record read back later lacks: a snapshot's image, a create's servers */
	json_t *extra = json_object();
	static const char *const keep[] = {"image_snapshot", "servers"};
	for (size_t i = 0; i < 2; i++)
		if (json_object_get(inst, keep[i]))
			json_object_set(extra, keep[i], json_object_get(inst, keep[i]));
	if (!json_object_size(extra)) {
		json_decref(extra);
		extra = NULL;
	}
	if (park(a, cl, q->id, cmd_id, uuid, W_RECORD, 0, extra, now + q->timeout_ms) < 0)
		reply_err(a, cl, q->id, "internal", NULL, "out of memory", NULL);
	json_decref(extra);
	json_decref(inst);
}

static void
op_server_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *inst = NULL;
	char cmd_id[PROTO_MAX_ID + 1];
	int r = svc_server_create(a->svc, q->args, now, &inst, cmd_id, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	answer_or_park(a, cl, q, inst, cmd_id, now);
}

static void
op_server_evacuate(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *inst = NULL;
	char cmd_id[PROTO_MAX_ID + 1];
	int r = svc_server_evacuate(a->svc, q->args, now, &inst, cmd_id, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	answer_or_park(a, cl, q, inst, cmd_id, now);
}

static void
op_server_action(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *server, *action;
	bool hard = false;
	json_t *inst = NULL;
	char cmd_id[PROTO_MAX_ID + 1];
	int r;
	if ((r = hj_str(q->args, "args", "server", HJ_REQUIRED, 255, &server, &err)) < 0 ||
	    (r = hj_enum(q->args, "args", "action", HJ_REQUIRED,
			 "delete|reboot|stop|start|pause|unpause|suspend|resume|resize|"
			 "confirm_resize|revert_resize|rebuild|rescue|unrescue|snapshot|"
			 "set_admin_password",
			 &action, &err)) < 0 ||
	    (r = hj_bool(q->args, "args", "hard", HJ_OPTIONAL, &hard, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	r = svc_server_command(a->svc, server, action, hard, q->args, now, &inst, cmd_id, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	answer_or_park(a, cl, q, inst, cmd_id, now);
}

static void
op_console(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *server;
	json_t *inst = NULL;
	char cmd_id[PROTO_MAX_ID + 1];
	int r;
	if ((r = hj_str(q->args, "args", "server", HJ_REQUIRED, 255, &server, &err)) < 0 ||
	    (r = svc_server_command(a->svc, server, "get_console", false, q->args, now, &inst,
				    cmd_id, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	r = park(a, cl, q->id, cmd_id, json_string_value(json_object_get(inst, "uuid")), W_CONSOLE,
		 0, NULL, now + q->timeout_ms);
	json_decref(inst);
	if (r < 0)
		reply_err(a, cl, q->id, "internal", NULL, "out of memory", NULL);
}

static void
op_console_log(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *server;
	int64_t lines = 0;
	char cmd_id[PROTO_MAX_ID + 1];
	int r;
	if ((r = hj_str(q->args, "args", "server", HJ_REQUIRED, 255, &server, &err)) < 0 ||
	    (r = hj_int(q->args, "args", "length", HJ_OPTIONAL, 1, 100000, &lines, &err)) < 0 ||
	    (r = svc_console_log(a->svc, server, 1000000, now, cmd_id, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	/* the agent returns bytes; the line count is applied when the output arrives */
	if (park(a, cl, q->id, cmd_id, NULL, W_CONSOLE_LOG, (long)lines, NULL,
		 now + q->timeout_ms) < 0)
		reply_err(a, cl, q->id, "internal", NULL, "out of memory", NULL);
}

static void
op_project_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *p = NULL;
	int r = svc_project_create(a->svc, q->args, now, &p, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, p);
}

static void
op_project_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *list = NULL;
	int r = svc_project_list(a->svc, &list, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, list);
}

/* project.show and quota.show: {project?} (default: the project created at first start) */
static void
op_project_read(struct api *a, const struct api_client *cl, struct req *q,
		int (*fn)(struct svc *, const char *, json_t **, struct hv_error *))
{
	struct hv_error err = {0};
	const char *project = NULL;
	json_t *res = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "project", HJ_OPTIONAL, 64, &project, &err)) < 0 ||
	    (r = fn(a->svc, project, &res, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_project_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_project_read(a, cl, q, svc_project_show);
}

static void
op_quota_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_project_read(a, cl, q, svc_quota_show);
}

static void
op_quota_set(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *project = NULL;
	json_t *quotas = NULL, *res = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "project", HJ_OPTIONAL, 64, &project, &err)) < 0 ||
	    (r = hj_obj(q->args, "args", "quotas", HJ_REQUIRED, &quotas, &err)) < 0 ||
	    (r = svc_quota_set(a->svc, project, quotas, &res, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_flavor_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *f = NULL;
	int r = svc_flavor_create(a->svc, q->args, now, &f, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, f);
}

static void
op_flavor_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *which = NULL;
	json_t *list = NULL;
	int r;
	if ((r = hj_enum(q->args, "args", "which", HJ_OPTIONAL, "public|private|all", &which,
			 &err)) < 0 ||
	    (r = svc_flavor_list(a->svc, which, &list, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, list);
}

static void
op_flavor_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *flavor;
	json_t *f = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "flavor", HJ_REQUIRED, 255, &flavor, &err)) < 0 ||
	    (r = svc_flavor_show(a->svc, flavor, &f, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, f);
}

static void
op_flavor_delete(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *flavor;
	int r;
	if ((r = hj_str(q->args, "args", "flavor", HJ_REQUIRED, 255, &flavor, &err)) < 0 ||
	    (r = svc_flavor_delete(a->svc, flavor, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, json_object());
}

static void
op_flavor_update(struct api *a, const struct api_client *cl, struct req *q, bool set)
{
	struct hv_error err = {0};
	json_t *f = NULL;
	int r = svc_flavor_update(a->svc, q->args, set, &f, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, f);
}

static void
op_flavor_set(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_flavor_update(a, cl, q, true);
}

static void
op_flavor_unset(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_flavor_update(a, cl, q, false);
}

static void
op_keypair_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *kp = NULL;
	int r = svc_keypair_create(a->svc, q->args, now, &kp, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, kp); /* a private key is in this reply only */
}

static void
op_keypair_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *project = NULL;
	json_t *list = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "project", HJ_OPTIONAL, 64, &project, &err)) < 0 ||
	    (r = svc_keypair_list(a->svc, project, &list, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, list);
}

/* keypair.show and keypair.delete: {name, project?} */
static void
op_keypair_one(struct api *a, const struct api_client *cl, struct req *q, bool del)
{
	struct hv_error err = {0};
	const char *project = NULL, *name;
	json_t *kp = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "name", HJ_REQUIRED, 255, &name, &err)) < 0 ||
	    (r = hj_str(q->args, "args", "project", HJ_OPTIONAL, 64, &project, &err)) < 0 ||
	    (r = del ? svc_keypair_delete(a->svc, project, name, &err)
		     : svc_keypair_show(a->svc, project, name, &kp, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, del ? json_object() : kp);
}

static void
op_keypair_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_keypair_one(a, cl, q, false);
}

static void
op_keypair_delete(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_keypair_one(a, cl, q, true);
}

/* ---- aggregates, zones, server groups, usage, hypervisors --------------------------------- */

/* The ops whose answer is one service call over the args (the service checks them). */
static void
op_args_call(struct api *a, const struct api_client *cl, struct req *q,
	     int (*fn)(struct svc *, json_t *, int64_t, json_t **, struct hv_error *), int64_t now)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = fn(a->svc, q->args, now, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

/* The ops that read one required string argument `key` and answer a record (or {}). */
static void
op_one_call(struct api *a, const struct api_client *cl, struct req *q, const char *key,
	    int (*fn)(struct svc *, const char *, json_t **, struct hv_error *))
{
	struct hv_error err = {0};
	const char *v;
	json_t *res = NULL;
	int r;
	if ((r = hj_str(q->args, "args", key, HJ_REQUIRED, 255, &v, &err)) < 0 ||
	    (r = fn(a->svc, v, &res, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res ? res : json_object());
}

static void
op_aggregate_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_args_call(a, cl, q, svc_aggregate_create, now);
}

static void
op_aggregate_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = svc_aggregate_list(a->svc, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_aggregate_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_one_call(a, cl, q, "aggregate", svc_aggregate_show);
}

static int
aggregate_del(struct svc *sv, const char *agg, json_t **ret, struct hv_error *err)
{
	*ret = NULL;
	return svc_aggregate_delete(sv, agg, err);
}

static void
op_aggregate_delete(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_one_call(a, cl, q, "aggregate", aggregate_del);
}

static void
op_aggregate_update(struct api *a, const struct api_client *cl, struct req *q, bool set)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = svc_aggregate_update(a->svc, q->args, set, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_aggregate_set(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_aggregate_update(a, cl, q, true);
}

static void
op_aggregate_unset(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_aggregate_update(a, cl, q, false);
}

static void
op_aggregate_host(struct api *a, const struct api_client *cl, struct req *q, bool add)
{
	struct hv_error err = {0};
	const char *agg, *host;
	json_t *res = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "aggregate", HJ_REQUIRED, 255, &agg, &err)) < 0 ||
	    (r = hj_str(q->args, "args", "host", HJ_REQUIRED, PROTO_MAX_ID, &host, &err)) < 0 ||
	    (r = svc_aggregate_host(a->svc, agg, host, add, &res, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_aggregate_add_host(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_aggregate_host(a, cl, q, true);
}

static void
op_aggregate_remove_host(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_aggregate_host(a, cl, q, false);
}

static void
op_zone_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = svc_availability_zone_list(a->svc, now, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_server_group_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_args_call(a, cl, q, svc_server_group_create, now);
}

static void
op_server_group_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *project = NULL;
	json_t *res = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "project", HJ_OPTIONAL, 64, &project, &err)) < 0 ||
	    (r = svc_server_group_list(a->svc, project, &res, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_server_group_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_one_call(a, cl, q, "group", svc_server_group_show);
}

static int
server_group_del(struct svc *sv, const char *group, json_t **ret, struct hv_error *err)
{
	*ret = NULL;
	return svc_server_group_delete(sv, group, err);
}

static void
op_server_group_delete(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_one_call(a, cl, q, "group", server_group_del);
}

static void
op_usage(struct api *a, const struct api_client *cl, struct req *q, bool detailed, int64_t now)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = svc_usage(a->svc, q->args, detailed, now, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_usage_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_usage(a, cl, q, false, now);
}

static void
op_usage_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_usage(a, cl, q, true, now);
}

static void
op_hypervisor_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = svc_hypervisor_list(a->svc, now, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_hypervisor_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	const char *h;
	json_t *res = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "hypervisor", HJ_REQUIRED, PROTO_MAX_ID, &h, &err)) < 0 ||
	    (r = svc_hypervisor_show(a->svc, h, now, &res, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

static void
op_hypervisor_stats(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = svc_hypervisor_stats(a->svc, now, &res, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, res);
}

/* image.create, .upload, .finish, .set: the service reads every argument. */
static void
op_image_write(struct api *a, const struct api_client *cl, struct req *q, int64_t now,
	       int (*fn)(struct svc *, json_t *, int64_t, json_t **, struct hv_error *))
{
	struct hv_error err = {0};
	json_t *img = NULL;
	int r = fn(a->svc, q->args, now, &img, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, img);
}

static void
op_image_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_image_write(a, cl, q, now, svc_image_create);
}

static void
op_image_upload(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_image_write(a, cl, q, now, svc_image_upload);
}

static void
op_image_finish(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_image_write(a, cl, q, now, svc_image_finish);
}

static void
op_image_set(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_image_write(a, cl, q, now, svc_image_set);
}

static void
op_image_download(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *chunk = NULL;
	int r = svc_image_download(a->svc, q->args, &chunk, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, chunk);
}

static void
op_image_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *list = NULL;
	int r = svc_image_list(a->svc, &list, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, list);
}

/* image.show and image.delete: {image} */
static void
op_image_one(struct api *a, const struct api_client *cl, struct req *q, bool del)
{
	struct hv_error err = {0};
	const char *image;
	json_t *img = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "image", HJ_REQUIRED, 255, &image, &err)) < 0 ||
	    (r = del ? svc_image_delete(a->svc, image, &err)
		     : svc_image_show(a->svc, image, &img, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, del ? json_object() : img);
}

static void
op_image_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_image_one(a, cl, q, false);
}

static void
op_image_delete(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_image_one(a, cl, q, true);
}

static void
op_user_create(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *u = NULL;
	int r = svc_user_create(a->svc, q->args, now, &u, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, u);
}

static void
op_user_list(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	struct hv_error err = {0};
	json_t *list = NULL;
	int r = svc_user_list(a->svc, &list, &err);
	if (r < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, list);
}

/* user.show and user.delete: {user} */
static void
op_user_one(struct api *a, const struct api_client *cl, struct req *q, bool del)
{
	struct hv_error err = {0};
	const char *user;
	json_t *u = NULL;
	int r;
	if ((r = hj_str(q->args, "args", "user", HJ_REQUIRED, 64, &user, &err)) < 0 ||
	    (r = del ? svc_user_delete(a->svc, user, &err)
		     : svc_user_show(a->svc, user, &u, &err)) < 0)
		return reply_hv_err(a, cl, q->id, r, &err);
	reply_ok(a, cl, q->id, del ? json_object() : u);
}

static void
op_user_show(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_user_one(a, cl, q, false);
}

static void
op_user_delete(struct api *a, const struct api_client *cl, struct req *q, int64_t now)
{
	op_user_one(a, cl, q, true);
}

/* Each op with the args it reads: any other is refused before the op runs, naming it (an
 * ignored "type": "hard" would reboot softly). NULL: the args depend on the request
 * (create's and each action's), and the service layer checks them. */
static const char *const no_args[] = {NULL};
static const char *const host_args[] = {"host", NULL};
static const char *const accept_args[] = {"key", "name", NULL};
static const char *const list_args[] = {"host", "deleted", NULL};
static const char *const server_args[] = {"server", NULL};
static const char *const log_args[] = {"server", "length", NULL};
static const char *const project_args[] = {"project", NULL};
static const char *const quota_set_args[] = {"project", "quotas", NULL};
static const char *const flavor_args[] = {"flavor", NULL};
static const char *const flavor_list_args[] = {"which", NULL};
static const char *const keypair_args[] = {"name", "project", NULL};
static const char *const user_args[] = {"user", NULL};
static const char *const aggregate_args[] = {"aggregate", NULL};
static const char *const aggregate_host_args[] = {"aggregate", "host", NULL};
static const char *const group_args[] = {"group", NULL};
static const char *const hypervisor_args[] = {"hypervisor", NULL};
static const char *const image_args[] = {"image", NULL};

static const struct {
	const char *name;
	void (*fn)(struct api *, const struct api_client *, struct req *, int64_t);
	const char *const *args;
} ops[] = {
	{"host.list", op_host_list, no_args},
	{"host.show", op_host_show, host_args},
	{"host.accept", op_host_accept, accept_args},
	{"server.create", op_server_create, NULL},
	{"server.list", op_server_list, list_args},
	{"server.show", op_server_show, server_args},
	{"server.rename", op_server_rename, NULL},
	{"server.evacuate", op_server_evacuate, NULL},
	{"server.action", op_server_action, NULL},
	{"server.console_log", op_console_log, log_args},
	{"server.console", op_console, NULL},
	{"project.create", op_project_create, NULL},
	{"project.list", op_project_list, no_args},
	{"project.show", op_project_show, project_args},
	{"quota.show", op_quota_show, project_args},
	{"quota.set", op_quota_set, quota_set_args},
	{"flavor.create", op_flavor_create, NULL},
	{"flavor.list", op_flavor_list, flavor_list_args},
	{"flavor.show", op_flavor_show, flavor_args},
	{"flavor.delete", op_flavor_delete, flavor_args},
	{"flavor.set", op_flavor_set, NULL},
	{"flavor.unset", op_flavor_unset, NULL},
	{"keypair.create", op_keypair_create, NULL},
	{"keypair.list", op_keypair_list, project_args},
	{"keypair.show", op_keypair_show, keypair_args},
	{"keypair.delete", op_keypair_delete, keypair_args},
	{"user.create", op_user_create, NULL},
	{"user.list", op_user_list, no_args},
	{"user.show", op_user_show, user_args},
	{"user.delete", op_user_delete, user_args},
	{"aggregate.create", op_aggregate_create, NULL},
	{"aggregate.list", op_aggregate_list, no_args},
	{"aggregate.show", op_aggregate_show, aggregate_args},
	{"aggregate.set", op_aggregate_set, NULL},
	{"aggregate.unset", op_aggregate_unset, NULL},
	{"aggregate.add_host", op_aggregate_add_host, aggregate_host_args},
	{"aggregate.remove_host", op_aggregate_remove_host, aggregate_host_args},
	{"aggregate.delete", op_aggregate_delete, aggregate_args},
	{"availability_zone.list", op_zone_list, no_args},
	{"server_group.create", op_server_group_create, NULL},
	{"server_group.list", op_server_group_list, project_args},
	{"server_group.show", op_server_group_show, group_args},
	{"server_group.delete", op_server_group_delete, group_args},
	{"usage.list", op_usage_list, NULL},
	{"usage.show", op_usage_show, NULL},
	{"hypervisor.list", op_hypervisor_list, no_args},
	{"hypervisor.show", op_hypervisor_show, hypervisor_args},
	{"hypervisor.stats", op_hypervisor_stats, no_args},
	{"image.create", op_image_create, NULL},
	{"image.upload", op_image_upload, NULL},
	{"image.finish", op_image_finish, NULL},
	{"image.list", op_image_list, no_args},
	{"image.show", op_image_show, image_args},
	{"image.set", op_image_set, NULL},
	{"image.delete", op_image_delete, image_args},
	{"image.download", op_image_download, NULL},
};

/* Networking's ops: each answers what its service function returns (docs/api.md). */
static const struct {
	const char *name;
	svc_net_fn *fn;
} net_ops[] = {
	{"network.create", svc_network_create},
	{"network.list", svc_network_list},
	{"network.show", svc_network_show},
	{"network.delete", svc_network_delete},
	{"subnet.create", svc_subnet_create},
	{"subnet.list", svc_subnet_list},
	{"subnet.show", svc_subnet_show},
	{"subnet.delete", svc_subnet_delete},
	{"port.list", svc_port_list},
	{"port.show", svc_port_show},
	{"secgroup.create", svc_secgroup_create},
	{"secgroup.list", svc_secgroup_list},
	{"secgroup.show", svc_secgroup_show},
	{"secgroup.delete", svc_secgroup_delete},
	{"secgroup.rule.create", svc_sgrule_create},
	{"secgroup.rule.list", svc_sgrule_list},
	{"secgroup.rule.delete", svc_sgrule_delete},
	{"floatingip.create", svc_fip_create},
	{"floatingip.list", svc_fip_list},
	{"floatingip.show", svc_fip_show},
	{"floatingip.delete", svc_fip_delete},
	{"server.floatingip.add", svc_fip_associate},
	{"server.floatingip.remove", svc_fip_disassociate},
	{"server.secgroup.add", svc_server_add_secgroup},
	{"server.secgroup.remove", svc_server_remove_secgroup},
};

/* Runs op when it is one of net_ops; false otherwise. */
static bool
net_op(struct api *a, const struct api_client *cl, const char *op, struct req *q, int64_t now)
{
	for (size_t i = 0; i < sizeof net_ops / sizeof net_ops[0]; i++) {
		if (strcmp(net_ops[i].name, op) != 0)
			continue;
		struct hv_error err = {0};
		json_t *res = NULL;
		int r = net_ops[i].fn(a->svc, q->args, now, &res, &err);
		if (r < 0)
			reply_hv_err(a, cl, q->id, r, &err);
		else
			reply_ok(a, cl, q->id, res ? res : json_object());
		return true;
	}
	return false;
}

static const char *const request_fields[] = {"id", "op", "args", "wait", "timeout_ms", NULL};

/* Fields of a request that are secrets (protocol §10.3): overwritten once the request is
 * handled, so they live no longer than the command that carries them. */
static void
wipe_request_secrets(json_t *args)
{
	static const char *const secret[] = {"admin_pass", "user_data", "password"};
	for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
		hj_wipe_string(json_object_get(args, secret[i]));
}

void
api_on_request(struct api *a, const struct api_client *cl, const void *data, size_t len,
	       int64_t now)
{
	struct hv_error err = {0};
	json_t *req = NULL;
	const char *op;
	struct req q = {.timeout_ms = DEFAULT_WAIT_MS};
	int r = hj_parse(data, len, "request", true, &req, &err);
	if (r < 0)
		return reply_hv_err(a, cl, NULL, r, &err);
	q.id = json_object_get(req, "id");
	if ((r = hj_known_keys(req, "request", request_fields, &err)) < 0 ||
	    (r = hj_str(req, "request", "op", HJ_REQUIRED, 64, &op, &err)) < 0 ||
	    (r = hj_obj(req, "request", "args", HJ_OPTIONAL, &q.args, &err)) < 0 ||
	    (r = hj_bool(req, "request", "wait", HJ_OPTIONAL, &q.wait, &err)) < 0 ||
	    (r = hj_int(req, "request", "timeout_ms", HJ_OPTIONAL, 1, MAX_WAIT_MS, &q.timeout_ms,
			&err)) < 0) {
		reply_hv_err(a, cl, q.id, r, &err);
		goto out;
	}
	json_t *empty = NULL;
	if (!q.args)
		q.args = empty = json_object();
	size_t i;
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (strcmp(ops[i].name, op) == 0) {
			if (ops[i].args &&
			    (r = hj_known_keys(q.args, "args", ops[i].args, &err)) < 0)
				reply_hv_err(a, cl, q.id, r, &err);
			else
				ops[i].fn(a, cl, &q, now);
			break;
		}
	}
	if (i == sizeof ops / sizeof ops[0] && !net_op(a, cl, op, &q, now))
		reply_err(a, cl, q.id, "invalid", "request.op",
			  "request.op: unknown operation (see docs/api.md)", NULL);
	wipe_request_secrets(q.args);
	json_decref(empty);
out:
	json_decref(req);
}

const char *
api_tail_lines(const char *text, long lines)
{
	if (lines <= 0)
		return text;
	size_t n = strlen(text);
	if (n && text[n - 1] == '\n')
		n--;
	while (n > 0) {
		if (text[n - 1] == '\n' && --lines == 0)
			return text + n;
		n--;
	}
	return text;
}

/* The host's console endpoint and, when hvcentral serves a console proxy, the proxy's URL
 * (nova's, as the REST front gives it); a server gone since the request has none. */
static void
console_reply(struct api *a, const struct waiter *w, const json_t *data, int64_t now)
{
	struct hv_error err = {0};
	char url[512], log_id[9];
	json_t *res = json_is_object(data) ? json_deep_copy(data) : json_object();
	int r = svc_console_url(a->svc, w->uuid, res, now, url, log_id, &err);
	if (r < 0 && r != -ENOTSUP) {
		hj_wipe_string(json_object_get(res, "password"));
		json_decref(res);
		return reply_hv_err(a, &w->cl, w->id, r, &err);
	}
	if (r == 0) {
		json_object_set_new(res, "url", json_string(url));
		explicit_bzero(url, sizeof url);
	}
	reply_ok(a, &w->cl, w->id, res);
}

void
api_on_done(struct api *a, const char *cmd_id, bool ok, json_t *result, int64_t now)
{
	for (size_t i = 0; i < a->n_w;) {
		struct waiter *w = &a->w[i];
		if (strcmp(w->cmd_id, cmd_id) != 0) {
			i++;
			continue;
		}
		if (!ok) {
			const char *code = json_string_value(json_object_get(result, "code"));
			const char *msg = json_string_value(json_object_get(result, "message"));
			const char *field = json_string_value(json_object_get(result, "field"));
			reply_err(a, &w->cl, w->id, code ? code : "internal", field,
				  msg ? msg : "the command failed",
				  json_object_get(result, "result"));
		} else if (w->kind == W_CONSOLE) {
			console_reply(a, w, json_object_get(result, "data"), now);
		} else if (w->kind == W_CONSOLE_LOG) {
			const char *out = json_string_value(
				json_object_get(json_object_get(result, "data"), "output"));
			reply_ok(a, &w->cl, w->id,
				 json_pack("{s:s}", "output",
					   api_tail_lines(out ? out : "", w->lines)));
		} else {
			json_t *inst = NULL;
			struct hv_error err = {0};
			if (svc_server_get(a->svc, w->uuid, &inst, &err) < 0)
				inst = json_incref(json_object_get(result, "instance"));
			json_t *image = json_object_get(json_object_get(result, "data"), "image");
			if (json_is_object(inst) && w->extra)
				json_object_update(inst, w->extra);
			if (json_is_object(inst) && json_is_object(image)) /* what the host wrote */
				json_object_update(json_object_get(inst, "image_snapshot"), image);
			reply_ok(a, &w->cl, w->id, inst);
		}
		unpark(a, i);
	}
}

void
api_tick(struct api *a, int64_t now)
{
	for (size_t i = 0; i < a->n_w;) {
		struct waiter *w = &a->w[i];
		if (now < w->deadline_ms) {
			i++;
			continue;
		}
		char msg[160];
		snprintf(msg, sizeof msg,
			 "command %s still running after the wait timeout; "
			 "check hv server show",
			 w->cmd_id);
		reply_err(a, &w->cl, w->id, "timeout", NULL, msg, NULL);
		unpark(a, i);
	}
}

uint64_t
api_mark(const struct api *a)
{
	return a->seq;
}

void
api_abort_since(struct api *a, uint64_t mark, const char *code, const char *message)
{
	for (size_t i = 0; i < a->n_w;) {
		if (a->w[i].seq <= mark) {
			i++;
			continue;
		}
		reply_err(a, &a->w[i].cl, a->w[i].id, code, NULL, message, NULL);
		unpark(a, i);
	}
}

char *
api_error_instead(const char *reply, const char *code, const char *message)
{
	json_t *r = json_loads(reply, 0, NULL);
	json_t *e = error_reply(json_object_get(r, "id"), code, NULL, message, NULL);
	char *text = e ? hj_dump(e) : NULL;
	json_decref(e);
	json_decref(r);
	return text;
}
