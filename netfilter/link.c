/* link.c - the floating-IP addresses on the external interface (libnl-route-3), so the
 * host answers ARP for them and locally generated traffic can reach them. Must never touch
 * an address it was not asked for: the ones it adds carry the label IFNAME:hvfip, and only
 * those are ever pruned. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>

#include "nf-nl.h"
#include "vec.h"

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

/* The label of the floating addresses on ifname, "IFNAME:hvfip" (the kernel wants an IPv4
 * label to start with its interface's name); false when the name leaves no room. */
static bool
nf_link_label(const char *ifname, char label[IFNAMSIZ])
{
	if (strlen(ifname) + sizeof ":hvfip" > IFNAMSIZ)
		return false;
	snprintf(label, IFNAMSIZ, "%s:hvfip", ifname);
	return true;
}

struct prune {
	int ifindex;
	const char *label;
	const uint8_t (*keep)[4];
	size_t n_keep;
	struct rtnl_addr **gone;
	size_t n_gone, cap_gone;
};

static void
prune_cb(struct nl_object *obj, void *arg)
{
	struct prune *p = arg;
	struct rtnl_addr *a = (struct rtnl_addr *)obj;
	struct nl_addr *local = rtnl_addr_get_local(a);
	const char *label = rtnl_addr_get_label(a);

	if (rtnl_addr_get_ifindex(a) != p->ifindex || rtnl_addr_get_family(a) != AF_INET ||
	    !local || nl_addr_get_len(local) != 4 || !label || strcmp(label, p->label) != 0)
		return;
	for (size_t i = 0; i < p->n_keep; i++)
		if (!memcmp(nl_addr_get_binary_addr(local), p->keep[i], 4))
			return;
	if (HV_GROW(p->gone, p->cap_gone, p->n_gone + 1) < 0)
		return;
	nl_object_get(obj);
	p->gone[p->n_gone++] = a;
}

int
nf_link_prune(struct nl_sock *sk, const char *ifname, const uint8_t (*keep)[4], size_t n_keep,
	      struct hv_error *err)
{
	char label[IFNAMSIZ];
	struct nl_cache *cache = NULL;
	struct prune p = {.keep = keep, .n_keep = n_keep, .label = label};
	int r = 0;

	if (!*ifname || !nf_link_label(ifname, label) || !(p.ifindex = (int)if_nametoindex(ifname)))
		return 0;
	if (rtnl_addr_alloc_cache(sk, &cache) < 0)
		return hv_error_set(err, -EIO, "external_ifname", "listing the addresses of %s",
				    ifname);
	nl_cache_foreach(cache, prune_cb, &p);
	for (size_t i = 0; i < p.n_gone; i++) {
		int d = rtnl_addr_delete(sk, p.gone[i], 0);

		if (d < 0 && d != -NLE_NOADDR && d != -NLE_OBJ_NOTFOUND && r == 0)
			r = hv_error_set(err, -EIO, "external_ifname",
					 "removing a stale floating address from %s: %s", ifname,
					 nl_geterror(d));
		rtnl_addr_put(p.gone[i]);
	}
	free(p.gone);
	nl_cache_free(cache);
	return r;
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
	if (add) {
		char label[IFNAMSIZ];

		/* marked as ours, so a restart can find the ones no journal holds */
		if (nf_link_label(ifname, label))
			rtnl_addr_set_label(a, label);
	}
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
