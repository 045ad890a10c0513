/* nf-nl.h - the kernel edges of the netfilter module, private to it: the nf_tables batch
 * writer, conntrack revocation, the floating-IP address on the external interface and the
 * host side of each port's tap.
 * Thin wrappers: every decision is made by the pure core (nf-internal.h). */
#ifndef HV_NF_NL_H
#define HV_NF_NL_H

#include <stddef.h>
#include <stdint.h>

#include "nf-internal.h"

struct mnl_socket;
struct nf_batch;

/* nftnl.c */
int nf_nl_open(struct mnl_socket **ret);
struct nf_batch *nf_batch_new(void);
void nf_batch_free(struct nf_batch *b);
int nf_batch_op(void *batch, const struct nf_op *op); /* nf_emit_fn */
size_t nf_batch_messages(const struct nf_batch *b);
/* Sends the batch and waits for the verdict. On a kernel error returns it (-errno) and
 * sets *ret_bad_op to the index of the op at fault (SIZE_MAX when unknown). */
int nf_batch_commit(struct mnl_socket *nl, struct nf_batch *b, size_t *ret_bad_op);

/* ct.c: one ctnetlink message; the kernel deletes every entry whose mark matches. */
int nf_ct_flush_mark(struct mnl_socket *nl, uint32_t mark, uint32_t mask);
/* Deletes the entries NATed through a floating IP (original destination or reply
 * destination = fip). Returns the number deleted or -errno. */
int nf_ct_flush_fip(const uint8_t fip[4]);
int nf_ct_open(struct mnl_socket **ret);

/* link.c */
struct nl_sock;
int nf_link_open(struct nl_sock **ret);
void nf_link_close(struct nl_sock *sk);
/* Adds or removes ip/32 on ifname; already present / already absent is success. */
int nf_link_addr(struct nl_sock *sk, const char *ifname, const uint8_t ip[4], bool add,
		 struct hv_error *err);
/* Removes from ifname the floating addresses this module added (labelled IFNAME:hvfip)
 * that are not in keep: what a crash between adding one and journaling it left behind. */
int nf_link_prune(struct nl_sock *sk, const char *ifname, const uint8_t (*keep)[4], size_t n_keep,
		  struct hv_error *err);

/* route.c: our host routes carry this protocol number (`ip route show proto 199`); any
 * other route, on a tap or elsewhere, is never touched. */
#define NF_RTPROT 199
/* Forwarding, proxy ARP on p's tap and a /32 (/128) route of ours to each fixed IP through
 * it. Idempotent. -ENODEV (err untouched) while the tap does not exist or is down. */
int nf_tap_plumb(struct nl_sock *sk, const struct nf_port *p, struct hv_error *err);
/* Removes our routes to p's fixed IPs through its tap, but those keep (the port's new
 * version, may be NULL) still wants through the same tap. */
int nf_tap_unplumb(struct nl_sock *sk, const struct nf_port *p, const struct nf_port *keep,
		   struct hv_error *err);
/* Deletes every route of ours that no port of m wants through its existing tap. */
int nf_route_prune(struct nl_sock *sk, const struct nf_model *m, struct hv_error *err);
/* A non-blocking socket receiving link changes (RTNLGRP_LINK). */
int nf_watch_open(struct nl_sock **ret);
/* Reads what is pending and calls fn for each link now up. -ENOBUFS when events were lost. */
int nf_watch_drain(struct nl_sock *sk, void (*fn)(void *ud, const char *ifname), void *ud);

#endif
