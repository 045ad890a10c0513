/* test_req.c - COMMAND bodies are validated field by field; a refusal names the field and
 * never echoes a secret. */
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
#include "req.h"

#define UUID "0d2c2ae4-2b52-4c5e-9d7b-0a1b2c3d4e5f"

static json_t *
spawn_body(void)
{
	return json_pack(
		"{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i}, s:{s:s, s:s}, s:[{s:s, s:s, s:[s]}],"
		" s:s}",
		"command", "spawn", "uuid", UUID, "name", "web <&> \"1\"", "flavor", "name",
		"m1.small", "vcpus", 1, "ram_mb", 512, "root_gb", 1, "image", "id", "cirros",
		"format", "qcow2", "ports", "id", "3f1c2b7a-port", "mac", "fa:16:3e:00:00:01",
		"fixed_ips", "10.0.0.5", "admin_pass", "hunter2-secret");
}

static void
a_valid_spawn_becomes_a_normalized_spec_without_secrets(void **state)
{
	json_t *body = spawn_body();
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;
	struct req_spec_view v;
	char *dump;

	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	assert_int_equal(r.cmd, CMD_SPAWN);
	assert_string_equal(r.secret, "hunter2-secret");
	assert_true(r.power_on);
	dump = hj_dump(r.spec);
	assert_null(strstr(dump, "hunter2"));
	free(dump);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(r.spec, "flavor"), "swap_mb")),
		0);
	assert_int_equal(req_spec_view(r.spec, r.uuid, "/srv/images", &v, &err), 0);
	assert_string_equal(v.spec.image.path, "/srv/images/cirros");
	assert_string_equal(v.spec.ports[0].ifname, "tap3f1c2b7a-po");
	assert_string_equal(v.spec.ports[0].fixed_ips[0], "10.0.0.5");
	assert_string_equal(v.spec.name, "web <&> \"1\"");
	assert_string_equal(v.spec.hostname, "host-0d2c2ae4");
	req_spec_view_release(&v);
	req_release(&r);
	assert_null(r.secret);
	json_decref(body);
}

/* The scheduler's limits ride along for the claim; a bad one is named, not ignored. */
static void
a_spawn_carries_the_limits_its_claim_checks(void **state)
{
	json_t *body = spawn_body();
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;

	json_object_set_new(body, "limits",
			    json_pack("{s:i, s:i}", "memory_mb", 12288, "vcpus", 128));
	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	assert_int_equal(r.limits.memory_mb, 12288);
	assert_int_equal(r.limits.vcpus, 128);
	assert_int_equal(r.limits.disk_gb, 0);
	req_release(&r);
	json_object_set_new(json_object_get(body, "limits"), "disk_gb", json_integer(-1));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(code, PROTO_E_INVALID);
	assert_string_equal(err.field, "body.limits.disk_gb");
	json_object_set_new(body, "limits", json_string("lots"));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.limits");
	json_decref(body);
}

/* The zone the controller placed it in is kept for the config drive; an empty or
 * control-laden one is named. */
static void
a_spawn_keeps_its_availability_zone(void **state)
{
	json_t *body = spawn_body();
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;

	json_object_set_new(body, "availability_zone", json_string("az-fast"));
	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	assert_string_equal(json_string_value(json_object_get(r.spec, "availability_zone")),
			    "az-fast");
	req_release(&r);
	json_object_set_new(body, "availability_zone", json_string(""));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.availability_zone");
	json_object_set_new(body, "availability_zone", json_string("az\nfast"));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.availability_zone");
	json_decref(body);
}

static void
a_mistyped_flavor_field_is_named(void **state)
{
	json_t *body = spawn_body();
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;

	json_object_set_new(json_object_get(body, "flavor"), "vcpus", json_string("two"));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(code, PROTO_E_INVALID);
	assert_string_equal(err.field, "body.flavor.vcpus");
	assert_string_equal(err.message, "body.flavor.vcpus: expected integer, got string");
	json_decref(body);
}

