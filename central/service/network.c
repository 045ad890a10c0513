/* network.c - the rules of networks, subnets and ports, as Neutron has them: a network's
 * name is unique in its project (so `--network NAME` names one), a subnet is an IPv4 CIDR
 * with host bits zero, its gateway and allocation pools inside it, and a port takes the
 * lowest free address of its network's pools. The routed model (ARCHITECTURE.md) gives
 * each port a tap of its own; the host side is told by the spawn's `ports` and a
 * port_plug. Must never encode a reply or touch a socket, never logs. */
#include "service-priv.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json.h"

/* ---- addresses ---------------------------------------------------------------------------- */

static bool
ip4_parse(const char *s, uint32_t *ret)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}

static void
ip4_text(uint32_t ip, char out[INET_ADDRSTRLEN])
{
	struct in_addr a = {.s_addr = htonl(ip)};
	inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

int
svc_cidr4_parse(const char *s, const char *field, uint32_t *ret_net, int *ret_len,
		struct hv_error *err)
{
	char addr[INET_ADDRSTRLEN + 1];
	const char *slash = s ? strchr(s, '/') : NULL;
	char *end = NULL;
	long len = slash ? strtol(slash + 1, &end, 10) : -1;
	uint32_t ip;
	if (!slash || (size_t)(slash - s) >= sizeof addr || !slash[1] || *end || len < 0 ||
	    len > 32)
		return hv_error_set(err, -EINVAL, field,
				    "%s: '%s' is not an IPv4 CIDR (A.B.C.D/N, N 0-32)", field,
				    s ? s : "");
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (!ip4_parse(addr, &ip))
		return hv_error_set(err, -EINVAL, field, "%s: '%s' is not an IPv4 address", field,
				    addr);
	uint32_t mask = len ? ~0u << (32 - len) : 0;
	if (ip & ~mask)
		return hv_error_set(err, -EINVAL, field,
				    "%s: '%s' has host bits set (the network is %u.%u.%u.%u/%ld)",
				    field, s, (ip & mask) >> 24, (ip & mask) >> 16 & 255,
				    (ip & mask) >> 8 & 255, ip & mask & 255, len);
	*ret_net = ip;
	*ret_len = (int)len;
	return 0;
}

void
svc_new_id(char ret[37])
{
	proto_uuid4(ret);
}

/* ---- lookups ------------------------------------------------------------------------------ */

int
svc_net_find(struct svc *sv, const char *kind, const char *project_id, const char *ref,
	     const char *field, json_t **ret, struct hv_error *err)
{
	json_t *o = NULL;
	int r = store_net_get(sv->store, kind, ref, &o, err);
	if (r == 0) {
		/* another project's record is hidden, but shared and external networks */
		const char *owner = field_or(o, "project_id", "");
		if (!project_id || !*owner || strcmp(owner, project_id) == 0 ||
		    json_is_true(json_object_get(o, "shared")) ||
		    json_is_true(json_object_get(o, "router:external"))) {
			*ret = o;
			return 0;
		}
		json_decref(o);
		r = -ENOENT;
	}
	if (r == -ENOENT && project_id)
		r = store_net_by_name(sv->store, kind, project_id, ref, ret, err);
	if (r == -ENOENT && strcmp(kind, "network") == 0) {
		/* an external network is found by name from any project */
		json_t *all = NULL;
		size_t i;
		json_t *n;
		if (store_net_list(sv->store, kind, "name", ref, &all, err) == 0)
			json_array_foreach (all, i, n)
				if (json_is_true(json_object_get(n, "router:external")) ||
				    json_is_true(json_object_get(n, "shared"))) {
					*ret = json_incref(n);
					r = 0;
					break;
				}
		json_decref(all);
	}
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, field, "%s: no %s named '%s'", field,
				    strcmp(kind, "security_group") == 0 ? "security group" : kind,
				    ref);
	return r;
}

/* args.project (a name or id, default the default project) as its id. */
int
svc_net_project(struct svc *sv, json_t *args, char ret[33], struct hv_error *err)
{
	const char *name = NULL;
	json_t *p = NULL;
	int r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &name, err);
	if (r < 0 || (r = svc_project_find(sv, name, "args.project", &p, err)) < 0)
		return r;
	snprintf(ret, 33, "%s", field_or(p, "id", ""));
	json_decref(p);
	return 0;
}

/* Runs fn inside a store transaction: all it wrote, or nothing. */
static int
in_txn(struct svc *sv, int r, struct hv_error *err)
{
	if (r < 0) {
		store_rollback(sv->store);
		return r;
	}
	return store_commit(sv->store, err);
}

/* ---- subnets ------------------------------------------------------------------------------ */

struct pool {
	uint32_t lo, hi;
};

/* args.allocation_pools [{start, end}] inside the subnet, or the default: every host
 * address but the gateway. */
