/* proto.h - the HVA/1 wire codec (docs/protocol.md is the spec): a message is the frames
 * "HVA1" | TYPE | header JSON | body JSON (a ROUTER sees the peer's routing id first).
 *
 * proto_encode/proto_decode are pure: bytes in, structs out, every frame bounds-checked,
 * errors naming the frame index and the field. proto_send/proto_recv are the thin zmq
 * edge around them. Nothing here logs; nothing here knows what a command means. */
#ifndef HV_PROTO_H
#define HV_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/error.h>

#define PROTO_SIGNATURE "HVA1"
#define PROTO_SCHEMA 1u              /* body schema minor version this build speaks */
#define PROTO_N_FRAMES 4             /* signature, type, header, body */
#define PROTO_MAX_TYPE 16            /* bytes in the type frame */
#define PROTO_MAX_HEADER 4096        /* bytes in the header frame */
#define PROTO_MAX_BODY (1024 * 1024) /* bytes in the body frame */
#define PROTO_MAX_MESSAGE (4 + PROTO_MAX_TYPE + PROTO_MAX_HEADER + PROTO_MAX_BODY)
#define HV_USER_DATA_MAX 65536 /* user data, decoded (nova's limit); base64 text: 87384 */
#define PROTO_MAX_ID 64        /* host_id, cmd_id: 1-64 bytes of [A-Za-z0-9._:-] */
/* Image data moves in chunks of at most this many bytes (base64 in a body: ~700 KB). */
#define PROTO_IMAGE_CHUNK (512 * 1024)

enum proto_type {
	PROTO_HELLO,
	PROTO_WELCOME,
	PROTO_SNAPSHOT,
	PROTO_DELTA,
	PROTO_REPORT,
	PROTO_EVENT,
	PROTO_COMMAND,
	PROTO_ACK,
	PROTO_RESULT,
	PROTO_PING,
	PROTO_PONG,
	PROTO_RESYNC,
	PROTO_ERROR,
	PROTO_IMAGE_GET,  /* agent -> controller: a chunk of a catalog image */
	PROTO_IMAGE_DATA, /* controller -> agent: the chunk, or why not */
	PROTO_N_TYPES,
};

/* Error codes carried in ERROR bodies and failed RESULTs (docs/protocol.md, "Errors"). */
#define PROTO_E_BAD_FRAME "bad_frame"           /* frame count, signature, size */
#define PROTO_E_BAD_JSON "bad_json"             /* header or body is not a JSON object */
#define PROTO_E_UNSUPPORTED "unsupported"       /* unknown type, command or schema */
#define PROTO_E_INVALID "invalid"               /* missing or mistyped field (see "field") */
#define PROTO_E_TOO_LARGE "too_large"           /* a frame over its limit */
#define PROTO_E_EXPIRED "expired"               /* COMMAND past deadline_ms: not executed */
#define PROTO_E_INVALID_STATE "invalid_state"   /* action not allowed from vm_state */
#define PROTO_E_TASK_IN_FLIGHT "task_in_flight" /* another task runs on the instance */
#define PROTO_E_NOT_FOUND "not_found"
#define PROTO_E_CMD_ID_REUSED "cmd_id_reused" /* same cmd_id, different command */
#define PROTO_E_NOT_SUPPORTED "not_supported" /* the driver lacks the operation */
#define PROTO_E_DRIVER "driver_error"
#define PROTO_E_INTERRUPTED "interrupted" /* the agent restarted while it ran */
#define PROTO_E_BUSY "busy"               /* queue full: retry later */
#define PROTO_E_CLAIM "claim_refused"     /* spawn: the host lacks room under its limits */
#define PROTO_E_NO_SESSION "no_session"   /* controller: say HELLO first (schema 1, additive) */
#define PROTO_E_INTERNAL "internal"
/* Codes of the controller's `hv` API only (docs/api.md), never on the HVA/1 wire. */
#define PROTO_E_CONFLICT "conflict"           /* the name or id is taken */
#define PROTO_E_HOST_DOWN "host_down"         /* the host's agent has no session */
#define PROTO_E_HOST_DISABLED "host_disabled" /* the host refuses new work */
#define PROTO_E_OVER_QUOTA "over_quota"       /* the project's quota would be exceeded */
#define PROTO_E_NO_VALID_HOST "no_valid_host" /* the scheduler found no host for it */

/* The one errno -> error code map. The same errno means different things to its three
 * readers, so each row says what every reader answers, side by side:
 *   PROTO_MAP_COMMAND   the agent's failed instance COMMAND (a RESULT or a recovery);
 *                       -EBUSY there is the lifecycle guard's refusal (invalid_state);
 *                       anything unlisted is the driver's failure (driver_error);
 *   PROTO_MAP_FIREWALL  the agent's failed firewall COMMAND: the netfilter module is not a
 *                       driver, so anything unlisted is internal;
 *   PROTO_MAP_API       the controller's `hv` API: -EBUSY there is another command in flight
 *                       on the server (task_in_flight) and the lifecycle refusal is -EPERM
 *                       (invalid_state); anything unlisted is internal.
 * One table rather than one errno per meaning keeps every code the suites assert today. */
