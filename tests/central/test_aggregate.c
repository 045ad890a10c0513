/* test_aggregate.c - aggregates, zones, server groups and usage in the service layer against
 * a real store: a host in one zone only, no delete while hosts remain, the zone a host is
 * in, and usage hours computed from servers whose creation and deletion times are known to
 * the millisecond. No agent is involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service/service.h"

static const int64_t T0 = 1798761600000; /* 2027-01-01T00:00:00Z */
static const int64_t HOUR = 3600000;

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
	for (int i = 1; i <= 2; i++) {
		char id[16];
		snprintf(id, sizeof id, "node-%d", i);
		if (store_host_seen(f.store, id, "", "", T0, &err) < 0)
			return -1;
	}
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

#define MUST(call, err)                                                          \
	do {                                                                     \
		int r_ = (call);                                                 \
		if (r_ < 0)                                                      \
			fail_msg("unexpected error %d: %s", r_, (err)->message); \
	} while (0)

static json_t *
agg_create(struct fixture *f, const char *json)
{
	struct hv_error err = {0};
	json_t *args = json_loads(json, 0, NULL), *ret = NULL;
	MUST(svc_aggregate_create(f->svc, args, T0, &ret, &err), &err);
	json_decref(args);
	return ret;
}

static void
a_host_is_in_one_zone_only(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *a = agg_create(f, "{\"name\": \"a\", \"availability_zone\": \"az1\"}");
	json_t *b = agg_create(f, "{\"name\": \"b\", \"availability_zone\": \"az2\"}");
	json_t *c = agg_create(f, "{\"name\": \"c\", \"properties\": {\"ssd\": \"true\"}}");
	json_t *ret = NULL, *list = NULL;
	MUST(svc_aggregate_host(f->svc, "a", "node-1", true, &ret, &err), &err);
	json_decref(ret);
	MUST(svc_aggregate_host(f->svc, "c", "node-1", true, &ret, &err), &err);
	json_decref(ret);
	assert_int_equal(svc_aggregate_host(f->svc, "b", "node-1", true, &ret, &err), -EINVAL);
	assert_string_equal(err.field, "args.host");
	assert_non_null(strstr(err.message, "az1"));
	assert_int_equal(svc_aggregate_host(f->svc, "a", "node-9", true, &ret, &err), -ENOENT);
	assert_string_equal(err.field, "args.host");
	/* c has no zone: giving it az2 would put node-1 in two */
	json_t *set = json_pack("{s:s, s:s}", "aggregate", "c", "availability_zone", "az2");
	assert_int_equal(svc_aggregate_update(f->svc, set, true, &ret, &err), -EINVAL);
	assert_string_equal(err.field, "args.availability_zone");
	json_decref(set);

	MUST(svc_aggregate_list(f->svc, &list, &err), &err);
	assert_string_equal(svc_host_zone(list, "node-1", "nova"), "az1");
	assert_string_equal(svc_host_zone(list, "node-2", "nova"), "nova");
	json_decref(list);

	assert_int_equal(svc_aggregate_delete(f->svc, "a", &err), -EEXIST);
	assert_string_equal(err.field, "args.aggregate");
	MUST(svc_aggregate_host(f->svc, "a", "node-1", false, &ret, &err), &err);
	json_decref(ret);
	assert_int_equal(svc_aggregate_host(f->svc, "a", "node-1", false, &ret, &err), -ENOENT);
	MUST(svc_aggregate_delete(f->svc, "a", &err), &err);
	assert_int_equal(svc_aggregate_show(f->svc, "a", &ret, &err), -ENOENT);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void
bad_aggregates_name_their_field(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	static const struct {
		const char *args, *field;
	} bad[] = {
		{"{\"name\": \"\"}", "args.name"},
		{"{\"name\": \"x\", \"availability_zone\": \"a:b\"}", "args.availability_zone"},
		{"{\"name\": \"x\", \"properties\": {\"a/b\": \"1\"}}", "args.properties.a/b"},
		{"{\"name\": \"x\", \"properties\": {\"k\": 1}}", "args.properties.k"},
		{"{\"name\": \"x\", \"zone\": \"a\"}", "args.zone"},
		{"{\"name\": \"dup\"}", "args.name"},
	};
	json_t *list = NULL, *ret = NULL;
	json_decref(agg_create(f, "{\"name\": \"dup\"}"));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *args = json_loads(bad[i].args, 0, NULL);
		memset(&err, 0, sizeof err);
		assert_true(svc_aggregate_create(f->svc, args, T0, &ret, &err) < 0);
		if (strcmp(err.field, bad[i].field) != 0)
			fail_msg("%s: field %s, want %s (%s)", bad[i].args, err.field, bad[i].field,
				 err.message);
		json_decref(args);
	}
	MUST(svc_aggregate_list(f->svc, &list, &err), &err);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

/* A server of flavor m1.small (1 vCPU, 2048 MB, 20 GB) created at `born`, deleted at
 * `died` (0: alive). */
static void
server_at(struct fixture *f, const char *uuid, int64_t born, int64_t died)
{
	struct hv_error err = {0};
	json_t *p = NULL;
	MUST(svc_project_show(f->svc, NULL, &p, &err), &err);
	json_t *inst = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i, s:i}, s:s, s:s}",
				 "uuid", uuid, "name", uuid, "host", "node-1", "image", "cirros",
				 "flavor", "name", "m1.small", "vcpus", 1, "ram_mb", 2048,
				 "root_gb", 20, "ephemeral_gb", 0, "vm_state", "active",
				 "project_id", json_string_value(json_object_get(p, "id")));
	MUST(store_instance_insert(f->store, inst, born, &err), &err);
	if (died)
		MUST(store_instance_set_state(f->store, uuid, "deleted", "", NULL, NULL, died,
					      &err),
		     &err);
	json_decref(inst);
	json_decref(p);
}

