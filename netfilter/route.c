/* route.c - the host side of a port's routed tap (libnl-route-3 and /proc/sys): forwarding,
 * proxy ARP on the tap, and a host route to each fixed IP through it; plus the one link
 * watcher that tells when a tap (re)appears, since libvirt makes a new tap at each boot and
 * the kernel drops a device's routes and settings with it. Must never touch a route it did
 * not add: ours carry the protocol NF_RTPROT, and only those are ever deleted. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>

#include "nf-nl.h"
#include "vec.h"

/* A /proc/sys path names a device by its name: the name must be one a port may carry, and
 * not one of the two entries that stand for every device. */
static int
sysctl_ifname(const char *ifname, struct hv_error *err)
{
	int r = nf_valid_ifname(ifname, "ifname", err);

	if (r < 0)
		return r;
	if (!strcmp(ifname, "all") || !strcmp(ifname, "default"))
		return hv_error_set(err, -EINVAL, "ifname", "ifname: '%s' is not a tap name",
				    ifname);
	return 0;
}

/* Writes "1" unless the value already is 1 (a read needs no privilege, and a rewrite of
 * ip_forward would be a no-op anyway). */
static int
sysctl_on(const char *path, const char *ifname, struct hv_error *err)
{
	char cur[8] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd >= 0) {
		n = read(fd, cur, sizeof cur - 1);
		close(fd);
		if (n > 0 && cur[0] == '1' && (cur[1] == '\n' || cur[1] == '\0'))
			return 0;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && ifname)
		return -ENODEV; /* the tap went between two calls: plumbed when it comes back */
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		int e = errno ? errno : EIO;

		if (fd >= 0)
			close(fd);
		return hv_error_set(err, -e, "ifname", "%s%s%s: setting %s: %s",
				    ifname ? "tap " : "", ifname ? ifname : "",
				    ifname ? "" : "host", path, strerror(e));
	}
	close(fd);
	return 0;
}

static int
route_op(struct nl_sock *sk, int ifindex, const struct nf_cidr *ip, bool add)
{
	int fam = ip->family == 4 ? AF_INET : AF_INET6, len = fam == AF_INET ? 4 : 16, r;
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = nl_addr_build(fam, ip->addr, (size_t)len);

	if (!rt || !nh || !dst) {
		rtnl_route_put(rt);
		rtnl_route_nh_free(nh);
		nl_addr_put(dst);
		return -NLE_NOMEM;
	}
	nl_addr_set_prefixlen(dst, len * 8);
	rtnl_route_set_family(rt, (uint8_t)fam);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, NF_RTPROT);
	rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
	/* replace: a repeated plug, or our own route left by a previous tap of that name */
	r = add ? rtnl_route_add(sk, rt, NLM_F_REPLACE) : rtnl_route_delete(sk, rt, 0);
	rtnl_route_put(rt);
	nl_addr_put(dst);
	if (!add && (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV || r == -NLE_NOADDR))
		r = 0;
	return r;
}

/* The ifindex of a tap that is up, else 0: the kernel refuses a route through a device
 * that is down, and the watcher sees the tap come up. */
static int
tap_up(const char *ifname)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), up;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	up = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	close(fd);
	return up ? (int)if_nametoindex(ifname) : 0;
}

static bool
has_ip(const struct nf_port *p, const struct nf_cidr *ip)
{
	for (size_t i = 0; p && i < p->n_ips; i++)
		if (p->ips[i].family == ip->family &&
		    !memcmp(p->ips[i].addr, ip->addr, ip->family == 4 ? 4 : 16))
			return true;
	return false;
}