static int
subnet_pools(json_t *args, uint32_t net, int len, uint32_t gw, bool has_gw, json_t *rec,
	     struct hv_error *err)
{
	uint32_t first = net + 1, last = (len == 32 ? net : net | ~(~0u << (32 - len))) - 1;
	json_t *given = NULL, *out = json_array();
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], path[64];
	int r = hj_arr(args, "args", "allocation_pools", HJ_OPTIONAL, 64, &given, err);
	json_object_set_new(rec, "allocation_pools", out);
	if (r < 0)
		return r;
	if (!given) {
		struct pool p[2] = {{first, last}, {1, 0}};
		if (has_gw && gw >= first && gw <= last) {
			p[0].hi = gw - 1;
			p[1] = (struct pool){gw + 1, last};
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].lo > p[i].hi)
				continue;
			ip4_text(p[i].lo, a);
			ip4_text(p[i].hi, b);
			json_array_append_new(out, json_pack("{s:s, s:s}", "start", a, "end", b));
		}
		return 0;
	}
	size_t i;
	json_t *p;
	json_array_foreach (given, i, p) {
		uint32_t lo, hi;
		hj_path(path, sizeof path, "args.allocation_pools", NULL, i);
		if (!ip4_parse(field_or(p, "start", NULL), &lo) ||
		    !ip4_parse(field_or(p, "end", NULL), &hi))
			return hv_error_set(err, -EINVAL, path,
					    "%s: expected {start, end} IPv4 addresses", path);
		if (lo > hi || lo < first || hi > last)
			return hv_error_set(
				err, -EINVAL, path,
				"%s: %s-%s is not a range of host addresses of the subnet", path,
				field_or(p, "start", ""), field_or(p, "end", ""));
		if (has_gw && gw >= lo && gw <= hi)
			return hv_error_set(err, -EINVAL, path, "%s: holds the gateway address",
					    path);
		json_array_append_new(out,
				      json_pack("{s:s, s:s}", "start", field_or(p, "start", ""),
						"end", field_or(p, "end", "")));
	}
	return 0;
}

static const char *const subnet_args[] = {
	"network",         "name",        "cidr",    "ip_version", "gateway_ip", "allocation_pools",
	"dns_nameservers", "enable_dhcp", "project", NULL};

/* A subnet record of network net from args (checked), not yet stored. */
static int
subnet_record(json_t *args, json_t *net, const char *where, json_t **ret, struct hv_error *err)
{
	const char *cidr, *name = "", *gw_text = NULL;
	json_t *dns = NULL, *rec = NULL;
	int64_t version = 4;
	bool dhcp = true;
	uint32_t ip, gw = 0;
	int len, r;
	char f_cidr[64], f_gw[64], f_dns[64], gw_buf[INET_ADDRSTRLEN];
	snprintf(f_cidr, sizeof f_cidr, "%s.cidr", where);
	snprintf(f_gw, sizeof f_gw, "%s.gateway_ip", where);
	snprintf(f_dns, sizeof f_dns, "%s.dns_nameservers", where);
	if ((r = hj_str(args, where, "cidr", HJ_REQUIRED, 64, &cidr, err)) < 0 ||
	    (r = hj_str(args, where, "name", HJ_OPTIONAL, 255, &name, err)) < 0 ||
	    (r = hj_int(args, where, "ip_version", HJ_OPTIONAL, 4, 4, &version, err)) < 0 ||
	    (r = hj_str(args, where, "gateway_ip", HJ_OPTIONAL, 64, &gw_text, err)) < 0 ||
	    (r = hj_arr(args, where, "dns_nameservers", HJ_OPTIONAL, 5, &dns, err)) < 0 ||
	    (r = hj_bool(args, where, "enable_dhcp", HJ_OPTIONAL, &dhcp, err)) < 0 ||
	    (r = svc_cidr4_parse(cidr, f_cidr, &ip, &len, err)) < 0)
		return r;
	if (len > 30)
		return hv_error_set(err, -EINVAL, f_cidr,
				    "%s: a /%d has no room for a gateway and a port", f_cidr, len);
	bool has_gw = !gw_text || strcmp(gw_text, "none") != 0;
	uint32_t bcast = ip | ~(~0u << (32 - len));
	if (has_gw && !gw_text)
		gw = ip + 1;
	else if (has_gw && (!ip4_parse(gw_text, &gw) || gw <= ip || gw >= bcast))
		return hv_error_set(err, -EINVAL, f_gw,
				    "%s: '%s' is not a host address of %s (or 'none')", f_gw,
				    gw_text, cidr);
	size_t i;
	json_t *d;
	json_array_foreach (dns, i, d) {
		uint32_t x;
		if (!ip4_parse(json_string_value(d), &x))
			return hv_error_set(err, -EINVAL, f_dns, "%s[%zu]: not an IPv4 address",
					    f_dns, i);
	}
	char id[37];
	svc_new_id(id);
	if (has_gw)
		ip4_text(gw, gw_buf);
	rec = json_pack("{s:s, s:s, s:O, s:O, s:s, s:i, s:o, s:o, s:b}", "id", id, "name", name,
			"network_id", json_object_get(net, "id"), "project_id",
			json_object_get(net, "project_id"), "cidr", cidr, "ip_version", 4,
			"gateway_ip", has_gw ? json_string(gw_buf) : json_null(), "dns_nameservers",
			dns ? json_deep_copy(dns) : json_array(), "enable_dhcp", dhcp);
	if ((r = subnet_pools(args, ip, len, gw, has_gw, rec, err)) < 0) {
		json_decref(rec);
		return r;
	}
	*ret = rec;
	return 0;
}

/* Neutron refuses a subnet that overlaps another of its network: an address would be in
 * two of them. */