static void
nothing_unchecked_reaches_a_path_or_an_interface_name(void **state)
{
	static const struct {
		const char *object, *key, *value, *field;
	} cases[] = {
		{"image", "id", "../../etc/passwd", "body.image.id"},
		{NULL, "hostname", "bad host", "body.hostname"},
		{"image", "format", "vmdk", "body.image.format"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *body = spawn_body();
		struct req r;
		struct hv_error err = {0};
		const char *code = NULL;
		json_t *target = cases[i].object ? json_object_get(body, cases[i].object) : body;

		json_object_set_new(target, cases[i].key, json_string(cases[i].value));
		assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
		assert_string_equal(err.field, cases[i].field);
		json_decref(body);
	}
	{
		json_t *body = spawn_body(),
		       *port = json_array_get(json_object_get(body, "ports"), 0);
		struct req r;
		struct hv_error err = {0};
		const char *code = NULL;

		json_object_set_new(port, "ifname", json_string("tap;rm -rf"));
		assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
		assert_string_equal(err.field, "body.ports[0].ifname");
		json_object_set_new(port, "ifname", json_string("tap1"));
		json_array_set_new(json_object_get(port, "fixed_ips"), 0,
				   json_string("10.0.0.300"));
		assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
		assert_string_equal(err.field, "body.ports[0].fixed_ips[0]");
		json_decref(body);
	}
}

/* A catalog image's size and sha256 come together, the hash as 64 lower-case hex digits,
 * and are kept in the spec for the fetch. */
static void
a_fetched_image_needs_both_size_and_sha256(void **state)
{
	static const char sha[] =
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	json_t *body = spawn_body(), *im = json_object_get(body, "image");
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;

	json_object_set_new(im, "sha256", json_string(sha));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.image.size");
	json_object_set_new(im, "size", json_integer(4096));
	json_object_set_new(im, "sha256", json_string("9F86D081"));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.image.sha256");
	json_object_set_new(im, "sha256", json_string(sha));
	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	im = json_object_get(r.spec, "image");
	assert_string_equal(json_string_value(json_object_get(im, "sha256")), sha);
	assert_int_equal(json_integer_value(json_object_get(im, "size")), 4096);
	req_release(&r);
	json_decref(body);
}

static void
a_refused_secret_is_never_echoed(void **state)
{
	json_t *body = json_pack("{s:s, s:s, s:s}", "command", "set_admin_password", "uuid", UUID,
				 "user", "root");
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;
	char longpw[400];

	memset(longpw, 'S', sizeof longpw - 1);
	longpw[sizeof longpw - 1] = '\0';
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.password");
	json_object_set_new(body, "password", json_string(longpw));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_null(strstr(err.message, "SSSS"));
	json_decref(body);
}

static void
unknown_and_reserved_commands_are_unsupported(void **state)
{
	json_t *body = json_pack("{s:s, s:s}", "command", "fip_associate", "uuid", UUID);
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;

	assert_int_equal(req_parse(body, &r, &code, &err), -EPROTONOSUPPORT);
	assert_string_equal(code, PROTO_E_UNSUPPORTED);
	assert_non_null(strstr(err.message, "not yet supported"));
	json_object_set_new(body, "command", json_string("frobnicate"));
	assert_int_equal(req_parse(body, &r, &code, &err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err.message, "unknown command"));
	json_decref(body);
}

static void
reboot_needs_a_type(void **state)
{
	json_t *body = json_pack("{s:s, s:s}", "command", "reboot", "uuid", UUID);
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;

	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.message, "body.type: required field missing");
	json_object_set_new(body, "type", json_string("hard"));
	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	assert_true(r.hard);
	req_release(&r);
	json_decref(body);
}

/* 64 KiB decoded is the limit: 65 536 bytes pass, 65 537 are refused (their text is still
 * under the 87 384-character bound, so only the decoded length can tell). */
static void
user_data_is_at_most_64_kib_decoded(void **state)
{
	static unsigned char raw[65537];
	char *text = malloc(4 * ((sizeof raw + 2) / 3) + 1);
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;
	json_t *body = spawn_body();

	assert_non_null(text);
	memset(raw, 'u', sizeof raw);
	for (size_t n = sizeof raw - 1; n <= sizeof raw; n++) {
		sodium_bin2base64(text, 4 * ((sizeof raw + 2) / 3) + 1, raw, n,
				  sodium_base64_VARIANT_ORIGINAL);
		json_object_set_new(body, "user_data", json_string(text));
		if (n == HV_USER_DATA_MAX) {
			assert_int_equal(req_parse(body, &r, &code, &err), 0);
			assert_int_equal(r.user_data_len, HV_USER_DATA_MAX);
			req_release(&r);
		} else {
			assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
			assert_string_equal(err.field, "body.user_data");
		}
	}
	free(text);
	json_decref(body);
}

/* A rebuild may replace the user data (as nova's rebuild does): decoded byte for byte,
 * refused naming the field when it is not base64; absent, the request holds none. */
static void
a_rebuild_carries_new_user_data(void **state)
{
	static const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0xff, 0x00};
	char text[32];
	struct req r;
	struct hv_error err = {0};
	const char *code = NULL;
	json_t *body = json_pack("{s:s, s:s, s:{s:s, s:s}}", "command", "rebuild", "uuid", UUID,
				 "image", "id", "cirros", "format", "qcow2");

	(void)state;
	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	assert_null(r.user_data);
	req_release(&r);
	sodium_bin2base64(text, sizeof text, gz, sizeof gz, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(body, "user_data", json_string(text));
	assert_int_equal(req_parse(body, &r, &code, &err), 0);
	assert_int_equal(r.user_data_len, sizeof gz);
	assert_memory_equal(r.user_data, gz, sizeof gz);
	req_release(&r);
	json_object_set_new(body, "user_data", json_string("#!/bin/sh"));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.user_data");
	json_object_set_new(body, "user_data", json_integer(3));
	assert_int_equal(req_parse(body, &r, &code, &err), -EINVAL);
	assert_string_equal(err.field, "body.user_data");
	json_decref(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_valid_spawn_becomes_a_normalized_spec_without_secrets),
		cmocka_unit_test(a_spawn_carries_the_limits_its_claim_checks),
		cmocka_unit_test(a_spawn_keeps_its_availability_zone),
		cmocka_unit_test(a_mistyped_flavor_field_is_named),
		cmocka_unit_test(nothing_unchecked_reaches_a_path_or_an_interface_name),
		cmocka_unit_test(a_fetched_image_needs_both_size_and_sha256),
		cmocka_unit_test(a_refused_secret_is_never_echoed),
		cmocka_unit_test(unknown_and_reserved_commands_are_unsupported),
		cmocka_unit_test(reboot_needs_a_type),
		cmocka_unit_test(user_data_is_at_most_64_kib_decoded),
		cmocka_unit_test(a_rebuild_carries_new_user_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
