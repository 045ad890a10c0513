/* test_catalog.c - the catalog's rules in the service layer against a real store: the
 * defaults a new catalog starts with, flavors (ids, names, sizes, extra specs, access) and
 * that bad input names its field and changes nothing. No agent is involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service/service.h"
#include "sshkey.h"

static const int64_t T0 = 1800000000000;

struct fixture {
	struct store *store;
	struct svc *svc;
};

static int
setup(void **state)
{
	static struct fixture f;
	struct hv_error err = {0};
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	memset(&f, 0, sizeof f);
	if (store_open(":memory:", &f.store, &err) < 0 ||
	    svc_new(f.store, NULL, NULL, &iv, &f.svc, &err) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	svc_free(f->svc);
	store_free(f->store);
	return 0;
}

/* A call that must succeed; on failure, its message says why. */
#define MUST(call, err)                                                          \
	do {                                                                     \
		int r_ = (call);                                                 \
		if (r_ < 0)                                                      \
			fail_msg("unexpected error %d: %s", r_, (err)->message); \
	} while (0)

static void
a_new_catalog_has_the_guides_flavors(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *list = NULL;
	static const struct {
		const char *id, *name;
		int vcpus, ram, disk;
	} want[] = {{"4", "m1.large", 4, 8192, 80},
		    {"3", "m1.medium", 2, 4096, 40},
		    {"2", "m1.small", 1, 2048, 20},
		    {"1", "m1.tiny", 1, 512, 1},
		    {"5", "m1.xlarge", 8, 16384, 160}};
	MUST(svc_flavor_list(f->svc, NULL, &list, &err), &err);
	assert_int_equal(json_array_size(list), 5);
	for (size_t i = 0; i < 5; i++) {
		json_t *fl = json_array_get(list, i);
		assert_string_equal(json_string_value(json_object_get(fl, "id")), want[i].id);
		assert_string_equal(json_string_value(json_object_get(fl, "name")), want[i].name);
		assert_int_equal(json_integer_value(json_object_get(fl, "vcpus")), want[i].vcpus);
		assert_int_equal(json_integer_value(json_object_get(fl, "ram")), want[i].ram);
		assert_int_equal(json_integer_value(json_object_get(fl, "disk")), want[i].disk);
	}
	json_decref(list);
	/* and exactly one project, admin */
	assert_int_equal(svc_project_list(f->svc, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
			    "admin");
	json_decref(list);
}

static void
a_flavor_is_created_shown_changed_and_deleted(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *fl = NULL,
	       *args = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:{s:s}}", "name", "db.big",
				 "vcpus", 4, "ram", 8192, "disk", 40, "ephemeral", 10, "swap", 1024,
				 "extra_specs", "hw:watchdog_action", "reset");
	MUST(svc_flavor_create(f->svc, args, T0, &fl, &err), &err);
	const char *id = json_string_value(json_object_get(fl, "id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 36); /* a UUID4 when none is given */
	char uuid[37];
	snprintf(uuid, sizeof uuid, "%s", id);
	assert_int_equal(json_integer_value(json_object_get(fl, "ephemeral")), 10);
	assert_int_equal(json_integer_value(json_object_get(fl, "swap")), 1024);
	assert_true(json_is_true(json_object_get(fl, "is_public")));
	json_decref(fl);

	/* the same name again, or an id taken, is a conflict naming the field */
	assert_int_equal(svc_flavor_create(f->svc, args, T0, &fl, &err), -EEXIST);
	assert_string_equal(err.field, "args.name");
	json_object_set_new(args, "name", json_string("other"));
	json_object_set_new(args, "id", json_string("1"));
	assert_int_equal(svc_flavor_create(f->svc, args, T0, &fl, &err), -EEXIST);
	assert_string_equal(err.field, "args.id");
	json_object_set_new(args, "id", json_string("42"));
	MUST(svc_flavor_create(f->svc, args, T0, &fl, &err), &err);
	assert_string_equal(json_string_value(json_object_get(fl, "id")), "42");
	json_decref(fl);
	json_decref(args);

	/* set merges extra specs, unset removes them */
	args = json_pack("{s:s, s:{s:s}}", "flavor", "db.big", "extra_specs", "hw:numa_nodes", "1");
	MUST(svc_flavor_update(f->svc, args, true, &fl, &err), &err);
	json_t *specs = json_object_get(fl, "extra_specs");
	assert_int_equal(json_object_size(specs), 2);
	json_decref(fl);
	json_decref(args);
	args = json_pack("{s:s, s:[s]}", "flavor", uuid, "extra_specs", "hw:watchdog_action");
	MUST(svc_flavor_update(f->svc, args, false, &fl, &err), &err);
	specs = json_object_get(fl, "extra_specs");
	assert_int_equal(json_object_size(specs), 1);
	assert_non_null(json_object_get(specs, "hw:numa_nodes"));
	json_decref(fl);
	/* a set is checked with what the flavor already has: a total beside a read limit */
	json_t *bad = json_pack("{s:s, s:{s:s, s:s}}", "flavor", uuid, "extra_specs",
				"quota:disk_read_bytes_sec", "1000", "quota:disk_total_bytes_sec",
				"5000");
	assert_int_equal(svc_flavor_update(f->svc, bad, true, &fl, &err), -EINVAL);
	assert_string_equal(err.field, "args.extra_specs.quota:disk_total_bytes_sec");
	json_decref(bad);
	MUST(svc_flavor_show(f->svc, uuid, &fl, &err), &err);
	assert_int_equal(json_object_size(json_object_get(fl, "extra_specs")), 1);
	json_decref(fl);
	/* unsetting what is not there names it */
	assert_int_equal(svc_flavor_update(f->svc, args, false, &fl, &err), -ENOENT);
	assert_string_equal(err.field, "args.extra_specs[0]");
	json_decref(args);

	assert_int_equal(svc_flavor_delete(f->svc, "db.big", &err), 0);
	assert_int_equal(svc_flavor_show(f->svc, uuid, &fl, &err), -ENOENT);
	assert_string_equal(err.field, "args.flavor");
	assert_int_equal(svc_flavor_delete(f->svc, "db.big", &err), -ENOENT);
}

static void
bad_flavors_name_their_field_and_change_nothing(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *fl = NULL, *list = NULL;
	static const struct {
		const char *json, *field;
	} bad[] = {
		{"{\"name\": \"x\", \"vcpus\": 0, \"ram\": 512, \"disk\": 1}", "args.vcpus"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 0, \"disk\": 1}", "args.ram"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512}", "args.disk"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"swap\": -1}",
		 "args.swap"},
		{"{\"name\": \"\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1}", "args.name"},
		{"{\"name\": \"x \", \"vcpus\": 1, \"ram\": 512, \"disk\": 1}", "args.name"},
		{"{\"name\": \"x\", \"id\": \"a b\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1}",
		 "args.id"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"cpus\": 1}",
		 "args.cpus"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"project\": "
		 "\"admin\"}",
		 "args.project"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"extra_specs\": "
		 "{\"k\": 1}}",
		 "args.extra_specs.k"},
		/* what a host would refuse, read by the hosts' own code (common/extraspec.h) */
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"extra_specs\": "
		 "{\"hw:watchdog_action\": \"explode\"}}",
		 "args.extra_specs.hw:watchdog_action"},
		{"{\"name\": \"x\", \"vcpus\": 2, \"ram\": 512, \"disk\": 1, \"extra_specs\": "
		 "{\"hw:cpu_sockets\": \"4\"}}",
		 "args.extra_specs.hw:cpu_sockets"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"extra_specs\": "
		 "{\"hw:no_such_thing\": \"1\"}}",
		 "args.extra_specs.hw:no_such_thing"},
		{"{\"name\": \"x\", \"vcpus\": 1, \"ram\": 512, \"disk\": 1, \"extra_specs\": "
		 "{\"hw_rng:rate_bytes\": \"100\"}}",
		 "args.extra_specs.hw_rng:rate_period"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *args = json_loads(bad[i].json, 0, NULL);
		assert_non_null(args);
		assert_true(svc_flavor_create(f->svc, args, T0, &fl, &err) < 0);
		assert_string_equal(err.field, bad[i].field);
		json_decref(args);
	}
	assert_int_equal(svc_flavor_list(f->svc, "all", &list, &err), 0);
	assert_int_equal(json_array_size(list), 5);
	json_decref(list);
}

