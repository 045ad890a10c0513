/* test_network.c - networking's rules in the service layer against a real store, no agent:
 * CIDRs, gateways and pools, the lowest free address and a full pool, security group rules
 * checked as a host's firewall checks them, the default group, and the quotas; every
 * refusal names its field and changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "service/service.h"

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

/* Calls fn with args given as JSON text; returns its result, *ret (may be NULL) the answer. */
static int
call(struct fixture *f, svc_net_fn *fn, const char *args, json_t **ret, struct hv_error *err)
{
	json_t *a = json_loads(args, 0, NULL), *res = NULL;
	assert_non_null(a);
	memset(err, 0, sizeof *err);
	int r = fn(f->svc, a, T0, &res, err);
	json_decref(a);
	if (ret)
		*ret = res;
	else
		json_decref(res);
	return r;
}

static json_t *
must(struct fixture *f, svc_net_fn *fn, const char *args)
{
	struct hv_error err;
	json_t *res = NULL;
	int r = call(f, fn, args, &res, &err);
	if (r < 0)
		fail_msg("%s: unexpected error %d: %s", args, r, err.message);
	return res;
}

static void
refused(struct fixture *f, svc_net_fn *fn, const char *args, const char *field)
{
	struct hv_error err;
	int r = call(f, fn, args, NULL, &err);
	if (r >= 0 || strcmp(err.field, field) != 0)
		fail_msg("%s: want an error naming %s, got %d (%s: %s)", args, field, r, err.field,
			 err.message);
}

static size_t
count(struct fixture *f, svc_net_fn *fn, const char *args)
{
	json_t *list = must(f, fn, args);
	size_t n = json_array_size(list);
	json_decref(list);
	return n;
}

static void
a_subnet_takes_its_gateway_and_pools_from_the_cidr(void **state)
{
	struct fixture *f = *state;
	json_decref(must(f, svc_network_create, "{\"name\": \"n\"}"));
	json_t *s = must(f, svc_subnet_create,
			 "{\"network\": \"n\", \"cidr\": \"10.0.0.0/24\", \"gateway_ip\": "
			 "\"10.0.0.100\"}");
	assert_string_equal(json_string_value(json_object_get(s, "gateway_ip")), "10.0.0.100");
	char *pools = json_dumps(json_object_get(s, "allocation_pools"), JSON_COMPACT);
	assert_string_equal(pools, "[{\"start\":\"10.0.0.1\",\"end\":\"10.0.0.99\"},"
				   "{\"start\":\"10.0.0.101\",\"end\":\"10.0.0.254\"}]");
	free(pools);
	json_decref(s);

	static const char *const bad_cidr[] = {"10.0.0.0",    "10.0.0.0/33", "10.0.0.1/24",
					       "a.b.c.d/8",   "10.0.0.0/8x", "10.0.0.0/",
					       "10.0.0.0/31", "10.0.0/24"};
	for (size_t i = 0; i < sizeof bad_cidr / sizeof bad_cidr[0]; i++) {
		char args[128];
		snprintf(args, sizeof args, "{\"network\": \"n\", \"cidr\": \"%s\"}", bad_cidr[i]);
		refused(f, svc_subnet_create, args, "args.cidr");
	}
	refused(f, svc_subnet_create,
		"{\"network\": \"n\", \"cidr\": \"10.1.0.0/24\", \"gateway_ip\": \"10.1.1.1\"}",
		"args.gateway_ip");
	refused(f, svc_subnet_create,
		"{\"network\": \"n\", \"cidr\": \"10.1.0.0/24\", \"allocation_pools\": "
		"[{\"start\": \"10.1.0.9\", \"end\": \"10.1.0.5\"}]}",
		"args.allocation_pools[0]");
	refused(f, svc_subnet_create,
		"{\"network\": \"n\", \"cidr\": \"10.1.0.0/24\", \"allocation_pools\": "
		"[{\"start\": \"10.1.0.1\", \"end\": \"10.1.0.5\"}]}",
		"args.allocation_pools[0]"); /* holds the gateway */
	refused(f, svc_subnet_create, "{\"network\": \"n\", \"cidr\": \"10.0.0.0/16\"}",
		"args.cidr"); /* overlaps */
	refused(f, svc_subnet_create, "{\"network\": \"x\", \"cidr\": \"10.9.0.0/16\"}",
		"args.network");
	refused(f, svc_network_create, "{\"name\": \"n\"}", "args.name");
	assert_int_equal(count(f, svc_subnet_list, "{}"), 1);
	assert_int_equal(count(f, svc_network_list, "{}"), 1);
}

