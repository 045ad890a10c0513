/* test_base64.c - common/base64.h: what it encodes decodes back byte for byte, and the one
 * rule refuses every text outside RFC 4648's padded standard alphabet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static void
assert_refused(const char *text)
{
	unsigned char *out = NULL;
	size_t n = 0;

	if (hv_base64_decode(text, strlen(text), &out, &n) != -EINVAL)
		fail_msg("accepted \"%s\"", text);
	assert_null(out);
}

static void
every_length_round_trips(void **state)
{
	unsigned char in[300];

	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof in; len++) {
		char *text = hv_base64_encode(in, len);
		unsigned char *out = NULL;
		size_t n = 0;

		assert_non_null(text);
		assert_int_equal(strlen(text), (len + 2) / 3 * 4);
		assert_int_equal(hv_base64_decode(text, strlen(text), &out, &n), 0);
		assert_non_null(out); /* also for zero bytes */
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		free(out);
		free(text);
	}
}

static void
the_encoding_is_the_padded_standard_alphabet(void **state)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		/* RFC 4648 section 10 */
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	const unsigned char hi[] = {0xfb, 0xff, 0xfe};

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *text = hv_base64_encode((const unsigned char *)v[i].in, strlen(v[i].in));

		assert_string_equal(text, v[i].out);
		free(text);
	}
	char *text = hv_base64_encode(hi, sizeof hi);
	assert_string_equal(text, "+//+"); /* '+' and '/', never the URL-safe '-' and '_' */
	free(text);
}

static void
texts_outside_the_rule_are_refused(void **state)
{
	assert_refused("Zg");       /* padding missing */
	assert_refused("Zg=");      /* padding short */
	assert_refused("Zm9vY");    /* length not a multiple of 4 */
	assert_refused("Zh==");     /* unused bits not zero */
	assert_refused("Zm8=Zm8="); /* data after padding */
	assert_refused("Zm=v");     /* '=' inside */
	assert_refused("====");
	assert_refused("Zm9v!mFy");  /* outside the alphabet */
	assert_refused("-_-_");      /* the URL-safe alphabet */
	assert_refused("Zm9v YmFy"); /* whitespace is not skipped */
	assert_refused("Zm9v\nYmFy");
	assert_refused("Zm9vYmFy\n");
}

static void
a_text_with_a_nul_inside_is_refused(void **state)
{
	unsigned char *out = NULL;
	size_t n = 0;

	assert_int_equal(hv_base64_decode("Zm9v\0mFy", 8, &out, &n), -EINVAL);
	assert_null(out);
}

static void
a_short_buffer_is_refused_without_overflow(void **state)
{
	unsigned char out[4] = {0xaa, 0xaa, 0xaa, 0xaa};
	size_t n = 0;

	assert_int_equal(hv_base64_decode_to("Zm9vYmFy", 8, out, 3, &n), -ENOSPC);
	assert_int_equal(out[3], 0xaa);
	assert_int_equal(hv_base64_decode_to("Zm9v", 4, out, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "foo", 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_length_round_trips),
		cmocka_unit_test(the_encoding_is_the_padded_standard_alphabet),
		cmocka_unit_test(texts_outside_the_rule_are_refused),
		cmocka_unit_test(a_text_with_a_nul_inside_is_refused),
		cmocka_unit_test(a_short_buffer_is_refused_without_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
