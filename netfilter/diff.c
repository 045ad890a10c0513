/* diff.c - compiles the desired-state model into our three tables and computes the
 * minimal change between two models, as a stream of operations valid as ONE transaction.
 *
 * Layout (docs/protocol-netfilter.md has the full picture):
 *   inet hvagent: raw_pre (anti-spoof, before conntrack), egress_base (prerouting -150),
 *     ingress_base (postrouting 50), groups_e / groups_i (one dispatch rule per group:
 *     "iifname @gm_<id> jump sg_<id>_e"); sets vm_ports, plugged, spoof4/6; per group the
 *     chains sg_<id>_e / sg_<id>_i, the port set gm_<id> and member sets rg_<id>_4/6.
 *   ip hvnat: fip_dnat / fip_snat maps, chains pre, out, post.
 *   arp hvarp: vm_ports, arp_ok, chain in.
 * A port is nothing but set elements: plugging one adds no chain and no jump, so the
 * kernel never re-validates the jump graph for it and its cost does not grow with the
 * number of ports. Pure: no syscalls, no logging. Must never emit the deletion of an
 * element the `from` model does not hold (one missing element aborts the whole batch). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf-internal.h"

struct out {
	nf_emit_fn emit;
	void *ud;
	int rc;
};

static void
op_emit(struct out *o, struct nf_op *op)
{
	if (o->rc == 0)
		o->rc = o->emit(o->ud, op);
}

static void
owner_port(char *buf, const char *id)
{
	snprintf(buf, NF_OWNER_MAX, "port %s", id);
}

static void
owner_group(char *buf, const char *id)
{
	snprintf(buf, NF_OWNER_MAX, "group %s", id);
}

/* ---- names ---- */

static void
group_ports_set(char *buf, const char *id)
{
	snprintf(buf, NF_NAME_MAX, "gm_%s", id);
}

static void
group_chain(char *buf, const char *id, int dir)
{
	snprintf(buf, NF_NAME_MAX, "sg_%s_%c", id, dir == NF_EGRESS ? 'e' : 'i');
}

static void
group_set(char *buf, const char *id, int family)
{
	snprintf(buf, NF_NAME_MAX, "rg_%s_%d", id, family);
}

/* ---- rule building ---- */

static struct nf_atom *
atom(struct nf_nrule *r, int kind)
{
	struct nf_atom *a = &r->a[r->n++];

	memset(a, 0, sizeof *a);
	a->kind = (uint8_t)kind;
	return a;
}

static void
a_nfproto(struct nf_nrule *r, int family)
{
	atom(r, NX_NFPROTO)->v = (uint8_t)family;
}

static void
a_l4(struct nf_nrule *r, int proto)
{
	atom(r, NX_L4PROTO)->v = (uint8_t)proto;
}

static void
a_port(struct nf_nrule *r, int dst, int lo, int hi)
{
	struct nf_atom *a = atom(r, NX_TH_PORT);

	a->dst = (uint8_t)dst;
	a->lo = (uint16_t)lo;
	a->hi = (uint16_t)hi;
}

static void
a_icmp(struct nf_nrule *r, int family, int type)
{
	struct nf_atom *a = atom(r, NX_ICMP_TYPE);

	a->v = (uint8_t)family;
	a->lo = (uint16_t)type;
}

static void
a_ctstate(struct nf_nrule *r, unsigned bits)
{
	atom(r, NX_CT_STATE)->v = (uint8_t)bits;
}

static void
a_addr(struct nf_nrule *r, int dst, const struct nf_cidr *c)
{
	struct nf_atom *a = atom(r, NX_ADDR);

	a->dst = (uint8_t)dst;
	a->cidr = *c;
}

static void
a_setref(struct nf_nrule *r, int kind, const char *set)
{
	atom(r, kind);
	snprintf(r->set, sizeof r->set, "%s", set);
}

static void
rule_reset(struct nf_nrule *r)
{
	memset(r, 0, sizeof *r);
}

static void
emit_rule(struct out *o, int table, const char *chain, const char *owner, struct nf_nrule *r,
	  int verdict)
{
	struct nf_op op = {.kind = OP_ADD_RULE, .table = (uint8_t)table, .rule = r};

	r->verdict = (uint8_t)verdict;
	snprintf(op.name, sizeof op.name, "%s", chain);
	snprintf(op.owner, sizeof op.owner, "%s", owner);
	op_emit(o, &op);
	rule_reset(r);
}

static void
emit_simple(struct out *o, int kind, int table, const char *name, const char *owner)
{
	struct nf_op op = {.kind = (uint8_t)kind, .table = (uint8_t)table};

	snprintf(op.name, sizeof op.name, "%s", name);
	snprintf(op.owner, sizeof op.owner, "%s", owner);
	op_emit(o, &op);
}

static void
emit_set(struct out *o, int kind, int table, const char *name, int set_kind, const char *owner)
{
	struct nf_op op = {
		.kind = (uint8_t)kind, .table = (uint8_t)table, .set_kind = (uint8_t)set_kind};

	snprintf(op.name, sizeof op.name, "%s", name);
	snprintf(op.owner, sizeof op.owner, "%s", owner);
	op_emit(o, &op);
}