static void
floating_ips_take_the_lowest_free_address_until_the_pool_is_full(void **state)
{
	struct fixture *f = *state;
	json_decref(must(f, svc_network_create,
			 "{\"name\": \"ext\", \"external\": true, \"subnet_range\": "
			 "\"198.51.100.0/29\"}"));
	char ids[5][40];
	for (int i = 0; i < 5; i++) { /* .2 to .6 */
		json_t *fip = must(f, svc_fip_create, "{}");
		char want[32];
		snprintf(want, sizeof want, "198.51.100.%d", i + 2);
		assert_string_equal(json_string_value(json_object_get(fip, "floating_ip_address")),
				    want);
		snprintf(ids[i], sizeof ids[i], "%s",
			 json_string_value(json_object_get(fip, "id")));
		json_decref(fip);
	}
	refused(f, svc_fip_create, "{}", "args.network");
	assert_int_equal(count(f, svc_fip_list, "{}"), 5);
	char args[128];
	snprintf(args, sizeof args, "{\"floating_ip\": \"%s\"}", ids[1]);
	json_decref(must(f, svc_fip_delete, args));
	json_t *fip = must(f, svc_fip_create, "{}");
	assert_string_equal(json_string_value(json_object_get(fip, "floating_ip_address")),
			    "198.51.100.3");
	json_decref(fip);
	refused(f, svc_fip_create, "{\"network\": \"nope\"}", "args.network");
	refused(f, svc_network_create, "{\"name\": \"e2\", \"subnet_range\": \"1.2.3.4/24\"}",
		"args.subnet_range");
	assert_int_equal(count(f, svc_network_list, "{}"), 1);
}

static void
the_floating_ip_quota_is_enforced(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *q = json_pack("{s:i}", "floating_ips", 2), *res = NULL;
	assert_int_equal(svc_quota_set(f->svc, NULL, q, &res, &err), 0);
	json_decref(q);
	json_decref(res);
	json_decref(must(f, svc_network_create,
			 "{\"name\": \"ext\", \"external\": true, \"subnet_range\": "
			 "\"198.51.100.0/24\"}"));
	json_decref(must(f, svc_fip_create, "{}"));
	json_decref(must(f, svc_fip_create, "{}"));
	assert_int_equal(call(f, svc_fip_create, "{}", NULL, &err), -EDQUOT);
	assert_non_null(strstr(err.message, "floating_ips"));
	assert_int_equal(count(f, svc_fip_list, "{}"), 2);
}