static int
subnet_overlap(struct svc *sv, json_t *net, json_t *subnet, struct hv_error *err)
{
	json_t *subs = NULL;
	uint32_t a, b;
	int alen, blen,
		r = store_net_list(sv->store, "subnet", "network_id", field_or(net, "id", ""),
				   &subs, err);
	const char *cidr = field_or(subnet, "cidr", "");
	if (r < 0 || svc_cidr4_parse(cidr, "args.cidr", &a, &alen, err) < 0) {
		json_decref(subs);
		return r;
	}
	size_t i;
	json_t *s;
	json_array_foreach (subs, i, s) {
		if (svc_cidr4_parse(field_or(s, "cidr", ""), "cidr", &b, &blen, NULL) < 0)
			continue;
		int len = alen < blen ? alen : blen;
		uint32_t mask = len ? ~0u << (32 - len) : 0;
		if ((a & mask) == (b & mask)) {
			r = hv_error_set(err, -EINVAL, "args.cidr",
					 "args.cidr: %s overlaps subnet %s (%s) of network %s",
					 cidr, field_or(s, "name", ""), field_or(s, "cidr", ""),
					 field_or(net, "name", ""));
			break;
		}
	}
	json_decref(subs);
	return r;
}

/* Adds subnet to its network's record ("subnets": ids, as Neutron lists them). */
static int
subnet_store(struct svc *sv, json_t *net, json_t *subnet, int64_t now, struct hv_error *err)
{
	json_t *ids = json_object_get(net, "subnets");
	int r = subnet_overlap(sv, net, subnet, err);
	if (r == 0)
		r = store_net_insert(sv->store, "subnet", subnet, now, err);
	if (r < 0)
		return r;
	json_array_append(ids, json_object_get(subnet, "id"));
	return store_net_update(sv->store, "network", net, err);
}

int
svc_subnet_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *ref;
	char project[33];
	json_t *net = NULL, *sub = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", subnet_args, err)) < 0 ||
	    (r = hj_str(args, "args", "network", HJ_REQUIRED, 255, &ref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0 ||
	    (r = svc_net_find(sv, "network", project, ref, "args.network", &net, err)) < 0)
		return r;
	if ((r = subnet_record(args, net, "args", &sub, err)) == 0 &&
	    (r = store_begin(sv->store, err)) == 0)
		r = in_txn(sv, subnet_store(sv, net, sub, now, err), err);
	json_decref(net);
	if (r < 0) {
		json_decref(sub);
		return r;
	}
	*ret = sub;
	return 0;
}

