/* test_json.c - the JSON helper layer names the field at fault and never accepts a wrong
 * type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <hvagent/driver.h>

#include "json.h"

static json_t *
parse(const char *text)
{
	json_t *v = NULL;

	assert_int_equal(hj_parse(text, strlen(text), "test", true, &v, NULL), 0);
	return v;
}

static void
a_mistyped_field_is_named_with_its_full_path(void **state)
{
	json_t *body = parse("{\"flavor\":{\"vcpus\":\"two\"}}"), *flavor;
	struct hv_error err = {0};
	int64_t vcpus = 0;

	assert_int_equal(hj_obj(body, "body", "flavor", HJ_REQUIRED, &flavor, &err), 1);
	assert_int_equal(hj_int(flavor, "body.flavor", "vcpus", HJ_REQUIRED, 1, 1024, &vcpus, &err),
			 -EINVAL);
	assert_string_equal(err.field, "body.flavor.vcpus");
	assert_string_equal(err.message, "body.flavor.vcpus: expected integer, got string");
	assert_int_equal(vcpus, 0);
	json_decref(body);
}

static void
a_missing_required_field_is_reported_and_an_optional_one_is_not(void **state)
{
	json_t *body = parse("{\"name\":\"vm\"}");
	struct hv_error err = {0};
	const char *s = "default";

	assert_int_equal(hj_str(body, "body", "hostname", HJ_OPTIONAL, 64, &s, &err), 0);
	assert_string_equal(s, "default");
	assert_int_equal(hj_str(body, "body", "hostname", HJ_REQUIRED, 64, &s, &err), -EINVAL);
	assert_string_equal(err.message, "body.hostname: required field missing");
	assert_int_equal(hj_str(body, "body", "name", HJ_REQUIRED, 64, &s, &err), 1);
	assert_string_equal(s, "vm");
	json_decref(body);
}

static void
integers_outside_their_range_are_refused(void **state)
{
	json_t *body = parse("{\"ram_mb\":-5,\"big\":9223372036854775807}");
	struct hv_error err = {0};
	int64_t v = 0;

	assert_int_equal(hj_int(body, "body", "ram_mb", 0, 1, 1 << 30, &v, &err), -EINVAL);
	assert_string_equal(err.message, "body.ram_mb: out of range (allowed 1-1073741824)");
	assert_int_equal(hj_int(body, "body", "big", 0, 0, INT64_MAX, &v, &err), 1);
	assert_true(v == INT64_MAX);
	json_decref(body);
}

static void
strings_are_bounded_and_free_of_control_characters(void **state)
{
	json_t *body = parse("{\"a\":\"abcdef\",\"c\":\"line\\nbreak\"}"), *nul = NULL;
	struct hv_error err = {0};
	const char *s = NULL;
	const char *with_nul = "{\"b\":\"x\\u0000y\"}";

	assert_int_equal(hj_parse(with_nul, strlen(with_nul), "body", true, &nul, &err), -EINVAL);
	assert_null(nul);

	assert_int_equal(hj_str(body, "body", "a", 0, 5, &s, &err), -EINVAL);
	assert_string_equal(err.message, "body.a: longer than 5 bytes");
	assert_int_equal(hj_str(body, "body", "c", 0, 0, &s, &err), -EINVAL);
	assert_string_equal(err.field, "body.c");
	json_decref(body);
}

static void
enums_list_what_is_allowed(void **state)
{
	json_t *body = parse("{\"type\":\"medium\"}");
	struct hv_error err = {0};
	const char *s = NULL;

	assert_int_equal(hj_enum(body, "body", "type", 0, "soft|hard", &s, &err), -EINVAL);
	assert_string_equal(err.message, "body.type: expected one of soft,hard");
	json_decref(body);
	body = parse("{\"type\":\"hard\"}");
	assert_int_equal(hj_enum(body, "body", "type", 0, "soft|hard", &s, &err), 1);
	assert_string_equal(s, "hard");
	json_decref(body);
}

static void
uuids_must_be_canonical(void **state)
{
	assert_true(hj_is_uuid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f"));
	assert_false(hj_is_uuid("0D2C2AE4-2B52-4C5E-9D7B-0A1B2C3D4E5F"));
	assert_false(hj_is_uuid("0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5"));
	assert_false(hj_is_uuid("0d2c2ae4x2b52-4c5e-9d7b-0a1b2c3d4e5f"));
	assert_false(hj_is_uuid(NULL));
}

static void
string_maps_become_key_value_arrays(void **state)
{
	json_t *body =
		parse("{\"extra_specs\":{\"hw:cpu_sockets\":\"2\",\"quota:cpu_shares\":\"512\"},"
		      "\"bad\":{\"k\":3}}");
	struct hv_error err = {0};
	struct hv_kv *kv = NULL;
	size_t n = 0;

	assert_int_equal(
		hj_str_map(body, "body.flavor", "extra_specs", 0, 64, 255, 255, &kv, &n, &err), 1);
	assert_int_equal(n, 2);
	assert_string_equal(kv[0].key, "hw:cpu_sockets");
	assert_string_equal(kv[0].value, "2");
	free(kv);
	assert_int_equal(hj_str_map(body, "body", "bad", 0, 64, 255, 255, &kv, &n, &err), -EINVAL);
	assert_string_equal(err.message, "body.bad.k: expected string, got integer");
	assert_null(kv);
	json_decref(body);
}

static void
invalid_json_reports_line_and_column(void **state)
{
	struct hv_error err = {0};
	json_t *v = NULL;

	assert_int_equal(hj_parse("{\"a\":1,}", 8, "frame 3 (body)", true, &v, &err), -EINVAL);
	assert_non_null(strstr(err.message, "frame 3 (body): invalid JSON at line 1 column"));
	assert_int_equal(hj_parse("[1]", 3, "frame 3 (body)", true, &v, &err), -EINVAL);
	assert_string_equal(err.message, "frame 3 (body): expected a JSON object, got array");
	assert_int_equal(hj_parse("{\"a\":1,\"a\":2}", 13, "h", true, &v, &err), -EINVAL);
	assert_int_equal(hj_parse("{}\0", 3, "h", true, &v, &err), -EINVAL);
	assert_null(v);
}

/* A request or body with bytes that are not UTF-8 is refused as such, naming the string's
 * field where the parser can tell it, never as a field that is missing. */
