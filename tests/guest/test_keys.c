/* test_keys.c - what a user's public key must look like before it reaches a guest, and the
 * admin password the agent generates and hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#if GUEST_HAVE_CRYPT
#include <crypt.h>
#endif

#include "password.h"
#include "sshkey.h"

static char good_keys[16][HV_SSHKEY_MAX + 2];
static size_t n_good;

static int
load_good_keys(void **state)
{
	const char *dir = getenv("HV_TEST_DATA");
	char path[512], line[HV_SSHKEY_MAX + 2];
	FILE *f;

	snprintf(path, sizeof path, "%s/keys-good.txt", dir ? dir : ".");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (n_good < 16 && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && line[0] != '#')
			snprintf(good_keys[n_good++], sizeof good_keys[0], "%s", line);
	}
	fclose(f);
	return n_good >= 8 ? 0 : -1;
}

static void
every_key_type_ssh_keygen_makes_is_accepted(void **state)
{
	for (size_t i = 0; i < n_good; i++) {
		struct hv_error err = {0};
		int r = hv_sshkey_validate(good_keys[i], "key", &err);
		if (r != 0)
			fail_msg("refused %.40s...: %s", good_keys[i], err.message);
	}
}

/* Each bad line is derived from a good ed25519 key so that only one thing is wrong. */
static void
assert_refused(const char *line, const char *why)
{
	struct hv_error err = {0};
	int r = hv_sshkey_validate(line, "key_pair.public_key", &err);
	if (r != -EINVAL)
		fail_msg("accepted a key with %s", why);
	assert_string_equal(err.field, "key_pair.public_key");
	assert_non_null(strstr(err.message, "key_pair.public_key"));
}

