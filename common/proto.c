/* proto.c - HVA/1 frame codec and its zmq edge. The codec must stay pure (no sockets, no
 * clocks except proto_header_init's helpers); it must never trust a length, never print a
 * received byte that is not printable, and never keep a pointer into a received frame. */
#include "proto.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "json.h"

static const char *const type_names[PROTO_N_TYPES] = {
	[PROTO_HELLO] = "HELLO",
	[PROTO_WELCOME] = "WELCOME",
	[PROTO_SNAPSHOT] = "SNAPSHOT",
	[PROTO_DELTA] = "DELTA",
	[PROTO_REPORT] = "REPORT",
	[PROTO_EVENT] = "EVENT",
	[PROTO_COMMAND] = "COMMAND",
	[PROTO_ACK] = "ACK",
	[PROTO_RESULT] = "RESULT",
	[PROTO_PING] = "PING",
	[PROTO_PONG] = "PONG",
	[PROTO_RESYNC] = "RESYNC",
	[PROTO_ERROR] = "ERROR",
	[PROTO_IMAGE_GET] = "IMAGE_GET",
	[PROTO_IMAGE_DATA] = "IMAGE_DATA",
};

const char *
proto_type_name(enum proto_type type)
{
	if ((unsigned)type >= PROTO_N_TYPES)
		return "UNKNOWN";
	return type_names[type];
}

int
proto_type_parse(const char *name, size_t len)
{
	for (int t = 0; t < PROTO_N_TYPES; t++)
		if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
			return t;
	return -EPROTONOSUPPORT;
}

int64_t
proto_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
proto_uuid4(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof b) {
		ssize_t r = getrandom(b + got, sizeof b - got, 0);

		if (r > 0)
			got += (size_t)r;
		else if (errno != EINTR)
			abort(); /* no entropy means no safe ids: nothing sensible to continue with */
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 0, o = 0; i < 16; i++) { /* 8-4-4-4-12 lower-case hex */
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = "0123456789abcdef"[b[i] >> 4];
		out[o++] = "0123456789abcdef"[b[i] & 15];
	}
	out[36] = '\0';
}

bool
proto_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > PROTO_MAX_ID)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

void
proto_header_init(struct proto_header *hdr, const char *host_id, const char *boot_id)
{
	memset(hdr, 0, sizeof *hdr);
	proto_uuid4(hdr->msg_id);
	snprintf(hdr->host_id, sizeof hdr->host_id, "%s", host_id ? host_id : "");
	snprintf(hdr->boot_id, sizeof hdr->boot_id, "%s", boot_id ? boot_id : "");
	hdr->ts_ms = proto_now_ms();
	hdr->schema = PROTO_SCHEMA;
}

static json_t *
header_to_json(const struct proto_msg *msg)
{
	const struct proto_header *h = &msg->hdr;
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "msg_id", json_string(h->msg_id));
	if (h->corr_id[0])
		json_object_set_new(o, "corr_id", json_string(h->corr_id));
	if (h->host_id[0])
		json_object_set_new(o, "host_id", json_string(h->host_id));
	if (h->boot_id[0])
		json_object_set_new(o, "boot_id", json_string(h->boot_id));
	if (h->has_seq)
		json_object_set_new(o, "seq", json_integer((json_int_t)h->seq));
	json_object_set_new(o, "ts_ms", json_integer(h->ts_ms));
	json_object_set_new(o, "schema", json_integer(h->schema));
	if (msg->type == PROTO_COMMAND) {
		json_object_set_new(o, "cmd_id", json_string(h->cmd_id));
		json_object_set_new(o, "deadline_ms", json_integer(h->deadline_ms));
	}
	return o;
}

void
proto_wire_release(struct proto_wire *wire)
{
	if (!wire)
		return;
	for (int i = 0; i < PROTO_N_FRAMES; i++) {
		if (i == 3 && wire->data[i]) /* a body may hold a secret (§10.3) */
			explicit_bzero(wire->data[i], wire->len[i]);
		free(wire->data[i]);
		wire->data[i] = NULL;
		wire->len[i] = 0;
	}
}

