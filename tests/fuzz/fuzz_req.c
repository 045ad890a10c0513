/* fuzz_req.c - libFuzzer target for the agent's COMMAND body validation (agent/req.c
 * req_parse): every command's fields, the spawn spec, the user data's base64 and its 64 KiB
 * limit, the admin password, then the spec's driver view and the key line check the agent
 * runs before injecting a key (guest/sshkey.c). Input: one JSON body. fuzz_proto reaches the
 * same code through the frame decoder; this one starts at the body so each execution goes
 * deeper. Beyond never crashing, leaking or reading out of bounds: decoded user data never
 * exceeds 64 KiB, the spec never holds a secret, the journal's copy never shows one, and a
 * refusal names its field and protocol code. */
#include <stdint.h>
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
		(void)guest_sshkey_validate(r->key_data, "body.key_data", &err);
	req_wipe_secrets(r);
	if (r->secret || r->user_data)
		__builtin_trap(); /* wiping the secrets must drop them */
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