static void
emit_base_chain(struct out *o, int table, const char *name, int hook, int prio, bool nat)
{
	struct nf_op op = {.kind = OP_ADD_CHAIN,
			   .table = (uint8_t)table,
			   .hook = (uint8_t)hook,
			   .prio = prio,
			   .nat = nat};

	snprintf(op.name, sizeof op.name, "%s", name);
	snprintf(op.owner, sizeof op.owner, "base chain %s", name);
	op_emit(o, &op);
}

static void
emit_elem(struct out *o, int kind, int table, const char *set, int set_kind,
	  const struct nf_elem *e, const char *owner)
{
	struct nf_op op = {.kind = (uint8_t)kind,
			   .table = (uint8_t)table,
			   .set_kind = (uint8_t)set_kind,
			   .elem = e};

	snprintf(op.name, sizeof op.name, "%s", set);
	snprintf(op.owner, sizeof op.owner, "%s", owner);
	op_emit(o, &op);
}

/* ---- base chains ---- */

/* What every port may and may not do whatever its groups say (Neutron's fixed rules). */
static void
port_static_rules(struct out *o, const char *chain, int dir)
{
	const char *own = "base chains";
	struct nf_nrule r;

	rule_reset(&r);
	if (dir == NF_EGRESS) {
		static const int nd_out[] = {133, 135, 136, 131, 143};

		/* The VM must not act as a DHCP server or a router. */
		a_nfproto(&r, 4), a_l4(&r, 17), a_port(&r, 0, 67, 67), a_port(&r, 1, 68, 68);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_DROP);
		a_nfproto(&r, 6), a_l4(&r, 17), a_port(&r, 0, 547, 547), a_port(&r, 1, 546, 546);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_DROP);
		a_nfproto(&r, 6), a_l4(&r, 58), a_icmp(&r, 6, 134);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_DROP);
		a_nfproto(&r, 4), a_l4(&r, 17), a_port(&r, 0, 68, 68), a_port(&r, 1, 67, 67);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
		a_nfproto(&r, 6), a_l4(&r, 17), a_port(&r, 0, 546, 546), a_port(&r, 1, 547, 547);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
		for (size_t i = 0; i < sizeof nd_out / sizeof nd_out[0]; i++) {
			a_nfproto(&r, 6), a_l4(&r, 58), a_icmp(&r, 6, nd_out[i]);
			emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
		}
	} else {
		static const int nd_in[] = {130, 135, 136};

		for (size_t i = 0; i < sizeof nd_in / sizeof nd_in[0]; i++) {
			a_nfproto(&r, 6), a_l4(&r, 58), a_icmp(&r, 6, nd_in[i]);
			emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
		}
		a_nfproto(&r, 4), a_l4(&r, 17), a_port(&r, 0, 67, 67), a_port(&r, 1, 68, 68);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
		a_nfproto(&r, 6), a_l4(&r, 17), a_port(&r, 0, 547, 547), a_port(&r, 1, 546, 546);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
	}
}

static void
base_rules_inet(struct out *o)
{
	static const struct nf_cidr any4 = {.family = 4, .plen = 32};
	static const struct nf_cidr bcast = {.family = 4, .plen = 32, .addr = {255, 255, 255, 255}};
	static const struct nf_cidr any6 = {.family = 6, .plen = 128};
	static const struct nf_cidr mcast6 = {.family = 6, .plen = 16, .addr = {0xff, 0x02}};
	/* DAD and MLD from the unspecified address, before the VM owns its address. */
	static const int dad_types[] = {131, 135, 143};
	const char *own = "base chains";
	struct nf_nrule r;

	rule_reset(&r);
	a_setref(&r, NX_IIF_NOTIN, "vm_ports");
	emit_rule(o, NF_T_INET, "raw_pre", own, &r, NV_RETURN);
	a_nfproto(&r, 4);
	a_addr(&r, 0, &any4);
	a_addr(&r, 1, &bcast);
	a_l4(&r, 17);
	a_port(&r, 0, 68, 68);
	a_port(&r, 1, 67, 67);
	emit_rule(o, NF_T_INET, "raw_pre", own, &r, NV_RETURN);
	for (size_t i = 0; i < sizeof dad_types / sizeof dad_types[0]; i++) {
		a_nfproto(&r, 6);
		a_addr(&r, 0, &any6);
		a_addr(&r, 1, &mcast6);
		a_l4(&r, 58);
		a_icmp(&r, 6, dad_types[i]);
		emit_rule(o, NF_T_INET, "raw_pre", own, &r, NV_RETURN);
	}
	/* Exact addresses in hash sets (O(1) to update), prefix pairs in interval sets (an
	 * interval set is rebuilt by the kernel on every change: keep it small). */
	for (int f = 4; f <= 6; f += 2) {
		static const char *sets[] = {"spoof4", "spoof4_net", "spoof6", "spoof6_net"};

		for (int k = 0; k < 2; k++) {
			a_nfproto(&r, f);
			a_setref(&r, NX_SPOOF, sets[(f == 6) * 2 + k]);
			r.a[r.n - 1].v = (uint8_t)f;
			emit_rule(o, NF_T_INET, "raw_pre", own, &r, NV_RETURN);
		}
	}
	atom(&r, NX_COUNTER);
	emit_rule(o, NF_T_INET, "raw_pre", own, &r, NV_DROP);

	for (int d = 0; d < 2; d++) {
		const char *chain = d == NF_EGRESS ? "egress_base" : "ingress_base";
		int notin = d == NF_EGRESS ? NX_IIF_NOTIN : NX_OIF_NOTIN;

		a_setref(&r, notin, "vm_ports");
		emit_rule(o, NF_T_INET, chain, own, &r, NV_RETURN);
		a_ctstate(&r, NF_CT_ESTABLISHED | NF_CT_RELATED);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_ACCEPT);
		a_ctstate(&r, NF_CT_INVALID);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_DROP);
		/* A claimed tap whose port is not programmed yet: fail closed. */
		a_setref(&r, notin, "plugged");
		atom(&r, NX_COUNTER);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_DROP);
		port_static_rules(o, chain, d);
		snprintf(r.target, sizeof r.target, "%s", d == NF_EGRESS ? "groups_e" : "groups_i");
		emit_rule(o, NF_T_INET, chain, own, &r, NV_JUMP);
		/* No group accepted: default deny, in both directions. */
		atom(&r, NX_COUNTER);
		emit_rule(o, NF_T_INET, chain, own, &r, NV_DROP);
	}
}

