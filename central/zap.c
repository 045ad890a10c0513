/* zap.c - ZAP requests in, one decision out. Runs on the controller's loop thread (the REP
 * socket is polled with the others), so it must answer at once and never block. */
#include "zap.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "keys.h"

void
zap_decide(const struct allow *al, const char *version, const char *domain, const char *mechanism,
	   const unsigned char *key, size_t key_len, struct zap_outcome *ret)
{
	memset(ret, 0, sizeof *ret);
	if (strcmp(version, "1.0") != 0) {
		snprintf(ret->reason, sizeof ret->reason, "unsupported ZAP version");
		return;
	}
	if (strcmp(mechanism, "CURVE") != 0 || key_len != 32) {
		snprintf(ret->reason, sizeof ret->reason, "CURVE required");
		return;
	}
	if (!zmq_z85_encode(ret->key, key, 32)) {
		snprintf(ret->reason, sizeof ret->reason, "bad key");
		return;
	}
	if (strcmp(domain, ZAP_DOMAIN) != 0) {
		snprintf(ret->reason, sizeof ret->reason, "unknown domain");
		return;
	}
	const char *host = allow_host_for(al, ret->key);
	if (!host) {
		snprintf(ret->reason, sizeof ret->reason, "key not allowed (pending)");
		return;
	}
	ret->allowed = true;
	snprintf(ret->host_id, sizeof ret->host_id, "%s", host);
	snprintf(ret->reason, sizeof ret->reason, "OK");
}

#define ZAP_FRAMES 7

static void
copy_frame(zmq_msg_t *m, char *out, size_t size)
{
	size_t n = zmq_msg_size(m);
	if (n >= size)
		n = size - 1;
	memcpy(out, zmq_msg_data(m), n);
	out[n] = '\0';
	/* control bytes are never copied into text that may be printed */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

static int
send_str(void *sock, const char *s, int more)
{
	return zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0) < 0 ? -errno : 0;
}

int
zap_handle(void *sock, const struct allow *al, struct zap_outcome *ret, struct hv_error *err)
{
	zmq_msg_t parts[ZAP_FRAMES + 1];
	int n = 0, more = 1, r = 0;

	memset(ret, 0, sizeof *ret);
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			r = -errno;
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (n < ZAP_FRAMES + 1)
			parts[n++] = m; /* zmq_msg_t may be moved by value while not in use */
		else
			zmq_msg_close(&m);
	}
	if (r == -EAGAIN && n == 0)
		return r;

	char version[16] = "", domain[64] = "", mechanism[16] = "";
	if (r == 0 && n >= 6) {
		copy_frame(&parts[0], version, sizeof version);
		copy_frame(&parts[2], domain, sizeof domain);
		copy_frame(&parts[3], ret->address, sizeof ret->address);
		copy_frame(&parts[5], mechanism, sizeof mechanism);
		const unsigned char *key = n >= 7 ? zmq_msg_data(&parts[6]) : NULL;
		size_t key_len = n >= 7 ? zmq_msg_size(&parts[6]) : 0;
		char address[64];
		memcpy(address, ret->address, sizeof address);
		zap_decide(al, version, domain, mechanism, key, key_len, ret);
		memcpy(ret->address, address, sizeof address);
	} else {
		snprintf(ret->reason, sizeof ret->reason, "malformed ZAP request");
		r = hv_error_set(err, -EPROTO, "zap", "malformed ZAP request (%d frames)", n);
	}
	/* request_id is echoed raw: it is libzmq's own token, not peer input */
	if (n >= 2) {
		size_t id_len = zmq_msg_size(&parts[1]);
		send_str(sock, "1.0", 1);
		zmq_send(sock, zmq_msg_data(&parts[1]), id_len, ZMQ_SNDMORE);
		send_str(sock, ret->allowed ? "200" : r < 0 ? "500" : "400", 1);
		send_str(sock, ret->reason, 1);
		send_str(sock, ret->allowed ? ret->host_id : "", 1);
		zmq_send(sock, "", 0, 0);
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&parts[i]);
	return r;
}
