/* token.h - the single-use, expiring tokens of the remote consoles (nova's console auth
 * tokens): a random token names one console endpoint {server, project, type, host, port,
 * password?} until it is used once or its time passes. In memory only: a restarted
 * hvcentral forgets them, as a client's console URL is short-lived anyway. Pure: the time
 * comes in. Must never log a token or keep it in clear (only its hash is held). */
#ifndef HVC_CONSOLE_TOKEN_H
#define HVC_CONSOLE_TOKEN_H

#include <stdint.h>

#include <hvagent/error.h>

/* 32 random bytes, url-safe base64 without padding, and a NUL. */
#define CTOK_LEN 44

struct ctok_target {
	char server[64];
	char project[64];
	char host_id[64]; /* the compute host serving it: the console ends when the server leaves */
	char type[8];     /* "vnc" or "serial" */
	char host[256];
	int port;
	char password[128]; /* "" when the console has none */
};

struct ctok;

/* A table whose tokens live ttl_ms; NULL when out of memory. */
struct ctok *ctok_new(int64_t ttl_ms);
/* Wipes what the table holds. NULL-safe. */
void ctok_free(struct ctok *t);
/* A new token for target (copied), written to ret. -EINVAL naming the field when the target
 * is not a usable endpoint, -ENOMEM. */
int ctok_issue(struct ctok *t, const struct ctok_target *target, int64_t now_ms, char ret[CTOK_LEN],
	       struct hv_error *err);
/* Takes the token's target into *ret and forgets the token: 0; -ENOENT when it is unknown,
 * used already or expired (one answer for all, so a caller learns nothing from it). */
int ctok_consume(struct ctok *t, const char *token, int64_t now_ms, struct ctok_target *ret,
		 struct hv_error *err);
/* Forgets the tokens whose time passed, and every token of server when server is not NULL
 * (the server is gone). */
void ctok_expire(struct ctok *t, int64_t now_ms, const char *server);
/* The URL a client opens for token: noVNC's page for "vnc" (base/vnc_auto.html?path=...),
 * the websocket itself for "serial" (base with http(s) turned to ws(s)). base has no
 * trailing '/'. */
void ctok_url(const char *base, const char *type, const char *token, char ret[512]);
/* How many tokens are live (after ctok_expire). */
size_t ctok_count(const struct ctok *t);
/* The first 8 hex digits of the token's hash: what a log line may show of it. */
void ctok_log_id(const char *token, char ret[9]);

#endif