/* One rule per group: the ports in gm_<id> go through the group's chain. */
static void
group_dispatch(struct out *o, const struct nf_model *m, int dir)
{
	char owner[NF_OWNER_MAX], set[NF_NAME_MAX];
	struct nf_nrule r;

	rule_reset(&r);
	for (size_t i = 0; i < m->n_groups; i++) {
		const struct nf_group *g = m->groups[i];

		owner_group(owner, g->id);
		group_ports_set(set, g->id);
		a_setref(&r, dir == NF_EGRESS ? NX_IIF_IN : NX_OIF_IN, set);
		group_chain(r.target, g->id, dir);
		emit_rule(o, NF_T_INET, dir == NF_EGRESS ? "groups_e" : "groups_i", owner, &r,
			  NV_JUMP);
	}
}

static void
base_rules_arp(struct out *o)
{
	struct nf_nrule r;

	rule_reset(&r);
	a_setref(&r, NX_IIF_NOTIN, "vm_ports");
	emit_rule(o, NF_T_ARP, "in", "base chains", &r, NV_ACCEPT);
	a_setref(&r, NX_ARP_SPOOF, "arp_ok");
	emit_rule(o, NF_T_ARP, "in", "base chains", &r, NV_ACCEPT);
	a_setref(&r, NX_ARP_SPOOF, "arp_ok_net");
	emit_rule(o, NF_T_ARP, "in", "base chains", &r, NV_ACCEPT);
	atom(&r, NX_COUNTER);
	emit_rule(o, NF_T_ARP, "in", "base chains", &r, NV_DROP);
}

static void
nat_rules(struct out *o, const struct nf_model *m, const char *chain)
{
	struct nf_nrule r;

	rule_reset(&r);
	if (!strcmp(chain, "post")) {
		if (!*m->ext_ifname)
			return;
		atom(&r, NX_OIF_EQ);
		snprintf(r.ifname, sizeof r.ifname, "%s", m->ext_ifname);
		a_setref(&r, NX_NAT, "fip_snat");
		r.a[r.n - 1].dst = 1;
	} else {
		a_setref(&r, NX_NAT, "fip_dnat");
	}
	emit_rule(o, NF_T_NAT, chain, "floating IPs", &r, NV_NONE);
}

/* ---- group chains ---- */

static void
group_rules(struct out *o, const struct nf_group *g, int dir)
{
	char chain[NF_NAME_MAX], owner[NF_OWNER_MAX], set[NF_NAME_MAX];
	struct nf_nrule r;

	group_chain(chain, g->id, dir);
	rule_reset(&r);
	for (size_t i = 0; i < g->n_rules; i++) {
		const struct nf_rule *sr = &g->rules[i];
		/* Ingress rules match the remote as source, egress rules as destination. */
		int remote_dst = dir == NF_EGRESS;

		if (sr->dir != dir)
			continue;
		snprintf(owner, sizeof owner, "group %s rule %s", g->id, sr->id);
		a_nfproto(&r, sr->family);
		if (sr->has_prefix)
			a_addr(&r, remote_dst, &sr->prefix);
		if (*sr->remote_group) {
			group_set(set, sr->remote_group, sr->family);
			a_setref(&r, NX_ADDR_SET, set);
			r.a[r.n - 1].dst = (uint8_t)remote_dst;
			r.a[r.n - 1].v = sr->family;
		}
		if (sr->proto >= 0)
			a_l4(&r, sr->proto);
		if (sr->proto == 1 || sr->proto == 58) {
			if (sr->pmin >= 0)
				a_icmp(&r, sr->family, sr->pmin);
			if (sr->pmax >= 0) {
				struct nf_atom *a = atom(&r, NX_ICMP_CODE);
				a->v = sr->family;
				a->lo = (uint16_t)sr->pmax;
			}
		} else if (sr->pmin > 0) {
			a_port(&r, 1, sr->pmin, sr->pmax);
		}
		/* The accepting group tags the connection: revoking the group's rules later is
		 * one conntrack flush by this tag. Egress in the high half, ingress in the low. */
		atom(&r, NX_CT_MARK_OR)->u = dir == NF_EGRESS ? (uint32_t)g->tag << 16 : g->tag;
		emit_rule(o, NF_T_INET, chain, owner, &r, NV_ACCEPT);
	}
}