static void
invalid_utf8_is_named_not_reported_missing(void **state)
{
	struct hv_error err = {0};
	json_t *v = NULL;
	const char *text = "{\"op\":\"x\",\"args\":{\"tags\":[\"a\",\"b\\n\xff\"]}}";

	assert_int_equal(hj_parse(text, strlen(text), "request", true, &v, &err), -EINVAL);
	assert_string_equal(err.message, "request: args.tags[1]: not valid UTF-8");
	assert_string_equal(err.field, "args.tags[1]");
	/* overlong, surrogate and truncated forms are not UTF-8 either (RFC 3629) */
	static const char *const bad[] = {"{\"name\":\"\xc0\xaf\"}", "{\"name\":\"\xed\xa0\x80\"}",
					  "{\"name\":\"\xe2\x82\"}"};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(hj_parse(bad[i], strlen(bad[i]), "frame 3 (body)", true, &v, &err),
				 -EINVAL);
		assert_string_equal(err.message, "frame 3 (body): name: not valid UTF-8");
	}
	text = "{\"na\xffme\":1}";
	assert_int_equal(hj_parse(text, strlen(text), "request", true, &v, &err), -EINVAL);
	assert_string_equal(err.message, "request: the top object: a key is not valid UTF-8");
	/* past what the fast path reads (a real), jansson finds it: still said as UTF-8 */
	text = "{\"x\":1.5,\"name\":\"\xff\"}";
	assert_int_equal(hj_parse(text, strlen(text), "request", true, &v, &err), -EINVAL);
	assert_non_null(strstr(err.message, "request: not valid UTF-8 at line 1 column"));
	/* valid UTF-8 still parses */
	text = "{\"name\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}";
	assert_int_equal(hj_parse(text, strlen(text), "request", true, &v, &err), 0);
	assert_string_equal(json_string_value(json_object_get(v, "name")),
			    "caf\xc3\xa9 \xf0\x9f\x98\x80");
	json_decref(v);
}

/* An arg nobody reads would be silently ignored: it is refused, naming it and what is
 * allowed. */
static void
unknown_keys_are_refused_naming_them(void **state)
{
	static const char *const known[] = {"server", "action", "hard", NULL};
	static const char *const none[] = {NULL};
	struct hv_error err = {0};
	json_t *v = parse("{\"server\":\"a\",\"action\":\"reboot\",\"type\":\"hard\"}");

	assert_int_equal(hj_known_keys(v, "args", known, &err), -EINVAL);
	assert_string_equal(err.field, "args.type");
	assert_string_equal(err.message,
			    "args.type: unknown field (allowed: server, action, hard)");
	json_object_del(v, "type");
	assert_int_equal(hj_known_keys(v, "args", known, &err), 0);
	assert_int_equal(hj_known_keys(v, "args", none, &err), -EINVAL);
	assert_string_equal(err.message, "args.server: unknown field (allowed: none)");
	json_decref(v);
}

static void
wiping_a_secret_clears_its_bytes(void **state)
{
	json_t *s = json_string("hunter2");

	hj_wipe_string(s);
	assert_int_equal(memcmp(json_string_value(s), "\0\0\0\0\0\0\0", 7), 0);
	json_decref(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_mistyped_field_is_named_with_its_full_path),
		cmocka_unit_test(a_missing_required_field_is_reported_and_an_optional_one_is_not),
		cmocka_unit_test(integers_outside_their_range_are_refused),
		cmocka_unit_test(strings_are_bounded_and_free_of_control_characters),
		cmocka_unit_test(enums_list_what_is_allowed),
		cmocka_unit_test(uuids_must_be_canonical),
		cmocka_unit_test(string_maps_become_key_value_arrays),
		cmocka_unit_test(invalid_json_reports_line_and_column),
		cmocka_unit_test(invalid_utf8_is_named_not_reported_missing),
		cmocka_unit_test(unknown_keys_are_refused_naming_them),
		cmocka_unit_test(wiping_a_secret_clears_its_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