/* A private flavor is usable by the projects on its list only; to the others it does not
 * exist, as in nova. */
static void
a_private_flavor_serves_only_its_projects(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *fl = NULL, *p = NULL, *list = NULL;
	json_t *pargs = json_pack("{s:s}", "name", "demo");
	MUST(svc_project_create(f->svc, pargs, T0, &p, &err), &err);
	json_decref(pargs);
	json_t *args = json_pack("{s:s, s:i, s:i, s:i, s:b, s:s}", "name", "secret", "vcpus", 1,
				 "ram", 256, "disk", 1, "is_public", 0, "project", "demo");
	MUST(svc_flavor_create(f->svc, args, T0, &fl, &err), &err);
	json_t *access = json_object_get(fl, "access_project_ids");
	assert_int_equal(json_array_size(access), 1);
	assert_string_equal(json_string_value(json_array_get(access, 0)),
			    json_string_value(json_object_get(p, "id")));
	json_decref(fl);
	json_decref(args);
	assert_int_equal(svc_flavor_list(f->svc, NULL, &list, &err), 0);
	assert_int_equal(json_array_size(list), 5); /* public ones only */
	json_decref(list);
	assert_int_equal(svc_flavor_list(f->svc, "private", &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);

	/* public flavors have no access list */
	args = json_pack("{s:s, s:s}", "flavor", "m1.tiny", "project", "demo");
	assert_int_equal(svc_flavor_update(f->svc, args, true, &fl, &err), -EINVAL);
	assert_string_equal(err.field, "args.project");
	json_decref(args);
	/* admin is added, demo removed */
	args = json_pack("{s:s, s:s}", "flavor", "secret", "project", "admin");
	MUST(svc_flavor_update(f->svc, args, true, &fl, &err), &err);
	assert_int_equal(json_array_size(json_object_get(fl, "access_project_ids")), 2);
	json_decref(fl);
	json_decref(args);
	args = json_pack("{s:s, s:s}", "flavor", "secret", "project", "demo");
	MUST(svc_flavor_update(f->svc, args, false, &fl, &err), &err);
	access = json_object_get(fl, "access_project_ids");
	assert_int_equal(json_array_size(access), 1);
	assert_string_not_equal(json_string_value(json_array_get(access, 0)),
				json_string_value(json_object_get(p, "id")));
	json_decref(fl);
	json_decref(args);
	json_decref(p);
}

/* A generated pair: the public half is a key line the agent accepts, the private half is
 * answered once and never stored; names are unique per project, and the quota counts. */
static void
a_key_pair_is_generated_imported_and_counted(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *kp = NULL, *args = json_pack("{s:s}", "name", "k1");
	MUST(svc_keypair_create(f->svc, args, T0, &kp, &err), &err);
	const char *pub = json_string_value(json_object_get(kp, "public_key"));
	const char *priv = json_string_value(json_object_get(kp, "private_key"));
	assert_non_null(pub);
	assert_non_null(priv);
	assert_int_equal(hv_sshkey_validate(pub, "public_key", &err), 0);
	assert_int_equal(strncmp(pub, "ssh-ed25519 ", 12), 0);
	assert_int_equal(strncmp(priv, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
	assert_int_equal(
		strncmp(json_string_value(json_object_get(kp, "fingerprint")), "SHA256:", 7), 0);
	char pub_copy[256];
	snprintf(pub_copy, sizeof pub_copy, "%s", pub);
	json_decref(kp);
	/* what is kept: the public half only */
	MUST(svc_keypair_show(f->svc, NULL, "k1", &kp, &err), &err);
	assert_null(json_object_get(kp, "private_key"));
	assert_string_equal(json_string_value(json_object_get(kp, "public_key")), pub_copy);
	json_decref(kp);
	assert_int_equal(svc_keypair_create(f->svc, args, T0, &kp, &err), -EEXIST);
	assert_string_equal(err.field, "args.name");
	json_decref(args);

	/* import: the agent's key rules */
	args = json_pack("{s:s, s:s}", "name", "k2", "public_key", "ssh-ed25519 AAAA not-a-key");
	assert_int_equal(svc_keypair_create(f->svc, args, T0, &kp, &err), -EINVAL);
	assert_string_equal(err.field, "args.public_key");
	json_object_set_new(args, "public_key", json_string(pub_copy));
	MUST(svc_keypair_create(f->svc, args, T0, &kp, &err), &err);
	assert_null(json_object_get(kp, "private_key"));
	json_decref(kp);
	json_decref(args);
	args = json_pack("{s:s}", "name", "bad/name");
	assert_int_equal(svc_keypair_create(f->svc, args, T0, &kp, &err), -EINVAL);
	assert_string_equal(err.field, "args.name");
	json_decref(args);

	/* the quota: 2 used, a limit of 2 refuses a third and stores nothing */
	json_t *q = json_pack("{s:i}", "key_pairs", 2), *res = NULL, *list = NULL;
	MUST(svc_quota_set(f->svc, NULL, q, &res, &err), &err);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(res, "in_use"), "key_pairs")),
		2);
	json_decref(res);
	json_decref(q);
	args = json_pack("{s:s}", "name", "k3");
	assert_int_equal(svc_keypair_create(f->svc, args, T0, &kp, &err), -EDQUOT);
	assert_non_null(strstr(err.message, "key_pairs"));
	MUST(svc_keypair_list(f->svc, NULL, &list, &err), &err);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	/* delete frees the share */
	MUST(svc_keypair_delete(f->svc, NULL, "k1", &err), &err);
	assert_int_equal(svc_keypair_delete(f->svc, NULL, "k1", &err), -ENOENT);
	assert_string_equal(err.field, "args.name");
	MUST(svc_keypair_create(f->svc, args, T0, &kp, &err), &err);
	json_decref(kp);
	json_decref(args);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_new_catalog_has_the_guides_flavors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_flavor_is_created_shown_changed_and_deleted,
						setup, teardown),
		cmocka_unit_test_setup_teardown(bad_flavors_name_their_field_and_change_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_private_flavor_serves_only_its_projects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_key_pair_is_generated_imported_and_counted, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
