/* token.c - console tokens (see token.h). Only a token's BLAKE2b hash is kept, compared in
 * constant time; a used or expired entry is wiped before it is dropped. */
#include "token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vec.h"

struct entry {
	unsigned char hash[32];
	int64_t expires_ms;
	struct ctok_target target;
};

struct ctok {
	int64_t ttl_ms;
	struct entry *e;
	size_t n, cap;
};

struct ctok *
ctok_new(int64_t ttl_ms)
{
	struct ctok *t = calloc(1, sizeof *t);
	if (t)
		t->ttl_ms = ttl_ms;
	return t;
}

void
ctok_free(struct ctok *t)
{
	if (!t)
		return;
	if (t->e)
		sodium_memzero(t->e, t->cap * sizeof *t->e);
	free(t->e);
	free(t);
}

static void
token_hash(const char *token, unsigned char ret[32])
{
	crypto_generichash(ret, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

static void
drop(struct ctok *t, size_t i)
{
	t->e[i] = t->e[t->n - 1];
	sodium_memzero(&t->e[--t->n], sizeof *t->e);
}

int
ctok_issue(struct ctok *t, const struct ctok_target *target, int64_t now_ms, char ret[CTOK_LEN],
	   struct hv_error *err)
{
	unsigned char raw[32];
	if (!target->host[0] || strpbrk(target->host, " /?#@"))
		return hv_error_set(err, -EINVAL, "host",
				    "console: the host's address is empty "
				    "or not an address");
	if (target->port <= 0 || target->port > 65535)
		return hv_error_set(err, -EINVAL, "port", "console: port %d is not 1-65535",
				    target->port);
	if (HV_GROW(t->e, t->cap, t->n + 1) < 0)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(ret, CTOK_LEN, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	struct entry *e = &t->e[t->n++];
	token_hash(ret, e->hash);
	e->expires_ms = now_ms + t->ttl_ms;
	e->target = *target;
	return 0;
}

int
ctok_consume(struct ctok *t, const char *token, int64_t now_ms, struct ctok_target *ret,
	     struct hv_error *err)
{
	unsigned char h[32];
	ctok_expire(t, now_ms, NULL);
	if (token && strlen(token) == CTOK_LEN - 1) {
		token_hash(token, h);
		for (size_t i = 0; i < t->n; i++) {
			if (sodium_memcmp(h, t->e[i].hash, sizeof h) != 0)
				continue;
			*ret = t->e[i].target;
			drop(t, i);
			return 0;
		}
	}
	return hv_error_set(err, -ENOENT, "token",
			    "console: the token is unknown, used already or expired");
}

void
ctok_expire(struct ctok *t, int64_t now_ms, const char *server)
{
	for (size_t i = 0; i < t->n;) {
		if (now_ms >= t->e[i].expires_ms ||
		    (server && strcmp(server, t->e[i].target.server) == 0))
			drop(t, i);
		else
			i++;
	}
}

void
ctok_url(const char *base, const char *type, const char *token, char ret[512])
{
	if (strcmp(type, "vnc") == 0) {
		snprintf(ret, 512, "%s/vnc_auto.html?path=%%3Ftoken%%3D%s", base, token);
	} else { /* the websocket itself: http(s) becomes ws(s) */
		const char *rest = strstr(base, "://");
		bool tls = strncmp(base, "https", 5) == 0;
		snprintf(ret, 512, "%s://%s/?token=%s", tls ? "wss" : "ws", rest ? rest + 3 : base,
			 token);
	}
}

size_t
ctok_count(const struct ctok *t)
{
	return t->n;
}

void
ctok_log_id(const char *token, char ret[9])
{
	unsigned char h[32];
	token_hash(token, h);
	sodium_bin2hex(ret, 9, h, 4);
}
