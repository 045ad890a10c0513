/* ct.c - conntrack revocation: flush by ct mark (one message, filtered in the kernel) and
 * removal of the connections NATed through a floating IP. Must never flush the whole
 * table: every request carries a mark or an address. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "nf-nl.h"
#include "vec.h"

int
nf_ct_open(struct mnl_socket **ret)
{
	return nf_nl_open(ret);
}

int
nf_ct_flush_mark(struct mnl_socket *nl, uint32_t mark, uint32_t mask)
{
	char buf[8192];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	uint32_t seq = (uint32_t)time(NULL);
	int n;

	if (!mask)
		return -EINVAL; /* a zero mask would match every entry */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = (int)mnl_socket_recvfrom(nl, buf, sizeof buf);
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 0;
}

struct fip_match {
	uint32_t fip;
	struct nf_conntrack **cts;
	size_t n, cap;
};

static int
collect(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct fip_match *m = data;

	if (nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST) != m->fip &&
	    nfct_get_attr_u32(ct, ATTR_REPL_IPV4_DST) != m->fip)
		return NFCT_CB_CONTINUE;
	if (HV_GROW(m->cts, m->cap, m->n + 1) < 0)
		return NFCT_CB_STOP;
	m->cts[m->n] = nfct_clone(ct);
	if (m->cts[m->n])
		m->n++;
	return NFCT_CB_CONTINUE;
}

int
nf_ct_flush_fip(const uint8_t fip[4])
{
	struct fip_match m = {0};
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	uint32_t family = AF_INET;
	int deleted = 0, r = 0;

	if (!h)
		return -errno;
	memcpy(&m.fip, fip, 4);
	nfct_callback_register(h, NFCT_T_ALL, collect, &m);
	if (nfct_query(h, NFCT_Q_DUMP, &family) < 0)
		r = -errno;
	nfct_callback_unregister(h);
	for (size_t i = 0; i < m.n; i++) {
		/* Gone already (timed out, or deleted through its other direction): fine. */
		if (r == 0 && nfct_query(h, NFCT_Q_DESTROY, m.cts[i]) == 0)
			deleted++;
		nfct_destroy(m.cts[i]);
	}
	free(m.cts);
	nfct_close(h);
	return r < 0 ? r : deleted;
}
