/* fuzz_req.c - libFuzzer target for the agent's COMMAND body validation (agent/req.c
 * req_parse): every command's fields, the spawn spec, the user data's base64 and its 64 KiB
 * limit, the admin password, then the spec's driver view and the key line check the agent
 * runs before injecting a key (common/sshkey.c). Input: one JSON body. fuzz_proto reaches the
 * same code through the frame decoder; this one starts at the body so each execution goes
 * deeper. Beyond never crashing, leaking or reading out of bounds: decoded user data never
 * exceeds 64 KiB, the spec never holds a secret, the journal's copy never shows one, and a
 * refusal names its field and protocol code.
 * Inputs are kept under 8 KiB, so a body reaches the user data limit (87 384 base64
 * characters) through two harness keys, removed before req_parse sees the body:
 * "x_fuzz_repeat": N and "x_fuzz_tail": TEXT make user_data its own text repeated N times
 * followed by TEXT (at most 100 000 characters). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "proto.h"
#include "req.h"
#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const secrets[] = {"admin_pass", "password", "user_data"};

static void
check_accepted(json_t *body, struct req *r)
{
	struct hv_error err = {0};
	struct req_spec_view v;

	if (r->user_data_len > HV_USER_DATA_MAX || (r->user_data_len && !r->user_data))
		__builtin_trap(); /* the decoded user data is over the limit */
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		if (json_object_get(r->spec, secrets[i]))
			__builtin_trap(); /* a secret reached the spec, which is journaled */
	if (r->spec && req_spec_view(r->spec, r->uuid, "/images", &v, &err) == 0)
		req_spec_view_release(&v);
	if (r->key_data)
		(void)hv_sshkey_validate(r->key_data, "body.key_data", &err);
	req_wipe_secrets(r);
	if (r->secret || r->user_data)
		__builtin_trap(); /* wiping the secrets must drop them */
}

/* Expands the harness keys into a long user_data (see the top of the file). */
static void
expand_user_data(json_t *body)
{
	json_t *rep = json_object_get(body, "x_fuzz_repeat");
	const char *unit = json_string_value(json_object_get(body, "user_data"));
	const char *tail = json_string_value(json_object_get(body, "x_fuzz_tail"));
	size_t n_unit, n_tail, n;
	char *text;

	if (!json_is_integer(rep) || !unit)
		goto out;
	n_unit = strlen(unit);
	n_tail = tail ? strlen(tail) : 0;
	n = json_integer_value(rep) > 0 ? (size_t)json_integer_value(rep) : 0;
	if (n_unit == 0 || n > 100000 / n_unit || n * n_unit + n_tail > 100000)
		goto out;
	text = malloc(n * n_unit + n_tail + 1);
	if (!text)
		goto out;
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * n_unit, unit, n_unit);
	memcpy(text + n * n_unit, tail ? tail : "", n_tail + 1);
	json_object_set_new(body, "user_data", json_string(text));
	free(text);
out:
	json_object_del(body, "x_fuzz_repeat");
	json_object_del(body, "x_fuzz_tail");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_error err = {0};
	const char *code = NULL;
	json_t *body = NULL, *red;
	struct req r;

	if (hj_parse(data, size, "body", true, &body, &err) < 0)
		return 0;
	expand_user_data(body);
	memset(&r, 0, sizeof r);
	if (req_parse(body, &r, &code, &err) == 0) {
		check_accepted(body, &r);
		req_release(&r);
	} else if (!code || !err.message[0]) {
		__builtin_trap(); /* a refusal must say which protocol error it is and why */
	}
	red = req_redacted(body);
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
		if (json_object_get(red, secrets[i]))
			__builtin_trap(); /* the journal's copy shows a secret */
	json_decref(red);
	req_wipe(body);
	json_decref(body);
	return 0;
}
