/* test_keys.c - CURVE key files: generated once, private to their owner, readable by the
 * zcert/pyzmq certificate format, and refused when tampered with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"

static char dir[] = "/tmp/hv-keys-test-XXXXXX";

static int
setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
the_first_start_creates_a_private_keypair_and_the_second_reuses_it(void **state)
{
	char sub[256], path[300];
	struct keys_pair a, b;
	struct hv_error err = {0};
	struct stat st;
	bool created = false;

	snprintf(sub, sizeof sub, "%s/keys", dir);
	assert_int_equal(keys_load_or_create(sub, "agent", &a, &created, &err), 0);
	assert_true(created);
	assert_true(keys_z85_valid(a.public_z85));
	snprintf(path, sizeof path, "%s/agent.key_secret", sub);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(keys_load_or_create(sub, "agent", &b, &created, &err), 0);
	assert_false(created);
	assert_string_equal(a.public_z85, b.public_z85);
	assert_string_equal(a.secret_z85, b.secret_z85);
	keys_pair_wipe(&a);
	assert_int_equal(a.secret_z85[0], 0);
}

/* An agent starting while an operator runs `hvagent --show-public-key` must not end up
 * with a different key than the one the operator allowlists. */
static void
processes_creating_the_keypair_at_once_agree_on_one(void **state)
{
	enum {
		N = 8
	};
	char sub[256];
	int fds[N][2];
	pid_t pids[N];
	struct keys_pair first;
	struct hv_error err = {0};

	snprintf(sub, sizeof sub, "%s/race", dir);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct keys_pair kp;
			int r = keys_load_or_create(sub, "agent", &kp, NULL, NULL);

			if (r == 0 && write(fds[i][1], kp.public_z85, KEYS_Z85_LEN) != KEYS_Z85_LEN)
				r = -1;
			_exit(r == 0 ? 0 : 1);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < N; i++) {
		char pub[KEYS_Z85_LEN + 1] = {0};
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_int_equal(read(fds[i][0], pub, KEYS_Z85_LEN), KEYS_Z85_LEN);
		close(fds[i][0]);
		assert_int_equal(keys_load(sub, "agent", &first, &err), 0);
		assert_string_equal(pub, first.public_z85);
	}
}

static void
the_public_certificate_holds_no_secret(void **state)
{
	char path[300], buf[2048];
	struct keys_pair kp;
	struct hv_error err = {0};
	char pub[KEYS_Z85_LEN + 1];
	FILE *f;
	size_t n;

	assert_int_equal(keys_generate(&kp, &err), 0);
	assert_int_equal(keys_save(dir, "pubonly", &kp, &err), 0);
	snprintf(path, sizeof path, "%s/pubonly.key", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_null(strstr(buf, "secret-key"));
	assert_null(strstr(buf, kp.secret_z85));
	assert_int_equal(keys_public_from(path, pub, &err), 0);
	assert_string_equal(pub, kp.public_z85);
	assert_int_equal(keys_public_from(kp.public_z85, pub, &err), 0);
	assert_int_equal(keys_public_from("not-a-key", pub, &err), -EINVAL);
	assert_string_equal(err.field, "server_public_key");
}

static void
a_secret_file_readable_by_others_is_refused(void **state)
{
	char path[300];
	struct keys_pair kp;
	struct hv_error err = {0};

	assert_int_equal(keys_generate(&kp, &err), 0);
	assert_int_equal(keys_save(dir, "loose", &kp, &err), 0);
	snprintf(path, sizeof path, "%s/loose.key_secret", dir);
	assert_int_equal(chmod(path, 0644), 0);
	char secret[KEYS_Z85_LEN + 1];

	memcpy(secret, kp.secret_z85, sizeof secret);
	assert_int_equal(keys_load(dir, "loose", &kp, &err), -EPERM);
	assert_null(strstr(err.message, secret));
	assert_non_null(strstr(err.message, "want 0600"));
}

static void
a_public_key_not_matching_the_secret_is_refused(void **state)
{
	char path[300];
	struct keys_pair kp, other;
	struct hv_error err = {0};
	FILE *f;

	assert_int_equal(keys_generate(&kp, &err), 0);
	assert_int_equal(keys_generate(&other, &err), 0);
	snprintf(path, sizeof path, "%s/mixed.key_secret", dir);
	f = fopen(path, "w");
	fprintf(f, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", other.public_z85,
		kp.secret_z85);
	fclose(f);
	chmod(path, 0600);
	assert_int_equal(keys_load(dir, "mixed", &kp, &err), -EINVAL);
	assert_non_null(strstr(err.message, "does not match"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			the_first_start_creates_a_private_keypair_and_the_second_reuses_it),
		cmocka_unit_test(processes_creating_the_keypair_at_once_agree_on_one),
		cmocka_unit_test(the_public_certificate_holds_no_secret),
		cmocka_unit_test(a_secret_file_readable_by_others_is_refused),
		cmocka_unit_test(a_public_key_not_matching_the_secret_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
