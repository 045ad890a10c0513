/* test_proto.c - the HVA/1 codec: what it encodes decodes back, and every malformed input
 * is refused with an error naming the frame and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "json.h"
#include "proto.h"

static char *
slurp(const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/proto/%s", TESTS_DATA, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void
frames4(struct proto_frame f[4], const char *type, const char *h, const char *b)
{
	f[0] = (struct proto_frame){"HVA1", 4};
	f[1] = (struct proto_frame){type, strlen(type)};
	f[2] = (struct proto_frame){h, strlen(h)};
	f[3] = (struct proto_frame){b, strlen(b)};
}

static const char *good_header =
	"{\"msg_id\":\"5b1f6a0e-8c4d-4f3a-9e2b-1c0d9e8f7a6b\",\"schema\":1}";

static void
a_golden_spawn_command_decodes_and_unknown_header_fields_are_ignored(void **state)
{
	size_t hl, bl;
	char *h = slurp("command-spawn.header.json", &hl),
	     *b = slurp("command-spawn.body.json", &bl);
	struct proto_frame f[4];
	struct proto_msg m;
	struct hv_error err = {0};
	const char *code = NULL, *s = NULL;
	json_t *flavor;
	int64_t vcpus = 0;

	frames4(f, "COMMAND", h, b);
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), 0);
	assert_int_equal(m.type, PROTO_COMMAND);
	assert_string_equal(m.hdr.cmd_id, "c-0001");
	assert_true(m.hdr.deadline_ms == 1795000060000LL);
	assert_string_equal(m.hdr.host_id, "compute-1");
	assert_false(m.hdr.has_seq);
	assert_int_equal(hj_str(m.body, "body", "command", 0, 32, &s, &err), 1);
	assert_string_equal(s, "spawn");
	assert_int_equal(hj_obj(m.body, "body", "flavor", 0, &flavor, &err), 1);
	assert_int_equal(hj_int(flavor, "body.flavor", "vcpus", 0, 1, 64, &vcpus, &err), 1);
	assert_int_equal(vcpus, 1);
	proto_msg_release(&m);
	free(h);
	free(b);
}

static void
what_is_encoded_decodes_back_the_same(void **state)
{
	struct proto_msg in = {.type = PROTO_DELTA}, out;
	struct proto_wire w;
	struct proto_frame f[4];
	struct hv_error err = {0};

	proto_header_init(&in.hdr, "compute-7", NULL);
	proto_uuid4(in.hdr.boot_id);
	in.hdr.has_seq = true;
	in.hdr.seq = 123456789012ULL;
	in.body = json_pack("{s:i, s:[]}", "prev_seq", 5, "instances");
	assert_int_equal(proto_encode(&in, &w, &err), 0);
	assert_int_equal(w.len[0], 4);
	assert_memory_equal(w.data[1], "DELTA", 5);
	for (int i = 0; i < 4; i++)
		f[i] = (struct proto_frame){w.data[i], w.len[i]};
	assert_int_equal(proto_decode(f, 4, &out, NULL, &err), 0);
	assert_int_equal(out.type, PROTO_DELTA);
	assert_string_equal(out.hdr.msg_id, in.hdr.msg_id);
	assert_string_equal(out.hdr.boot_id, in.hdr.boot_id);
	assert_string_equal(out.hdr.host_id, "compute-7");
	assert_true(out.hdr.has_seq && out.hdr.seq == 123456789012ULL);
	assert_int_equal(out.hdr.schema, PROTO_SCHEMA);
	assert_true(json_equal(out.body, in.body));
	proto_wire_release(&w);
	proto_msg_release(&out);
	proto_msg_release(&in);
}

/* The image messages of section 6.8: a full chunk, base64 in the body, fits the body limit
 * and comes back byte for byte; both type names parse. */