int
proto_encode(const struct proto_msg *msg, struct proto_wire *ret, struct hv_error *err)
{
	json_t *hdr;
	char *h, *b;
	const char *tn;

	memset(ret, 0, sizeof *ret);
	if ((unsigned)msg->type >= PROTO_N_TYPES)
		return hv_error_set(err, -EINVAL, "type", "type: unknown message type %d",
				    (int)msg->type);
	if (!hj_is_uuid(msg->hdr.msg_id))
		return hv_error_set(err, -EINVAL, "header.msg_id", "header.msg_id: not a UUID");
	if (msg->type == PROTO_COMMAND && !proto_id_valid(msg->hdr.cmd_id))
		return hv_error_set(err, -EINVAL, "header.cmd_id",
				    "header.cmd_id: required on COMMAND (1-%d of [A-Za-z0-9._:-])",
				    PROTO_MAX_ID);
	if (msg->body && !json_is_object(msg->body))
		return hv_error_set(err, -EINVAL, "body", "body: must be a JSON object");
	hdr = header_to_json(msg);
	h = hdr ? hj_dump(hdr) : NULL;
	json_decref(hdr);
	b = msg->body ? hj_dump(msg->body) : strdup("{}");
	tn = type_names[msg->type];
	ret->data[0] = strdup(PROTO_SIGNATURE);
	ret->data[1] = strdup(tn);
	ret->data[2] = h;
	ret->data[3] = b;
	for (int i = 0; i < PROTO_N_FRAMES; i++) {
		if (!ret->data[i]) {
			proto_wire_release(ret);
			return hv_error_set(err, -ENOMEM, NULL, "out of memory encoding %s", tn);
		}
		ret->len[i] = strlen(ret->data[i]);
	}
	if (ret->len[2] > PROTO_MAX_HEADER || ret->len[3] > PROTO_MAX_BODY) {
		int frame = ret->len[2] > PROTO_MAX_HEADER ? 2 : 3;
		size_t len = ret->len[frame];

		proto_wire_release(ret);
		return hv_error_set(err, -EMSGSIZE, frame == 2 ? "header" : "body",
				    "frame %d (%s): %zu bytes exceeds the limit of %d", frame,
				    frame == 2 ? "header" : "body", len,
				    frame == 2 ? PROTO_MAX_HEADER : PROTO_MAX_BODY);
	}
	return 0;
}

void
proto_msg_release(struct proto_msg *msg)
{
	if (!msg)
		return;
	json_decref(msg->body);
	msg->body = NULL;
}

/* Printable rendering of untrusted bytes for an error message. */
static void
show(char *out, size_t size, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < size; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", p[i]);
	}
	if (o >= size)
		o = size - 1;
	out[o] = '\0';
}

static int
copy_str(const json_t *h, const char *key, int flags, size_t max, char *dst, size_t dst_size,
	 struct hv_error *err)
{
	const char *s = NULL;
	int r = hj_str(h, "header", key, flags, max, &s, err);

	if (r > 0)
		snprintf(dst, dst_size, "%s", s);
	return r;
}

static int
copy_uuid(const json_t *h, const char *key, int flags, char dst[37], struct hv_error *err)
{
	const char *s = NULL;
	int r = hj_uuid(h, "header", key, flags, &s, err);

	if (r > 0)
		snprintf(dst, 37, "%s", s);
	return r;
}