static void
malformed_key_lines_are_refused_with_the_field_named(void **state)
{
	const char *ed = good_keys[2]; /* ssh-ed25519 ... user@example */
	const char *rsa = good_keys[0];
	char buf[HV_SSHKEY_MAX * 2];
	const char *body = strchr(ed, ' ') + 1;
	size_t body_len = strcspn(body, " ");

	assert_true(strncmp(ed, "ssh-ed25519 ", 12) == 0);
	assert_refused("", "nothing");
	assert_refused("ssh-ed25519", "no body");
	assert_refused("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "an unsupported type");
	snprintf(buf, sizeof buf, "command=\"/bin/sh\" %s", ed);
	assert_refused(buf, "authorized_keys options in front");
	snprintf(buf, sizeof buf, "%s\nssh-ed25519 %.*s second", ed, (int)body_len, body);
	assert_refused(buf, "a second line");
	snprintf(buf, sizeof buf, "%s\r", ed);
	assert_refused(buf, "a carriage return");
	snprintf(buf, sizeof buf, "ssh-ed25519 %.*s", (int)body_len - 4, body);
	assert_refused(buf, "a truncated body");
	snprintf(buf, sizeof buf, "ssh-ed25519 %.*s!%s", 10, body, body + 11);
	assert_refused(buf, "a character outside base64");
	/* An RSA blob presented as ed25519: decodes fine, wrong type inside. */
	snprintf(buf, sizeof buf, "ssh-ed25519 %s", strchr(rsa, ' ') + 1);
	assert_refused(buf, "a body of another type");
	snprintf(buf, sizeof buf, "%s caf\xc3\xa9", ed);
	assert_refused(buf, "a non-ASCII comment");
	snprintf(buf, sizeof buf, "%s tab\there", ed);
	assert_refused(buf, "a control character");
	memset(buf, 'A', HV_SSHKEY_MAX + 10);
	memcpy(buf, "ssh-rsa ", 8);
	buf[HV_SSHKEY_MAX + 10] = '\0';
	assert_refused(buf, "an oversized line");
	assert_refused(NULL, "a NULL line");
}

static void
a_generated_password_has_every_class_and_no_look_alikes(void **state)
{
	char a[64], b[64];
	struct hv_error err = {0};

	for (int round = 0; round < 200; round++) {
		assert_int_equal(guest_password_generate(a, sizeof a, 12, &err), 0);
		assert_int_equal(strlen(a), 12);
		assert_non_null(strpbrk(a, "abcdefghijkmnopqrstuvwxyz"));
		assert_non_null(strpbrk(a, "ABCDEFGHJKLMNPQRSTUVWXYZ"));
		assert_non_null(strpbrk(a, "23456789"));
		assert_null(strpbrk(a, "0O1lI"));
	}
	assert_int_equal(guest_password_generate(b, sizeof b, 12, &err), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(guest_password_generate(a, sizeof a, 4, &err), -EINVAL);
	assert_string_equal(err.field, "password_length");
	assert_int_equal(guest_password_generate(a, 12, 12, &err), -EINVAL);
}

#if GUEST_HAVE_CRYPT
static void
a_hashed_password_verifies_with_crypt_and_uses_a_fresh_salt(void **state)
{
	static const enum guest_hash_method methods[] = {GUEST_HASH_SHA512, GUEST_HASH_YESCRYPT};
	static const char *prefixes[] = {"$6$", "$y$"};
	char h1[GUEST_HASH_MAX], h2[GUEST_HASH_MAX];
	struct crypt_data cd;
	struct hv_error err = {0};

	for (int m = 0; m < 2; m++) {
		assert_int_equal(
			guest_password_hash("s3cret pass", methods[m], h1, sizeof h1, &err), 0);
		assert_int_equal(
			guest_password_hash("s3cret pass", methods[m], h2, sizeof h2, &err), 0);
		assert_true(strncmp(h1, prefixes[m], 3) == 0);
		assert_string_not_equal(h1, h2); /* salts differ */
		assert_null(strstr(h1, "s3cret"));
		memset(&cd, 0, sizeof cd);
		assert_string_equal(crypt_rn("s3cret pass", h1, &cd, sizeof cd), h1);
		memset(&cd, 0, sizeof cd);
		const char *other = crypt_rn("s3cret pasS", h1, &cd, sizeof cd);
		assert_true(other == NULL || strcmp(other, h1) != 0);
		assert_int_equal(guest_password_hash_check(h1, "admin_password", &err), 0);
	}
}

static void
an_empty_password_or_a_plaintext_hash_is_refused(void **state)
{
	char h[GUEST_HASH_MAX];
	struct hv_error err = {0};

	assert_int_equal(guest_password_hash("", GUEST_HASH_SHA512, h, sizeof h, &err), -EINVAL);
	assert_string_equal(err.field, "admin_password");
	assert_int_equal(guest_password_hash("x", GUEST_HASH_SHA512, h, 16, &err), -EINVAL);
	assert_int_equal(guest_password_hash_check("hunter2hunter2hunter2", "admin_password", &err),
			 -EINVAL);
	assert_int_equal(guest_password_hash_check("$1$abcdefgh$0123456789abcdefghij", "h", &err),
			 -EINVAL);
	assert_int_equal(guest_password_hash_check("$6$salt$has:colon:in:it_aaaaaaa", "h", &err),
			 -EINVAL);
	assert_int_equal(guest_password_hash_check("$6$salt$with\nnewline_aaaaaaaaa", "h", &err),
			 -EINVAL);
}

#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_key_type_ssh_keygen_makes_is_accepted),
		cmocka_unit_test(malformed_key_lines_are_refused_with_the_field_named),
		cmocka_unit_test(a_generated_password_has_every_class_and_no_look_alikes),
#if GUEST_HAVE_CRYPT
		cmocka_unit_test(a_hashed_password_verifies_with_crypt_and_uses_a_fresh_salt),
		cmocka_unit_test(an_empty_password_or_a_plaintext_hash_is_refused),
#endif
	};
	return cmocka_run_group_tests(tests, load_good_keys, NULL);
}
