/* nf-internal.h - what the files of the netfilter module share and nothing outside it
 * may include (tests excepted): the desired-state model, the small rule language the
 * model compiles to, and the change operations the pure diff emits.
 *
 * The model and the diff are pure: no syscalls, no logging, no global state. The same
 * stream of operations feeds the text renderer (golden files, `show`) and the libnftnl
 * writer, so what the tests read is exactly what the kernel receives. */
#ifndef HV_NF_INTERNAL_H
#define HV_NF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/error.h>

#include "text.h"

#define NF_ID_MAX 64     /* ids: [A-Za-z0-9_-], 1..64 */
#define NF_IFNAME_MAX 15 /* IFNAMSIZ - 1 */
#define NF_NAME_MAX 80   /* chain / set names we generate from ids */
#define NF_OWNER_MAX 160 /* "group <id> rule <id>" */
#define NF_PORT_IPS_MAX 8
#define NF_PORT_AAPS_MAX 10
#define NF_PORT_GROUPS_MAX 16
#define NF_GROUP_RULES_MAX 1000
#define NF_TAG_MAX 0xffff /* 16-bit group tag, see netfilter.h "ct mark" */
#define NF_PORTS_MAX 65535

enum nf_dir {
	NF_INGRESS = 0,
	NF_EGRESS = 1
};

struct nf_cidr {
	uint8_t family; /* 4 or 6 */
	uint8_t plen;
	uint8_t addr[16]; /* network byte order, host bits zero */
};

struct nf_rule {
	char id[NF_ID_MAX + 1];
	uint8_t dir;    /* enum nf_dir */
	uint8_t family; /* 4 or 6 */
	int16_t proto;  /* -1 = any */
	int32_t pmin;   /* -1 = none; tcp/udp/sctp port, or icmp type */
	int32_t pmax;   /* -1 = none; tcp/udp/sctp port, or icmp code */
	bool has_prefix;
	struct nf_cidr prefix;
	char remote_group[NF_ID_MAX + 1]; /* "" = none */
};

struct nf_group {
	int refs;
	char id[NF_ID_MAX + 1];
	uint16_t tag; /* ORed into ct mark by the rules that accept a new connection */
	size_t n_rules;
	struct nf_rule *rules;
};

struct nf_aap {
	struct nf_cidr ip;
	uint8_t mac[6]; /* the port's MAC when the pair names none */
};

struct nf_port {
	int refs;
	char id[NF_ID_MAX + 1];
	char ifname[NF_IFNAME_MAX + 1];
	uint8_t mac[6];
	size_t n_ips, n_aaps, n_groups;
	struct nf_cidr ips[NF_PORT_IPS_MAX];
	struct nf_aap aaps[NF_PORT_AAPS_MAX];
	char groups[NF_PORT_GROUPS_MAX][NF_ID_MAX + 1];
};

struct nf_fip {
	int refs;
	char id[NF_ID_MAX + 1];
	char port_id[NF_ID_MAX + 1];
	uint8_t fip[4];
	uint8_t fixed[4];
};

/* Arrays of shared, immutable, reference-counted objects sorted by id: a change copies
 * the pointer arrays and replaces one entry, so the diff can skip every unchanged object
 * by pointer comparison and stays O(changed) in kernel work. */
struct nf_model {
	char ext_ifname[NF_IFNAME_MAX + 1]; /* "" = no floating IPs on this host */
	size_t n_ports, n_groups, n_fips, n_taps;
	size_t cap_ports, cap_groups, cap_fips, cap_taps; /* allocated elements (HV_GROW) */
	struct nf_port **ports;
	struct nf_group **groups;
	struct nf_fip **fips;
	char (*taps)[NF_IFNAME_MAX + 1]; /* claimed taps with no port yet: fail closed */
};

/* model.c */
struct nf_model *nf_model_new(void);
void nf_model_free(struct nf_model *m);
struct nf_model *nf_model_clone(const struct nf_model *m);
struct nf_port *nf_model_port(const struct nf_model *m, const char *id);
struct nf_group *nf_model_group(const struct nf_model *m, const char *id);
struct nf_fip *nf_model_fip(const struct nf_model *m, const char *id);
/* Each takes ownership of obj (its one reference) and replaces any object with the same id. */
int nf_model_put_port(struct nf_model *m, struct nf_port *p);
int nf_model_put_group(struct nf_model *m, struct nf_group *g);
int nf_model_put_fip(struct nf_model *m, struct nf_fip *f);
bool nf_model_del_port(struct nf_model *m, const char *id);
bool nf_model_del_group(struct nf_model *m, const char *id);
bool nf_model_del_fip(struct nf_model *m, const char *id);
int nf_model_claim_tap(struct nf_model *m, const char *ifname);
bool nf_model_release_tap(struct nf_model *m, const char *ifname);
void nf_port_unref(struct nf_port *p);
void nf_group_unref(struct nf_group *g);
void nf_fip_unref(struct nf_fip *f);