static void
usage_counts_the_hours_inside_the_range(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	/* range: 2027-01-01T00:00:00 to 2027-01-02T00:00:00 (24 h) */
	server_at(f, "aaaaaaaa-0000-4000-8000-000000000001", T0 - 2 * HOUR, T0 + 3 * HOUR);
	server_at(f, "aaaaaaaa-0000-4000-8000-000000000002", T0 + 10 * HOUR, 0);
	server_at(f, "aaaaaaaa-0000-4000-8000-000000000003", T0 - 5 * HOUR, T0 - HOUR);
	server_at(f, "aaaaaaaa-0000-4000-8000-000000000004", T0 + 30 * HOUR, 0);
	json_t *args =
		json_pack("{s:s, s:s}", "start", "2027-01-01", "end", "2027-01-02T00:00:00Z");
	json_t *u = NULL;
	/* now: 2027-01-03: the live server counts to the end of the range only */
	MUST(svc_usage(f->svc, args, true, T0 + 48 * HOUR, &u, &err), &err);
	json_t *rows = json_object_get(u, "server_usages");
	assert_int_equal(json_array_size(rows), 2); /* 3 ended before, 4 began after */
	/* 3 h of the first, 14 h of the second */
	assert_true(json_real_value(json_object_get(u, "total_hours")) == 17.0);
	assert_true(json_real_value(json_object_get(u, "total_vcpus_usage")) == 17.0);
	assert_true(json_real_value(json_object_get(u, "total_memory_mb_usage")) == 17.0 * 2048);
	assert_true(json_real_value(json_object_get(u, "total_local_gb_usage")) == 17.0 * 20);
	json_t *first = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(first, "state")), "terminated");
	assert_string_equal(json_string_value(json_object_get(first, "ended_at")),
			    "2027-01-01T03:00:00.000000");
	json_decref(u);

	/* while now is inside the range, a live server counts to now */
	MUST(svc_usage(f->svc, args, true, T0 + 12 * HOUR, &u, &err), &err);
	assert_true(json_real_value(json_object_get(u, "total_hours")) == 5.0);
	json_decref(u);
	json_decref(args);

	static const struct {
		const char *start, *end, *field;
	} bad[] = {
		{"2027-13-01", "2027-12-01", "args.start"},
		{"2027-02-30", "2027-03-01", "args.start"},
		{"2027-01-01", "yesterday", "args.end"},
		{"2027-01-02", "2027-01-01", "args.end"},
		{"2027-01-01T25:00:00", "2027-01-02", "args.start"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		args = json_pack("{s:s, s:s}", "start", bad[i].start, "end", bad[i].end);
		assert_int_equal(svc_usage(f->svc, args, false, T0, &u, &err), -EINVAL);
		if (strcmp(err.field, bad[i].field) != 0)
			fail_msg("%s..%s: field %s, want %s", bad[i].start, bad[i].end, err.field,
				 bad[i].field);
		json_decref(args);
	}
}

static void
server_groups_have_nova_policies(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *args = json_pack("{s:s, s:s}", "name", "g", "policy", "anti-affinity"), *g = NULL;
	MUST(svc_server_group_create(f->svc, args, T0, &g, &err), &err);
	json_decref(args);
	assert_string_equal(json_string_value(json_object_get(g, "policy")), "anti-affinity");
	json_t *shown = NULL;
	MUST(svc_server_group_show(f->svc, "g", &shown, &err), &err);
	assert_true(json_equal(json_object_get(shown, "id"), json_object_get(g, "id")));
	json_decref(shown);
	args = json_pack("{s:s, s:s}", "name", "h", "policy", "sideways");
	assert_int_equal(svc_server_group_create(f->svc, args, T0, &shown, &err), -EINVAL);
	assert_string_equal(err.field, "args.policy");
	json_decref(args);
	/* names need not be unique (nova's are not); a shared one must be given as an id */
	args = json_pack("{s:s, s:s}", "name", "g", "policy", "affinity");
	MUST(svc_server_group_create(f->svc, args, T0, &shown, &err), &err);
	json_decref(args);
	json_decref(shown);
	assert_int_equal(svc_server_group_show(f->svc, "g", &shown, &err), -EINVAL);
	assert_string_equal(err.field, "args.group");
	assert_non_null(strstr(err.message, "args.group: several server groups are named 'g'"));
	MUST(svc_server_group_delete(f->svc, json_string_value(json_object_get(g, "id")), &err),
	     &err);
	MUST(svc_server_group_show(f->svc, "g", &shown, &err), &err); /* one left */
	assert_string_equal(json_string_value(json_object_get(shown, "policy")), "affinity");
	json_decref(shown);
	assert_int_equal(svc_server_group_show(f->svc, "nope", &shown, &err), -ENOENT);
	assert_string_equal(err.field, "args.group");
	json_decref(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_host_is_in_one_zone_only, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_aggregates_name_their_field, setup, teardown),
		cmocka_unit_test_setup_teardown(usage_counts_the_hours_inside_the_range, setup,
						teardown),
		cmocka_unit_test_setup_teardown(server_groups_have_nova_policies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
