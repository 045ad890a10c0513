/* client.c - API socket client. A request that cannot be delivered within the timeout is
 * reported as "cannot reach hvcentral", never retried behind the caller's back: a retried
 * create could build two servers. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "endpoint.h"
#include "json.h"

struct hvc {
	void *ctx;
	void *sock;
	char endpoint[512];
	uint64_t next_id;
};

void
hvc_resolve_endpoint(const char *explicit_ep, char *buf, size_t size)
{
	const char *env = getenv("HV_API");
	if (explicit_ep && *explicit_ep)
		snprintf(buf, size, "%s", explicit_ep);
	else if (env && *env)
		snprintf(buf, size, "%s", env);
	else
		endpoint_default(buf, size);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hvc_open(const char *endpoint, struct hvc **ret, struct hv_error *err)
{
	if (strncmp(endpoint, "ipc://", 6) == 0) {
		struct stat st;
		/* a missing socket file means no hvcentral: say so now rather than time out */
		if (stat(endpoint + 6, &st) < 0 || !S_ISSOCK(st.st_mode))
			return hv_error_set(err, -EHOSTUNREACH, "api",
					    "cannot reach hvcentral: no socket at %s (is hvcentral "
					    "running? set HV_API or --api)",
					    endpoint + 6);
	} else if (strncmp(endpoint, "tcp://", 6) != 0) {
		return hv_error_set(err, -EINVAL, "api",
				    "'%s' is not an API endpoint (ipc://PATH or tcp://HOST:PORT)",
				    endpoint);
	}
	struct hvc *c = calloc(1, sizeof *c);
	if (!c)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
	c->next_id = 1;
	c->ctx = zmq_ctx_new();
	c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
	int zero = 0, one = 1;
	if (!c->sock || zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
	    zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof one) < 0 ||
	    zmq_connect(c->sock, endpoint) < 0) {
		int e = errno;
		hvc_free(c);
		return hv_error_set(err, -EHOSTUNREACH, "api", "cannot reach hvcentral at %s: %s",
				    endpoint, zmq_strerror(e));
	}
	*ret = c;
	return 0;
}

void
hvc_free(struct hvc *c)
{
	if (!c)
		return;
	if (c->sock)
		zmq_close(c->sock);
	if (c->ctx)
		zmq_ctx_term(c->ctx);
	free(c);
}

int
hvc_send(struct hvc *c, const char *op, json_t *args, bool wait, int64_t timeout_ms,
	 uint64_t *ret_id, struct hv_error *err)
{
	uint64_t id = c->next_id++;
	json_t *req = json_pack("{s:I, s:s, s:o, s:b}", "id", (json_int_t)id, "op", op, "args",
				args ? json_incref(args) : json_object(), "wait", wait);
	if (timeout_ms > 0)
		json_object_set_new(req, "timeout_ms", json_integer(timeout_ms));
	char *text = hj_dump(req);
	json_decref(req);
	if (!text)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	/* ZMQ_IMMEDIATE: the send only queues once a connection exists */
	zmq_pollitem_t pi = {.socket = c->sock, .events = ZMQ_POLLOUT};
	int rc = zmq_poll(&pi, 1, 3000);
	if (rc <= 0 || zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->sock, text, strlen(text), ZMQ_DONTWAIT) < 0) {
		free(text);
		return hv_error_set(err, -EHOSTUNREACH, "api",
				    "cannot reach hvcentral at %s (no connection)", c->endpoint);
	}
	free(text);
	if (ret_id)
		*ret_id = id;
	return 0;
}

int
hvc_recv(struct hvc *c, int64_t timeout_ms, uint64_t *ret_id, json_t **ret_reply,
	 struct hv_error *err)
{
	zmq_pollitem_t pi = {.socket = c->sock, .events = ZMQ_POLLIN};
	int rc = zmq_poll(&pi, 1, (long)timeout_ms);
	if (rc <= 0)
		return hv_error_set(err, -EHOSTUNREACH, "api",
				    "cannot reach hvcentral at %s (no reply within %lld ms)",
				    c->endpoint, (long long)timeout_ms);
	json_t *reply = NULL;
	int r = 0;
	for (int more = 1; more;) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, c->sock, 0) < 0) {
			zmq_msg_close(&m);
			json_decref(reply);
			return hv_error_set(err, -EHOSTUNREACH, "api", "receive from %s: %s",
					    c->endpoint, zmq_strerror(errno));
		}
		more = zmq_msg_more(&m);
		if (zmq_msg_size(&m) > 0 && !reply && r == 0)
			r = hj_parse(zmq_msg_data(&m), zmq_msg_size(&m), "reply", true, &reply,
				     err);
		zmq_msg_close(&m);
	}
	if (r < 0 || !reply)
		return r < 0 ? r : hv_error_set(err, -EPROTO, "reply", "empty reply");
	*ret_id = (uint64_t)json_integer_value(json_object_get(reply, "id"));
	*ret_reply = reply;
	return 0;
}

int
hvc_call(struct hvc *c, const char *op, json_t *args, bool wait, int64_t timeout_ms,
	 int64_t reply_timeout_ms, json_t **ret_result, char ret_code[32], struct hv_error *err)
{
	uint64_t id, got;
	int r = hvc_send(c, op, args, wait, timeout_ms, &id, err);
	if (r < 0)
		return r;
	int64_t end = mono_ms() + reply_timeout_ms;
	json_t *reply = NULL;
	for (;;) {
		int64_t left = end - mono_ms();
		/* waits come in slices so a controller that died is noticed, not waited out */
		int64_t slice = left > 1000 ? 1000 : left > 0 ? left : 0;
		r = hvc_recv(c, slice, &got, &reply, err);
		if (r == -EHOSTUNREACH && left > slice) {
			if (endpoint_ipc_state(c->endpoint) == 0)
				return hv_error_set(err, -EHOSTUNREACH, "api",
						    "hvcentral at %s went away before answering",
						    c->endpoint);
			continue;
		}
		if (r < 0)
			return r;
		if (got == id)
			break;
		json_decref(reply); /* a late answer to an earlier request */
	}
	if (ret_code)
		ret_code[0] = '\0';
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (ret_result) {
			*ret_result = json_incref(json_object_get(reply, "result"));
		}
		json_decref(reply);
		return 0;
	}
	json_t *e = json_object_get(reply, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *field = json_string_value(json_object_get(e, "field"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (ret_code)
		snprintf(ret_code, 32, "%s", code ? code : "internal");
	r = code && strcmp(code, "timeout") == 0 ? -ETIMEDOUT : -EREMOTEIO;
	hv_error_set(err, r, field ? field : "", "%s", msg ? msg : "request failed");
	if (ret_result)
		*ret_result = json_incref(json_object_get(e, "result"));
	json_decref(reply);
	return r;
}
