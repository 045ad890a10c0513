/* test_nf_core.c - the pure core of the netfilter module: request validation, the nft
 * text of a state (golden files), and the minimal diff between two states. No kernel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "nf-internal.h"

static const char *data_dir;

static char *
slurp(const char *name)
{
	char path[4096];
	FILE *f;
	long n;
	char *buf;

	snprintf(path, sizeof path, "%s/%s", data_dir, name);
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static struct nf_model *
model_from(const char *name, const struct nf_model *prev)
{
	json_error_t je;
	char path[4096];
	json_t *v;
	struct nf_model *m = NULL;
	struct hv_error err = {0};

	snprintf(path, sizeof path, "%s/%s", data_dir, name);
	v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!v)
		fail_msg("%s: %s", path, je.text);
	if (nf_model_from_json(v, "state", &m, &err) < 0 || nf_model_check(m, prev, &err) < 0)
		fail_msg("%s: %s", name, err.message);
	json_decref(v);
	return m;
}

/* Parses a state given inline; returns the error code and leaves the message in err. */
static int
parse_state(const char *text, struct hv_error *err)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	struct nf_model *m = NULL;
	int r;

	if (!v)
		fail_msg("bad test JSON: %s", je.text);
	r = nf_model_from_json(v, "state", &m, err);
	if (r == 0)
		r = nf_model_check(m, NULL, err);
	nf_model_free(m);
	json_decref(v);
	return r;
}

static void
assert_golden(const char *golden, const struct hv_text *t)
{
	char *want = slurp(golden);

	if (strcmp(want, t->buf ? t->buf : "")) {
		fprintf(stderr, "---- %s differs; got:\n%s", golden, t->buf);
		fail();
	}
	free(want);
}

static void
a_state_renders_to_its_golden_file(void **state)
{
	struct nf_model *m = model_from("basic.json", NULL);
	struct hv_text t = {0};

	assert_int_equal(nf_full(m, false, nf_render_op, &t), 0);
	assert_golden("basic.nft", &t);
	hv_text_release(&t);
	nf_model_free(m);
}

static void
check_diff(const char *to_name, const char *golden)
{
	struct nf_model *a = model_from("basic.json", NULL);
	struct nf_model *b = model_from(to_name, a);
	struct hv_text t = {0};

	assert_int_equal(nf_diff(a, b, nf_render_op, &t), 0);
	assert_golden(golden, &t);
	hv_text_release(&t);
	nf_model_free(a);
	nf_model_free(b);
}

static void
a_new_port_touches_only_its_own_chains_and_elements(void **state)
{
	check_diff("add-port.json", "basic-to-add-port.diff.nft");
}

static void
a_removed_rule_rewrites_one_group_chain(void **state)
{
	check_diff("remove-rule.json", "basic-to-remove-rule.diff.nft");
}

static void
membership_and_floating_ip_changes_are_element_changes(void **state)
{
	check_diff("membership-fip.json", "basic-to-membership-fip.diff.nft");
}

static void
an_unplugged_port_and_deleted_group_leave_nothing_behind(void **state)
{
	check_diff("unplug.json", "basic-to-unplug.diff.nft");
}

static int
count_op(void *ud, const struct nf_op *op)
{
	(*(size_t *)ud)++;
	return 0;
}

static void
an_unchanged_state_sends_nothing(void **state)
{
	struct nf_model *a = model_from("basic.json", NULL);
	struct nf_model *b = model_from("basic.json", a);
	size_t n = 0;

	assert_int_equal(nf_diff(a, b, count_op, &n), 0);
	assert_int_equal(n, 0);
	nf_model_free(a);
	nf_model_free(b);
}

