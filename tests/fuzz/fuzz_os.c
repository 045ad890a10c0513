/* fuzz_os.c - libFuzzer target for hvcentral's OpenStack-compatible API: the router, the
 * token check, the identity, compute, image and network decoders (central/api/os_route.c,
 * os_identity.c, os_compute.c, os_admin.c, os_image.c, os_network.c) and the service layer
 * behind them, against the controller
 * fixture (fuzz_central.h) plus an admin and a member whose tokens are "admin-token" and
 * "member-token". Input: "METHOD PATH[?QUERY]\n", header lines "Name: value\n", an empty
 * line, then the body. Beyond never crashing, leaking or reading out of bounds: every
 * request gets a status, or waits for its command; a body is a JSON object; an error is in
 * its service's format with its status as code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/os-priv.h"
#include "fuzz_central.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A token as identity.c stores it: the hex of its BLAKE2b hash. */
static void
token_row(struct fzc *f, const char *text, const char *user, const char *project)
{
	unsigned char h[32];
	char hex[65];
	struct hv_error err = {0};
	crypto_generichash(h, sizeof h, (const unsigned char *)text, strlen(text), NULL, 0);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	if (store_token_insert(f->store, hex, user, project, FZC_T0, FZC_T0 + 3600000, &err) < 0)
		abort();
}

static void
users(struct fzc *f)
{
	struct hv_error err = {0};
	json_t *admin = NULL, *demo = NULL, *args = json_pack("{s:s}", "name", "demo");
	if (svc_project_show(f->svc, NULL, &admin, &err) < 0 ||
	    svc_project_create(f->svc, args, FZC_T0, &demo, &err) < 0)
		abort();
	const char *a = json_string_value(json_object_get(admin, "id"));
	const char *d = json_string_value(json_object_get(demo, "id"));
	json_t *ua = json_pack("{s:s, s:s, s:s}", "id", "u-admin", "name", "alice", "password_hash",
			       "x"),
	       *um = json_pack("{s:s, s:s, s:s}", "id", "u-member", "name", "bob", "password_hash",
			       "x");
	if (store_user_insert(f->store, ua, FZC_T0, &err) < 0 ||
	    store_user_insert(f->store, um, FZC_T0, &err) < 0 ||
	    store_role_set(f->store, "u-admin", a, "admin", &err) < 0 ||
	    store_role_set(f->store, "u-member", d, "member", &err) < 0)
		abort();
	/* an image of the admin's project for the image decoders to find */
	json_t *img = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i, "
				"s:i, s:b, s:{s:s}}",
				"id", "11111111-2222-4333-8444-555555555555", "name", "cirros",
				"disk_format", "raw", "container_format", "bare", "size", 1024,
				"checksum", "0123456789abcdef0123456789abcdef", "os_hash_algo",
				"sha256", "os_hash_value", "00", "status", "active", "visibility",
				"private", "owner", a, "min_disk", 0, "min_ram", 0, "protected", 0,
				"properties", "os_distro", "cirros");
	if (store_image_insert(f->store, img, FZC_T0, &err) < 0)
		abort();
	json_decref(img);
	token_row(f, "admin-token", "u-admin", a);
	token_row(f, "member-token", "u-member", d);
	json_decref(ua);
	json_decref(um);
	json_decref(args);
	json_decref(admin);
	json_decref(demo);
}

static char *
dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		abort();
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* "a=b&c" into {a: "b", c: null} */
static void
parse_query(const char *qs, struct os_req *q)
{
	char *copy = strdup(qs), *save = NULL;
	for (char *p = strtok_r(copy, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		os_query_add(q, p, eq);
	}
	free(copy);
}

static void
header(struct os_req *q, const char *line, size_t n)
{
	static const struct {
		const char *name;
		size_t off;
	} known[] = {
		{"X-Auth-Token", offsetof(struct os_req, token)},
		{"X-Subject-Token", offsetof(struct os_req, subject_token)},
		{"OpenStack-API-Version", offsetof(struct os_req, mv_new)},
		{"X-OpenStack-Nova-API-Version", offsetof(struct os_req, mv_old)},
	};
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		size_t kn = strlen(known[i].name);
		char **slot = (char **)((char *)q + known[i].off);
		if ((size_t)(colon - line) == kn && strncasecmp(line, known[i].name, kn) == 0 &&
		    !*slot) {
			const char *v = colon + 1;
			while (v < line + n && *v == ' ')
				v++;
			*slot = dup_n(v, (size_t)(line + n - v));
		}
	}
}

static struct os_req *
request(const char *in, size_t size)
{
	struct os_req *q = calloc(1, sizeof *q);
	const char *end = in + size, *nl = memchr(in, '\n', size);
	if (!q || !nl)
		return free(q), NULL;
	const char *sp = memchr(in, ' ', (size_t)(nl - in));
	if (!sp || sp - in >= (long)sizeof q->method)
		return free(q), NULL;
	memcpy(q->method, in, (size_t)(sp - in));
	char *target = dup_n(sp + 1, (size_t)(nl - sp - 1)), *qm = strchr(target, '?');
	if (memchr(target, '\0', (size_t)(nl - sp - 1)) != NULL &&
	    strlen(target) != (size_t)(nl - sp - 1)) {
		free(target);
		return free(q), NULL;
	}
	q->query = json_object();
	q->headers = json_object();
	if (qm) {
		*qm = '\0';
		parse_query(qm + 1, q);
	}
	q->path = target;
	const char *p = nl + 1;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		if (e == p) {
			p++;
			break;
		}
		header(q, p, (size_t)(e - p));
		p = e + 1;
	}
	if (p < end) {
		q->len = (size_t)(end - p);
		q->body = dup_n(p, q->len);
	}
	snprintf(q->request_id, sizeof q->request_id, "req-fuzz");
	/* an image's data: the whole body as its one chunk, the upload ending with it */
	q->upload = q->final = os_image_upload(q->method, q->path);
	return q;
}

/* The reply is one a client can read. */
static void
check_reply(const struct os_req *q)
{
	if (q->cmd_id[0]) /* waiting for the host's answer */
		return;
	if (q->status < 200 || q->status > 599)
		__builtin_trap();
	if (!q->reply)
		return;
	json_t *r = json_loads(q->reply, 0, NULL);
	if (!json_is_object(r))
		__builtin_trap();
	if (q->status >= 400) {
		const char *k;
		json_t *v;
		if (json_object_size(r) != 1)
			__builtin_trap();
		json_object_foreach (r, k, v) {
			/* Neutron's errors carry a type where the others carry the code */
			bool neutron = strcmp(k, "NeutronError") == 0;
			if ((neutron ? !json_is_string(json_object_get(v, "type"))
				     : json_integer_value(json_object_get(v, "code")) !=
					       q->status) ||
			    !json_is_string(json_object_get(v, "message")))
				__builtin_trap(); /* an error body without its code or message */
		}
	}
	json_decref(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fzc f;
	struct os_req *q = request((const char *)data, size);
	if (!q)
		return 0;
	fzc_open(&f);
	users(&f);
	struct os_front front = {
		.svc = f.svc,
		.public_url = "http://fuzz.example",
		.max_body = 1 << 20,
		.now = FZC_T0 + 100,
	};
	os_dispatch(&front, q);
	check_reply(q);
	free(front.wait);
	os_req_free(q);
	fzc_close(&f);
	return 0;
}