static bool
group_dir_eq(const struct nf_group *a, const struct nf_group *b, int dir)
{
	size_t i = 0, j = 0;

	if (a->tag != b->tag)
		return false;
	for (;;) {
		while (i < a->n_rules && a->rules[i].dir != dir)
			i++;
		while (j < b->n_rules && b->rules[j].dir != dir)
			j++;
		if (i == a->n_rules || j == b->n_rules)
			return i == a->n_rules && j == b->n_rules;
		if (memcmp(&a->rules[i], &b->rules[j], sizeof a->rules[i]))
			return false;
		i++, j++;
	}
}

/* ---- elements ---- */

/* The elements a port owns, in a fixed order, so two versions of a port diff by walking. */
enum {
	E_VMPORTS,
	E_ARPPORTS,
	E_PLUGGED,
	E_SPOOF4,
	E_SPOOF6,
	E_ARPOK,
	E_GROUP,
	E_SPOOF4N,
	E_SPOOF6N,
	E_ARPOKN
};

struct pelem {
	uint8_t where;
	char set[NF_NAME_MAX]; /* E_GROUP: gm_<id> */
	struct nf_elem e;
};

#define PORT_ELEMS_MAX (3 + 2 * (NF_PORT_IPS_MAX + NF_PORT_AAPS_MAX) + 1 + NF_PORT_GROUPS_MAX)

static size_t
port_elems(const struct nf_port *p, struct pelem *out)
{
	size_t n = 0;

	memset(out, 0, sizeof *out * PORT_ELEMS_MAX);
	for (int w = E_VMPORTS; w <= E_PLUGGED; w++) {
		out[n].where = (uint8_t)w;
		snprintf(out[n++].e.ifname, sizeof out[0].e.ifname, "%s", p->ifname);
	}
	for (size_t i = 0; i < p->n_ips + p->n_aaps; i++) {
		const struct nf_cidr *ip = i < p->n_ips ? &p->ips[i] : &p->aaps[i - p->n_ips].ip;
		const uint8_t *mac = i < p->n_ips ? p->mac : p->aaps[i - p->n_ips].mac;

		for (int w = E_SPOOF4; w <= E_ARPOK; w++) {
			if ((w == E_SPOOF6) != (ip->family == 6))
				continue;
			bool prefix = ip->plen < (ip->family == 4 ? 32 : 128);

			out[n].where = (uint8_t)(prefix ? w - E_SPOOF4 + E_SPOOF4N : w);
			snprintf(out[n].e.ifname, sizeof out[0].e.ifname, "%s", p->ifname);
			memcpy(out[n].e.mac, mac, 6);
			out[n++].e.ip = *ip;
		}
	}
	/* The EUI-64 link-local address of the port's MAC. */
	out[n].where = E_SPOOF6;
	snprintf(out[n].e.ifname, sizeof out[0].e.ifname, "%s", p->ifname);
	memcpy(out[n].e.mac, p->mac, 6);
	out[n].e.ip.family = 6;
	out[n].e.ip.plen = 128;
	{
		uint8_t *a = out[n].e.ip.addr;
		a[0] = 0xfe, a[1] = 0x80;
		a[8] = p->mac[0] ^ 0x02, a[9] = p->mac[1], a[10] = p->mac[2], a[11] = 0xff,
		a[12] = 0xfe;
		a[13] = p->mac[3], a[14] = p->mac[4], a[15] = p->mac[5];
	}
	n++;
	for (size_t g = 0; g < p->n_groups; g++) {
		out[n].where = E_GROUP;
		group_ports_set(out[n].set, p->groups[g]);
		snprintf(out[n++].e.ifname, sizeof out[0].e.ifname, "%s", p->ifname);
	}
	return n;
}

