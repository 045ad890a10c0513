/* render.c - nft text for the operation stream: one command per operation, exactly what
 * the libnftnl writer sends, so golden files and `nft -c -f` check the real batch.
 * Used for golden tests, logs and `show`. Must never be parsed back or sent to the kernel
 * on the data path (libnftables re-reads every interval set on the host per command). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf-internal.h"
#include "vec.h"

const char *
nf_table_name(enum nf_table t)
{
	switch (t) {
	case NF_T_INET: return "inet hvagent";
	case NF_T_NAT: return "ip hvnat";
	case NF_T_ARP: return "arp hvarp";
	}
	return "?";
}

static const char *
proto_name(int p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "ipv6-icmp";
	case 132: return "sctp";
	}
	return NULL;
}

static void
render_atom(struct hv_text *t, const struct nf_atom *a, const struct nf_nrule *r)
{
	char buf[64];
	const char *ipk = a->v == 6 || a->cidr.family == 6 ? "ip6" : "ip";

	switch (a->kind) {
	case NX_NFPROTO: hv_text_printf(t, "meta nfproto %s", a->v == 6 ? "ipv6" : "ipv4"); break;
	case NX_L4PROTO:
		if (proto_name(a->v))
			hv_text_printf(t, "meta l4proto %s", proto_name(a->v));
		else
			hv_text_printf(t, "meta l4proto %u", a->v);
		break;
	case NX_IIF_NOTIN: hv_text_printf(t, "iifname != @%s", r->set); break;
	case NX_OIF_NOTIN: hv_text_printf(t, "oifname != @%s", r->set); break;
	case NX_IIF_IN: hv_text_printf(t, "iifname @%s", r->set); break;
	case NX_OIF_IN: hv_text_printf(t, "oifname @%s", r->set); break;
	case NX_OIF_EQ: hv_text_printf(t, "oifname \"%s\"", r->ifname); break;
	case NX_ADDR:
		nf_format_cidr(&a->cidr, buf, sizeof buf);
		hv_text_printf(t, "%s %s %s", ipk, a->dst ? "daddr" : "saddr", buf);
		break;
	case NX_ADDR_SET:
		hv_text_printf(t, "%s %s @%s", ipk, a->dst ? "daddr" : "saddr", r->set);
		break;
	case NX_TH_PORT:
		if (a->lo == a->hi)
			hv_text_printf(t, "th %s %u", a->dst ? "dport" : "sport", a->lo);
		else
			hv_text_printf(t, "th %s %u-%u", a->dst ? "dport" : "sport", a->lo, a->hi);
		break;
	case NX_ICMP_TYPE:
		hv_text_printf(t, "%s type %u", a->v == 6 ? "icmpv6" : "icmp", a->lo);
		break;
	case NX_ICMP_CODE:
		hv_text_printf(t, "%s code %u", a->v == 6 ? "icmpv6" : "icmp", a->lo);
		break;
	case NX_CT_STATE: {
		const char *sep = "";

		hv_text_printf(t, "ct state ");
		if (a->v & NF_CT_ESTABLISHED)
			hv_text_printf(t, "%sestablished", sep), sep = ",";
		if (a->v & NF_CT_RELATED)
			hv_text_printf(t, "%srelated", sep), sep = ",";
		if (a->v & NF_CT_NEW)
			hv_text_printf(t, "%snew", sep), sep = ",";
		if (a->v & NF_CT_INVALID)
			hv_text_printf(t, "%sinvalid", sep);
		break;
	}
	case NX_CT_MARK_OR: hv_text_printf(t, "ct mark set ct mark or 0x%08x", a->u); break;
	case NX_COUNTER: hv_text_printf(t, "counter"); break;
	case NX_SPOOF:
		hv_text_printf(t, "iifname . ether saddr . %s saddr @%s", a->v == 6 ? "ip6" : "ip",
			       r->set);
		break;
	case NX_ARP_SPOOF:
		hv_text_printf(t, "iifname . arp saddr ether . arp saddr ip @%s", r->set);
		break;
	case NX_VMAP:
		hv_text_printf(t, "%s vmap @%s", a->dst ? "oifname" : "iifname", r->set);
		break;
	case NX_NAT:
		hv_text_printf(t, a->dst ? "snat to ip saddr map @%s" : "dnat to ip daddr map @%s",
			       r->set);
		break;
	}
}

void
nf_render_rule(struct hv_text *t, const struct nf_nrule *r)
{
	static const char *verdicts[] = {"", "accept", "drop", "return", "jump"};
	const char *sep = "";

	for (size_t i = 0; i < r->n; i++) {
		hv_text_printf(t, "%s", sep);
		render_atom(t, &r->a[i], r);
		sep = " ";
	}
	if (r->verdict != NV_NONE)
		hv_text_printf(t, "%s%s", sep, verdicts[r->verdict]);
	if (r->verdict == NV_JUMP)
		hv_text_printf(t, " %s", r->target);
}

static void
render_mac(struct hv_text *t, const uint8_t m[6])
{
	hv_text_printf(t, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void
render_elem(struct hv_text *t, int set_kind, const struct nf_elem *e, bool key_only)
{
	char buf[64];

	if (key_only && set_kind == NS_VMAP)
		set_kind = NS_IFNAME;
	if (key_only && set_kind == NS_MAP44)
		set_kind = NS_ADDR4;

	switch (set_kind) {
	case NS_IFNAME: hv_text_printf(t, "\"%s\"", e->ifname); break;
	case NS_SPOOF4:
	case NS_SPOOF6:
	case NS_SPOOF4H:
	case NS_SPOOF6H:
		nf_format_cidr(&e->ip, buf, sizeof buf);
		hv_text_printf(t, "\"%s\" . ", e->ifname);
		render_mac(t, e->mac);
		hv_text_printf(t, " . %s", buf);
		break;
	case NS_VMAP: hv_text_printf(t, "\"%s\" : jump %s", e->ifname, e->chain); break;
	case NS_ADDR4:
	case NS_ADDR6:
		nf_format_cidr(&e->ip, buf, sizeof buf);
		hv_text_printf(t, "%s", buf);
		break;
	case NS_MAP44: {
		char to[INET_ADDRSTRLEN];

		nf_format_cidr(&e->ip, buf, sizeof buf);
		inet_ntop(AF_INET, e->to, to, sizeof to);
		hv_text_printf(t, "%s : %s", buf, to);
		break;
	}
	}
}

static const char *
set_type(int kind)
{
	switch (kind) {
	case NS_IFNAME: return "type ifname;";
	case NS_SPOOF4: return "type ifname . ether_addr . ipv4_addr; flags interval;";
	case NS_SPOOF6: return "type ifname . ether_addr . ipv6_addr; flags interval;";
	case NS_SPOOF4H: return "type ifname . ether_addr . ipv4_addr;";
	case NS_SPOOF6H: return "type ifname . ether_addr . ipv6_addr;";
	case NS_VMAP: return "type ifname : verdict;";
	case NS_ADDR4: return "type ipv4_addr;";
	case NS_ADDR6: return "type ipv6_addr;";
	case NS_MAP44: return "type ipv4_addr : ipv4_addr;";
	}
	return "";
}

static bool
is_map(int kind)
{
	return kind == NS_VMAP || kind == NS_MAP44;
}

int
nf_render_op(void *ud, const struct nf_op *op)
{
	static const char *hooks[] = {"", "prerouting", "input", "output", "postrouting"};
	struct hv_text *t = ud;
	const char *tb = nf_table_name(op->table);

	switch (op->kind) {
	case OP_ADD_TABLE: hv_text_printf(t, "add table %s\n", tb); break;
	case OP_DEL_TABLE: hv_text_printf(t, "delete table %s\n", tb); break;
	case OP_ADD_SET:
		hv_text_printf(t, "add %s %s %s { %s }\n", is_map(op->set_kind) ? "map" : "set", tb,
			       op->name, set_type(op->set_kind));
		break;
	case OP_DEL_SET:
		hv_text_printf(t, "delete %s %s %s\n", is_map(op->set_kind) ? "map" : "set", tb,
			       op->name);
		break;
	case OP_ADD_CHAIN:
		if (op->hook != NH_NONE)
			hv_text_printf(
				t,
				"add chain %s %s { type %s hook %s priority %d; policy accept; }\n",
				tb, op->name, op->nat ? "nat" : "filter", hooks[op->hook],
				op->prio);
		else
			hv_text_printf(t, "add chain %s %s\n", tb, op->name);
		break;
	case OP_FLUSH_CHAIN: hv_text_printf(t, "flush chain %s %s\n", tb, op->name); break;
	case OP_DEL_CHAIN: hv_text_printf(t, "delete chain %s %s\n", tb, op->name); break;
	case OP_ADD_RULE:
		hv_text_printf(t, "add rule %s %s ", tb, op->name);
		nf_render_rule(t, op->rule);
		hv_text_printf(t, "\n");
		break;
	case OP_ADD_ELEM:
	case OP_DEL_ELEM:
		hv_text_printf(t, "%s element %s %s { ", op->kind == OP_ADD_ELEM ? "add" : "delete",
			       tb, op->name);
		render_elem(t, op->set_kind, op->elem, op->kind == OP_DEL_ELEM);
		hv_text_printf(t, " }\n");
		break;
	}
	return t->oom ? -ENOMEM : 0;
}
