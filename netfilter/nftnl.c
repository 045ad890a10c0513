/* nftnl.c - turns the operation stream into ONE nf_tables netlink batch (libnftnl +
 * libmnl) and commits it; a failure names the operation the kernel rejected.
 *
 * No parser and no cache: the cost of a change does not depend on what other programs
 * keep in their tables. Must never touch a table other than ours: every message names
 * one of inet hvagent, ip hvnat, arp hvarp. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter_arp.h>

#include "nf-nl.h"
#include "vec.h"

#define MSG_ROOM (128 * 1024) /* the largest message we build is well below this */
#define ELEMS_PER_MSG 256     /* keeps the nested element list under 64 KiB */

/* nftables datatype ids, for the set key types userspace tools display. */
enum {
	DT_VERDICT = 1,
	DT_IPADDR = 7,
	DT_IP6ADDR = 8,
	DT_ETHERADDR = 9,
	DT_IFNAME = 41
};
#define DT_CONCAT3(a, b, c) (((a) << 12) | ((b) << 6) | (c))

struct nf_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq0, seq;
	size_t op_index;  /* index of the op being encoded */
	uint32_t *msg_op; /* message i (seq0 + 1 + i) -> op index */
	size_t n_msg, cap_msg;
	struct nftnl_set *pend; /* elements waiting to be sent in one message */
	int pend_kind;
	size_t pend_n;
	size_t pend_op;
	uint32_t set_id;
	int rc;
};

static uint16_t
table_family(int t)
{
	return t == NF_T_INET ? NFPROTO_INET : t == NF_T_NAT ? NFPROTO_IPV4 : NFPROTO_ARP;
}

static const char *
table_short(int t)
{
	return t == NF_T_INET ? "hvagent" : t == NF_T_NAT ? "hvnat" : "hvarp";
}

static int
reserve(struct nf_batch *b)
{
	if (b->cap - b->len >= MSG_ROOM && b->cap_msg > b->n_msg)
		return 0;
	if (b->cap - b->len < MSG_ROOM) {
		size_t old = b->cap;

		if (HV_GROW(b->buf, b->cap, b->len + MSG_ROOM) < 0)
			return -ENOMEM;
		/* Netlink alignment padding is sent as is: never send stale heap bytes. */
		memset(b->buf + old, 0, b->cap - old);
	}
	if (HV_GROW(b->msg_op, b->cap_msg, b->n_msg + 1) < 0)
		return -ENOMEM;
	return 0;
}

static struct nlmsghdr *
msg_start(struct nf_batch *b, uint16_t type, int table, uint16_t flags, size_t op)
{
	struct nlmsghdr *nlh;

	if (reserve(b) < 0) {
		b->rc = -ENOMEM;
		return NULL;
	}
	nlh = nftnl_nlmsg_build_hdr(b->buf + b->len, type, table_family(table), flags, ++b->seq);
	b->msg_op[b->n_msg++] = (uint32_t)op;
	return nlh;
}

static void
msg_done(struct nf_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

struct nf_batch *
nf_batch_new(void)
{
	struct nf_batch *b = calloc(1, sizeof *b);

	if (!b)
		return NULL;
	b->seq0 = b->seq = (uint32_t)time(NULL);
	if (reserve(b) < 0) {
		free(b);
		return NULL;
	}
	nftnl_batch_begin(b->buf, b->seq0);
	b->len = NLMSG_ALIGN(((struct nlmsghdr *)b->buf)->nlmsg_len);
	return b;
}

void
nf_batch_free(struct nf_batch *b)
{
	if (!b)
		return;
	if (b->pend)
		nftnl_set_free(b->pend);
	free(b->msg_op);
	free(b->buf);
	free(b);
}

size_t
nf_batch_messages(const struct nf_batch *b)
{
	return b->n_msg;
}

/* ---- expressions ---- */

static void
x_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

static void
x_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	x_add(r, e);
}

static void
x_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	x_add(r, e);
}

static void
x_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	x_add(r, e);
}

static void
x_bitwise(struct nftnl_rule *r, uint32_t len, const void *mask, const void * xor)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	x_add(r, e);
}