static void
a_full_image_chunk_fits_one_body_and_decodes_back(void **state)
{
	struct proto_msg in = {.type = PROTO_IMAGE_DATA}, out;
	struct proto_wire w;
	struct proto_frame f[4];
	struct hv_error err = {0};
	size_t n = PROTO_IMAGE_CHUNK, b64 = (n + 2) / 3 * 4 + 1;
	unsigned char *bin = malloc(n);
	char *text = malloc(b64);

	for (size_t i = 0; i < n; i++)
		bin[i] = (unsigned char)(i * 7 + 3);
	sodium_bin2base64(text, b64, bin, n, sodium_base64_VARIANT_ORIGINAL);
	proto_header_init(&in.hdr, NULL, NULL);
	in.body = json_pack("{s:s, s:I, s:s, s:b}", "image_id", "img-1", "offset",
			    (json_int_t)(3 * n), "data", text, "eof", 0);
	assert_int_equal(proto_encode(&in, &w, &err), 0);
	assert_true(w.len[3] <= PROTO_MAX_BODY);
	assert_memory_equal(w.data[1], "IMAGE_DATA", 10);
	for (int i = 0; i < 4; i++)
		f[i] = (struct proto_frame){w.data[i], w.len[i]};
	assert_int_equal(proto_decode(f, 4, &out, NULL, &err), 0);
	assert_int_equal(out.type, PROTO_IMAGE_DATA);
	assert_string_equal(json_string_value(json_object_get(out.body, "data")), text);
	assert_int_equal(proto_type_parse("IMAGE_GET", 9), PROTO_IMAGE_GET);
	assert_string_equal(proto_type_name(PROTO_IMAGE_GET), "IMAGE_GET");
	assert_int_equal(proto_type_parse("IMAGE_PUT", 9), -EPROTONOSUPPORT);
	proto_wire_release(&w);
	proto_msg_release(&out);
	proto_msg_release(&in);
	free(bin);
	free(text);
}

static void
a_command_without_cmd_id_is_not_encoded(void **state)
{
	struct proto_msg in = {.type = PROTO_COMMAND};
	struct proto_wire w;
	struct hv_error err = {0};

	proto_header_init(&in.hdr, "h", NULL);
	assert_int_equal(proto_encode(&in, &w, &err), -EINVAL);
	assert_string_equal(err.field, "header.cmd_id");
}

static void
wrong_frame_counts_and_signatures_are_refused(void **state)
{
	struct proto_frame f[4];
	struct proto_msg m;
	struct hv_error err = {0};
	const char *code = NULL;

	frames4(f, "PING", good_header, "{}");
	assert_int_equal(proto_decode(f, 3, &m, &code, &err), -EPROTO);
	assert_string_equal(code, PROTO_E_BAD_FRAME);
	assert_string_equal(err.message,
			    "expected 4 frames (signature, type, header, body), got 3");
	/* the msg_id was salvaged so the ERROR can carry corr_id */
	assert_string_equal(m.hdr.msg_id, "5b1f6a0e-8c4d-4f3a-9e2b-1c0d9e8f7a6b");
	f[0] = (struct proto_frame){"HVA2", 4};
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EPROTO);
	assert_string_equal(err.message, "frame 0 (signature): expected \"HVA1\", got \"HVA2\"");
	assert_null(m.body);
}

static void
an_unknown_type_is_unsupported_and_shown_safely(void **state)
{
	struct proto_frame f[4];
	struct proto_msg m;
	struct hv_error err = {0};
	const char *code = NULL;

	frames4(f, "FROB\x01", good_header, "{}");
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EPROTONOSUPPORT);
	assert_string_equal(code, PROTO_E_UNSUPPORTED);
	assert_string_equal(err.message, "frame 1 (type): unknown message type \"FROB\\x01\"");
}

static void
header_problems_name_the_field(void **state)
{
	struct proto_frame f[4];
	struct proto_msg m;
	struct hv_error err = {0};
	const char *code = NULL;

	frames4(f, "PING", "{\"msg_id\":\"5b1f6a0e-8c4d-4f3a-9e2b-1c0d9e8f7a6b\",\"schema\":\"1\"}",
		"{}");
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EINVAL);
	assert_string_equal(code, PROTO_E_INVALID);
	assert_string_equal(err.message, "header.schema: expected integer, got string");
	frames4(f, "COMMAND", good_header, "{}");
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EINVAL);
	assert_string_equal(err.message, "header.cmd_id: required field missing");
	frames4(f, "PING", "{\"schema\":1}", "{}");
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EINVAL);
	assert_string_equal(err.field, "header.msg_id");
	frames4(f, "PING", good_header, "{\"a\":");
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EINVAL);
	assert_string_equal(code, PROTO_E_BAD_JSON);
	assert_non_null(strstr(err.message, "frame 3 (body): invalid JSON at line 1"));
}