static void
pelem_emit(struct out *o, int kind, const struct pelem *pe, const char *owner)
{
	static const struct {
		uint8_t table;
		uint8_t set_kind;
		const char *set;
	} where[] = {
		[E_VMPORTS] = {NF_T_INET, NS_IFNAME, "vm_ports"},
		[E_ARPPORTS] = {NF_T_ARP, NS_IFNAME, "vm_ports"},
		[E_PLUGGED] = {NF_T_INET, NS_IFNAME, "plugged"},
		[E_SPOOF4] = {NF_T_INET, NS_SPOOF4H, "spoof4"},
		[E_SPOOF6] = {NF_T_INET, NS_SPOOF6H, "spoof6"},
		[E_ARPOK] = {NF_T_ARP, NS_SPOOF4H, "arp_ok"},
		[E_SPOOF4N] = {NF_T_INET, NS_SPOOF4, "spoof4_net"},
		[E_SPOOF6N] = {NF_T_INET, NS_SPOOF6, "spoof6_net"},
		[E_ARPOKN] = {NF_T_ARP, NS_SPOOF4, "arp_ok_net"},
		[E_GROUP] = {NF_T_INET, NS_IFNAME, NULL},
	};

	emit_elem(o, kind, where[pe->where].table,
		  where[pe->where].set ? where[pe->where].set : pe->set, where[pe->where].set_kind,
		  &pe->e, owner);
}

static bool
pelem_in(const struct pelem *pe, const struct pelem *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].where == pe->where && !strcmp(set[i].set, pe->set) &&
		    !memcmp(&set[i].e, &pe->e, sizeof pe->e))
			return true;
	return false;
}

static bool
port_in_group(const struct nf_port *p, const char *gid)
{
	for (size_t i = 0; i < p->n_groups; i++)
		if (!strcmp(p->groups[i], gid))
			return true;
	return false;
}

static bool
port_has_ip(const struct nf_port *p, const struct nf_cidr *ip)
{
	for (size_t i = 0; i < p->n_ips; i++)
		if (!memcmp(&p->ips[i], ip, sizeof *ip))
			return true;
	return false;
}

/* True when some port of m other than `except` puts ip into group gid's member set. */
static bool
member_elsewhere(const struct nf_model *m, const char *except, const char *gid,
		 const struct nf_cidr *ip)
{
	for (size_t i = 0; i < m->n_ports; i++) {
		const struct nf_port *p = m->ports[i];

		if (strcmp(p->id, except) && port_in_group(p, gid) && port_has_ip(p, ip))
			return true;
	}
	return false;
}

static void
member_elem(struct out *o, int kind, const char *gid, const struct nf_cidr *ip, const char *owner)
{
	char set[NF_NAME_MAX];
	struct nf_elem e = {.ip = *ip};

	group_set(set, gid, ip->family);
	emit_elem(o, kind, NF_T_INET, set, ip->family == 4 ? NS_ADDR4 : NS_ADDR6, &e, owner);
}

/* Reports the (group, ip) pairs version a of a port puts in member sets and b does not. */
static void
member_pairs_minus(const struct nf_port *a, const struct nf_port *b,
		   void (*cb)(void *ud, const char *gid, const struct nf_cidr *ip), void *ud)
{
	if (!a)
		return;
	for (size_t g = 0; g < a->n_groups; g++)
		for (size_t i = 0; i < a->n_ips; i++)
			if (!b || !port_in_group(b, a->groups[g]) || !port_has_ip(b, &a->ips[i]))
				cb(ud, a->groups[g], &a->ips[i]);
}

struct member_ctx {
	struct out *o;
	const struct nf_model *from, *to;
	const char *port_id;
	char owner[NF_OWNER_MAX];
};

static void
member_add(void *ud, const char *gid, const struct nf_cidr *ip)
{
	struct member_ctx *c = ud;

	/* Adding an element that exists is not an error, so no check is needed here. */
	member_elem(c->o, OP_ADD_ELEM, gid, ip, c->owner);
}

static void
member_del(void *ud, const char *gid, const struct nf_cidr *ip)
{
	struct member_ctx *c = ud;

	if (!nf_model_group(c->to, gid))
		return; /* the whole set goes */
	if (member_elsewhere(c->to, c->port_id, gid, ip))
		return;
	member_elem(c->o, OP_DEL_ELEM, gid, ip, c->owner);
}

/* ---- whole-model walks ---- */

static void
fip_elems(const struct nf_fip *f, struct nf_elem *dnat, struct nf_elem *snat)
{
	memset(dnat, 0, sizeof *dnat);
	memset(snat, 0, sizeof *snat);
	dnat->ip.family = snat->ip.family = 4;
	dnat->ip.plen = snat->ip.plen = 32;
	memcpy(dnat->ip.addr, f->fip, 4);
	memcpy(dnat->to, f->fixed, 4);
	memcpy(snat->ip.addr, f->fixed, 4);
	memcpy(snat->to, f->fip, 4);
}

static void
fip_emit(struct out *o, int kind, const struct nf_fip *f)
{
	struct nf_elem d, s;
	char owner[NF_OWNER_MAX];

	snprintf(owner, sizeof owner, "floating IP %s", f->id);
	fip_elems(f, &d, &s);
	emit_elem(o, kind, NF_T_NAT, "fip_dnat", NS_MAP44, &d, owner);
	emit_elem(o, kind, NF_T_NAT, "fip_snat", NS_MAP44, &s, owner);
}