static int
parse_header(const json_t *h, enum proto_type type, struct proto_header *hdr, struct hv_error *err)
{
	int64_t v = 0;
	int r;

	if ((r = copy_uuid(h, "msg_id", HJ_REQUIRED, hdr->msg_id, err)) < 0 ||
	    (r = copy_uuid(h, "corr_id", HJ_OPTIONAL, hdr->corr_id, err)) < 0 ||
	    (r = copy_uuid(h, "boot_id", HJ_OPTIONAL, hdr->boot_id, err)) < 0 ||
	    (r = copy_str(h, "host_id", HJ_OPTIONAL, PROTO_MAX_ID, hdr->host_id,
			  sizeof hdr->host_id, err)) < 0)
		return r;
	if (hdr->host_id[0] && !proto_id_valid(hdr->host_id))
		return hv_error_set(err, -EINVAL, "header.host_id",
				    "header.host_id: expected 1-%d of [A-Za-z0-9._:-]",
				    PROTO_MAX_ID);
	r = hj_int(h, "header", "seq", HJ_OPTIONAL, 0, INT64_MAX, &v, err);
	if (r < 0)
		return r;
	hdr->has_seq = r > 0;
	hdr->seq = (uint64_t)v;
	if ((r = hj_int(h, "header", "ts_ms", HJ_OPTIONAL, 0, INT64_MAX, &hdr->ts_ms, err)) < 0)
		return r;
	v = 0;
	if ((r = hj_int(h, "header", "schema", HJ_REQUIRED, 1, UINT32_MAX, &v, err)) < 0)
		return r;
	hdr->schema = (uint32_t)v;
	if (type != PROTO_COMMAND)
		return 0;
	if ((r = copy_str(h, "cmd_id", HJ_REQUIRED, PROTO_MAX_ID, hdr->cmd_id, sizeof hdr->cmd_id,
			  err)) < 0)
		return r;
	if (!proto_id_valid(hdr->cmd_id))
		return hv_error_set(err, -EINVAL, "header.cmd_id",
				    "header.cmd_id: expected 1-%d of [A-Za-z0-9._:-]",
				    PROTO_MAX_ID);
	return hj_int(h, "header", "deadline_ms", HJ_REQUIRED, 0, INT64_MAX, &hdr->deadline_ms,
		      err) < 0
		       ? -EINVAL
		       : 0;
}

/* Best effort: msg_id and host_id of a message about to be refused, so the ERROR can carry
 * corr_id. Silent on any problem. Only on the refusal path: a good header is parsed once. */
static void
salvage_ids(const struct proto_frame *f, struct proto_header *hdr)
{
	json_t *h;

	if (f->len > PROTO_MAX_HEADER || hj_parse(f->data, f->len, "header", true, &h, NULL) < 0)
		return;
	copy_uuid(h, "msg_id", HJ_OPTIONAL, hdr->msg_id, NULL);
	copy_str(h, "host_id", HJ_OPTIONAL, PROTO_MAX_ID, hdr->host_id, sizeof hdr->host_id, NULL);
	if (!proto_id_valid(hdr->host_id))
		hdr->host_id[0] = '\0';
	json_decref(h);
}

#define REFUSE(code, r)                                     \
	do {                                                \
		if (n >= 3)                                 \
			salvage_ids(&frames[2], &ret->hdr); \
		*ret_code = (code);                         \
		return (r);                                 \
	} while (0)

int
proto_decode(const struct proto_frame *frames, size_t n, struct proto_msg *ret,
	     const char **ret_code, struct hv_error *err)
{
	const char *dummy;
	char shown[80];
	json_t *h = NULL;
	int t, r;

	if (!ret_code)
		ret_code = &dummy;
	*ret_code = NULL;
	memset(ret, 0, sizeof *ret);
	ret->type = PROTO_N_TYPES;
	if (n != PROTO_N_FRAMES)
		REFUSE(PROTO_E_BAD_FRAME,
		       hv_error_set(err, -EPROTO, "frames",
				    "expected %d frames (signature, type, header, body), got %zu",
				    PROTO_N_FRAMES, n));
	if (frames[0].len != 4 || memcmp(frames[0].data, PROTO_SIGNATURE, 4) != 0) {
		show(shown, sizeof shown, frames[0].data, frames[0].len < 16 ? frames[0].len : 16);
		REFUSE(PROTO_E_BAD_FRAME,
		       hv_error_set(err, -EPROTO, "signature",
				    "frame 0 (signature): expected \"HVA1\", got \"%s\"", shown));
	}
	t = frames[1].len <= PROTO_MAX_TYPE ? proto_type_parse(frames[1].data, frames[1].len)
					    : -EPROTONOSUPPORT;
	if (t < 0) {
		show(shown, sizeof shown, frames[1].data, frames[1].len < 16 ? frames[1].len : 16);
		REFUSE(PROTO_E_UNSUPPORTED,
		       hv_error_set(err, -EPROTONOSUPPORT, "type",
				    "frame 1 (type): unknown message type \"%s\"", shown));
	}
	ret->type = (enum proto_type)t;
	if (frames[2].len > PROTO_MAX_HEADER)
		REFUSE(PROTO_E_TOO_LARGE,
		       hv_error_set(err, -EMSGSIZE, "header",
				    "frame 2 (header): %zu bytes exceeds the limit of %d",
				    frames[2].len, PROTO_MAX_HEADER));
	if (frames[3].len > PROTO_MAX_BODY)
		REFUSE(PROTO_E_TOO_LARGE,
		       hv_error_set(err, -EMSGSIZE, "body",
				    "frame 3 (body): %zu bytes exceeds the limit of %d",
				    frames[3].len, PROTO_MAX_BODY));
	if (hj_parse(frames[2].data, frames[2].len, "frame 2 (header)", true, &h, err) < 0)
		REFUSE(PROTO_E_BAD_JSON, -EINVAL);
	r = parse_header(h, ret->type, &ret->hdr, err);
	json_decref(h);
	if (r < 0)
		REFUSE(PROTO_E_INVALID, -EINVAL);
	if (hj_parse(frames[3].data, frames[3].len, "frame 3 (body)", true, &ret->body, err) < 0)
		REFUSE(PROTO_E_BAD_JSON, -EINVAL);
	return 0;
}