/* Out of memory as an error like any other: every -ENOMEM netfilter returns to a caller
 * with an error struct comes through here. field names what was being built ("" for none). */
static inline int
nf_oom(struct hv_error *err, const char *field)
{
	return hv_error_set(err, -ENOMEM, field, "%s%sout of memory", field, *field ? ": " : "");
}

/* Cross-object checks (group references, FIP targets, unique ifnames, tags). Gives each
 * group without a tag the one it had in prev (when given) or the lowest free one. */
int nf_model_check(struct nf_model *m, const struct nf_model *prev, struct hv_error *err);

/* JSON codec; `where` prefixes field names in errors ("state", "body.port"). */
int
nf_port_from_json(const json_t *o, const char *where, struct nf_port **ret, struct hv_error *err);
/* A new port (one reference) equal to port but for its groups, taken from the JSON array
 * groups with nf_port_from_json's checks (NULL keeps port's groups). */
int nf_port_with_groups(const struct nf_port *port, const json_t *groups, const char *where,
			struct nf_port **ret, struct hv_error *err);
int
nf_group_from_json(const json_t *o, const char *where, struct nf_group **ret, struct hv_error *err);
int nf_fip_from_json(const json_t *o, const char *where, struct nf_fip **ret, struct hv_error *err);
int
nf_model_from_json(const json_t *o, const char *where, struct nf_model **ret, struct hv_error *err);
json_t *nf_model_to_json(const struct nf_model *m);
int nf_valid_id(const char *s, const char *field, struct hv_error *err);
int nf_valid_ifname(const char *s, const char *field, struct hv_error *err);
int nf_parse_cidr(const char *s, bool exact, const char *field, struct nf_cidr *ret,
		  struct hv_error *err);
void nf_format_cidr(const struct nf_cidr *c, char *buf, size_t size);

bool nf_port_eq(const struct nf_port *a, const struct nf_port *b);
bool nf_group_eq(const struct nf_group *a, const struct nf_group *b);
bool nf_fip_eq(const struct nf_fip *a, const struct nf_fip *b);

/* ---- the rule language ---- */

enum nf_table {
	NF_T_INET,
	NF_T_NAT,
	NF_T_ARP
};

enum nf_atom_kind {
	NX_NFPROTO,    /* meta nfproto ipv4|ipv6               v = 4|6 */
	NX_L4PROTO,    /* meta l4proto N                      v */
	NX_IIF_NOTIN,  /* iifname != @set */
	NX_OIF_NOTIN,  /* oifname != @set */
	NX_IIF_IN,     /* iifname @set */
	NX_OIF_IN,     /* oifname @set */
	NX_OIF_EQ,     /* oifname "name"                       s */
	NX_ADDR,       /* ip[6] saddr|daddr CIDR               dst, cidr */
	NX_ADDR_SET,   /* ip[6] saddr|daddr @set               dst, v = family */
	NX_TH_PORT,    /* th sport|dport lo[-hi]               dst, lo, hi */
	NX_ICMP_TYPE,  /* icmp[v6] type N                      v = family, lo */
	NX_ICMP_CODE,  /* icmp[v6] code N                      v = family, lo */
	NX_CT_STATE,   /* ct state <bits>                      v = bits */
	NX_CT_MARK_OR, /* ct mark set ct mark or X             u */
	NX_COUNTER,
	NX_SPOOF,     /* iifname . ether saddr . ip[6] saddr @set  v = family */
	NX_ARP_SPOOF, /* iifname . arp saddr ether . arp saddr ip @set */
	NX_VMAP,      /* iifname|oifname vmap @set            dst (0 iif, 1 oif) */
	NX_NAT, /* dnat to ip daddr map @set | snat to ip saddr map @set   dst (0 dnat, 1 snat) */
};

#define NF_CT_INVALID 0x01u
#define NF_CT_ESTABLISHED 0x02u
#define NF_CT_RELATED 0x04u
#define NF_CT_NEW 0x08u