static void
tap_emit(struct out *o, int kind, const char *ifname)
{
	struct nf_elem e = {0};
	char owner[NF_OWNER_MAX];

	snprintf(owner, sizeof owner, "tap %s", ifname);
	snprintf(e.ifname, sizeof e.ifname, "%s", ifname);
	emit_elem(o, kind, NF_T_INET, "vm_ports", NS_IFNAME, &e, owner);
	emit_elem(o, kind, NF_T_ARP, "vm_ports", NS_IFNAME, &e, owner);
}

static void
group_sets(struct out *o, int kind, const struct nf_group *g)
{
	char name[NF_NAME_MAX], owner[NF_OWNER_MAX];

	owner_group(owner, g->id);
	for (int f = 4; f <= 6; f += 2) {
		group_set(name, g->id, f);
		emit_set(o, kind, NF_T_INET, name, f == 4 ? NS_ADDR4 : NS_ADDR6, owner);
	}
	group_ports_set(name, g->id);
	emit_set(o, kind, NF_T_INET, name, NS_IFNAME, owner);
}

static void
group_chains(struct out *o, int kind, const struct nf_group *g)
{
	char name[NF_NAME_MAX], owner[NF_OWNER_MAX];

	owner_group(owner, g->id);
	for (int d = 0; d < 2; d++) {
		group_chain(name, g->id, d);
		if (kind == OP_DEL_CHAIN)
			emit_simple(o, OP_FLUSH_CHAIN, NF_T_INET, name, owner);
		emit_simple(o, kind, NF_T_INET, name, owner);
	}
}

static void
tables(struct out *o, int kind)
{
	emit_simple(o, kind, NF_T_INET, "", "table inet hvagent");
	emit_simple(o, kind, NF_T_NAT, "", "table ip hvnat");
	emit_simple(o, kind, NF_T_ARP, "", "table arp hvarp");
}

static void
port_full(struct out *o, const struct nf_port *p)
{
	struct pelem pe[PORT_ELEMS_MAX];
	char owner[NF_OWNER_MAX];
	size_t n = port_elems(p, pe);

	owner_port(owner, p->id);
	for (size_t j = 0; j < n; j++)
		pelem_emit(o, OP_ADD_ELEM, &pe[j], owner);
	for (size_t g = 0; g < p->n_groups; g++)
		for (size_t j = 0; j < p->n_ips; j++)
			member_elem(o, OP_ADD_ELEM, p->groups[g], &p->ips[j], owner);
}

int
nf_full(const struct nf_model *m, bool replace, nf_emit_fn emit, void *ud)
{
	struct out o = {emit, ud, 0};

	if (replace) {
		/* add + delete + add: one transaction that works whether or not the tables exist
		 * and whatever was done to them; packets see the old ruleset or the new one. */
		tables(&o, OP_ADD_TABLE);
		tables(&o, OP_DEL_TABLE);
	}
	tables(&o, OP_ADD_TABLE);
	emit_set(&o, OP_ADD_SET, NF_T_INET, "vm_ports", NS_IFNAME, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_INET, "plugged", NS_IFNAME, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_INET, "spoof4", NS_SPOOF4H, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_INET, "spoof4_net", NS_SPOOF4, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_INET, "spoof6", NS_SPOOF6H, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_INET, "spoof6_net", NS_SPOOF6, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_ARP, "vm_ports", NS_IFNAME, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_ARP, "arp_ok", NS_SPOOF4H, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_ARP, "arp_ok_net", NS_SPOOF4, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_NAT, "fip_dnat", NS_MAP44, "base sets");
	emit_set(&o, OP_ADD_SET, NF_T_NAT, "fip_snat", NS_MAP44, "base sets");
	for (size_t i = 0; i < m->n_groups; i++)
		group_sets(&o, OP_ADD_SET, m->groups[i]);
	emit_base_chain(&o, NF_T_INET, "raw_pre", NH_PREROUTING, -300, false);
	emit_base_chain(&o, NF_T_INET, "egress_base", NH_PREROUTING, -150, false);
	emit_base_chain(&o, NF_T_INET, "ingress_base", NH_POSTROUTING, 50, false);
	emit_simple(&o, OP_ADD_CHAIN, NF_T_INET, "groups_e", "base chains");
	emit_simple(&o, OP_ADD_CHAIN, NF_T_INET, "groups_i", "base chains");
	emit_base_chain(&o, NF_T_ARP, "in", NH_INPUT, 0, false);
	emit_base_chain(&o, NF_T_NAT, "pre", NH_PREROUTING, -100, true);
	emit_base_chain(&o, NF_T_NAT, "out", NH_OUTPUT, -100, true);
	emit_base_chain(&o, NF_T_NAT, "post", NH_POSTROUTING, 100, true);
	for (size_t i = 0; i < m->n_groups; i++)
		group_chains(&o, OP_ADD_CHAIN, m->groups[i]);
	for (size_t i = 0; i < m->n_groups; i++)
		for (int d = 0; d < 2; d++)
			group_rules(&o, m->groups[i], d);
	group_dispatch(&o, m, NF_EGRESS);
	group_dispatch(&o, m, NF_INGRESS);
	base_rules_inet(&o);
	base_rules_arp(&o);
	nat_rules(&o, m, "pre");
	nat_rules(&o, m, "out");
	nat_rules(&o, m, "post");
	for (size_t i = 0; i < m->n_ports; i++)
		port_full(&o, m->ports[i]);
	for (size_t i = 0; i < m->n_taps; i++)
		tap_emit(&o, OP_ADD_ELEM, m->taps[i]);
	for (size_t i = 0; i < m->n_fips; i++)
		fip_emit(&o, OP_ADD_ELEM, m->fips[i]);
	return o.rc;
}