static void
x_lookup(struct nftnl_rule *r, uint32_t sreg, int dreg, const char *set, bool inv)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (inv)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	x_add(r, e);
}

static void
x_ct(struct nftnl_rule *r, uint32_t key, bool set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, set ? NFTNL_EXPR_CT_SREG : NFTNL_EXPR_CT_DREG, NFT_REG_1);
	x_add(r, e);
}

static void
x_range(struct nftnl_rule *r, const void *from, const void *to, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");

	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, from, len);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, to, len);
	x_add(r, e);
}

static void
x_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	x_add(r, e);
}

static void
addr_load(struct nftnl_rule *r, int family, bool dst, uint32_t dreg)
{
	if (family == 6)
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, dst ? 24 : 8, 16, dreg);
	else
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, dst ? 16 : 12, 4, dreg);
}

static void
encode_atom(struct nftnl_rule *r, const struct nf_atom *a, const struct nf_nrule *nr)
{
	switch (a->kind) {
	case NX_NFPROTO: {
		uint8_t v = a->v == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
		x_meta(r, NFT_META_NFPROTO, NFT_REG_1);
		x_cmp(r, NFT_CMP_EQ, &v, 1);
		break;
	}
	case NX_L4PROTO:
		x_meta(r, NFT_META_L4PROTO, NFT_REG_1);
		x_cmp(r, NFT_CMP_EQ, &a->v, 1);
		break;
	case NX_IIF_NOTIN:
	case NX_OIF_NOTIN:
	case NX_IIF_IN:
	case NX_OIF_IN:
		x_meta(r,
		       a->kind == NX_IIF_NOTIN || a->kind == NX_IIF_IN ? NFT_META_IIFNAME
								       : NFT_META_OIFNAME,
		       NFT_REG_1);
		x_lookup(r, NFT_REG_1, -1, nr->set,
			 a->kind == NX_IIF_NOTIN || a->kind == NX_OIF_NOTIN);
		break;
	case NX_OIF_EQ: {
		char name[16] = {0};
		memcpy(name, nr->ifname, strnlen(nr->ifname, 15));
		x_meta(r, NFT_META_OIFNAME, NFT_REG_1);
		x_cmp(r, NFT_CMP_EQ, name, sizeof name);
		break;
	}
	case NX_ADDR: {
		uint32_t len = a->cidr.family == 6 ? 16 : 4;
		addr_load(r, a->cidr.family, a->dst, NFT_REG_1);
		if (a->cidr.plen < len * 8) {
			uint8_t mask[16] = {0}, zero[16] = {0};
			for (int bit = 0; bit < a->cidr.plen; bit++)
				mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
			x_bitwise(r, len, mask, zero);
		}
		x_cmp(r, NFT_CMP_EQ, a->cidr.addr, len);
		break;
	}
	case NX_ADDR_SET:
		addr_load(r, a->v, a->dst, NFT_REG_1);
		x_lookup(r, NFT_REG_1, -1, nr->set, false);
		break;
	case NX_TH_PORT: {
		uint16_t lo = htons(a->lo), hi = htons(a->hi);
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, a->dst ? 2 : 0, 2, NFT_REG_1);
		if (a->lo == a->hi)
			x_cmp(r, NFT_CMP_EQ, &lo, 2);
		else
			x_range(r, &lo, &hi, 2);
		break;
	}
	case NX_ICMP_TYPE:
	case NX_ICMP_CODE: {
		uint8_t v = (uint8_t)a->lo;
		x_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, a->kind == NX_ICMP_CODE ? 1 : 0, 1,
			  NFT_REG_1);
		x_cmp(r, NFT_CMP_EQ, &v, 1);
		break;
	}
	case NX_CT_STATE: {
		uint32_t mask = a->v, zero = 0;
		x_ct(r, NFT_CT_STATE, false);
		x_bitwise(r, 4, &mask, &zero);
		x_cmp(r, NFT_CMP_NEQ, &zero, 4);
		break;
	}
	case NX_CT_MARK_OR: {
		uint32_t mask = ~a->u, xor = a->u;
		x_ct(r, NFT_CT_MARK, false);
		x_bitwise(r, 4, &mask, &xor);
		x_ct(r, NFT_CT_MARK, true);
		break;
	}
	case NX_COUNTER: x_add(r, nftnl_expr_alloc("counter")); break;
	case NX_SPOOF:
		x_meta(r, NFT_META_IIFNAME, NFT_REG32_00);
		x_payload(r, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG32_04);
		addr_load(r, a->v, false, NFT_REG32_06);
		x_lookup(r, NFT_REG32_00, -1, nr->set, false);
		break;
	case NX_ARP_SPOOF:
		x_meta(r, NFT_META_IIFNAME, NFT_REG32_00);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 6, NFT_REG32_04);
		x_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 14, 4, NFT_REG32_06);
		x_lookup(r, NFT_REG32_00, -1, nr->set, false);
		break;
	case NX_VMAP:
		x_meta(r, a->dst ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_REG_1);
		x_lookup(r, NFT_REG_1, NFT_REG_VERDICT, nr->set, false);
		break;
	case NX_NAT: {
		struct nftnl_expr *e = nftnl_expr_alloc("nat");
		addr_load(r, 4, !a->dst, NFT_REG_1);
		x_lookup(r, NFT_REG_1, NFT_REG_1, nr->set, false);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, a->dst ? NFT_NAT_SNAT : NFT_NAT_DNAT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
		x_add(r, e);
		break;
	}
	}
}