struct nf_atom {
	uint8_t kind;
	uint8_t v;
	uint8_t dst;
	uint16_t lo, hi;
	uint32_t u;
	struct nf_cidr cidr;
};

enum nf_verdict {
	NV_NONE,
	NV_ACCEPT,
	NV_DROP,
	NV_RETURN,
	NV_JUMP
};

#define NF_RULE_ATOMS 8
struct nf_nrule {
	uint8_t n;
	uint8_t verdict;
	struct nf_atom a[NF_RULE_ATOMS];
	char set[NF_NAME_MAX];    /* the one set a rule may look up */
	char target[NF_NAME_MAX]; /* jump target */
	char ifname[NF_IFNAME_MAX + 1];
};

enum nf_set_kind {
	NS_IFNAME,  /* type ifname */
	NS_SPOOF4,  /* type ifname . ether_addr . ipv4_addr; flags interval (prefix pairs) */
	NS_SPOOF6,  /* type ifname . ether_addr . ipv6_addr; flags interval (prefix pairs) */
	NS_SPOOF4H, /* type ifname . ether_addr . ipv4_addr (exact: O(1) updates) */
	NS_SPOOF6H, /* type ifname . ether_addr . ipv6_addr (exact) */
	NS_VMAP,    /* type ifname : verdict */
	NS_ADDR4,   /* type ipv4_addr */
	NS_ADDR6,   /* type ipv6_addr */
	NS_MAP44,   /* type ipv4_addr : ipv4_addr */
};

struct nf_elem {
	char ifname[NF_IFNAME_MAX + 1];
	uint8_t mac[6];
	struct nf_cidr ip;       /* prefix for spoof sets, exact address otherwise */
	uint8_t to[4];           /* NS_MAP44 value */
	char chain[NF_NAME_MAX]; /* NS_VMAP value: jump chain */
};

enum nf_op_kind {
	OP_ADD_TABLE,
	OP_DEL_TABLE,
	OP_ADD_SET,
	OP_DEL_SET,
	OP_ADD_CHAIN,
	OP_FLUSH_CHAIN,
	OP_DEL_CHAIN,
	OP_ADD_RULE,
	OP_ADD_ELEM,
	OP_DEL_ELEM,
};

enum nf_hook {
	NH_NONE,
	NH_PREROUTING,
	NH_INPUT,
	NH_OUTPUT,
	NH_POSTROUTING
};

struct nf_op {
	uint8_t kind;     /* enum nf_op_kind */
	uint8_t table;    /* enum nf_table */
	uint8_t set_kind; /* OP_*_SET, OP_*_ELEM */
	uint8_t hook;     /* OP_ADD_CHAIN of a base chain */
	bool nat;         /* base chain of type nat */
	int32_t prio;
	char name[NF_NAME_MAX];   /* set or chain */
	char owner[NF_OWNER_MAX]; /* the model object this op serves ("port p1"), for errors */
	const struct nf_nrule *rule;
	const struct nf_elem *elem;
};

/* The diff calls emit once per operation, in an order that is valid as one transaction.
 * A non-zero return from emit stops the walk and is returned. */
typedef int (*nf_emit_fn)(void *ud, const struct nf_op *op);

/* Everything needed to build `to` from nothing, as one transaction that replaces our three
 * tables whatever they contain now (add + delete + add: no error if absent, no gap). */
int nf_full(const struct nf_model *to, bool replace, nf_emit_fn emit, void *ud);
/* The minimal change from `from` (what the kernel holds) to `to`. */
int nf_diff(const struct nf_model *from, const struct nf_model *to, nf_emit_fn emit, void *ud);

/* After a diff is committed: the group tags whose connections must be re-checked (a rule
 * or a remote member they relied on went away, a member port changed), and the floating
 * IPs whose NATed connections must go. Callbacks get a tag or a FIP address. */
struct nf_revoke {
	void (*tag)(void *ud, uint16_t tag);
	void (*fip)(void *ud, const uint8_t fip[4], const uint8_t fixed[4]);
	void *ud;
};
void
nf_revocations(const struct nf_model *from, const struct nf_model *to, const struct nf_revoke *r);

/* render.c: one nft command per op ("add rule inet hvagent p_x_e ..."); appends to a
 * growing buffer. */
int nf_render_op(void *text, const struct nf_op *op); /* nf_emit_fn over struct hv_text */
void nf_render_rule(struct hv_text *t, const struct nf_nrule *r);
const char *nf_table_name(enum nf_table t); /* "inet hvagent" */

#endif
