/* net.h - the agent's host-scoped firewall commands (docs/protocol.md 6.6) on top of the
 * netfilter module: parses a command body into a netfilter call and runs it. One nf_ctx,
 * used by one thread at a time (the agent's network worker). Never logs. Without the
 * netfilter module in the build, net_supported() is false and nothing else is called. */
#ifndef HV_AGENT_NET_H
#define HV_AGENT_NET_H

#include <stdbool.h>

#include <jansson.h>

#include <hvagent/error.h>

struct net;

bool net_supported(void);
/* True for the command names net_run() handles (the firewall commands of protocol 6.6,
 * listed once, in net.c; without the netfilter module they are still recognised). */
bool net_is_command(const char *command);
/* The name of firewall command i (0, 1, ...), NULL past the last: how the agent lists them in
 * its HELLO capabilities from the one table. */
const char *net_command_name(size_t i);
/* Opens the host's firewall state; refuses (-EINVAL, err->field naming the sysctl) when
 * net.netfilter.nf_conntrack_tcp_loose is 0 in the caller's network namespace. saved (may be NULL) is what the journal says was
 * committed: it is adopted and our tables are rewritten from it in one transaction (a
 * restart never flushes, never opens a gap). */
int
net_open(const char *external_ifname, const json_t *saved, struct net **ret, struct hv_error *err);
void net_free(struct net *n);
/* Checks a body's shape (names the field) without touching the kernel. */
int net_check(const json_t *body, struct hv_error *err);
/* Runs one command body. -errno with err naming the field on failure (nothing changed). */
int net_run(struct net *n, const json_t *body, struct hv_error *err);
/* Rewrites our tables from the desired state (repairs tampering). */
int net_resync(struct net *n, struct hv_error *err);
/* The link watcher's descriptor (-1 when none), polled by the agent's loop; when readable,
 * net_taps() on the network worker plumbs the taps that came up. */
int net_watch_fd(const struct net *n);
int net_taps(struct net *n, struct hv_error *err);
/* net_run, net_resync and net_taps succeed when the rules are in even if the host side of a
 * tap (forwarding, proxy ARP, routes) failed: then err->message says what (tap and IP) and
 * err->code stays 0. */
/* The committed desired state (for the journal). New reference. */
json_t *net_state(const struct net *n);

#endif
