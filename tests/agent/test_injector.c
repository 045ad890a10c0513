/* test_injector.c - spawns waiting at the same moment share one injection batch, but only
 * with spawns of their own project; a spawn without a project is injected alone; each
 * caller gets its own job's outcome. The batch function is a recorder given in the options
 * (injector_opts.batch), so no module is loaded and no appliance runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "inject.h"
#include "injector.h"

#define MAX_CALLS 16

static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static char batches[MAX_CALLS][256]; /* "disk-a,disk-b," per call */
static size_t n_batches;

static int
record_batch(const struct guest_job *jobs, size_t n, const struct guest_inject_opts *opts,
	     struct guest_result *ret_results)
{
	int first = 0;

	pthread_mutex_lock(&rec_mu);
	for (size_t i = 0; i < n; i++) {
		strcat(batches[n_batches], strrchr(jobs[i].disk_path, '/') + 1);
		strcat(batches[n_batches], ",");
	}
	n_batches++;
	pthread_mutex_unlock(&rec_mu);
	assert_true(opts->force_tcg);
	assert_int_equal(opts->timeout_s, 60);
	for (size_t i = 0; i < n; i++) {
		memset(&ret_results[i], 0, sizeof ret_results[i]);
		if (strstr(jobs[i].disk_path, "bad")) {
			ret_results[i].code = -EINVAL;
			snprintf(ret_results[i].err.message, sizeof ret_results[i].err.message,
				 "jobs[%zu].disk_path: %s is not a qcow2 image", i,
				 jobs[i].disk_path);
			if (!first)
				first = -EINVAL;
		} else {
			ret_results[i].key_added = jobs[i].ssh_key != NULL;
			ret_results[i].password_set = jobs[i].password != NULL;
		}
	}
	return first;
}

struct call {
	struct injector *ij;
	const char *project, *disk;
	int rc;
	struct hv_error err;
	pthread_t t;
};

static void *
run(void *arg)
{
	struct call *c = arg;

	c->rc = injector_run(c->ij, c->project, c->disk, "qcow2", "ssh-ed25519 AAAA k",
			     "pw-secret-1", &c->err);
	return NULL;
}

static bool
recorded(const char *batch)
{
	for (size_t i = 0; i < n_batches; i++)
		if (strcmp(batches[i], batch) == 0)
			return true;
	return false;
}

static void
concurrent_spawns_share_a_batch_only_within_their_project(void **state)
{
	struct injector_opts o = {
		.timeout_s = 60, .force_tcg = true, .window_ms = 300, .batch = record_batch};
	struct injector *ij;
	struct hv_error err = {0};
	struct call calls[] = {
		{.project = "p", .disk = "/i/p1"},  {.project = "p", .disk = "/i/p2"},
		{.project = "q", .disk = "/i/q1"},  {.project = "p", .disk = "/i/p3-bad"},
		{.project = NULL, .disk = "/i/n1"},
	};
	size_t n = sizeof calls / sizeof calls[0];

	assert_int_equal(injector_new(&o, &ij, &err), 0);
	for (size_t i = 0; i < n; i++) {
		calls[i].ij = ij;
		assert_int_equal(pthread_create(&calls[i].t, NULL, run, &calls[i]), 0);
	}
	for (size_t i = 0; i < n; i++)
		pthread_join(calls[i].t, NULL);
	injector_free(ij);

	/* one batch per project, each disk exactly once; the project-less one alone */
	assert_int_equal(n_batches, 3);
	assert_true(recorded("q1,"));
	assert_true(recorded("n1,"));
	size_t p_batch = MAX_CALLS;
	for (size_t i = 0; i < n_batches; i++)
		if (strstr(batches[i], "p1,"))
			p_batch = i;
	assert_true(p_batch < n_batches);
	assert_non_null(strstr(batches[p_batch], "p2,"));
	assert_non_null(strstr(batches[p_batch], "p3-bad,"));
	/* each caller gets its own outcome; the message names the disk, never the secret */
	for (size_t i = 0; i < n; i++) {
		if (strstr(calls[i].disk, "bad")) {
			assert_int_equal(calls[i].rc, -EINVAL);
			assert_string_equal(calls[i].err.field, "injection");
			assert_non_null(strstr(calls[i].err.message, "injection failed: "));
			assert_non_null(
				strstr(calls[i].err.message, "/i/p3-bad is not a qcow2 image"));
			assert_null(strstr(calls[i].err.message, "pw-secret"));
		} else {
			assert_int_equal(calls[i].rc, 0);
		}
	}
}

static bool
maps_libguestfs(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(f);
	while (fgets(line, sizeof line, f))
		found |= strstr(line, "libguestfs.so") != NULL;
	fclose(f);
	return found;
}

/* The real module: absent, the injector refuses to start naming it; present, libguestfs is
 * mapped only once the first injection runs (a job refused before any appliance launch). */
static void
the_module_is_loaded_at_the_first_injection(void **state)
{
	struct injector_opts o = {.timeout_s = 60, .force_tcg = true};
	struct injector *ij;
	struct hv_error err = {0};
	const char *module = getenv(INJECTOR_MODULE_ENV);

	if (!module)
		skip();
	setenv(INJECTOR_MODULE_ENV, "/nonexistent/hvagent-inject.so", 1);
	assert_int_equal(injector_new(&o, &ij, &err), -ENOENT);
	assert_string_equal(err.field, "guest");
	assert_non_null(strstr(err.message, "/nonexistent/hvagent-inject.so"));
	setenv(INJECTOR_MODULE_ENV, module, 1);

	assert_int_equal(injector_new(&o, &ij, &err), 0);
	assert_false(maps_libguestfs());
	assert_true(injector_run(ij, NULL, "/nonexistent/disk", "raw", NULL, "pw-secret", &err) <
		    0);
	assert_null(strstr(err.message, "cannot load"));
	assert_null(strstr(err.message, "pw-secret"));
	assert_true(maps_libguestfs());
	injector_free(ij);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_spawns_share_a_batch_only_within_their_project),
		cmocka_unit_test(the_module_is_loaded_at_the_first_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