/* Merge walk over two id-sorted arrays; runs the body with `old` and `new` (either may be
 * NULL) for every id whose object differs. Shared (pointer-equal) objects cost one
 * comparison, which keeps a small change cheap on a big host. */
#define MERGE_WALK(A, NA, B, NB, EQ, ...)                                                 \
	do {                                                                              \
		size_t i_ = 0, j_ = 0;                                                    \
		while (i_ < (NA) || j_ < (NB)) {                                          \
			int c_ = i_ == (NA)           ? 1                                 \
				 : j_ == (NB)         ? -1                                \
				 : (A)[i_] == (B)[j_] ? 0                                 \
						      : strcmp((A)[i_]->id, (B)[j_]->id); \
			__typeof__((A)[0]) old = c_ <= 0 ? (A)[i_] : NULL;                \
			__typeof__((B)[0]) new = c_ >= 0 ? (B)[j_] : NULL;                \
			if (c_ <= 0)                                                      \
				i_++;                                                     \
			if (c_ >= 0)                                                      \
				j_++;                                                     \
			if (old && new &&EQ(old, new))                                    \
				continue;                                                 \
			__VA_ARGS__;                                                      \
		}                                                                         \
	} while (0)

static bool
same_group_ids(const struct nf_model *a, const struct nf_model *b)
{
	if (a->n_groups != b->n_groups)
		return false;
	for (size_t i = 0; i < a->n_groups; i++)
		if (strcmp(a->groups[i]->id, b->groups[i]->id))
			return false;
	return true;
}

int
nf_diff(const struct nf_model *from, const struct nf_model *to, nf_emit_fn emit, void *ud)
{
	struct out o = {emit, ud, 0};
	struct pelem pa[PORT_ELEMS_MAX], pb[PORT_ELEMS_MAX];
	char owner[NF_OWNER_MAX], name[NF_NAME_MAX];

	if (!from)
		return nf_full(to, true, emit, ud);

	/* 1. New groups: their sets and (empty) chains. */
	MERGE_WALK(from->groups, from->n_groups, to->groups, to->n_groups, nf_group_eq, {
		if (!old) {
			group_sets(&o, OP_ADD_SET, new);
			group_chains(&o, OP_ADD_CHAIN, new);
		}
	});

	/* 2. Chain contents, each replaced atomically (flush + refill). */
	MERGE_WALK(from->groups, from->n_groups, to->groups, to->n_groups, nf_group_eq, {
		if (new) {
			for (int d = 0; d < 2; d++) {
				if (old && group_dir_eq(old, new, d))
					continue;
				if (old) {
					group_chain(name, new->id, d);
					owner_group(owner, new->id);
					emit_simple(&o, OP_FLUSH_CHAIN, NF_T_INET, name, owner);
				}
				group_rules(&o, new, d);
			}
		}
	});
	if (!same_group_ids(from, to)) {
		emit_simple(&o, OP_FLUSH_CHAIN, NF_T_INET, "groups_e", "base chains");
		group_dispatch(&o, to, NF_EGRESS);
		emit_simple(&o, OP_FLUSH_CHAIN, NF_T_INET, "groups_i", "base chains");
		group_dispatch(&o, to, NF_INGRESS);
	}
	if (strcmp(from->ext_ifname, to->ext_ifname)) {
		emit_simple(&o, OP_FLUSH_CHAIN, NF_T_NAT, "post", "floating IPs");
		nat_rules(&o, to, "post");
	}

	/* 3. Elements: deletions first, so an element can move between owners. */
	for (int pass = 0; pass < 2; pass++) {
		MERGE_WALK(from->ports, from->n_ports, to->ports, to->n_ports, nf_port_eq, {
			size_t na = old ? port_elems(old, pa) : 0;
			size_t nb = new ? port_elems(new, pb) : 0;
			struct member_ctx mc = {&o, from, to, old ? old->id : new->id, ""};

			owner_port(mc.owner, mc.port_id);
			if (pass == 0) {
				/* A deleted group's port set goes as a whole (step 4). */
				for (size_t k = 0; k < na; k++)
					if (!pelem_in(&pa[k], pb, nb) &&
					    !(pa[k].where == E_GROUP &&
					      !nf_model_group(to, pa[k].set + 3)))
						pelem_emit(&o, OP_DEL_ELEM, &pa[k], mc.owner);
				member_pairs_minus(old, new, member_del, &mc);
			} else {
				for (size_t k = 0; k < nb; k++)
					if (!pelem_in(&pb[k], pa, na))
						pelem_emit(&o, OP_ADD_ELEM, &pb[k], mc.owner);
				member_pairs_minus(new, old, member_add, &mc);
			}
		});
		for (size_t i = 0; i < (pass ? to->n_taps : from->n_taps); i++) {
			const char *t = pass ? to->taps[i] : from->taps[i];
			const struct nf_model *other = pass ? from : to;
			bool in_other = false;

			for (size_t j = 0; j < other->n_taps; j++)
				in_other |= !strcmp(other->taps[j], t);
			if (!in_other)
				tap_emit(&o, pass ? OP_ADD_ELEM : OP_DEL_ELEM, t);
		}
		MERGE_WALK(from->fips, from->n_fips, to->fips, to->n_fips, nf_fip_eq, {
			if (pass == 0 && old)
				fip_emit(&o, OP_DEL_ELEM, old);
			if (pass == 1 && new)
				fip_emit(&o, OP_ADD_ELEM, new);
		});
	}

	/* 4. Groups nothing refers to any more. */
	MERGE_WALK(from->groups, from->n_groups, to->groups, to->n_groups, nf_group_eq, {
		if (!new)
			group_chains(&o, OP_DEL_CHAIN, old);
	});
	MERGE_WALK(from->groups, from->n_groups, to->groups, to->n_groups, nf_group_eq, {
		if (!new)
			group_sets(&o, OP_DEL_SET, old);
	});
	return o.rc;
}