static void
a_port_change_costs_the_same_with_many_ports(void **state)
{
	struct nf_model *small = model_from("basic.json", NULL);
	struct nf_model *big = nf_model_clone(small), *small2, *big2;
	struct hv_error err = {0};
	size_t n_small = 0, n_big = 0;

	/* 2000 more ports in the default group */
	for (int i = 0; i < 2000; i++) {
		struct nf_port *p = calloc(1, sizeof *p);

		p->refs = 1;
		snprintf(p->id, sizeof p->id, "bulk%04d", i);
		snprintf(p->ifname, sizeof p->ifname, "tb%d", i);
		memcpy(p->mac, (uint8_t[]){0xfa, 0x16, 0x3e, 0x10, (uint8_t)(i >> 8), (uint8_t)i},
		       6);
		p->n_ips = 1;
		p->ips[0] = (struct nf_cidr){
			.family = 4, .plen = 32, .addr = {10, 1, (uint8_t)(i >> 8), (uint8_t)i}};
		p->n_groups = 1;
		snprintf(p->groups[0], sizeof p->groups[0], "default");
		assert_int_equal(nf_model_put_port(big, p), 0);
	}
	assert_int_equal(nf_model_check(big, NULL, &err), 0);
	small2 = model_from("add-port.json", small);
	big2 = nf_model_clone(big);
	{
		struct nf_port *own = malloc(sizeof *own);

		*own = *nf_model_port(small2, "p3");
		own->refs = 1;
		assert_int_equal(nf_model_put_port(big2, own), 0);
	}
	assert_int_equal(nf_model_check(big2, big, &err), 0);
	assert_int_equal(nf_diff(small, small2, count_op, &n_small), 0);
	assert_int_equal(nf_diff(big, big2, count_op, &n_big), 0);
	assert_true(n_small > 0);
	assert_int_equal(n_small, n_big);
	nf_model_free(small);
	nf_model_free(small2);
	nf_model_free(big);
	nf_model_free(big2);
}

struct rev {
	uint16_t tags[16];
	size_t n, fips;
};

static void
rev_tag(void *ud, uint16_t tag)
{
	struct rev *r = ud;
	if (r->n < 16)
		r->tags[r->n++] = tag;
}

static void
rev_fip(void *ud, const uint8_t fip[4], const uint8_t fixed[4])
{
	((struct rev *)ud)->fips++;
}

static void
removing_a_rule_revokes_the_connections_its_group_admitted(void **state)
{
	struct nf_model *a = model_from("basic.json", NULL);
	struct nf_model *b = model_from("remove-rule.json", a);
	struct rev r = {0};
	struct nf_revoke rv = {rev_tag, rev_fip, &r};

	nf_revocations(a, b, &rv);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.tags[0], nf_model_group(a, "web")->tag);
	assert_int_equal(r.fips, 0);
	nf_model_free(a);
	nf_model_free(b);
}

static void
adding_a_port_revokes_nothing_and_removing_a_fip_cuts_it(void **state)
{
	struct nf_model *a = model_from("basic.json", NULL);
	struct nf_model *b = model_from("add-port.json", a);
	struct nf_model *c = model_from("membership-fip.json", a);
	struct rev r = {0};
	struct nf_revoke rv = {rev_tag, rev_fip, &r};

	nf_revocations(a, b, &rv);
	assert_int_equal(r.n, 0);
	nf_revocations(a, c, &rv);
	assert_int_equal(r.fips, 1);
	assert_int_equal(r.n, 0); /* p2 gained a group, lost nothing */
	nf_model_free(a);
	nf_model_free(b);
	nf_model_free(c);
}

static void
a_member_leaving_revokes_the_groups_that_name_it_as_remote(void **state)
{
	struct nf_model *a = model_from("basic.json", NULL);
	struct nf_model *b = model_from("unplug.json", a);
	struct rev r = {0};
	struct nf_revoke rv = {rev_tag, NULL, &r};
	bool dflt = false, web = false;

	nf_revocations(a, b, &rv);
	for (size_t i = 0; i < r.n; i++) {
		dflt |= r.tags[i] == nf_model_group(a, "default")->tag;
		web |= r.tags[i] == nf_model_group(a, "web")->tag;
	}
	/* default admits its own members (remote group default), which lost p1's addresses;
	 * web lost its rules with the group */
	assert_true(dflt);
	assert_true(web);
	nf_model_free(a);
	nf_model_free(b);
}

