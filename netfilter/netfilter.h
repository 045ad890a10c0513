/* netfilter.h - security groups and floating IPs of one host, programmed into nftables.
 *
 * The agent keeps one struct nf_ctx per network namespace (normally the host's). Every call
 * that changes the desired state validates its input completely, computes the minimal
 * change against what was last committed, and commits it as ONE nf_tables transaction in
 * our own tables (inet hvagent, ip hvnat, arp hvarp); nothing else on the host is read or
 * touched, and a change costs the same with 10 or 5,000 ports. A call that fails changes
 * nothing: the previous ruleset stays in force, the desired state stays as it was, and
 * err names the object (port, group rule, floating IP) and field at fault.
 *
 * Semantics are OpenStack's: stateful rules, ingress denied unless allowed, egress as the
 * rules say, anti-spoofing (IPv4, IPv6, ARP) from each port's MAC + fixed IPs + allowed
 * address pairs, 1:1 floating-IP NAT. JSON shapes: docs/protocol-netfilter.md.
 *
 * Reserved: ct mark bits 0-15 hold the tag of the security group whose rule admitted a
 * connection at the receiving port, bits 16-31 that of the sending port's group. Removing
 * a rule or a remote-group member flushes conntrack by that tag in the kernel (one message);
 * still-allowed flows are re-admitted on their next packet, which relies on
 * net.netfilter.nf_conntrack_tcp_loose=1 (the default). No other program may use ct mark here.
 *
 * Threading: one nf_ctx is used by one thread at a time. Nothing here logs. */
#ifndef HV_NETFILTER_H
#define HV_NETFILTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <hvagent/error.h>

struct nf_ctx;

/* Opens netlink sockets in the calling thread's current network namespace. Touches no
 * rule: call nf_apply() (or nf_adopt() + nf_resync()) next. external_ifname may be NULL
 * (no floating IPs on this host). */
int nf_open(struct nf_ctx **ret, const char *external_ifname, struct hv_error *err);
/* NULL-safe; sets *ctx to NULL. Leaves the rules in place: a restart must not open a gap. */
void nf_close(struct nf_ctx **ctx);

/* Replaces the whole desired state ({"security_groups":[...], "ports":[...],
 * "floating_ips":[...], "taps":[...]}). The first call after nf_open() replaces our
 * tables atomically (a restart: no flush, no gap); later calls send only the difference. */
int nf_apply(struct nf_ctx *nf, const json_t *state, struct hv_error *err);

/* Declares `state` as what the kernel holds (a restarted process reading its journal) so
 * the next change is a small diff. Nothing is sent; nf_resync() repairs any mismatch. */
int nf_adopt(struct nf_ctx *nf, const json_t *state, struct hv_error *err);

/* Rewrites our three tables from the desired state in one transaction (never a flush
 * first): at start, after a failed batch (done automatically) and from the agent's slow
 * timer, which repairs tampering by other programs. Also plumbs every port's tap and removes
 * our routes no port wants (a restart converges). */
int nf_resync(struct nf_ctx *nf, struct hv_error *err);

/* Port {"id","ifname","mac_address","fixed_ips","allowed_address_pairs","security_groups"}
 * plugged or updated (same id). The port's groups must exist. Then the host side of its tap
 * (docs/protocol-netfilter.md section 5): IPv4 forwarding (IPv6 too when it has an IPv6
 * fixed IP), proxy ARP on the tap and a route of ours to each fixed IP through it, now if
 * the tap exists, else when it appears (nf_watch_dispatch). Unplug removes those routes. */
int nf_port_plug(struct nf_ctx *nf, const json_t *port, struct hv_error *err);
/* Unknown id is -ENOENT. Removes the port's chains, elements, memberships, and cuts its
 * connections. A floating IP still on the port must be disassociated first (-EBUSY). */
int nf_port_unplug(struct nf_ctx *nf, const char *port_id, struct hv_error *err);
/* Sets the groups of a plugged port (a JSON array of group ids). */
int nf_port_set_groups(struct nf_ctx *nf, const char *port_id, const json_t *groups,
		       struct hv_error *err);

/* Group {"id","rules":[...]} created or replaced. Established connections a removed rule
 * allowed are cut; those still allowed survive. */
int nf_group_put(struct nf_ctx *nf, const json_t *group, struct hv_error *err);
/* -EBUSY while a port is a member or a rule names it as remote group. */
int nf_group_delete(struct nf_ctx *nf, const char *group_id, struct hv_error *err);

/* {"id","port_id","floating_ip_address","fixed_ip_address"}: the port's fixed IP becomes
 * reachable at the floating IP and leaves through the external interface as it. */
int nf_fip_associate(struct nf_ctx *nf, const json_t *fip, struct hv_error *err);
/* Removes the NAT and the address, and deletes the NATed connections from conntrack. */
int nf_fip_disassociate(struct nf_ctx *nf, const char *fip_id, struct hv_error *err);

/* A tap that exists before its port is programmed: all its traffic is dropped until
 * nf_port_plug() names it (fail closed). */
int nf_tap_claim(struct nf_ctx *nf, const char *ifname, struct hv_error *err);
int nf_tap_release(struct nf_ctx *nf, const char *ifname, struct hv_error *err);

/* A descriptor readable when links changed: the caller polls it and then calls
 * nf_watch_dispatch(), which plumbs the taps of plugged ports that came up (libvirt makes a
 * new tap at each boot; the kernel dropped the old one's routes). Never blocks. */
int nf_watch_fd(const struct nf_ctx *nf);
int nf_watch_dispatch(struct nf_ctx *nf);
/* The host side never fails a call (the rules are committed by then): its first failure
 * since the last call (the tap and IP in the message) is returned here, and cleared. */
bool nf_host_error(struct nf_ctx *nf, struct hv_error *err);

/* The committed desired state, in the nf_apply() shape plus each port's "mark"; new ref. */
json_t *nf_state_json(const struct nf_ctx *nf);
/* The committed state as nft commands (what a full resync sends); malloc'd, caller frees. */
int nf_state_text(const struct nf_ctx *nf, char **ret);

/* Counters for the agent's /metrics: transactions, netlink messages, failures, resyncs. */
struct nf_stats {
	unsigned long commits, messages, failures, resyncs, ct_flushes;
	unsigned long host_failures; /* forwarding, proxy ARP or a tap route not set */
};
void nf_get_stats(const struct nf_ctx *nf, struct nf_stats *ret);

#endif