/* ---- objects ---- */

static void
set_describe(struct nftnl_set *s, int kind)
{
	static const uint8_t f4[NFT_REG32_COUNT] = {16, 6, 4}, f6[NFT_REG32_COUNT] = {16, 6, 16};

	switch (kind) {
	case NS_IFNAME:
	case NS_VMAP: {
		/* Tells nft the key is a host-order string, so `nft list` shows the names. */
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);

		if (ud) {
			nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1 /* host endian */);
			nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
					   nftnl_udata_buf_len(ud));
			nftnl_udata_buf_free(ud);
		}
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, DT_IFNAME);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 16);
		if (kind == NS_VMAP) {
			nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
		}
		break;
	}
	case NS_SPOOF4:
	case NS_SPOOF6:
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
				  DT_CONCAT3(DT_IFNAME, DT_ETHERADDR,
					     kind == NS_SPOOF4 ? DT_IPADDR : DT_IP6ADDR));
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, kind == NS_SPOOF4 ? 28 : 40);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, kind == NS_SPOOF4 ? f4 : f6,
				   sizeof f4);
		break;
	case NS_SPOOF4H:
	case NS_SPOOF6H:
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
				  DT_CONCAT3(DT_IFNAME, DT_ETHERADDR,
					     kind == NS_SPOOF4H ? DT_IPADDR : DT_IP6ADDR));
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, kind == NS_SPOOF4H ? 28 : 40);
		break;
	case NS_ADDR4:
	case NS_MAP44:
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, DT_IPADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
		if (kind == NS_MAP44) {
			nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, DT_IPADDR);
			nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 4);
		}
		break;
	case NS_ADDR6:
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, DT_IP6ADDR);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 16);
		break;
	}
}

static struct nftnl_set *
set_ref(int table, const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table_short(table));
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, table_family(table));
	return s;
}

static void
elem_keys(const struct nf_op *op, struct nftnl_set_elem *e)
{
	const struct nf_elem *el = op->elem;
	uint8_t key[40] = {0}, end[40] = {0};

	switch (op->set_kind) {
	case NS_IFNAME:
	case NS_VMAP:
		memcpy(key, el->ifname, strnlen(el->ifname, 15));
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, 16);
		if (op->set_kind == NS_VMAP && op->kind == OP_ADD_ELEM) {
			nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)NFT_JUMP);
			nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, el->chain);
		}
		break;
	case NS_SPOOF4:
	case NS_SPOOF6:
	case NS_SPOOF4H:
	case NS_SPOOF6H: {
		uint32_t alen = op->set_kind == NS_SPOOF4 || op->set_kind == NS_SPOOF4H ? 4 : 16;
		bool interval = op->set_kind == NS_SPOOF4 || op->set_kind == NS_SPOOF6;

		memcpy(key, el->ifname, strnlen(el->ifname, 15));
		memcpy(key + 16, el->mac, 6);
		memcpy(key + 24, el->ip.addr, alen);
		memcpy(end, key, sizeof end);
		for (uint32_t bit = el->ip.plen; bit < alen * 8; bit++)
			end[24 + bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, 24 + alen);
		if (interval)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, end, 24 + alen);
		break;
	}
	case NS_ADDR4:
	case NS_ADDR6:
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->ip.addr,
				   op->set_kind == NS_ADDR4 ? 4 : 16);
		break;
	case NS_MAP44:
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, el->ip.addr, 4);
		if (op->kind == OP_ADD_ELEM)
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, el->to, 4);
		break;
	}
}