static void
expect_error(const char *json, int code, const char *field, const char *words)
{
	struct hv_error err = {0};

	assert_int_equal(parse_state(json, &err), code);
	if (strcmp(err.field, field) || !strstr(err.message, words)) {
		fprintf(stderr, "field '%s' message '%s'\n", err.field, err.message);
		fail();
	}
}

#define PORT(extra)                                                                             \
	"{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_address\":\"fa:16:3e:00:00:01\"," \
	"\"fixed_ips\":[\"10.0.0.5\"]" extra "}]}"
#define RULE(r) "{\"security_groups\":[{\"id\":\"g\",\"rules\":[" r "]}]}"

static void
bad_requests_are_rejected_naming_the_field(void **state)
{
	expect_error(
		"{\"ports\":[{\"id\":\"p "
		"1\",\"ifname\":\"t\",\"mac_address\":\"fa:16:3e:00:00:01\",\"fixed_ips\":[]}]}",
		-EINVAL, "state.ports[0].id", "only letters");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1;drop\",\"mac_address\":\"fa:16:"
		     "3e:00:00:01\",\"fixed_ips\":[]}]}",
		     -EINVAL, "state.ports[0].ifname", "interface name");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"averyveryverylongname\",\"mac_"
		     "address\":\"fa:16:3e:00:00:01\",\"fixed_ips\":[]}]}",
		     -EINVAL, "state.ports[0].ifname", "1-15");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_address\":\"01:16:3e:00:"
		     "00:01\",\"fixed_ips\":[]}]}",
		     -EINVAL, "state.ports[0].mac_address", "unicast");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_address\":\"fa:16:3e:00:"
		     "00\",\"fixed_ips\":[]}]}",
		     -EINVAL, "state.ports[0].mac_address", "MAC");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_address\":\"fa:16:3e:00:"
		     "00:01\",\"fixed_ips\":[\"10.0.0.300\"]}]}",
		     -EINVAL, "state.ports[0].fixed_ips[0]", "not an IPv4 or IPv6");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_address\":\"fa:16:3e:00:"
		     "00:01\",\"fixed_ips\":[\"10.0.0.0/24\"]}]}",
		     -EINVAL, "state.ports[0].fixed_ips[0]", "not a prefix");
	expect_error(PORT(",\"allowed_address_pairs\":[{\"ip_address\":\"10.0.0.1/24\"}]"), -EINVAL,
		     "state.ports[0].allowed_address_pairs[0].ip_address", "host bits");
	expect_error(PORT(",\"security_groups\":[\"nope\"]"), -ENOENT, "security_groups",
		     "not a known group");
	expect_error(RULE("{\"direction\":\"sideways\"}"), -EINVAL,
		     "state.security_groups[0].rules[0].direction", "");
	expect_error(RULE("{\"direction\":\"ingress\",\"protocol\":\"tcpx\"}"), -EINVAL,
		     "state.security_groups[0].rules[0].protocol", "unknown protocol");
	expect_error(RULE("{\"direction\":\"ingress\",\"protocol\":256}"), -EINVAL,
		     "state.security_groups[0].rules[0].protocol", "0-255");
	expect_error(RULE("{\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port_range_min\":90,"
			  "\"port_range_max\":80}"),
		     -EINVAL, "state.security_groups[0].rules[0].port_range_min", "greater");
	expect_error(RULE("{\"direction\":\"ingress\",\"protocol\":\"gre\",\"port_range_min\":1,"
			  "\"port_range_max\":2}"),
		     -EINVAL, "state.security_groups[0].rules[0].port_range_min", "need protocol");
	expect_error(RULE("{\"direction\":\"ingress\",\"protocol\":\"tcp\",\"port_range_min\":1,"
			  "\"port_range_max\":70000}"),
		     -EINVAL, "state.security_groups[0].rules[0].port_range_max", "");
	expect_error(RULE("{\"direction\":\"ingress\",\"protocol\":\"icmp\",\"port_range_max\":0}"),
		     -EINVAL, "state.security_groups[0].rules[0].port_range_max", "ICMP type");
	expect_error(RULE("{\"direction\":\"ingress\",\"remote_ip_prefix\":\"2001:db8::/32\"}"),
		     -EINVAL, "state.security_groups[0].rules[0].remote_ip_prefix", "ethertype");
	expect_error(RULE("{\"direction\":\"ingress\",\"remote_ip_prefix\":\"10.0.0.0/"
			  "8\",\"remote_group_id\":\"g\"}"),
		     -EINVAL, "state.security_groups[0].rules[0].remote_group_id", "not both");
	expect_error(RULE("{\"direction\":\"ingress\",\"remote_group_id\":\"other\"}"), -ENOENT,
		     "remote_group_id", "not a known group");
	expect_error(RULE("{\"direction\":\"ingress\",\"ethertype\":\"IPv5\"}"), -EINVAL,
		     "state.security_groups[0].rules[0].ethertype", "");
	expect_error("{\"floating_ips\":[{\"id\":\"f\",\"port_id\":\"p\",\"floating_ip_address\":"
		     "\"2001:db8::1\","
		     "\"fixed_ip_address\":\"10.0.0.5\"}]}",
		     -EINVAL, "state.floating_ips[0].floating_ip_address", "IPv4");
	expect_error(
		"{\"external_ifname\":\"eth0\",\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_"
		"address\":\"fa:16:3e:00:00:01\","
		"\"fixed_ips\":[\"10.0.0.5\"]}],\"floating_ips\":[{\"id\":\"f\",\"port_id\":\"p1\","
		"\"floating_ip_address\":\"203.0.113.1\",\"fixed_ip_address\":\"10.0.0.6\"}]}",
		-EINVAL, "fixed_ip_address", "not an IPv4 address of port p1");
	expect_error("{\"ports\":[{\"id\":\"p1\",\"ifname\":\"tap1\",\"mac_address\":\"fa:16:3e:00:"
		     "00:01\",\"fixed_ips\":[]},"
		     "{\"id\":\"p2\",\"ifname\":\"tap1\",\"mac_address\":\"fa:16:3e:00:00:02\","
		     "\"fixed_ips\":[]}]}",
		     -EEXIST, "ifname", "both use interface tap1");
}

