/* zap.h - hvcentral's ZAP handler (RFC 27): libzmq asks it, for every CURVE handshake on
 * the agent socket, whether the client key may connect. Allowed keys are answered 200 with
 * user_id = the host id from the allowlist; every other key gets 400 and is reported back
 * so the caller can record it as pending. The socket must be bound before the CURVE server
 * socket, or libzmq lets every key in. Never logs. */
#ifndef HVC_ZAP_H
#define HVC_ZAP_H

#include <stdbool.h>

#include <hvagent/error.h>

#include "allow.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "hva"

struct zap_outcome {
	bool allowed;
	char host_id[65]; /* when allowed */
	char key[41];     /* the client's public key, Z85 ("" when not CURVE) */
	char address[64]; /* peer address libzmq reported */
	char reason[64];  /* status text sent back */
};

/* Pure decision: version "1.0", domain ZAP_DOMAIN, mechanism "CURVE" and a 32-byte key in
 * the allowlist -> allowed. */
void
zap_decide(const struct allow *al, const char *version, const char *domain, const char *mechanism,
	   const unsigned char *key, size_t key_len, struct zap_outcome *ret);

/* Receives one request from sock (a ZMQ_REP), answers it, fills *ret. -EAGAIN when no
 * request is waiting; -EPROTO for a malformed request (answered 500 when possible). */
int zap_handle(void *sock, const struct allow *al, struct zap_outcome *ret, struct hv_error *err);

#endif