static void
oversize_frames_are_refused_before_parsing(void **state)
{
	struct proto_frame f[4];
	struct proto_msg m;
	struct hv_error err = {0};
	const char *code = NULL;
	char *big = malloc(PROTO_MAX_BODY + 2);

	memset(big, ' ', PROTO_MAX_BODY + 1);
	big[0] = '{';
	big[PROTO_MAX_BODY] = '}';
	big[PROTO_MAX_BODY + 1] = '\0';
	frames4(f, "PING", good_header, big);
	assert_int_equal(proto_decode(f, 4, &m, &code, &err), -EMSGSIZE);
	assert_string_equal(code, PROTO_E_TOO_LARGE);
	assert_string_equal(err.field, "body");
	free(big);
}

static void
error_bodies_carry_code_message_and_field(void **state)
{
	struct hv_error err = {0};
	json_t *b;

	hv_error_set(&err, -EINVAL, "body.flavor.vcpus", "body.flavor.vcpus: expected integer");
	b = proto_error_body(PROTO_E_INVALID, &err);
	assert_string_equal(json_string_value(json_object_get(b, "code")), "invalid");
	assert_string_equal(json_string_value(json_object_get(b, "field")), "body.flavor.vcpus");
	json_decref(b);
}

static void
ids_are_restricted_to_a_safe_alphabet(void **state)
{
	char u[37];

	assert_true(proto_id_valid("compute-1.example:a_b"));
	assert_false(proto_id_valid(""));
	assert_false(proto_id_valid("a b"));
	assert_false(proto_id_valid("../etc"));
	proto_uuid4(u);
	assert_true(hj_is_uuid(u));
	assert_int_equal(u[14], '4');
}

static void
each_reader_names_an_errno_in_its_own_words(void **state)
{
	/* a guard refusal on the agent, another command in flight on the API */
	assert_string_equal(proto_code_for_errno(-EBUSY, PROTO_MAP_COMMAND), PROTO_E_INVALID_STATE);
	assert_string_equal(proto_code_for_errno(-EBUSY, PROTO_MAP_API), PROTO_E_TASK_IN_FLIGHT);
	assert_string_equal(proto_code_for_errno(-EPERM, PROTO_MAP_API), PROTO_E_INVALID_STATE);
	assert_string_equal(proto_code_for_errno(-ETIME, PROTO_MAP_FIREWALL), PROTO_E_EXPIRED);
	assert_string_equal(proto_code_for_errno(-EINTR, PROTO_MAP_COMMAND), PROTO_E_INTERRUPTED);
	/* what a reader does not list is its fallback */
	assert_string_equal(proto_code_for_errno(-EIO, PROTO_MAP_COMMAND), PROTO_E_DRIVER);
	assert_string_equal(proto_code_for_errno(-EOPNOTSUPP, PROTO_MAP_FIREWALL),
			    PROTO_E_INTERNAL);
	assert_string_equal(proto_code_for_errno(-EEXIST, PROTO_MAP_API), PROTO_E_CONFLICT);
	assert_string_equal(proto_code_for_errno(-EEXIST, PROTO_MAP_COMMAND), PROTO_E_DRIVER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			a_golden_spawn_command_decodes_and_unknown_header_fields_are_ignored),
		cmocka_unit_test(what_is_encoded_decodes_back_the_same),
		cmocka_unit_test(a_full_image_chunk_fits_one_body_and_decodes_back),
		cmocka_unit_test(a_command_without_cmd_id_is_not_encoded),
		cmocka_unit_test(wrong_frame_counts_and_signatures_are_refused),
		cmocka_unit_test(an_unknown_type_is_unsupported_and_shown_safely),
		cmocka_unit_test(header_problems_name_the_field),
		cmocka_unit_test(oversize_frames_are_refused_before_parsing),
		cmocka_unit_test(error_bodies_carry_code_message_and_field),
		cmocka_unit_test(ids_are_restricted_to_a_safe_alphabet),
		cmocka_unit_test(each_reader_names_an_errno_in_its_own_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