static void
rules_are_checked_as_the_hosts_firewall_checks_them(void **state)
{
	struct fixture *f = *state;
	json_t *g = must(f, svc_secgroup_create, "{\"name\": \"web\"}");
	json_t *rules = json_object_get(g, "security_group_rules");
	assert_int_equal(json_array_size(rules), 2); /* egress IPv4 and IPv6 */
	json_decref(g);

	json_t *r = must(f, svc_sgrule_create,
			 "{\"group\": \"web\", \"protocol\": \"udp\", \"port_range_min\": 53}");
	assert_int_equal(json_integer_value(json_object_get(r, "port_range_max")), 53);
	assert_string_equal(json_string_value(json_object_get(r, "direction")), "ingress");
	json_decref(r);
	json_decref(must(f, svc_sgrule_create,
			 "{\"group\": \"web\", \"protocol\": \"icmp\", \"port_range_min\": 8, "
			 "\"port_range_max\": 0}"));
	json_decref(
		must(f, svc_sgrule_create, "{\"group\": \"web\", \"remote_group\": \"default\"}"));

	static const struct {
		const char *args, *field;
	} bad[] = {
		{"{\"group\": \"web\", \"protocol\": \"tcp\", \"port_range_min\": 90, "
		 "\"port_range_max\": 80}",
		 "args.port_range_min"},
		{"{\"group\": \"web\", \"protocol\": \"tcp\", \"port_range_min\": 0}",
		 "args.port_range_min"},
		{"{\"group\": \"web\", \"protocol\": \"icmp\", \"port_range_min\": 300}",
		 "args.port_range_min"},
		{"{\"group\": \"web\", \"protocol\": \"icmp\", \"port_range_max\": 3}",
		 "args.port_range_min"},
		{"{\"group\": \"web\", \"protocol\": \"gre\", \"port_range_min\": 1}",
		 "args.port_range_min"},
		{"{\"group\": \"web\", \"protocol\": \"bogus\"}", "args.protocol"},
		{"{\"group\": \"web\", \"protocol\": \"256\"}", "args.protocol"},
		{"{\"group\": \"web\", \"direction\": \"sideways\"}", "args.direction"},
		{"{\"group\": \"web\", \"remote_ip_prefix\": \"10.0.0.1/8\"}",
		 "args.remote_ip_prefix"},
		{"{\"group\": \"web\", \"remote_ip_prefix\": \"10.0.0.0/8\", \"remote_group\": "
		 "\"web\"}",
		 "args.remote_group"},
		{"{\"group\": \"web\", \"remote_group\": \"nope\"}", "args.remote_group"},
		{"{\"group\": \"nope\"}", "args.group"},
		{"{\"group\": \"web\", \"protocol\": \"udp\", \"port_range_min\": 53}", "args"},
		{"{\"group\": \"web\", \"colour\": 1}", "args.colour"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		refused(f, svc_sgrule_create, bad[i].args, bad[i].field);
	assert_int_equal(count(f, svc_sgrule_list, "{\"group\": \"web\"}"), 5);

	refused(f, svc_secgroup_create, "{\"name\": \"web\"}", "args.name");
	refused(f, svc_secgroup_create, "{\"name\": \"default\"}", "args.name");
	refused(f, svc_secgroup_delete, "{\"group\": \"default\"}", "args.group");
	json_t *d = must(f, svc_secgroup_show, "{\"group\": \"default\"}");
	json_t *dr = json_object_get(d, "security_group_rules");
	assert_int_equal(json_array_size(dr), 4);
	size_t i, from_self = 0;
	json_t *rule;
	json_array_foreach (dr, i, rule)
		from_self += json_equal(json_object_get(rule, "remote_group_id"),
					json_object_get(d, "id"));
	assert_int_equal(from_self, 2); /* ingress IPv4 and IPv6 from its own members */
	json_decref(d);
	assert_int_equal(count(f, svc_secgroup_list, "{}"), 2);
}
static void
a_network_is_renamed_in_its_own_project_only(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *pargs = json_pack("{s:s}", "name", "demo"), *p = NULL;
	assert_int_equal(svc_project_create(f->svc, pargs, T0, &p, &err), 0);
	json_decref(pargs);
	json_decref(p);
	json_decref(must(f, svc_network_create, "{\"name\": \"n\"}"));
	json_decref(must(f, svc_network_create, "{\"name\": \"m\"}"));
	json_decref(must(f, svc_network_create, "{\"name\": \"ext\", \"external\": true}"));
	json_t *net = must(f, svc_network_update, "{\"network\": \"n\", \"name\": \"k\"}");
	assert_string_equal(json_string_value(json_object_get(net, "name")), "k");
	json_decref(net);
	refused(f, svc_network_update, "{\"network\": \"k\", \"name\": \"m\"}", "args.name");
	refused(f, svc_network_update, "{\"network\": \"k\", \"name\": \"\"}", "args.name");
	refused(f, svc_network_update, "{\"network\": \"k\", \"shared\": true}", "args.shared");
	refused(f, svc_network_update, "{\"network\": \"nope\", \"name\": \"x\"}", "args.network");
	/* demo sees the external network but does not own it */
	refused(f, svc_network_update,
		"{\"project\": \"demo\", \"network\": \"ext\", \"name\": \"x\"}", "args.network");
	json_t *list = must(f, svc_network_list, "{}"), *o;
	size_t i;
	char names[64] = " ";
	json_array_foreach (list, i, o) {
		strcat(names, json_string_value(json_object_get(o, "name")));
		strcat(names, " ");
	}
	json_decref(list);
	/* in whatever order the store lists them: k, m and ext, no n nor x */
	assert_int_equal(strlen(names), strlen(" k m ext "));
	assert_non_null(strstr(names, " k "));
	assert_non_null(strstr(names, " m "));
	assert_non_null(strstr(names, " ext "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_subnet_takes_its_gateway_and_pools_from_the_cidr,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			floating_ips_take_the_lowest_free_address_until_the_pool_is_full, setup,
			teardown),
		cmocka_unit_test_setup_teardown(the_floating_ip_quota_is_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(rules_are_checked_as_the_hosts_firewall_checks_them,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_network_is_renamed_in_its_own_project_only, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
