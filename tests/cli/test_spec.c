/* test_spec.c - hv's command-line specs: a flavor spec is exactly vcpus/ram/disk with
 * optional ephemeral/swap, and every mistake names the key at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec.h"

static json_t *
ok_flavor(const char *text)
{
	json_t *f = NULL;
	struct hv_error err = {0};
	assert_int_equal(spec_flavor(text, &f, &err), 0);
	return f;
}

static void
bad_flavor(const char *text, const char *field)
{
	json_t *f = NULL;
	struct hv_error err = {0};
	assert_int_equal(spec_flavor(text, &f, &err), -EINVAL);
	assert_null(f);
	assert_string_equal(err.field, field);
}

static void
a_flavor_spec_gives_every_size(void **state)
{
	json_t *f = ok_flavor("vcpus=2,ram=512,disk=1,ephemeral=5,swap=128");
	assert_int_equal(json_integer_value(json_object_get(f, "vcpus")), 2);
	assert_int_equal(json_integer_value(json_object_get(f, "ram")), 512);
	assert_int_equal(json_integer_value(json_object_get(f, "disk")), 1);
	assert_int_equal(json_integer_value(json_object_get(f, "ephemeral")), 5);
	assert_int_equal(json_integer_value(json_object_get(f, "swap")), 128);
	json_decref(f);
}

static void
ephemeral_and_swap_default_to_zero_in_any_order(void **state)
{
	json_t *f = ok_flavor("disk=0,ram=64,vcpus=1");
	assert_int_equal(json_integer_value(json_object_get(f, "ephemeral")), 0);
	assert_int_equal(json_integer_value(json_object_get(f, "swap")), 0);
	assert_int_equal(json_integer_value(json_object_get(f, "disk")), 0);
	json_decref(f);
}

static void
mistakes_name_the_key(void **state)
{
	bad_flavor("vcpus=2,ram=512", "flavor-spec.disk");
	bad_flavor("vcpus=0,ram=512,disk=1", "flavor-spec.vcpus");
	bad_flavor("vcpus=2,ram=-1,disk=1", "flavor-spec.ram");
	bad_flavor("vcpus=2,ram=5x,disk=1", "flavor-spec.ram");
	bad_flavor("vcpus=2,ram=512,disk=1,vcpus=3", "flavor-spec.vcpus");
	bad_flavor("vpcus=2,ram=512,disk=1", "flavor-spec");
	bad_flavor("vcpus=2,ram=512,disk=1,", "flavor-spec");
	bad_flavor("vcpus", "flavor-spec");
	bad_flavor("", "flavor-spec");
	bad_flavor("vcpus=,ram=1,disk=1", "flavor-spec.vcpus");
	bad_flavor("vcpus=99999999999999999999,ram=1,disk=1", "flavor-spec.vcpus");
}

static void
a_property_is_key_equals_value(void **state)
{
	json_t *p = json_object();
	struct hv_error err = {0};
	assert_int_equal(spec_property("hw:cpu_policy=dedicated", p, &err), 0);
	assert_int_equal(spec_property("hw:mem_page_size=large=2M", p, &err), 0);
	assert_string_equal(json_string_value(json_object_get(p, "hw:cpu_policy")), "dedicated");
	/* only the first '=' splits */
	assert_string_equal(json_string_value(json_object_get(p, "hw:mem_page_size")), "large=2M");
	assert_int_equal(spec_property("hw:cpu_policy=shared", p, &err), -EINVAL);
	assert_int_equal(spec_property("=x", p, &err), -EINVAL);
	assert_int_equal(spec_property("novalue", p, &err), -EINVAL);
	assert_int_equal(spec_property("k=a\nb", p, &err), -EINVAL);
	assert_string_equal(err.field, "property");
	assert_int_equal(json_object_size(p), 2);
	json_decref(p);
}

static void
a_key_file_is_one_openssh_line(void **state)
{
	struct hv_error err = {0};
	char *key = NULL;
	const char good[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ user@host\n";
	assert_int_equal(spec_key_line(good, strlen(good), &key, &err), 0);
	assert_string_equal(key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ user@host");
	free(key);
	const char two[] = "ssh-ed25519 AAAA a\nssh-rsa AAAA b\n";
	assert_int_equal(spec_key_line(two, strlen(two), &key, &err), -EINVAL);
	assert_string_equal(err.field, "key-file");
	assert_non_null(strstr(err.message, "more than one line"));
	const char priv[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
	assert_int_equal(spec_key_line(priv, strlen(priv), &key, &err), -EINVAL);
	assert_int_equal(spec_key_line("\n", 1, &key, &err), -EINVAL);
	assert_null(key);
}

static void
user_data_is_sent_as_padded_base64(void **state)
{
	char *b = spec_base64((const unsigned char *)"#!/bin/sh\n", 10);
	assert_string_equal(b, "IyEvYmluL3NoCg==");
	free(b);
	b = spec_base64((const unsigned char *)"abc", 3);
	assert_string_equal(b, "YWJj");
	free(b);
	b = spec_base64((const unsigned char *)"", 0);
	assert_string_equal(b, "");
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_flavor_spec_gives_every_size),
		cmocka_unit_test(ephemeral_and_swap_default_to_zero_in_any_order),
		cmocka_unit_test(mistakes_name_the_key),
		cmocka_unit_test(a_property_is_key_equals_value),
		cmocka_unit_test(a_key_file_is_one_openssh_line),
		cmocka_unit_test(user_data_is_sent_as_padded_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
