/* link.c - the floating-IP addresses on the external interface (libnl-route-3), so the
 * host answers ARP for them and locally generated traffic can reach them. Must never touch
 * an address it was not asked for. */
#include <errno.h>
#include <net/if.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>

#include "nf-nl.h"

int
nf_link_open(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		nl_socket_free(sk);
		return -ECONNREFUSED;
	}
	*ret = sk;
	return 0;
}

void
nf_link_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

int
nf_link_addr(struct nl_sock *sk, const char *ifname, const uint8_t ip[4], bool add,
	     struct hv_error *err)
{
	unsigned int idx = if_nametoindex(ifname);
	struct rtnl_addr *a;
	struct nl_addr *local;
	int r;

	if (!idx)
		return hv_error_set(err, -ENODEV, "external_ifname",
				    "external interface %s does not exist", ifname);
	a = rtnl_addr_alloc();
	local = nl_addr_build(AF_INET, ip, 4);
	if (!a || !local) {
		rtnl_addr_put(a);
		nl_addr_put(local);
		return nf_oom(err, "external_ifname");
	}
	rtnl_addr_set_ifindex(a, (int)idx);
	rtnl_addr_set_family(a, AF_INET);
	nl_addr_set_prefixlen(local, 32);
	rtnl_addr_set_local(a, local);
	rtnl_addr_set_prefixlen(a, 32);
	r = add ? rtnl_addr_add(sk, a, NLM_F_REPLACE) : rtnl_addr_delete(sk, a, 0);
	rtnl_addr_put(a);
	nl_addr_put(local);
	if (r == -NLE_EXIST ||
	    (!add && (r == -NLE_NOADDR || r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)))
		r = 0;
	if (r < 0)
		return hv_error_set(err, -EIO, "floating_ip_address", "%s address on %s: %s",
				    add ? "adding" : "removing", ifname, nl_geterror(r));
	return 0;
}
