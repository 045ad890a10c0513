/* fuzz_netfilter.c - libFuzzer target for security-group rules, ports, floating IPs and
 * CIDRs (netfilter/model.c's JSON state parser and its checks, as test_nf_core.c calls
 * them), then the pure diff and the nft text of what was accepted. Input: a desired state
 * as JSON ({"security_groups", "ports", "floating_ips", "taps"}); an input that does not
 * start with '{' is one CIDR instead. Beyond never crashing, leaking or reading out of
 * bounds: a refusal names its field; an accepted state written back as JSON parses to the
 * same state, renders in full and diffs to and from a reference state; an accepted CIDR
 * formats to text that parses to the same network. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "nf-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A trimmed tests/data/netfilter/basic.json: the state a change is checked and diffed from. */
static const char reference_json[] =
	"{\"external_ifname\": \"eth0\", \"security_groups\": [{\"id\": \"default\", \"rules\": ["
	"{\"id\": \"e4\", \"direction\": \"egress\", \"ethertype\": \"IPv4\"},"
	"{\"id\": \"in4\", \"direction\": \"ingress\", \"ethertype\": \"IPv4\","
	" \"remote_group_id\": \"default\"}]},"
	"{\"id\": \"web\", \"rules\": [{\"id\": \"ssh\", \"direction\": \"ingress\","
	" \"protocol\": \"tcp\", \"port_range_min\": 22, \"port_range_max\": 22,"
	" \"remote_ip_prefix\": \"0.0.0.0/0\"}]}],"
	"\"ports\": [{\"id\": \"p1\", \"ifname\": \"tap1\", \"mac_address\": \"fa:16:3e:00:00:01\","
	" \"fixed_ips\": [\"10.0.0.5\", \"2001:db8:1::5\"], \"security_groups\": [\"default\","
	" \"web\"]}],"
	"\"floating_ips\": [{\"id\": \"f1\", \"port_id\": \"p1\", \"floating_ip_address\":"
	" \"203.0.113.10\", \"fixed_ip_address\": \"10.0.0.5\"}], \"taps\": [\"tap9\"]}";

static struct nf_model *reference;

static struct nf_model *
parse(const json_t *v, const struct nf_model *prev, struct hv_error *err)
{
	struct nf_model *m = NULL;

	if (nf_model_from_json(v, "state", &m, err) < 0 || nf_model_check(m, prev, err) < 0) {
		nf_model_free(m);
		return NULL;
	}
	return m;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct hv_error err = {0};
	json_t *v = json_loads(reference_json, 0, NULL);

	reference = v ? parse(v, NULL, &err) : NULL;
	json_decref(v);
	if (!reference) {
		fprintf(stderr, "fuzz-netfilter: the reference state: %s\n", err.message);
		abort();
	}
	return 0;
}

static void
no_revoke_tag(void *ud, uint16_t tag)
{
}

static void
no_revoke_fip(void *ud, const uint8_t fip[4], const uint8_t fixed[4])
{
}

static void
check_accepted(const struct nf_model *m)
{
	struct hv_error err = {0};
	struct hv_text t = {0};
	struct nf_revoke rv = {no_revoke_tag, no_revoke_fip, NULL};
	json_t *out = nf_model_to_json(m), *out2;
	struct nf_model *again;
	char *a, *b;

	if (!out)
		return; /* out of memory */
	again = parse(out, NULL, &err);
	if (!again)
		__builtin_trap(); /* the state written back does not parse */
	out2 = nf_model_to_json(again);
	a = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
	b = json_dumps(out2, JSON_SORT_KEYS | JSON_COMPACT);
	if (a && b && strcmp(a, b) != 0)
		__builtin_trap(); /* it parses to another state */
	free(a);
	free(b);
	json_decref(out2);
	json_decref(out);
	nf_model_free(again);

	(void)nf_full(m, true, nf_render_op, &t);
	(void)nf_diff(reference, m, nf_render_op, &t);
	(void)nf_diff(m, reference, nf_render_op, &t);
	nf_revocations(reference, m, &rv);
	nf_revocations(m, reference, &rv);
	hv_text_release(&t);
}

static void
fuzz_cidr(const char *s)
{
	struct hv_error err = {0};
	struct nf_cidr c, c2;
	char buf[64];

	for (int exact = 0; exact < 2; exact++) {
		if (nf_parse_cidr(s, exact, "rule.remote_ip_prefix", &c, &err) < 0)
			continue;
		nf_format_cidr(&c, buf, sizeof buf);
		if (nf_parse_cidr(buf, false, "rule.remote_ip_prefix", &c2, &err) < 0 ||
		    c.family != c2.family || c.plen != c2.plen || memcmp(c.addr, c2.addr, 16) != 0)
			__builtin_trap(); /* formatted text is another network, or none */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_error err = {0};
	json_t *v;
	struct nf_model *m;

	if (size == 0 || data[0] != '{') {
		char *s = malloc(size + 1);

		if (s) {
			memcpy(s, data, size);
			s[size] = '\0';
			fuzz_cidr(s);
			free(s);
		}
		return 0;
	}
	v = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!v)
		return 0;
	for (int with_prev = 0; with_prev < 2; with_prev++) {
		memset(&err, 0, sizeof err);
		m = parse(v, with_prev ? reference : NULL, &err);
		if (m) {
			check_accepted(m);
			nf_model_free(m);
		} else if (!err.field[0] || !err.message[0]) {
			__builtin_trap(); /* a refusal must name the field and say why */
		}
	}
	json_decref(v);
	return 0;
}