static void
icmp_in_an_ipv6_rule_means_icmpv6(void **state)
{
	struct hv_error err = {0};
	json_t *v = json_loads(
		"{\"id\":\"g\",\"rules\":[{\"direction\":\"ingress\",\"ethertype\":\"IPv6\","
		"\"protocol\":\"icmp\",\"port_range_min\":128}]}",
		0, NULL);
	struct nf_group *g = NULL;

	assert_int_equal(nf_group_from_json(v, "group", &g, &err), 0);
	assert_int_equal(g->rules[0].proto, 58);
	nf_group_unref(g);
	json_decref(v);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_state_renders_to_its_golden_file),
		cmocka_unit_test(a_new_port_touches_only_its_own_chains_and_elements),
		cmocka_unit_test(a_removed_rule_rewrites_one_group_chain),
		cmocka_unit_test(membership_and_floating_ip_changes_are_element_changes),
		cmocka_unit_test(an_unplugged_port_and_deleted_group_leave_nothing_behind),
		cmocka_unit_test(an_unchanged_state_sends_nothing),
		cmocka_unit_test(a_port_change_costs_the_same_with_many_ports),
		cmocka_unit_test(removing_a_rule_revokes_the_connections_its_group_admitted),
		cmocka_unit_test(adding_a_port_revokes_nothing_and_removing_a_fip_cuts_it),
		cmocka_unit_test(a_member_leaving_revokes_the_groups_that_name_it_as_remote),
		cmocka_unit_test(bad_requests_are_rejected_naming_the_field),
		cmocka_unit_test(icmp_in_an_ipv6_rule_means_icmpv6),
	};

	data_dir = argc > 1 ? argv[1] : getenv("NF_DATA");
	if (!data_dir) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 2;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