static void
ip_text(const struct nf_cidr *ip, char *buf, size_t len)
{
	if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

int
nf_tap_plumb(struct nl_sock *sk, const struct nf_port *p, struct hv_error *err)
{
	char path[96];
	bool v6 = false;
	int idx, r;

	if ((r = sysctl_ifname(p->ifname, err)) < 0)
		return r;
	if (!(idx = tap_up(p->ifname)))
		return -ENODEV;
	for (size_t i = 0; i < p->n_ips; i++)
		v6 |= p->ips[i].family == 6;
	/* The global switch, not the tap's conf/<tap>/forwarding: IPv4 forwards by the input
	 * device's setting, and the packets for a guest come in on whichever uplink the fabric
	 * uses, which this module does not know. IPv6 has no per-device forwarding at all. */
	if ((r = sysctl_on("/proc/sys/net/ipv4/ip_forward", NULL, err)) < 0 ||
	    (v6 && (r = sysctl_on("/proc/sys/net/ipv6/conf/all/forwarding", NULL, err)) < 0))
		return r;
	/* The guest's gateway is an address the host does not hold: answer for it on the tap. */
	snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/proxy_arp", p->ifname);
	if ((r = sysctl_on(path, p->ifname, err)) < 0)
		return r;
	for (size_t i = 0; i < p->n_ips; i++) {
		if ((r = route_op(sk, idx, &p->ips[i], true)) < 0) {
			char ip[INET6_ADDRSTRLEN];

			ip_text(&p->ips[i], ip, sizeof ip);
			if (r == -NLE_NODEV)
				return -ENODEV;
			return hv_error_set(err, -EIO, "fixed_ips", "tap %s: route to %s: %s",
					    p->ifname, ip, nl_geterror(r));
		}
	}
	return 0;
}

int
nf_tap_unplumb(struct nl_sock *sk, const struct nf_port *p, const struct nf_port *keep,
	       struct hv_error *err)
{
	int idx = (int)if_nametoindex(p->ifname), r = 0;

	if (!idx)
		return 0; /* the kernel took the routes with the device */
	if (keep && strcmp(keep->ifname, p->ifname))
		keep = NULL;
	for (size_t i = 0; i < p->n_ips; i++) {
		int d;

		if (has_ip(keep, &p->ips[i]) || (d = route_op(sk, idx, &p->ips[i], false)) >= 0)
			continue;
		if (r == 0) {
			char ip[INET6_ADDRSTRLEN];

			ip_text(&p->ips[i], ip, sizeof ip);
			r = hv_error_set(err, -EIO, "fixed_ips", "tap %s: removing route to %s: %s",
					 p->ifname, ip, nl_geterror(d));
		}
	}
	return r;
}

struct route_prune {
	const struct nf_model *m;
	int *ifindex; /* per port of m, 0 when its tap is absent */
	struct rtnl_route **gone;
	size_t n_gone, cap_gone;
};

static bool
route_wanted(const struct route_prune *p, struct rtnl_route *rt)
{
	struct nl_addr *dst = rtnl_route_get_dst(rt);
	struct rtnl_nexthop *nh = rtnl_route_nexthop_n(rt, 0);
	struct nf_cidr ip = {0};
	unsigned len = dst ? nl_addr_get_len(dst) : 0;

	if (!nh || (len != 4 && len != 16) || nl_addr_get_prefixlen(dst) != len * 8)
		return false;
	ip.family = len == 4 ? 4 : 6;
	memcpy(ip.addr, nl_addr_get_binary_addr(dst), len);
	for (size_t i = 0; i < p->m->n_ports; i++)
		if (p->ifindex[i] && p->ifindex[i] == rtnl_route_nh_get_ifindex(nh) &&
		    has_ip(p->m->ports[i], &ip))
			return true;
	return false;
}

static void
route_prune_cb(struct nl_object *obj, void *arg)
{
	struct route_prune *p = arg;
	struct rtnl_route *rt = (struct rtnl_route *)obj;

	if (rtnl_route_get_protocol(rt) != NF_RTPROT || rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
	    route_wanted(p, rt))
		return;
	if (HV_GROW(p->gone, p->cap_gone, p->n_gone + 1) < 0)
		return;
	nl_object_get(obj);
	p->gone[p->n_gone++] = rt;
}

int
nf_route_prune(struct nl_sock *sk, const struct nf_model *m, struct hv_error *err)
{
	struct route_prune p = {.m = m};
	struct nl_cache *cache = NULL;
	int r = 0;

	p.ifindex = calloc(m->n_ports + 1, sizeof *p.ifindex);
	if (!p.ifindex)
		return nf_oom(err, "ports");
	for (size_t i = 0; i < m->n_ports; i++)
		p.ifindex[i] = (int)if_nametoindex(m->ports[i]->ifname);
	if (rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache) < 0) {
		free(p.ifindex);
		return hv_error_set(err, -EIO, "ports", "listing the host's routes");
	}
	nl_cache_foreach(cache, route_prune_cb, &p);
	for (size_t i = 0; i < p.n_gone; i++) {
		int d = rtnl_route_delete(sk, p.gone[i], 0);

		if (d < 0 && d != -NLE_OBJ_NOTFOUND && r == 0)
			r = hv_error_set(err, -EIO, "ports", "removing a stale tap route: %s",
					 nl_geterror(d));
		rtnl_route_put(p.gone[i]);
	}
	free(p.gone);
	free(p.ifindex);
	nl_cache_free(cache);
	return r;
}

/* ---- the link watcher ---- */

int
nf_watch_open(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return -ENOMEM;
	nl_socket_disable_seq_check(sk); /* notifications carry no sequence of ours */
	if (nl_connect(sk, NETLINK_ROUTE) < 0 || nl_socket_add_membership(sk, RTNLGRP_LINK) < 0 ||
	    nl_socket_set_nonblocking(sk) < 0) {
		nl_socket_free(sk);
		return -ECONNREFUSED;
	}
	*ret = sk;
	return 0;
}

struct watch {
	void (*fn)(void *ud, const char *ifname);
	void *ud;
};

static int
watch_cb(struct nl_msg *msg, void *arg)
{
	struct watch *w = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct ifinfomsg *ifi;
	struct nlattr *a;
	char name[IFNAMSIZ];

	if (h->nlmsg_type != RTM_NEWLINK || !nlmsg_valid_hdr(h, sizeof *ifi))
		return NL_OK;
	ifi = nlmsg_data(h);
	/* routes need the device up; a tap is made down, then set up (a second message) */
	if (!(ifi->ifi_flags & IFF_UP) || !(a = nlmsg_find_attr(h, sizeof *ifi, IFLA_IFNAME)))
		return NL_OK;
	nla_strlcpy(name, a, sizeof name);
	w->fn(w->ud, name);
	return NL_OK;
}

int
nf_watch_drain(struct nl_sock *sk, void (*fn)(void *ud, const char *ifname), void *ud)
{
	struct watch w = {fn, ud};
	struct nl_cb *cb;
	int r = 0;

	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, watch_cb, &w);
	if (!(cb = nl_socket_get_cb(sk)))
		return -ENOMEM;
	/* bounded: a flood of link changes must not hold the caller forever */
	for (int i = 0; i < 1024; i++) {
		r = nl_recvmsgs_report(sk, cb);
		if (r <= 0)
			break;
	}
	nl_cb_put(cb);
	/* lost events (the socket overflowed): the caller checks every tap */
	return r < 0 && r != -NLE_AGAIN ? -ENOBUFS : 0;
}
