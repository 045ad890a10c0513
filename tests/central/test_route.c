/* test_route.c - commands go to the connection last authenticated as their host: a route
 * moves only when the host itself speaks from another connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

static void
a_host_without_a_connection_has_no_route(void **state)
{
	struct route_table *t = route_new();
	const uint8_t *rid = NULL;
	size_t n = 0;
	assert_false(route_find(t, "node-1", &rid, &n));
	route_free(t);
}

static void
the_route_follows_the_hosts_latest_connection(void **state)
{
	struct route_table *t = route_new();
	const uint8_t *rid = NULL;
	size_t n = 0;
	assert_int_equal(route_learn(t, "node-1", (const uint8_t *)"conn-a", 6), 1);
	assert_int_equal(route_learn(t, "node-1", (const uint8_t *)"conn-a", 6), 0);
	assert_int_equal(route_learn(t, "node-2", (const uint8_t *)"node-1", 6), 1);
	assert_true(route_find(t, "node-1", &rid, &n));
	assert_int_equal(n, 6);
	assert_memory_equal(rid, "conn-a", 6);
	/* node-2 chose "node-1" as its routing id: that moves node-2's route, not node-1's */
	assert_true(route_find(t, "node-2", &rid, &n));
	assert_memory_equal(rid, "node-1", 6);
	assert_int_equal(route_learn(t, "node-1", (const uint8_t *)"conn-b", 6), 1);
	assert_true(route_find(t, "node-1", &rid, &n));
	assert_memory_equal(rid, "conn-b", 6);
	route_free(t);
}

static void
many_hosts_stay_sorted_and_found(void **state)
{
	struct route_table *t = route_new();
	char host[16];
	uint8_t id[2];
	for (int i = 999; i >= 0; i--) {
		snprintf(host, sizeof host, "node-%d", i);
		id[0] = (uint8_t)(i >> 8);
		id[1] = (uint8_t)i;
		assert_int_equal(route_learn(t, host, id, 2), 1);
	}
	for (int i = 0; i < 1000; i++) {
		const uint8_t *rid = NULL;
		size_t n = 0;
		snprintf(host, sizeof host, "node-%d", i);
		assert_true(route_find(t, host, &rid, &n));
		assert_int_equal(rid[0] << 8 | rid[1], i);
	}
	route_free(t);
}

static void
bad_routing_ids_and_hosts_are_refused(void **state)
{
	struct route_table *t = route_new();
	uint8_t big[ROUTE_MAX_RID + 1] = {0};
	assert_int_equal(route_learn(t, "node-1", big, 0), -EINVAL);
	assert_int_equal(route_learn(t, "node-1", big, sizeof big), -EINVAL);
	assert_int_equal(route_learn(t, "", big, 1), -EINVAL);
	route_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_host_without_a_connection_has_no_route),
		cmocka_unit_test(the_route_follows_the_hosts_latest_connection),
		cmocka_unit_test(many_hosts_stay_sorted_and_found),
		cmocka_unit_test(bad_routing_ids_and_hosts_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