enum proto_code_map {
	PROTO_MAP_COMMAND,
	PROTO_MAP_FIREWALL,
	PROTO_MAP_API,
	PROTO_MAP_N
};
/* rc is a negative errno; returns a PROTO_E_* string (static), never NULL. */
const char *proto_code_for_errno(int rc, enum proto_code_map map);

struct proto_header {
	char msg_id[37];  /* UUIDv4, required */
	char corr_id[37]; /* msg_id answered, "" when none */
	char host_id[PROTO_MAX_ID + 1];
	char boot_id[37]; /* "" when none (controller messages) */
	bool has_seq;
	uint64_t seq;
	int64_t ts_ms; /* wall clock, ms since the epoch */
	uint32_t schema;
	/* COMMAND only (required there, ignored elsewhere) */
	char cmd_id[PROTO_MAX_ID + 1];
	int64_t deadline_ms; /* wall clock, ms since the epoch */
};

struct proto_msg {
	enum proto_type type;
	struct proto_header hdr;
	json_t *body; /* owned; an object, never NULL after a successful decode */
};

struct proto_frame {
	const void *data;
	size_t len;
};

/* Encoded frames; each buffer malloc'd, released by proto_wire_release. */
struct proto_wire {
	void *data[PROTO_N_FRAMES];
	size_t len[PROTO_N_FRAMES];
};

const char *proto_type_name(enum proto_type type);
/* -> enum proto_type, or -EPROTONOSUPPORT for an unknown name. */
int proto_type_parse(const char *name, size_t len);

/* Fills a header for a new message from host_id/boot_id: fresh msg_id, ts_ms now, schema. */
void proto_header_init(struct proto_header *hdr, const char *host_id, const char *boot_id);
/* A random UUIDv4 (37 bytes with NUL). */
void proto_uuid4(char out[37]);
int64_t proto_now_ms(void);
/* True for 1-64 bytes of [A-Za-z0-9._:-] (host_id, cmd_id). */
bool proto_id_valid(const char *s);

/* Encodes msg (body NULL means {}). -EMSGSIZE when a frame exceeds its limit, -EINVAL when
 * the header is incomplete (no msg_id, COMMAND without cmd_id). */
int proto_encode(const struct proto_msg *msg, struct proto_wire *ret, struct hv_error *err);
void proto_wire_release(struct proto_wire *wire);

/* Decodes n frames (routing id already removed). On failure returns -EPROTO/-EINVAL/
 * -EMSGSIZE/-EPROTONOSUPPORT, sets *ret_code to one of PROTO_E_* and fills what it could
 * parse of ret->type/ret->hdr (msg_id for corr_id, host_id), so the caller can answer
 * with an ERROR; ret->body is NULL then. ret_code may be NULL. */
int proto_decode(const struct proto_frame *frames, size_t n, struct proto_msg *ret,
		 const char **ret_code, struct hv_error *err);
/* Releases the body (NULL-safe); the struct itself is caller memory. */
void proto_msg_release(struct proto_msg *msg);

/* Builds the body of an ERROR: {"code", "message", "field"?, "frame"?}. New reference. */
json_t *proto_error_body(const char *code, const struct hv_error *err);

/* --- zmq edge --- */

/* Where a received message came from: the ROUTER routing id and the ZAP User-Id. */
struct proto_peer {
	unsigned char routing_id[256];
	size_t routing_id_len;
	char user_id[PROTO_MAX_ID + 1]; /* "" when the socket has no ZAP user */
};

/* Sends msg on sock, prefixed by peer's routing id when peer is non-NULL (ROUTER).
 * flags: ZMQ_DONTWAIT or 0. -errno from zmq_msg_send on failure. */
int proto_send(void *sock, const struct proto_peer *peer, const struct proto_msg *msg, int flags,
	       struct hv_error *err);
/* Sends frames proto_encode made (what names them in an error) and releases them, sent or
 * not: a caller can encode now and send later (hvcentral sends nothing before its
 * transaction commits). */
int proto_send_wire(void *sock, const struct proto_peer *peer, struct proto_wire *w, int flags,
		    const char *what, struct hv_error *err);
/* Receives one whole multipart message (always draining every part). When router, the
 * first part is the routing id stored in *peer. Returns 0, -EAGAIN (with ZMQ_DONTWAIT and
 * nothing pending), or a decode error as proto_decode (message consumed, *peer and the
 * partial header filled so the caller can answer). A body frame is wiped after decoding
 * because COMMAND bodies may carry secrets. */
int proto_recv(void *sock, bool router, int flags, struct proto_peer *peer, struct proto_msg *ret,
	       const char **ret_code, struct hv_error *err);

#endif