int
svc_subnet_list(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *ref = NULL;
	char project[33];
	json_t *net = NULL;
	int r;
	(void)now;
	if ((r = hj_str(args, "args", "network", HJ_OPTIONAL, 255, &ref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0)
		return r;
	if (!ref)
		return store_net_list(sv->store, "subnet", "project_id", project, ret, err);
	if ((r = svc_net_find(sv, "network", project, ref, "args.network", &net, err)) == 0)
		r = store_net_list(sv->store, "subnet", "network_id", field_or(net, "id", ""), ret,
				   err);
	json_decref(net);
	return r;
}

/* A subnet by id, or by name among the project's subnets. */
static int
subnet_find(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	const char *ref;
	char project[33];
	json_t *all = NULL;
	int r;
	if ((r = hj_str(args, "args", "subnet", HJ_REQUIRED, 255, &ref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0)
		return r;
	if ((r = store_net_get(sv->store, "subnet", ref, ret, err)) != -ENOENT)
		return r;
	if ((r = store_net_list(sv->store, "subnet", "project_id", project, &all, err)) < 0)
		return r;
	size_t i;
	json_t *s;
	r = hv_error_set(err, -ENOENT, "args.subnet", "args.subnet: no subnet named '%s'", ref);
	json_array_foreach (all, i, s)
		if (strcmp(field_or(s, "name", ""), ref) == 0) {
			*ret = json_incref(s);
			r = 0;
			break;
		}
	json_decref(all);
	return r;
}

int
svc_subnet_show(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	(void)now;
	return subnet_find(sv, args, ret, err);
}

/* Addresses of the subnet held by ports or floating IPs. */
static int
subnet_in_use(struct svc *sv, json_t *subnet, const char *field, struct hv_error *err)
{
	json_t *ports = NULL;
	const char *id = field_or(subnet, "id", "");
	int r = store_net_list(sv->store, "port", "network_id", field_or(subnet, "network_id", ""),
			       &ports, err);
	size_t i, j;
	json_t *p, *ip;
	json_array_foreach (ports, i, p)
		json_array_foreach (json_object_get(p, "fixed_ips"), j, ip)
			if (r == 0 && strcmp(field_or(ip, "subnet_id", ""), id) == 0)
				r = hv_error_set(err, -EBUSY, field,
						 "%s: port %s still has an address on subnet %s",
						 field, field_or(p, "id", ""), id);
	json_decref(ports);
	return r;
}

static int
subnet_remove(struct svc *sv, json_t *sub, const char *field, struct hv_error *err)
{
	json_t *net = NULL;
	int r = subnet_in_use(sv, sub, field, err);
	if (r < 0 || (r = store_net_delete(sv->store, "subnet", field_or(sub, "id", ""), err)) < 0)
		return r;
	if (store_net_get(sv->store, "network", field_or(sub, "network_id", ""), &net, err) < 0)
		return 0;
	json_t *ids = json_object_get(net, "subnets");
	size_t i;
	json_t *v;
	json_array_foreach (ids, i, v)
		if (strcmp(json_string_value(v), field_or(sub, "id", "")) == 0) {
			json_array_remove(ids, i);
			break;
		}
	r = store_net_update(sv->store, "network", net, err);
	json_decref(net);
	return r;
}

int
svc_subnet_delete(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *sub = NULL;
	(void)now;
	int r = subnet_find(sv, args, &sub, err);
	if (r == 0 && (r = store_begin(sv->store, err)) == 0)
		r = in_txn(sv, subnet_remove(sv, sub, "args.subnet", err), err);
	if (r == 0)
		*ret = json_object();
	json_decref(sub);
	return r;
}

/* ---- networks ----------------------------------------------------------------------------- */

static const char *const network_args[] = {"name",           "project",      "shared", "external",
					   "admin_state_up", "subnet_range", NULL};

int
svc_network_make(struct svc *sv, const char *project, const char *name, bool external, bool shared,
		 const char *subnet_range, int64_t now, json_t **ret, struct hv_error *err)
{
	char id[37];
	svc_new_id(id);
	json_t *net =
		json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:s, s:[], s:i}", "id", id, "name", name,
			  "project_id", project, "admin_state_up", 1, "shared", shared,
			  "router:external", external, "status", "ACTIVE", "subnets", "mtu", 1500);
	json_t *sub = NULL;
	int r = store_net_insert(sv->store, "network", net, now, err);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: the project has a network named '%s'", name);
	if (r == 0 && subnet_range) {
		json_t *sargs = json_pack("{s:s, s:s}", "cidr", subnet_range, "name", name);
		if ((r = subnet_record(sargs, net, "args.subnet_range", &sub, err)) == 0)
			r = subnet_store(sv, net, sub, now, err);
		if (r < 0 && strncmp(err->field, "args.subnet_range.cidr", 22) == 0)
			snprintf(err->field, sizeof err->field, "args.subnet_range");
		json_decref(sargs);
		json_decref(sub);
	}
	if (r < 0) {
		json_decref(net);
		return r;
	}
	*ret = net;
	return 0;
}

int
svc_network_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *name, *range = NULL;
	bool shared = false, external = false, up = true;
	char project[33];
	int r;
	if ((r = hj_known_keys(args, "args", network_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = hj_bool(args, "args", "shared", HJ_OPTIONAL, &shared, err)) < 0 ||
	    (r = hj_bool(args, "args", "external", HJ_OPTIONAL, &external, err)) < 0 ||
	    (r = hj_bool(args, "args", "admin_state_up", HJ_OPTIONAL, &up, err)) < 0 ||
	    (r = hj_str(args, "args", "subnet_range", HJ_OPTIONAL, 64, &range, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0)
		return r;
	if (!*name)
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	json_t *net = NULL;
	if ((r = store_begin(sv->store, err)) < 0)
		return r;
	r = svc_network_make(sv, project, name, external, shared, range, now, &net, err);
	if (r == 0 && !up) {
		json_object_set_new(net, "admin_state_up", json_false());
		r = store_net_update(sv->store, "network", net, err);
	}
	if ((r = in_txn(sv, r, err)) < 0) {
		json_decref(net);
		return r;
	}
	*ret = net;
	return 0;
}

int
svc_network_list(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	json_t *all = NULL;
	(void)now;
	int r = svc_net_project(sv, args, project, err);
	if (r < 0 || (r = store_net_list(sv->store, "network", NULL, NULL, &all, err)) < 0)
		return r;
	*ret = json_array();
	size_t i;
	json_t *n;
	json_array_foreach (all, i, n)
		if (strcmp(field_or(n, "project_id", ""), project) == 0 ||
		    json_is_true(json_object_get(n, "shared")) ||
		    json_is_true(json_object_get(n, "router:external")))
			json_array_append(*ret, n);
	json_decref(all);
	return 0;
}

static int
network_arg(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	const char *ref;
	char project[33];
	int r;
	if ((r = hj_str(args, "args", "network", HJ_REQUIRED, 255, &ref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0)
		return r;
	return svc_net_find(sv, "network", project, ref, "args.network", ret, err);
}

int
svc_network_show(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	(void)now;
	return network_arg(sv, args, ret, err);
}

int
svc_network_update(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"network", "project", "name", NULL};
	const char *name = NULL;
	char project[33];
	json_t *net = NULL;
	int r;
	(void)now;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_OPTIONAL, 255, &name, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0 ||
	    (r = network_arg(sv, args, &net, err)) < 0)
		return r;
	/* a shared or external network is seen by every project, changed by its own only */
	if (strcmp(field_or(net, "project_id", ""), project) != 0)
		r = hv_error_set(err, -ENOENT, "args.network",
				 "args.network: the project has no network '%s'",
				 field_or(net, "name", ""));
	else if (name && !*name)
		r = hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	if (r == 0 && name) {
		json_object_set_new(net, "name", json_string(name));
		if ((r = store_begin(sv->store, err)) == 0) {
			r = store_net_update(sv->store, "network", net, err);
			if (r == -EEXIST)
				r = hv_error_set(err, -EEXIST, "args.name",
						 "args.name: the project has a network named '%s'",
						 name);
			r = in_txn(sv, r, err);
		}
	}
	if (r < 0) {
		json_decref(net);
		return r;
	}
	*ret = net;
	return 0;
}

/* A network goes with its subnets, once no port and no floating IP is on it. */
static int
network_remove(struct svc *sv, json_t *net, struct hv_error *err)
{
	json_t *ports = NULL, *fips = NULL, *subs = NULL;
	const char *id = field_or(net, "id", "");
	int r = store_net_list(sv->store, "port", "network_id", id, &ports, err);
	if (r == 0 && json_array_size(ports))
		r = hv_error_set(err, -EBUSY, "args.network",
				 "args.network: port %s (server %s) is still on network %s",
				 field_or(json_array_get(ports, 0), "id", ""),
				 field_or(json_array_get(ports, 0), "device_id", ""),
				 field_or(net, "name", ""));
	if (r == 0 &&
	    (r = store_net_list(sv->store, "floatingip", "floating_network_id", id, &fips, err)) ==
		    0 &&
	    json_array_size(fips))
		r = hv_error_set(err, -EBUSY, "args.network",
				 "args.network: floating IP %s is still allocated from network %s",
				 field_or(json_array_get(fips, 0), "floating_ip_address", ""),
				 field_or(net, "name", ""));
	if (r == 0 &&
	    (r = store_net_list(sv->store, "subnet", "network_id", id, &subs, err)) == 0) {
		size_t i;
		json_t *s;
		json_array_foreach (subs, i, s)
			if (r == 0)
				r = store_net_delete(sv->store, "subnet", field_or(s, "id", ""),
						     err);
	}
	if (r == 0)
		r = store_net_delete(sv->store, "network", id, err);
	json_decref(ports);
	json_decref(fips);
	json_decref(subs);
	return r;
}

int
svc_network_delete(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *net = NULL;
	(void)now;
	int r = network_arg(sv, args, &net, err);
	if (r == 0 && (r = store_begin(sv->store, err)) == 0)
		r = in_txn(sv, network_remove(sv, net, err), err);
	if (r == 0)
		*ret = json_object();
	json_decref(net);
	return r;
}

/* ---- addresses given out ------------------------------------------------------------------ */

/* The lowest free address of the subnet's pools, claimed for owner. -ENOSPC when full. */
static int
claim_in_subnet(struct svc *sv, json_t *sub, const char *owner, char ret[INET_ADDRSTRLEN],
		struct hv_error *err)
{
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(sub, "allocation_pools"), i, p) {
		uint32_t lo, hi;
		if (!ip4_parse(field_or(p, "start", ""), &lo) ||
		    !ip4_parse(field_or(p, "end", ""), &hi))
			continue;
		for (uint64_t ip = lo; ip <= hi; ip++) {
			ip4_text((uint32_t)ip, ret);
			int r = store_net_ip_claim(sv->store, field_or(sub, "network_id", ""), ret,
						   owner, err);
			if (r != -EEXIST)
				return r;
		}
	}
	return -ENOSPC;
}

int
svc_net_claim_ip(struct svc *sv, json_t *net, const char *owner, const char *field,
		 json_t **ret_fixed_ip, struct hv_error *err)
{
	json_t *subs = NULL;
	char ip[INET_ADDRSTRLEN];
	int r = store_net_list(sv->store, "subnet", "network_id", field_or(net, "id", ""), &subs,
			       err);
	if (r < 0)
		return r;
	if (!json_array_size(subs))
		r = hv_error_set(err, -EINVAL, field, "%s: network %s has no subnet", field,
				 field_or(net, "name", ""));
	size_t i;
	json_t *s;
	json_array_foreach (subs, i, s) {
		if (r < 0 || (r = claim_in_subnet(sv, s, owner, ip, err)) != -ENOSPC)
			break;
	}
	if (r == 0)
		*ret_fixed_ip =
			json_pack("{s:O, s:s}", "subnet_id",
				  json_object_get(json_array_get(subs, i), "id"), "ip_address", ip);
	else if (r == -ENOSPC)
		r = hv_error_set(err, -ENOSPC, field, "%s: network %s has no free address left",
				 field, field_or(net, "name", ""));
	json_decref(subs);
	return r;
}

/* ---- ports -------------------------------------------------------------------------------- */

/* fa:16:3e (Neutron's base_mac) and three random bytes. */
static void
port_mac(char out[18])
{
	unsigned char b[3];
	randombytes_buf(b, sizeof b);
	snprintf(out, 18, "fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2]);
}

int
svc_port_make(struct svc *sv, json_t *net, const char *project, const char *device_id,
	      const char *host, json_t *groups, const char *field, int64_t now, json_t **ret,
	      struct hv_error *err)
{
	char id[37], mac[18];
	json_t *fixed = NULL;
	svc_new_id(id);
	port_mac(mac);
	int r = svc_net_claim_ip(sv, net, id, field, &fixed, err);
	if (r < 0)
		return r;
	json_t *port =
		json_pack("{s:s, s:s, s:O, s:s, s:s, s:[o], s:s, s:s, s:O, s:s, s:b, s:s}", "id",
			  id, "name", "", "network_id", json_object_get(net, "id"), "project_id",
			  project, "mac_address", mac, "fixed_ips", fixed, "device_id", device_id,
			  "device_owner", "compute:nova", "security_groups", groups,
			  "binding:host_id", host, "admin_state_up", 1, "status", "ACTIVE");
	if ((r = store_net_insert(sv->store, "port", port, now, err)) < 0) {
		json_decref(port);
		return r;
	}
	*ret = port;
	return 0;
}

void
svc_port_ifname(const json_t *port, char out[16])
{
	snprintf(out, 16, "tap%.11s", field_or(port, "id", ""));
}

static int
port_filter(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	const char *server = NULL, *netref = NULL;
	char project[33];
	json_t *inst = NULL, *net = NULL;
	int r;
	if ((r = hj_str(args, "args", "server", HJ_OPTIONAL, 255, &server, err)) < 0 ||
	    (r = hj_str(args, "args", "network", HJ_OPTIONAL, 255, &netref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0)
		return r;
	if (server) {
		if ((r = store_instance_get(sv->store, server, &inst, err)) == -ENOENT)
			return hv_error_set(err, -ENOENT, "args.server",
					    "args.server: no server named '%s'", server);
		if (r == 0)
			r = store_net_list(sv->store, "port", "device_id",
					   field_or(inst, "uuid", ""), ret, err);
		json_decref(inst);
		return r;
	}
	if (netref) {
		if ((r = svc_net_find(sv, "network", project, netref, "args.network", &net, err)) ==
		    0)
			r = store_net_list(sv->store, "port", "network_id", field_or(net, "id", ""),
					   ret, err);
		json_decref(net);
		return r;
	}
	return store_net_list(sv->store, "port", "project_id", project, ret, err);
}

int
svc_port_list(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	(void)now;
	return port_filter(sv, args, ret, err);
}

int
svc_port_show(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *id;
	(void)now;
	int r = hj_str(args, "args", "port", HJ_REQUIRED, 64, &id, err);
	if (r >= 0 && (r = store_net_get(sv->store, "port", id, ret, err)) == -ENOENT)
		r = hv_error_set(err, -ENOENT, "args.port", "args.port: no port '%s'", id);
	return r < 0 ? r : 0;
}

/* ---- a server's ports --------------------------------------------------------------------- */

int
svc_net_plan(struct svc *sv, json_t *args, const char *project, int64_t now, json_t **ret_nets,
	     json_t **ret_groups, struct hv_error *err)
{
	json_t *names = NULL, *gnames = NULL;
	char path[64];
	int r;
	*ret_nets = *ret_groups = NULL;
	if ((r = hj_arr(args, "args", "networks", HJ_OPTIONAL, 16, &names, err)) < 0 ||
	    (r = hj_arr(args, "args", "security_groups", HJ_OPTIONAL, 16, &gnames, err)) < 0)
		return r;
	if (!json_array_size(names)) {
		if (json_array_size(gnames))
			return hv_error_set(err, -EINVAL, "args.security_groups",
					    "args.security_groups: a server without a network has "
					    "no port to put in a group");
		return 0;
	}
	json_t *nets = json_array(), *groups = json_array(), *o = NULL;
	size_t i;
	json_t *n;
	json_array_foreach (names, i, n) {
		hj_path(path, sizeof path, "args.networks", NULL, i);
		if (!json_is_string(n))
			r = hv_error_set(err, -EINVAL, path, "%s: expected a network name", path);
		else if ((r = svc_net_find(sv, "network", project, json_string_value(n), path, &o,
					   err)) == 0)
			json_array_append_new(nets, o);
		if (r < 0)
			goto fail;
	}
	if (!json_array_size(gnames)) {
		if ((r = svc_secgroup_default(sv, project, now, &o, err)) < 0)
			goto fail;
		json_array_append_new(groups, o);
	}
	json_array_foreach (gnames, i, n) {
		hj_path(path, sizeof path, "args.security_groups", NULL, i);
		if (!json_is_string(n))
			r = hv_error_set(err, -EINVAL, path, "%s: expected a group name", path);
		else if ((r = svc_secgroup_find(sv, project, json_string_value(n), path, now, &o,
						err)) == 0)
			json_array_append_new(groups, o);
		if (r < 0)
			goto fail;
	}
	*ret_nets = nets;
	*ret_groups = groups;
	return 0;
fail:
	json_decref(nets);
	json_decref(groups);
	return r;
}

int
svc_net_ports_create(struct svc *sv, const char *project, const char *uuid, const char *host,
		     json_t *nets, json_t *groups, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *ids = json_array(), *ports = json_array(), *port = NULL;
	char path[64];
	int r = 0;
	size_t i;
	json_t *o;
	json_array_foreach (groups, i, o)
		json_array_append(ids, json_object_get(o, "id"));
	json_array_foreach (nets, i, o) {
		hj_path(path, sizeof path, "args.networks", NULL, i);
		if ((r = svc_port_make(sv, o, project, uuid, host, ids, path, now, &port, err)) < 0)
			break;
		json_array_append_new(ports, port);
	}
	json_decref(ids);
	if (r < 0) {
		json_decref(ports);
		return r;
	}
	*ret = ports;
	return 0;
}

int
svc_net_before_spawn(struct svc *sv, const char *host, json_t *groups, json_t *ports, json_t *spawn,
		     int64_t now, struct hv_error *err)
{
	json_t *done = json_object(), *wire = json_array(), *ids = json_object();
	int r = 0;
	size_t i, j;
	json_t *o, *ip;
	json_array_foreach (groups, i, o) {
		if (r == 0)
			r = svc_secgroup_send(sv, host, o, done, now, err);
		json_object_set_new(ids, field_or(o, "id", ""), json_true());
	}
	json_decref(done);
	/* the other hosts' groups that name these as remote learn the new members */
	if (r == 0)
		r = svc_secgroup_members_changed(sv, ids, host, now, err);
	json_decref(ids);
	json_array_foreach (ports, i, o) {
		char ifname[16];
		json_t *ips = json_array();
		svc_port_ifname(o, ifname);
		json_array_foreach (json_object_get(o, "fixed_ips"), j, ip)
			json_array_append(ips, json_object_get(ip, "ip_address"));
		json_t *plug = json_pack("{s:{s:O, s:s, s:O, s:O, s:O}}", "port", "id",
					 json_object_get(o, "id"), "ifname", ifname, "mac_address",
					 json_object_get(o, "mac_address"), "fixed_ips", ips,
					 "security_groups", json_object_get(o, "security_groups"));
		if (r == 0)
			r = svc_net_journal(sv, host, "port_plug", plug, now, err);
		json_decref(plug);
		json_array_append_new(wire, json_pack("{s:O, s:O, s:s, s:o, s:O}", "id",
						      json_object_get(o, "id"), "mac",
						      json_object_get(o, "mac_address"), "ifname",
						      ifname, "fixed_ips", ips, "network_id",
						      json_object_get(o, "network_id")));
	}
	json_object_set_new(spawn, "ports", wire);
	return r;
}

int
svc_net_ports_release(struct svc *sv, const char *host, const char *uuid, int64_t now,
		      struct hv_error *err)
{
	json_t *ports = NULL, *groups = json_object();
	int r = store_net_list(sv->store, "port", "device_id", uuid, &ports, err);
	size_t i, j;
	json_t *p, *g;
	json_array_foreach (ports, i, p) {
		const char *id = field_or(p, "id", "");
		json_t *body = json_pack("{s:s}", "port_id", id);
		json_array_foreach (json_object_get(p, "security_groups"), j, g)
			json_object_set_new(groups, json_string_value(g), json_true());
		if (r == 0)
			r = svc_fip_release_port(sv, id, now, err);
		if (r == 0)
			r = svc_net_journal(sv, host, "port_unplug", body, now, err);
		if (r == 0)
			r = store_net_ip_release(sv->store, id, err);
		if (r == 0)
			r = store_net_delete(sv->store, "port", id, err);
		json_decref(body);
	}
	if (r == 0)
		r = svc_secgroup_members_changed(sv, groups, host, now, err);
	if (r == 0)
		r = svc_secgroup_prune(sv, host, groups, now, err);
	json_decref(groups);
	json_decref(ports);
	return r;
}

/* One port of an evacuated server leaves source: its floating IPs' NAT and its tap go from
 * there (delivered when the host returns, before it could forward anything), the port is
 * bound to target, its floating IPs collected for target and its groups into ids. */
static int
evacuate_port(struct svc *sv, json_t *p, const char *source, const char *target, json_t *ids,
	      json_t *fips_out, int64_t now, struct hv_error *err)
{
	json_t *fips = NULL, *f, *g, *body;
	size_t i;
	int r = store_net_list(sv->store, "floatingip", "port_id", field_or(p, "id", ""), &fips,
			       err);
	json_array_foreach (fips, i, f) {
		body = json_pack("{s:O}", "fip_id", json_object_get(f, "id"));
		if (r == 0)
			r = svc_net_journal(sv, source, "fip_disassociate", body, now, err);
		json_decref(body);
		json_array_append(fips_out, f);
	}
	json_decref(fips);
	body = json_pack("{s:O}", "port_id", json_object_get(p, "id"));
	if (r == 0)
		r = svc_net_journal(sv, source, "port_unplug", body, now, err);
	json_decref(body);
	json_object_set_new(p, "binding:host_id", json_string(target));
	if (r == 0)
		r = store_net_update(sv->store, "port", p, err);
	json_array_foreach (json_object_get(p, "security_groups"), i, g)
		json_object_set_new(ids, json_string_value(g), json_true());
	return r;
}

int
svc_net_evacuate(struct svc *sv, const json_t *inst, const char *target, json_t *spawn, int64_t now,
		 struct hv_error *err)
{
	const char *uuid = field_or(inst, "uuid", ""), *source = field_or(inst, "host", ""),
		   *project = field_or(inst, "project_id", ""), *id;
	json_t *ports = NULL, *ids = json_object(), *fips = json_array(), *groups = json_array(),
	       *p, *v, *g;
	size_t i;
	int r = store_begin(sv->store, err);
	if (r == 0)
		r = store_net_list(sv->store, "port", "device_id", uuid, &ports, err);
	json_array_foreach (ports, i, p)
		if (r == 0)
			r = evacuate_port(sv, p, source, target, ids, fips, now, err);
	json_object_foreach (ids, id, v) {
		if (r == 0 && (r = svc_secgroup_find(sv, project, id, "server", now, &g, err)) == 0)
			json_array_append_new(groups, g);
	}
	/* target learns the groups and plugs the ports before the spawn; source keeps only
	 * the groups its remaining ports use */
	if (r == 0 && json_array_size(ports))
		r = svc_net_before_spawn(sv, target, groups, ports, spawn, now, err);
	if (r == 0 && json_array_size(ports))
		r = svc_secgroup_prune(sv, source, ids, now, err);
	json_array_foreach (fips, i, v) {
		json_t *fixed = json_object_get(v, "fixed_ip_address");
		json_t *body = json_pack(
			"{s:{s:O, s:O, s:O, s:O}}", "fip", "id", json_object_get(v, "id"),
			"port_id", json_object_get(v, "port_id"), "floating_ip_address",
			json_object_get(v, "floating_ip_address"), "fixed_ip_address", fixed);
		if (r == 0)
			r = svc_net_journal(sv, target, "fip_associate", body, now, err);
		json_decref(body);
	}
	json_decref(ports);
	json_decref(ids);
	json_decref(fips);
	json_decref(groups);
	if (r < 0) {
		store_rollback(sv->store);
		return r;
	}
	return store_commit(sv->store, err);
}

int
svc_network_external(struct svc *sv, const char *name, const char *cidr, int64_t now,
		     struct hv_error *err)
{
	json_t *p = NULL, *all = NULL, *net = NULL;
	uint32_t ip;
	int len, r;
	if (!cidr || !*cidr)
		return 0;
	if ((r = svc_cidr4_parse(cidr, "external_cidr", &ip, &len, err)) < 0)
		return r;
	if ((r = store_net_list(sv->store, "network", "name", name, &all, err)) < 0)
		return r;
	size_t n = json_array_size(all);
	json_decref(all);
	if (n) /* made at an earlier start, or by hand: its subnets are the operator's now */
		return 0;
	if ((r = svc_project_find(sv, NULL, "project", &p, err)) < 0 ||
	    (r = store_begin(sv->store, err)) < 0) {
		json_decref(p);
		return r;
	}
	r = svc_network_make(sv, field_or(p, "id", ""), name, true, false, cidr, now, &net, err);
	if (r < 0 && strncmp(err->field, "args.subnet_range", 17) == 0)
		snprintf(err->field, sizeof err->field, "external_cidr");
	json_decref(p);
	json_decref(net);
	return in_txn(sv, r, err);
}

/* One of nova's address entries. */
static json_t *
address_entry(json_t *addr, const char *type, json_t *mac)
{
	return json_pack("{s:i, s:O, s:s, s:O}", "version", 4, "addr", addr, "OS-EXT-IPS:type",
			 type, "OS-EXT-IPS-MAC:mac_addr", mac);
}

/* A record by kind and id, read once per view (cache: {id: record or null}). */
static const json_t *
cached_get(struct svc *sv, json_t *cache, const char *kind, const char *id)
{
	json_t *v = json_object_get(cache, id), *got = NULL;
	if (v)
		return json_is_null(v) ? NULL : v;
	store_net_get(sv->store, kind, id, &got, NULL);
	json_object_set_new(cache, id, got ? got : json_null());
	return got;
}

/* One server's addresses and groups from its ports (fips: {port id: [floating ips]}). */
static void
server_view(struct svc *sv, json_t *inst, const json_t *ports, const json_t *fips, json_t *nets,
	    json_t *sgs)
{
	json_t *addresses = json_object(), *groups = json_array(), *p, *v;
	size_t i, j;
	json_array_foreach (ports, i, p) {
		json_t *list;
		const char *name = field_or(p, "network_id", "");
		const json_t *net = cached_get(sv, nets, "network", name);
		if (net)
			name = field_or(net, "name", name);
		if (!(list = json_object_get(addresses, name)))
			json_object_set_new(addresses, name, list = json_array());
		json_t *mac = json_object_get(p, "mac_address");
		json_array_foreach (json_object_get(p, "fixed_ips"), j, v)
			json_array_append_new(list, address_entry(json_object_get(v, "ip_address"),
								  "fixed", mac));
		json_array_foreach (json_object_get(fips, field_or(p, "id", "")), j, v)
			json_array_append_new(
				list, address_entry(json_object_get(v, "floating_ip_address"),
						    "floating", mac));
		/* every port of a server has the server's groups */
		json_array_foreach (i == 0 ? json_object_get(p, "security_groups") : NULL, j, v) {
			const json_t *g =
				cached_get(sv, sgs, "security_group", json_string_value(v));
			if (g)
				json_array_append_new(
					groups,
					json_pack("{s:O}", "name", json_object_get(g, "name")));
		}
	}
	json_object_set_new(inst, "addresses", addresses);
	json_object_set_new(inst, "security_groups", groups);
}

/* {key's value: [records]} of a list. */
static json_t *
group_by(const json_t *list, const char *key)
{
	json_t *by = json_object(), *v, *bucket;
	size_t i;
	json_array_foreach (list, i, v) {
		const char *k = json_string_value(json_object_get(v, key));
		if (!k)
			continue;
		if (!(bucket = json_object_get(by, k)))
			json_object_set_new(by, k, bucket = json_array());
		json_array_append(bucket, v);
	}
	return by;
}

int
svc_net_server_view(struct svc *sv, json_t *insts, struct hv_error *err)
{
	/* the ports and floating IPs are read once for every server of the view, not once per
	 * server: each filtered read is a scan of the table */
	json_t *ports = NULL, *fips = NULL, *inst;
	json_t *nets = json_object(), *sgs = json_object();
	int r = store_net_list(sv->store, "port", NULL, NULL, &ports, err);
	if (r == 0)
		r = store_net_list(sv->store, "floatingip", NULL, NULL, &fips, err);
	json_t *by_device = group_by(ports, "device_id"), *by_port = group_by(fips, "port_id");
	size_t i;
	json_array_foreach (insts, i, inst)
		server_view(sv, inst, json_object_get(by_device, field_or(inst, "uuid", "")),
			    by_port, nets, sgs);
	json_decref(by_device);
	json_decref(by_port);
	json_decref(ports);
	json_decref(fips);
	json_decref(nets);
	json_decref(sgs);
	return r;
}