/* ---- revocation ---- */

static bool
rule_in(const struct nf_rule *r, const struct nf_group *g)
{
	for (size_t i = 0; i < g->n_rules; i++) {
		struct nf_rule a = *r, b = g->rules[i];

		/* A renamed rule that allows the same traffic revokes nothing. */
		memset(a.id, 0, sizeof a.id);
		memset(b.id, 0, sizeof b.id);
		if (!memcmp(&a, &b, sizeof a))
			return true;
	}
	return false;
}

static void
revoke_groups_of(const struct nf_model *m, const struct nf_port *p, const struct nf_revoke *rv)
{
	for (size_t g = 0; g < p->n_groups; g++) {
		const struct nf_group *grp = nf_model_group(m, p->groups[g]);

		if (grp)
			rv->tag(rv->ud, grp->tag);
	}
}

struct shrink_ctx {
	const struct nf_model *from, *to;
	const char *port_id;
	const struct nf_revoke *rv;
};

static void
shrunk(void *ud, const char *gid, const struct nf_cidr *ip)
{
	struct shrink_ctx *c = ud;

	if (member_elsewhere(c->to, c->port_id, gid, ip))
		return;
	/* gid lost a member address: every group with a rule naming gid as remote re-checks. */
	for (size_t i = 0; i < c->from->n_groups; i++) {
		const struct nf_group *g = c->from->groups[i];

		for (size_t j = 0; j < g->n_rules; j++)
			if (!strcmp(g->rules[j].remote_group, gid)) {
				c->rv->tag(c->rv->ud, g->tag);
				break;
			}
	}
}

void
nf_revocations(const struct nf_model *from, const struct nf_model *to, const struct nf_revoke *rv)
{
	if (!from)
		return;
	MERGE_WALK(from->ports, from->n_ports, to->ports, to->n_ports, nf_port_eq, {
		struct shrink_ctx sc = {from, to, old ? old->id : new->id, rv};

		if (old) {
			bool lost = !new;

			for (size_t g = 0; new &&g < old->n_groups; g++)
				lost |= !port_in_group(new, old->groups[g]);
			for (size_t k = 0; new &&k < old->n_ips; k++)
				lost |= !port_has_ip(new, &old->ips[k]);
			if (new)
				lost |= old->n_aaps != new->n_aaps ||
					memcmp(old->aaps, new->aaps,
					       old->n_aaps * sizeof old->aaps[0]) ||
					strcmp(old->ifname, new->ifname) ||
					memcmp(old->mac, new->mac, 6);
			/* Connections the port's old groups admitted are re-checked; those still
			 * allowed come back through nf_conntrack_tcp_loose. */
			if (lost)
				revoke_groups_of(from, old, rv);
		}
		member_pairs_minus(old, new, shrunk, &sc);
	});
	MERGE_WALK(from->groups, from->n_groups, to->groups, to->n_groups, nf_group_eq, {
		if (old) {
			for (size_t k = 0; k < old->n_rules; k++)
				if (!new || !rule_in(&old->rules[k], new)) {
					rv->tag(rv->ud, old->tag);
					break;
				}
		}
	});
	if (rv->fip) {
		MERGE_WALK(from->fips, from->n_fips, to->fips, to->n_fips, nf_fip_eq, {
			if (old)
				rv->fip(rv->ud, old->fip, old->fixed);
		});
	}
}