static void
flush_pending(struct nf_batch *b)
{
	struct nlmsghdr *nlh;
	uint32_t t;

	if (!b->pend)
		return;
	t = nftnl_set_get_u32(b->pend, NFTNL_SET_FAMILY);
	nlh = msg_start(b, b->pend_kind == OP_ADD_ELEM ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			t == NFPROTO_INET   ? NF_T_INET
			: t == NFPROTO_IPV4 ? NF_T_NAT
					    : NF_T_ARP,
			b->pend_kind == OP_ADD_ELEM ? NLM_F_CREATE : 0, b->pend_op);
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, b->pend);
		msg_done(b, nlh);
	}
	nftnl_set_free(b->pend);
	b->pend = NULL;
	b->pend_n = 0;
}

static void
add_elem(struct nf_batch *b, const struct nf_op *op)
{
	struct nftnl_set_elem *e;

	if (b->pend && (b->pend_kind != op->kind || b->pend_n >= ELEMS_PER_MSG ||
			nftnl_set_get_u32(b->pend, NFTNL_SET_FAMILY) != table_family(op->table) ||
			strcmp(nftnl_set_get_str(b->pend, NFTNL_SET_NAME), op->name)))
		flush_pending(b);
	if (!b->pend) {
		b->pend = set_ref(op->table, op->name);
		if (!b->pend) {
			b->rc = -ENOMEM;
			return;
		}
		b->pend_kind = op->kind;
		/* Errors on the coalesced message point at its first element. */
		b->pend_op = b->op_index;
	}
	e = nftnl_set_elem_alloc();
	if (!e) {
		b->rc = -ENOMEM;
		return;
	}
	elem_keys(op, e);
	nftnl_set_elem_add(b->pend, e);
	b->pend_n++;
}

int
nf_batch_op(void *ud, const struct nf_op *op)
{
	static const uint32_t hooks[] = {0, NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN,
					 NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING};
	struct nf_batch *b = ud;
	struct nlmsghdr *nlh = NULL;

	if (b->rc)
		return b->rc;
	if (op->kind == OP_ADD_ELEM || op->kind == OP_DEL_ELEM) {
		add_elem(b, op);
		b->op_index++;
		return b->rc;
	}
	flush_pending(b);
	if (b->rc)
		return b->rc;

	switch (op->kind) {
	case OP_ADD_TABLE:
	case OP_DEL_TABLE: {
		struct nftnl_table *t = nftnl_table_alloc();

		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table_short(op->table));
		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, table_family(op->table));
		nlh = msg_start(b, op->kind == OP_ADD_TABLE ? NFT_MSG_NEWTABLE : NFT_MSG_DELTABLE,
				op->table, op->kind == OP_ADD_TABLE ? NLM_F_CREATE : 0,
				b->op_index);
		if (nlh)
			nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		break;
	}
	case OP_ADD_SET:
	case OP_DEL_SET: {
		struct nftnl_set *s = set_ref(op->table, op->name);

		if (op->kind == OP_ADD_SET) {
			set_describe(s, op->set_kind);
			nftnl_set_set_u32(s, NFTNL_SET_ID, ++b->set_id);
		}
		nlh = msg_start(b, op->kind == OP_ADD_SET ? NFT_MSG_NEWSET : NFT_MSG_DELSET,
				op->table, op->kind == OP_ADD_SET ? NLM_F_CREATE : 0, b->op_index);
		if (nlh)
			nftnl_set_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
		break;
	}
	case OP_ADD_CHAIN:
	case OP_DEL_CHAIN: {
		struct nftnl_chain *c = nftnl_chain_alloc();

		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table_short(op->table));
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, op->name);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, table_family(op->table));
		if (op->kind == OP_ADD_CHAIN && op->hook != NH_NONE) {
			uint32_t hook = op->table == NF_T_ARP ? NF_ARP_IN : hooks[op->hook];

			nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
			nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, op->prio);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, op->nat ? "nat" : "filter");
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		}
		nlh = msg_start(b, op->kind == OP_ADD_CHAIN ? NFT_MSG_NEWCHAIN : NFT_MSG_DELCHAIN,
				op->table, op->kind == OP_ADD_CHAIN ? NLM_F_CREATE : 0,
				b->op_index);
		if (nlh)
			nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
		break;
	}
	case OP_FLUSH_CHAIN:
	case OP_ADD_RULE: {
		struct nftnl_rule *r = nftnl_rule_alloc();

		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table_short(op->table));
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, op->name);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, table_family(op->table));
		if (op->kind == OP_ADD_RULE) {
			static const int verdicts[] = {0, NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_JUMP};

			for (size_t i = 0; i < op->rule->n; i++)
				encode_atom(r, &op->rule->a[i], op->rule);
			if (op->rule->verdict != NV_NONE)
				x_verdict(r, verdicts[op->rule->verdict],
					  op->rule->verdict == NV_JUMP ? op->rule->target : NULL);
		}
		/* DELRULE with a chain and no handle empties the chain. */
		nlh = msg_start(
			b, op->kind == OP_ADD_RULE ? NFT_MSG_NEWRULE : NFT_MSG_DELRULE, op->table,
			op->kind == OP_ADD_RULE ? NLM_F_CREATE | NLM_F_APPEND : 0, b->op_index);
		if (nlh)
			nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
		break;
	}
	}
	if (nlh)
		msg_done(b, nlh);
	b->op_index++;
	return b->rc;
}