json_t *
proto_error_body(const char *code, const struct hv_error *err)
{
	json_t *o = json_object();

	json_object_set_new(o, "code", json_string(code ? code : PROTO_E_INTERNAL));
	json_object_set_new(o, "message",
			    json_string(err && err->message[0] ? err->message : code));
	if (err && err->field[0])
		json_object_set_new(o, "field", json_string(err->field));
	return o;
}

/* --- zmq edge --- */

/* NULL: the map's fallback. */
static const struct {
	int errnum;
	const char *code[PROTO_MAP_N];
} errno_codes[] = {
	/* errno          COMMAND                  FIREWALL                 API */
	{EINVAL, {PROTO_E_INVALID, PROTO_E_INVALID, PROTO_E_INVALID}},
	{ENOENT, {PROTO_E_NOT_FOUND, PROTO_E_NOT_FOUND, PROTO_E_NOT_FOUND}},
	{EBUSY, {PROTO_E_INVALID_STATE, PROTO_E_INVALID_STATE, PROTO_E_TASK_IN_FLIGHT}},
	{ETIME, {PROTO_E_EXPIRED, PROTO_E_EXPIRED, NULL}},
	{EOPNOTSUPP, {PROTO_E_NOT_SUPPORTED, NULL, NULL}},
	{EINTR, {PROTO_E_INTERRUPTED, NULL, NULL}},
	{EPERM, {NULL, NULL, PROTO_E_INVALID_STATE}},
	{EEXIST, {NULL, NULL, PROTO_E_CONFLICT}},
	{EHOSTDOWN, {NULL, NULL, PROTO_E_HOST_DOWN}},
	{EHOSTUNREACH, {NULL, NULL, PROTO_E_HOST_DISABLED}},
	{EDQUOT, {NULL, NULL, PROTO_E_OVER_QUOTA}},
	{ENOSPC, {NULL, NULL, PROTO_E_NO_VALID_HOST}},
};

static const char *const errno_fallback[PROTO_MAP_N] = {
	[PROTO_MAP_COMMAND] = PROTO_E_DRIVER,
	[PROTO_MAP_FIREWALL] = PROTO_E_INTERNAL,
	[PROTO_MAP_API] = PROTO_E_INTERNAL,
};

const char *
proto_code_for_errno(int rc, enum proto_code_map map)
{
	if ((unsigned)map >= PROTO_MAP_N)
		return PROTO_E_INTERNAL;
	for (size_t i = 0; i < sizeof errno_codes / sizeof errno_codes[0]; i++)
		if (-rc == errno_codes[i].errnum)
			return errno_codes[i].code[map] ? errno_codes[i].code[map]
							: errno_fallback[map];
	return errno_fallback[map];
}

