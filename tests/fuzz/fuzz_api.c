/* fuzz_api.c - libFuzzer target for hvcentral's API requests: the `hv` ZeroMQ API decoder
 * (central/api/api.c) and the service layer's validation behind it (central/service/),
 * driven as main.c drives them, against a fresh controller (fuzz_central.h) with two hosts,
 * servers in many states and two commands in flight. Input: one request's bytes. Beyond
 * never crashing, leaking or reading out of bounds: every request gets exactly one reply
 * (now, or when its command finishes or its wait times out), each reply is a JSON object
 * with "ok", and a refusal carries an error code and message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "fuzz_central.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_replies;
static struct api *api;

static void
on_reply(void *ctx, const struct api_client *cl, const char *text)
{
	json_t *r = json_loads(text, 0, NULL), *e;

	n_replies++;
	if (!json_is_object(r) || !json_is_boolean(json_object_get(r, "ok")))
		__builtin_trap(); /* not a reply docs/api.md describes */
	e = json_object_get(r, "error");
	if (!json_is_true(json_object_get(r, "ok")) &&
	    (!json_is_string(json_object_get(e, "code")) ||
	     !json_is_string(json_object_get(e, "message"))))
		__builtin_trap(); /* a refusal without a code or a message */
	json_decref(r);
}

static void
on_done(void *ctx, const char *cmd_id, bool ok, json_t *result)
{
	api_on_done(api, cmd_id, ok, result, FZC_T0 + 300);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_client cl = {.id = "client-1", .id_len = 8};
	struct hv_error err = {0};
	struct fzc f;
	size_t waiting;

	fzc_open(&f);
	if (api_new(f.svc, on_reply, NULL, &api, &err) < 0)
		abort();
	f.on_done = on_done;
	n_replies = 0;
	api_on_request(api, &cl, data, size, FZC_T0 + 100);
	waiting = api_waiting(api);
	if (n_replies + waiting > 1)
		__builtin_trap(); /* a request must get exactly one answer */
	if (n_replies + waiting == 0)
		__builtin_trap(); /* nor may it get none: the client would wait forever */
	if (n_replies + waiting == 0)
		goto out;
	/* the host answers the newest command, so a request waiting for it is completed */
	if (waiting && f.n_cmds > 2) {
		json_t *res = json_pack("{s:s, s:s, s:{s:s, s:s}}", "cmd_id",
					f.cmd_id[f.n_cmds - 1], "status", "ok", "data", "output",
					"line 1\nline 2\n", "type", "vnc");
		struct proto_msg m = {.type = PROTO_RESULT, .body = res};

		proto_header_init(&m.hdr, "node-1", FZC_BOOT_1);
		ctl_on_agent(f.ctl, "node-1", "127.0.0.1", &m, FZC_T0 + 300);
		json_decref(res);
	}
	/* and whatever still waits times out */
	api_tick(api, FZC_T0 + 86400000 + 1000);
	if (api_waiting(api) != 0 || n_replies != 1)
		__builtin_trap(); /* a wait was never answered, or answered twice */
out:
	api_free(api);
	api = NULL;
	fzc_close(&f);
	return 0;
}