/* ---- commit ---- */

int
nf_nl_open(struct mnl_socket **ret)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = -errno;
		mnl_socket_close(nl);
		return e;
	}
	*ret = nl;
	return 0;
}

int
nf_batch_commit(struct mnl_socket *nl, struct nf_batch *b, size_t *ret_bad_op)
{
	char rbuf[65536];
	uint32_t last;
	int bufsize, first_err = 0;
	bool acked = false;
	ssize_t n;

	flush_pending(b);
	if (b->rc)
		return b->rc;
	*ret_bad_op = SIZE_MAX;
	if (b->n_msg == 0)
		return 0;
	/* Only the last command asks for an ACK: errors are always reported, and the kernel
	 * handles the whole batch before sendmsg returns, so every answer is queued by then. */
	{
		struct nlmsghdr *nlh = (struct nlmsghdr *)b->buf;
		struct nlmsghdr *lastmsg = NULL;
		size_t off = 0;

		while (off < b->len) {
			nlh = (struct nlmsghdr *)(b->buf + off);
			lastmsg = nlh;
			off += NLMSG_ALIGN(nlh->nlmsg_len);
		}
		lastmsg->nlmsg_flags |= NLM_F_ACK;
		last = lastmsg->nlmsg_seq;
	}
	if (reserve(b) < 0)
		return -ENOMEM;
	nftnl_batch_end(b->buf + b->len, b->seq + 1);
	b->len += NLMSG_ALIGN(((struct nlmsghdr *)(b->buf + b->len))->nlmsg_len);

	bufsize = (int)b->len + 65536;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &bufsize,
		       sizeof bufsize) < 0)
		(void)setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &bufsize,
				 sizeof bufsize);
	if (mnl_socket_sendto(nl, b->buf, b->len) < 0)
		return -errno;

	while ((n = recv(mnl_socket_get_fd(nl), rbuf, sizeof rbuf, MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int len = (int)n;

		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error && !first_err) {
				first_err = e->error;
				if (nlh->nlmsg_seq > b->seq0 &&
				    nlh->nlmsg_seq - b->seq0 - 1 < b->n_msg)
					*ret_bad_op = b->msg_op[nlh->nlmsg_seq - b->seq0 - 1];
			}
			if (nlh->nlmsg_seq == last && !e->error)
				acked = true;
		}
	}
	if (first_err)
		return first_err;
	return acked ? 0 : -EPROTO;
}