/* libzmq's free function for a body frame it was handed without a copy: called once the
 * frame has left (from libzmq's I/O thread), it wipes the text, which may hold a secret. */
static void
wipe_frame(void *data, void *hint)
{
	explicit_bzero(data, (size_t)(uintptr_t)hint);
	free(data);
}

int
proto_send_wire(void *sock, const struct proto_peer *peer, struct proto_wire *w, int flags,
		const char *what, struct hv_error *err)
{
	zmq_msg_t body;
	int r;

	if (peer && zmq_send(sock, peer->routing_id, peer->routing_id_len, flags | ZMQ_SNDMORE) < 0)
		goto fail;
	for (int i = 0; i < PROTO_N_FRAMES - 1; i++)
		if (zmq_send(sock, w->data[i], w->len[i], flags | ZMQ_SNDMORE) < 0)
			goto fail;
	/* the body goes without a copy, so the only copy is ours and is wiped when sent */
	if (zmq_msg_init_data(&body, w->data[3], w->len[3], wipe_frame,
			      (void *)(uintptr_t)w->len[3]))
		goto fail;
	w->data[3] = NULL;
	if (zmq_msg_send(&body, sock, flags) < 0) {
		r = -zmq_errno();
		zmq_msg_close(&body); /* not sent: closing it calls wipe_frame */
		proto_wire_release(w);
		return hv_error_set(err, r, NULL, "sending %s: %s", what, zmq_strerror(-r));
	}
	proto_wire_release(w);
	return 0;
fail:
	r = -zmq_errno();
	proto_wire_release(w);
	return hv_error_set(err, r, NULL, "sending %s: %s", what, zmq_strerror(-r));
}

int
proto_send(void *sock, const struct proto_peer *peer, const struct proto_msg *msg, int flags,
	   struct hv_error *err)
{
	struct proto_wire w;
	int r = proto_encode(msg, &w, err);

	if (r < 0)
		return r;
	return proto_send_wire(sock, peer, &w, flags, proto_type_name(msg->type), err);
}

#define RECV_MAX_PARTS 8

int
proto_recv(void *sock, bool router, int flags, struct proto_peer *peer, struct proto_msg *ret,
	   const char **ret_code, struct hv_error *err)
{
	zmq_msg_t parts[RECV_MAX_PARTS];
	struct proto_frame frames[RECV_MAX_PARTS];
	size_t n = 0, total = 0, skip = router ? 1 : 0;
	int more = 1, r;

	memset(ret, 0, sizeof *ret);
	if (peer)
		memset(peer, 0, sizeof *peer);
	while (more) {
		zmq_msg_t m;
		size_t len;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, n == 0 && total == 0 ? flags : 0) < 0) {
			r = -zmq_errno();
			zmq_msg_close(&m);
			if (total == 0) {
				if (r != -EAGAIN)
					hv_error_set(err, r, NULL, "receiving: %s",
						     zmq_strerror(-r));
				return r;
			}
			break; /* a multipart message always arrives whole; be defensive anyway */
		}
		more = zmq_msg_more(&m);
		if (total == 0 && peer) {
			const char *uid = zmq_msg_gets(&m, "User-Id");

			if (uid)
				snprintf(peer->user_id, sizeof peer->user_id, "%s", uid);
		}
		if (router && total == 0) {
			len = zmq_msg_size(&m);
			if (peer && len <= sizeof peer->routing_id) {
				memcpy(peer->routing_id, zmq_msg_data(&m), len);
				peer->routing_id_len = len;
			}
			zmq_msg_close(&m);
			total++;
			continue;
		}
		total++;
		if (n < RECV_MAX_PARTS)
			parts[n++] = m;
		else
			zmq_msg_close(&m); /* counted in total, reported as a frame-count error */
	}
	for (size_t i = 0; i < n; i++) {
		frames[i].data = zmq_msg_data(&parts[i]);
		frames[i].len = zmq_msg_size(&parts[i]);
	}
	r = proto_decode(frames, total - skip, ret, ret_code, err);
	for (size_t i = 0; i < n; i++) {
		if (i == 3)
			explicit_bzero(zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]));
		zmq_msg_close(&parts[i]);
	}
	return r;
}
