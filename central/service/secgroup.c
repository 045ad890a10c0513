/* secgroup.c - the rules of security groups and their rules, as Neutron has them: a
 * `default` group per project made on first use (egress anywhere, ingress from its own
 * members), names unique per project, the security_groups and security_group_rules quotas,
 * and a rule's fields checked as the host's firewall checks them (protocol-netfilter.md
 * 1.1) so a rule hvcentral accepts is one every host takes. A change reaches exactly the
 * hosts with a member port or a member of a group that names it as remote, through the
 * journal. Must never encode a reply or touch a socket, never logs. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static json_t *
rule_new(const char *group_id, const char *direction, const char *ethertype,
	 const char *remote_group)
{
	char id[37];
	svc_new_id(id);
	json_t *r =
		json_pack("{s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n}", "id", id, "security_group_id",
			  group_id, "direction", direction, "ethertype", ethertype, "protocol",
			  "port_range_min", "port_range_max", "remote_ip_prefix");
	json_object_set_new(r, "remote_group_id",
			    remote_group ? json_string(remote_group) : json_null());
	return r;
}

static json_t *
group_new(const char *project, const char *name, const char *description)
{
	char id[37];
	svc_new_id(id);
	return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "id", id, "name", name, "description",
			 description, "project_id", project, "security_group_rules");
}

int
svc_secgroup_default(struct svc *sv, const char *project, int64_t now, json_t **ret,
		     struct hv_error *err)
{
	int r = store_net_by_name(sv->store, "security_group", project, "default", ret, err);
	if (r != -ENOENT)
		return r;
	json_t *g = group_new(project, "default", "Default security group");
	const char *id = field_or(g, "id", "");
	json_t *rules = json_object_get(g, "security_group_rules");
	json_array_append_new(rules, rule_new(id, "egress", "IPv4", NULL));
	json_array_append_new(rules, rule_new(id, "egress", "IPv6", NULL));
	json_array_append_new(rules, rule_new(id, "ingress", "IPv4", id));
	json_array_append_new(rules, rule_new(id, "ingress", "IPv6", id));
	if ((r = store_net_insert(sv->store, "security_group", g, now, err)) < 0) {
		json_decref(g);
		return r;
	}
	*ret = g;
	return 0;
}

/* The group args.<key> (id or name) of the project; "default" is made when missing. */
int
svc_secgroup_find(struct svc *sv, const char *project, const char *ref, const char *field,
		  int64_t now, json_t **ret, struct hv_error *err)
{
	if (strcmp(ref, "default") == 0)
		return svc_secgroup_default(sv, project, now, ret, err);
	return svc_net_find(sv, "security_group", project, ref, field, ret, err);
}

static int
txn_end(struct svc *sv, int r, struct hv_error *err)
{
	if (r < 0) {
		store_rollback(sv->store);
		return r;
	}
	return store_commit(sv->store, err);
}

/* ---- journaling --------------------------------------------------------------------------- */

/* A rule with the firewall's fields only, nulls left out. */
static json_t *
rule_wire(const json_t *r)
{
	static const char *const keep[] = {"id",
					   "direction",
					   "ethertype",
					   "protocol",
					   "port_range_min",
					   "port_range_max",
					   "remote_ip_prefix",
					   "remote_group_id",
					   NULL};
	json_t *w = json_object();
	for (int k = 0; keep[k]; k++) {
		json_t *v = json_object_get(r, keep[k]);
		if (v && !json_is_null(v))
			json_object_set(w, keep[k], v);
	}
	return w;
}

/* A host's firewall knows the members of a remote group that are plugged there; the
 * members on other hosts reach it as one /32 rule per address, beside the rule itself. */
static void
remote_members(struct svc *sv, const json_t *rule, const char *host, json_t *out)
{
	const char *remote = field_or(rule, "remote_group_id", NULL);
	json_t *ports = NULL;
	if (!remote || strcmp(field_or(rule, "ethertype", "IPv4"), "IPv4") != 0 ||
	    store_net_group_ports(sv->store, remote, &ports, NULL) < 0)
		return;
	size_t i, j;
	json_t *p, *ip;
	json_array_foreach (ports, i, p) {
		if (strcmp(field_or(p, "binding:host_id", ""), host) == 0)
			continue;
		json_array_foreach (json_object_get(p, "fixed_ips"), j, ip) {
			char id[PROTO_MAX_ID + 1], prefix[64];
			json_t *w = rule_wire(rule);
			/* unique in the group: the rule's id, the port's and the address' index */
			snprintf(id, sizeof id, "%.36s-%.20s-%zu", field_or(rule, "id", ""),
				 field_or(p, "id", ""), j);
			snprintf(prefix, sizeof prefix, "%s/32", field_or(ip, "ip_address", ""));
			json_object_del(w, "remote_group_id");
			json_object_set_new(w, "id", json_string(id));
			json_object_set_new(w, "remote_ip_prefix", json_string(prefix));
			json_array_append_new(out, w);
		}
	}
	json_decref(ports);
}

/* The group as host's sg_update carries it. */
static json_t *
group_wire(struct svc *sv, const json_t *g, const char *host)
{
	json_t *rules = json_array();
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(g, "security_group_rules"), i, r) {
		json_array_append_new(rules, rule_wire(r));
		remote_members(sv, r, host, rules);
	}
	return json_pack("{s:{s:O, s:o}}", "group", "id", json_object_get(g, "id"), "rules", rules);
}

int
svc_net_journal(struct svc *sv, const char *host, const char *command, json_t *body, int64_t now,
		struct hv_error *err)
{
	char cmd_id[PROTO_MAX_ID + 1];
	return ctl_queue_host(sv->ctl, host, command, body, now, cmd_id, err);
}

/* sg_update of g to host, after the groups its rules name as remote (the host must know
 * them first); done: the ids already sent in this pass. */
int
svc_secgroup_send(struct svc *sv, const char *host, const json_t *g, json_t *done, int64_t now,
		  struct hv_error *err)
{
	const char *id = field_or(g, "id", "");
	int r = 0;
	if (json_object_get(done, id))
		return 0;
	json_object_set_new(done, id, json_true());
	size_t i;
	json_t *rule;
	json_array_foreach (json_object_get(g, "security_group_rules"), i, rule) {
		const char *remote = field_or(rule, "remote_group_id", NULL);
		json_t *rg = NULL;
		if (!remote || json_object_get(done, remote) ||
		    store_net_get(sv->store, "security_group", remote, &rg, NULL) < 0)
			continue;
		r = svc_secgroup_send(sv, host, rg, done, now, err);
		json_decref(rg);
		if (r < 0)
			return r;
	}
	json_t *body = group_wire(sv, g, host);
	r = svc_net_journal(sv, host, "sg_update", body, now, err);
	json_decref(body);
	return r;
}

/* Every host that must hear of a change to g hears it, but skip (NULL: none), which the
 * caller has told already. */
static int
group_push(struct svc *sv, const json_t *g, const char *skip, int64_t now, struct hv_error *err)
{
	json_t *hosts = NULL;
	int r = store_net_group_hosts(sv->store, field_or(g, "id", ""), &hosts, err);
	size_t i;
	json_t *h;
	json_array_foreach (hosts, i, h) {
		json_t *done = json_object();
		if (r == 0 && (!skip || strcmp(json_string_value(h), skip) != 0))
			r = svc_secgroup_send(sv, json_string_value(h), g, done, now, err);
		json_decref(done);
	}
	json_decref(hosts);
	return r;
}

int
svc_secgroup_members_changed(struct svc *sv, json_t *ids, const char *host, int64_t now,
			     struct hv_error *err)
{
	json_t *all = NULL;
	int r = store_net_list(sv->store, "security_group", NULL, NULL, &all, err);
	size_t i, j;
	json_t *g, *rule;
	json_array_foreach (all, i, g) {
		bool names = false;
		json_array_foreach (json_object_get(g, "security_group_rules"), j, rule) {
			const char *remote = field_or(rule, "remote_group_id", NULL);
			names = names || (remote && json_object_get(ids, remote));
		}
		if (r == 0 && names)
			r = group_push(sv, g, host, now, err);
	}
	json_decref(all);
	return r;
}

/* ---- groups ------------------------------------------------------------------------------- */

static const char *const group_args[] = {"name", "description", "project", NULL};

int
svc_secgroup_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *name, *desc = "";
	char project[33];
	json_t *g = NULL, *def = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", group_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = hj_str(args, "args", "description", HJ_OPTIONAL, 255, &desc, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0)
		return r;
	if (!*name)
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	if ((r = store_begin(sv->store, err)) < 0)
		return r;
	/* Neutron makes the default group before the project's first own one */
	if ((r = svc_secgroup_default(sv, project, now, &def, err)) == 0 &&
	    strcmp(name, "default") == 0)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: the project has a security group named 'default'");
	g = group_new(project, name, desc);
	/* Neutron's new group allows all egress */
	json_array_append_new(json_object_get(g, "security_group_rules"),
			      rule_new(field_or(g, "id", ""), "egress", "IPv4", NULL));
	json_array_append_new(json_object_get(g, "security_group_rules"),
			      rule_new(field_or(g, "id", ""), "egress", "IPv6", NULL));
	if (r == 0)
		r = svc_quota_check(
			sv, project,
			&(struct svc_quota_ask){.security_groups = 1, .security_group_rules = 2},
			err);
	if (r == 0 && (r = store_net_insert(sv->store, "security_group", g, now, err)) == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: the project has a security group named '%s'", name);
	json_decref(def);
	if ((r = txn_end(sv, r, err)) < 0) {
		json_decref(g);
		return r;
	}
	*ret = g;
	return 0;
}

int
svc_secgroup_list(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	json_t *def = NULL;
	int r = svc_net_project(sv, args, project, err);
	if (r < 0 || (r = store_begin(sv->store, err)) < 0)
		return r;
	/* listing is a first use, as in Neutron */
	if ((r = txn_end(sv, svc_secgroup_default(sv, project, now, &def, err), err)) < 0)
		return r;
	json_decref(def);
	return store_net_list(sv->store, "security_group", "project_id", project, ret, err);
}

static int
group_arg(struct svc *sv, json_t *args, int64_t now, char project[33], json_t **ret,
	  struct hv_error *err)
{
	const char *ref;
	int r;
	if ((r = hj_str(args, "args", "group", HJ_REQUIRED, 255, &ref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0 ||
	    (r = store_begin(sv->store, err)) < 0)
		return r;
	return txn_end(sv, svc_secgroup_find(sv, project, ref, "args.group", now, ret, err), err);
}

int
svc_secgroup_show(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	return group_arg(sv, args, now, project, ret, err);
}

/* A group in use by a port or named as remote by another group stays. */
static int
group_in_use(struct svc *sv, const json_t *g, struct hv_error *err)
{
	json_t *ports = NULL, *groups = NULL;
	const char *id = field_or(g, "id", "");
	int r = store_net_list(sv->store, "port", NULL, NULL, &ports, err);
	if (r == 0)
		r = store_net_list(sv->store, "security_group", NULL, NULL, &groups, err);
	size_t i, j;
	json_t *o, *v;
	json_array_foreach (ports, i, o)
		json_array_foreach (json_object_get(o, "security_groups"), j, v)
			if (r == 0 && strcmp(json_string_value(v), id) == 0)
				r = hv_error_set(err, -EBUSY, "args.group",
						 "args.group: port %s (server %s) is a member",
						 field_or(o, "id", ""),
						 field_or(o, "device_id", ""));
	json_array_foreach (groups, i, o)
		json_array_foreach (json_object_get(o, "security_group_rules"), j, v)
			if (r == 0 && strcmp(field_or(o, "id", ""), id) != 0 &&
			    strcmp(field_or(v, "remote_group_id", ""), id) == 0)
				r = hv_error_set(err, -EBUSY, "args.group",
						 "args.group: group %s names it in rule %s",
						 field_or(o, "name", ""), field_or(v, "id", ""));
	json_decref(ports);
	json_decref(groups);
	return r;
}

int
svc_secgroup_delete(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	json_t *g = NULL;
	int r = group_arg(sv, args, now, project, &g, err);
	if (r < 0)
		return r;
	if (strcmp(field_or(g, "name", ""), "default") == 0)
		r = hv_error_set(err, -EPERM, "args.group",
				 "args.group: a project's default group cannot be deleted");
	if (r == 0)
		r = group_in_use(sv, g, err);
	if (r == 0)
		r = store_net_delete(sv->store, "security_group", field_or(g, "id", ""), err);
	json_decref(g);
	if (r == 0)
		*ret = json_object();
	return r;
}

/* ---- rules -------------------------------------------------------------------------------- */

static const char *const rule_args[] = {"group",
					"direction",
					"ethertype",
					"protocol",
					"port_range_min",
					"port_range_max",
					"remote_ip_prefix",
					"remote_group",
					"project",
					"description",
					NULL};

/* tcp, udp and the like take a port range; icmp a type and code; the rest neither. */
static int
rule_proto(const char *proto)
{
	static const char *const ported[] = {"tcp", "udp", "sctp", "udplite", "dccp", NULL};
	static const char *const plain[] = {"any", "gre", "esp", "ah", NULL};
	if (!proto)
		return 0;
	for (int i = 0; ported[i]; i++)
		if (strcmp(proto, ported[i]) == 0)
			return 1;
	if (strcmp(proto, "icmp") == 0 || strcmp(proto, "icmpv6") == 0 ||
	    strcmp(proto, "ipv6-icmp") == 0)
		return 2;
	for (int i = 0; plain[i]; i++)
		if (strcmp(proto, plain[i]) == 0)
			return 0;
	char *end;
	long n = strtol(proto, &end, 10);
	return *proto && !*end && n >= 0 && n <= 255 ? 0 : -1;
}

static int
rule_ports(json_t *args, int kind, json_t *rule, struct hv_error *err)
{
	int64_t lo = -1, hi = -1;
	int r;
	if ((r = hj_int(args, "args", "port_range_min", HJ_OPTIONAL, 0, 65535, &lo, err)) < 0 ||
	    (r = hj_int(args, "args", "port_range_max", HJ_OPTIONAL, 0, 65535, &hi, err)) < 0)
		return r;
	if (kind == 0 && (lo >= 0 || hi >= 0))
		return hv_error_set(err, -EINVAL,
				    lo >= 0 ? "args.port_range_min" : "args.port_range_max",
				    "%s: only tcp, udp, sctp, udplite, dccp and icmp take ports",
				    lo >= 0 ? "args.port_range_min" : "args.port_range_max");
	if (kind == 1) {
		if (lo >= 0 && hi < 0)
			hi = lo;
		if (lo == 0 || hi == 0 || (hi >= 0 && lo < 0))
			return hv_error_set(err, -EINVAL, "args.port_range_min",
					    "args.port_range_min: ports are 1-65535, both given");
		if (lo > hi)
			return hv_error_set(
				err, -EINVAL, "args.port_range_min",
				"args.port_range_min: %lld is greater than port_range_max %lld",
				(long long)lo, (long long)hi);
	}
	if (kind == 2 && (lo > 255 || hi > 255 || (hi >= 0 && lo < 0)))
		return hv_error_set(err, -EINVAL, "args.port_range_min",
				    "args.port_range_min: an ICMP type is 0-255 (and a code, "
				    "port_range_max, 0-255, needs a type)");
	json_object_set_new(rule, "port_range_min", lo >= 0 ? json_integer(lo) : json_null());
	json_object_set_new(rule, "port_range_max", hi >= 0 ? json_integer(hi) : json_null());
	return 0;
}

/* Neutron refuses a second rule with the same fields. */
static bool
rule_same(const json_t *a, const json_t *b)
{
	static const char *const k[] = {
		"direction",      "ethertype",        "protocol",        "port_range_min",
		"port_range_max", "remote_ip_prefix", "remote_group_id", NULL};
	for (int i = 0; k[i]; i++) {
		json_t *x = json_object_get(a, k[i]), *y = json_object_get(b, k[i]);
		if (!json_equal(x ? x : json_null(), y ? y : json_null()))
			return false;
	}
	return true;
}

static int
rule_record(struct svc *sv, json_t *args, const json_t *g, const char *project, int64_t now,
	    json_t **ret, struct hv_error *err)
{
	const char *dir = "ingress", *eth = "IPv4", *proto = NULL, *prefix = NULL, *remote = NULL;
	int r, kind;
	if ((r = hj_enum(args, "args", "direction", HJ_OPTIONAL, "ingress|egress", &dir, err)) <
		    0 ||
	    (r = hj_enum(args, "args", "ethertype", HJ_OPTIONAL, "IPv4|IPv6", &eth, err)) < 0 ||
	    (r = hj_str(args, "args", "protocol", HJ_OPTIONAL, 16, &proto, err)) < 0 ||
	    (r = hj_str(args, "args", "remote_ip_prefix", HJ_OPTIONAL, 64, &prefix, err)) < 0 ||
	    (r = hj_str(args, "args", "remote_group", HJ_OPTIONAL, 255, &remote, err)) < 0)
		return r;
	if ((kind = rule_proto(proto)) < 0)
		return hv_error_set(err, -EINVAL, "args.protocol",
				    "args.protocol: '%s' is not tcp, udp, icmp, any, a protocol "
				    "name or a number 0-255",
				    proto);
	if (prefix && remote)
		return hv_error_set(err, -EINVAL, "args.remote_group",
				    "args.remote_group: give remote_ip_prefix or remote_group, "
				    "not both");
	uint32_t net;
	int len;
	if (prefix && strcmp(eth, "IPv4") != 0)
		return hv_error_set(err, -EINVAL, "args.remote_ip_prefix",
				    "args.remote_ip_prefix: only IPv4 prefixes are taken here");
	if (prefix && (r = svc_cidr4_parse(prefix, "args.remote_ip_prefix", &net, &len, err)) < 0)
		return r;
	json_t *rg = NULL;
	const char *gid = field_or(g, "id", "");
	if (remote && strcmp(remote, field_or(g, "name", "")) != 0 && strcmp(remote, gid) != 0 &&
	    (r = svc_secgroup_find(sv, project, remote, "args.remote_group", now, &rg, err)) < 0)
		return r;
	json_t *rule = rule_new(gid, dir, eth, remote ? (rg ? field_or(rg, "id", "") : gid) : NULL);
	json_decref(rg);
	if (proto && strcmp(proto, "any") != 0)
		json_object_set_new(rule, "protocol", json_string(proto));
	if (prefix)
		json_object_set_new(rule, "remote_ip_prefix", json_string(prefix));
	if ((r = rule_ports(args, kind, rule, err)) < 0) {
		json_decref(rule);
		return r;
	}
	*ret = rule;
	return 0;
}

int
svc_sgrule_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	json_t *g = NULL, *rule = NULL;
	int r = hj_known_keys(args, "args", rule_args, err);
	if (r < 0 || (r = group_arg(sv, args, now, project, &g, err)) < 0)
		return r;
	if ((r = rule_record(sv, args, g, project, now, &rule, err)) < 0)
		goto out;
	json_t *rules = json_object_get(g, "security_group_rules");
	size_t i;
	json_t *o;
	json_array_foreach (rules, i, o)
		if (rule_same(o, rule)) {
			r = hv_error_set(err, -EEXIST, "args",
					 "args: the group already has this rule (%s)",
					 field_or(o, "id", ""));
			goto out;
		}
	if ((r = store_begin(sv->store, err)) < 0)
		goto out;
	json_array_append(rules, rule);
	r = svc_quota_check(sv, field_or(g, "project_id", ""),
			    &(struct svc_quota_ask){.security_group_rules = 1}, err);
	if (r == 0 && (r = store_net_update(sv->store, "security_group", g, err)) == 0)
		r = group_push(sv, g, NULL, now, err);
	if ((r = txn_end(sv, r, err)) == 0) {
		*ret = rule;
		rule = NULL;
	}
out:
	json_decref(rule);
	json_decref(g);
	return r;
}

int
svc_sgrule_list(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	json_t *groups = NULL;
	int r;
	if (json_object_get(args, "group")) {
		json_t *g = NULL;
		if ((r = group_arg(sv, args, now, project, &g, err)) < 0)
			return r;
		*ret = json_incref(json_object_get(g, "security_group_rules"));
		json_decref(g);
		return 0;
	}
	if ((r = svc_secgroup_list(sv, args, now, &groups, err)) < 0)
		return r;
	*ret = json_array();
	size_t i;
	json_t *g;
	json_array_foreach (groups, i, g)
		json_array_extend(*ret, json_object_get(g, "security_group_rules"));
	json_decref(groups);
	return 0;
}

int
svc_sgrule_delete(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *id;
	char project[33];
	json_t *groups = NULL;
	int r;
	if ((r = hj_str(args, "args", "rule", HJ_REQUIRED, 64, &id, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0 ||
	    (r = store_net_list(sv->store, "security_group", "project_id", project, &groups, err)) <
		    0)
		return r;
	r = hv_error_set(err, -ENOENT, "args.rule", "args.rule: no security group rule '%s'", id);
	size_t i, j;
	json_t *g, *rule;
	json_array_foreach (groups, i, g) {
		json_t *rules = json_object_get(g, "security_group_rules");
		json_array_foreach (rules, j, rule) {
			if (strcmp(field_or(rule, "id", ""), id) != 0)
				continue;
			json_array_remove(rules, j);
			if ((r = store_begin(sv->store, err)) < 0)
				break;
			if ((r = store_net_update(sv->store, "security_group", g, err)) == 0)
				r = group_push(sv, g, NULL, now, err);
			r = txn_end(sv, r, err);
			break;
		}
		if (r != -ENOENT)
			break;
	}
	json_decref(groups);
	if (r == 0)
		*ret = json_object();
	return r;
}

/* ---- a server's groups -------------------------------------------------------------------- */

static bool
holds(const json_t *ids, const char *id)
{
	json_t *v;
	size_t i;
	json_array_foreach (ids, i, v)
		if (strcmp(json_string_value(v), id) == 0)
			return true;
	return false;
}

/* Port p's groups become ids, inside the caller's transaction: its host hears sg_update
 * of each group of joined (records) first, then port_set_groups; the groups naming a
 * joined or left one (left: ids as an object's keys) as remote follow, and the host drops
 * the groups it no longer needs. */
static int
port_regroup(struct svc *sv, json_t *p, json_t *ids, const json_t *joined, const json_t *left,
	     int64_t now, struct hv_error *err)
{
	const char *host = field_or(p, "binding:host_id", "");
	json_t *done = json_object(), *changed = json_object(), *g, *body;
	size_t i;
	int r = 0;
	json_array_foreach (joined, i, g) {
		if (r == 0)
			r = svc_secgroup_send(sv, host, g, done, now, err);
		json_object_set_new(changed, field_or(g, "id", ""), json_true());
	}
	json_decref(done);
	if (json_object_get(p, "security_groups") != ids)
		json_object_set(p, "security_groups", ids);
	if (r == 0)
		r = store_net_update(sv->store, "port", p, err);
	body = json_pack("{s:O, s:O}", "port_id", json_object_get(p, "id"), "security_groups", ids);
	if (r == 0)
		r = svc_net_journal(sv, host, "port_set_groups", body, now, err);
	json_decref(body);
	json_object_update(changed, (json_t *)left);
	if (r == 0)
		r = svc_secgroup_members_changed(sv, changed, host, now, err);
	json_decref(changed);
	json_t *gone = json_deep_copy(left);
	if (r == 0 && json_object_size(gone)) /* the host may no longer need them */
		r = svc_secgroup_prune(sv, host, gone, now, err);
	json_decref(gone);
	return r;
}

/* The server's ports join (add) or leave the group. */
static int
server_group(struct svc *sv, json_t *args, int64_t now, bool add, json_t **ret,
	     struct hv_error *err)
{
	static const char *const known[] = {"server", "group", "project", NULL};
	const char *server;
	char project[33];
	json_t *inst = NULL, *ports = NULL, *g = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "server", HJ_REQUIRED, 255, &server, err)) < 0 ||
	    (r = group_arg(sv, args, now, project, &g, err)) < 0)
		return r;
	if ((r = store_instance_get(sv->store, server, &inst, err)) == -ENOENT ||
	    (r == 0 && strcmp(field_or(inst, "vm_state", ""), "deleted") == 0))
		r = hv_error_set(err, -ENOENT, "args.server", "args.server: no server named '%s'",
				 server);
	if (r == 0)
		r = store_net_list(sv->store, "port", "device_id", field_or(inst, "uuid", ""),
				   &ports, err);
	if (r == 0 && !json_array_size(ports))
		r = hv_error_set(err, -EINVAL, "args.server",
				 "args.server: server %s has no port (create it with --network)",
				 server);
	if (r < 0 || (r = store_begin(sv->store, err)) < 0)
		goto out;
	const char *gid = field_or(g, "id", "");
	json_t *joined = json_pack("[O]", g), *left = json_pack("{s:b}", gid, 1);
	size_t i;
	json_t *p;
	json_array_foreach (ports, i, p) {
		json_t *ids = json_object_get(p, "security_groups");
		if (r == 0 && holds(ids, gid) == add)
			r = hv_error_set(err, add ? -EEXIST : -ENOENT, "args.group",
					 "args.group: server %s is %s in group %s", server,
					 add ? "already" : "not", field_or(g, "name", ""));
		if (r == 0 && add && json_array_size(ids) >= 16)
			r = hv_error_set(err, -EINVAL, "args.group",
					 "args.group: a port is in at most 16 groups");
		if (r < 0)
			break;
		json_t *now_ids = json_array();
		size_t j;
		json_t *v;
		json_array_foreach (ids, j, v)
			if (strcmp(json_string_value(v), gid) != 0)
				json_array_append(now_ids, v);
		if (add)
			json_array_append(now_ids, json_object_get(g, "id"));
		r = port_regroup(sv, p, now_ids, add ? joined : NULL, add ? NULL : left, now, err);
		json_decref(now_ids);
	}
	json_decref(joined);
	json_decref(left);
	if ((r = txn_end(sv, r, err)) == 0) {
		*ret = ports;
		ports = NULL;
	}
out:
	json_decref(inst);
	json_decref(ports);
	json_decref(g);
	return r;
}

int
svc_server_add_secgroup(struct svc *sv, json_t *args, int64_t now, json_t **ret,
			struct hv_error *err)
{
	return server_group(sv, args, now, true, ret, err);
}

int
svc_server_remove_secgroup(struct svc *sv, json_t *args, int64_t now, json_t **ret,
			   struct hv_error *err)
{
	return server_group(sv, args, now, false, ret, err);
}

int
svc_port_set_groups(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"port", "security_groups", NULL};
	const char *id;
	char path[64];
	json_t *want, *p = NULL, *g, *v;
	json_t *ids = json_array(), *joined = json_array(), *left = json_object();
	size_t i;
	int r;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "port", HJ_REQUIRED, 64, &id, err)) < 0 ||
	    (r = hj_arr(args, "args", "security_groups", HJ_REQUIRED, 16, &want, err)) < 0)
		goto out;
	if ((r = store_net_get(sv->store, "port", id, &p, err)) == -ENOENT)
		r = hv_error_set(err, -ENOENT, "args.port", "args.port: no port '%s'", id);
	if (r < 0 || (r = store_begin(sv->store, err)) < 0)
		goto out;
	/* the groups of the port's own project, each once, as Neutron takes them */
	json_array_foreach (want, i, v) {
		hj_path(path, sizeof path, "args.security_groups", NULL, i);
		g = NULL;
		if (!json_is_string(v))
			r = hv_error_set(err, -EINVAL, path, "%s: a security group id is required",
					 path);
		else
			r = svc_secgroup_find(sv, field_or(p, "project_id", ""),
					      json_string_value(v), path, now, &g, err);
		if (r == 0 && holds(ids, field_or(g, "id", "")))
			r = hv_error_set(err, -EINVAL, path, "%s: group %s is listed twice", path,
					 field_or(g, "id", ""));
		if (r == 0) {
			json_array_append(ids, json_object_get(g, "id"));
			if (!holds(json_object_get(p, "security_groups"), field_or(g, "id", "")))
				json_array_append(joined, g);
		}
		json_decref(g);
		if (r < 0)
			break;
	}
	json_array_foreach (json_object_get(p, "security_groups"), i, v)
		if (!holds(ids, json_string_value(v)))
			json_object_set_new(left, json_string_value(v), json_true());
	if (r == 0)
		r = port_regroup(sv, p, ids, joined, left, now, err);
	if ((r = txn_end(sv, r, err)) == 0) {
		*ret = p;
		p = NULL;
	}
out:
	json_decref(p);
	json_decref(ids);
	json_decref(joined);
	json_decref(left);
	return r;
}

/* ---- groups a host no longer needs -------------------------------------------------------- */

/* Adds to ids (an object used as a set) the groups that those in it name as remote. */
static void
with_remotes(struct svc *sv, json_t *ids)
{
	for (size_t before = 0; before != json_object_size(ids);) {
		before = json_object_size(ids);
		const char *id;
		json_t *v, *copy = json_deep_copy(ids);
		json_object_foreach (copy, id, v) {
			json_t *g = NULL, *rule;
			size_t i;
			if (store_net_get(sv->store, "security_group", id, &g, NULL) < 0)
				continue;
			json_array_foreach (json_object_get(g, "security_group_rules"), i, rule) {
				const char *remote = field_or(rule, "remote_group_id", NULL);
				if (remote)
					json_object_set_new(ids, remote, json_true());
			}
			json_decref(g);
		}
		json_decref(copy);
	}
}

/* Whether a group of `pending` other than id names id as remote: it must go first. */
static bool
named_by_pending(struct svc *sv, const char *id, json_t *pending)
{
	const char *other;
	json_t *v;
	bool named = false;
	json_object_foreach (pending, other, v) {
		json_t *g = NULL, *rule;
		size_t i;
		if (strcmp(other, id) == 0 ||
		    store_net_get(sv->store, "security_group", other, &g, NULL) < 0)
			continue;
		json_array_foreach (json_object_get(g, "security_group_rules"), i, rule)
			named = named || strcmp(field_or(rule, "remote_group_id", ""), id) == 0;
		json_decref(g);
	}
	return named;
}

int
svc_secgroup_prune(struct svc *sv, const char *host, json_t *ids, int64_t now, struct hv_error *err)
{
	json_t *pending = json_object();
	const char *id;
	json_t *v;
	int r = 0;
	with_remotes(sv, ids);
	json_object_foreach (ids, id, v) {
		json_t *hosts = NULL, *h;
		size_t i;
		bool needed = false;
		if ((r = store_net_group_hosts(sv->store, id, &hosts, err)) < 0)
			break;
		json_array_foreach (hosts, i, h)
			needed = needed || strcmp(json_string_value(h), host) == 0;
		json_decref(hosts);
		if (!needed)
			json_object_set_new(pending, id, json_true());
	}
	/* a group before the groups it names; a cycle goes in any order */
	while (r == 0 && json_object_size(pending)) {
		const char *pick = NULL;
		json_object_foreach (pending, id, v)
			if (!pick || !named_by_pending(sv, id, pending))
				pick = id;
		json_t *body = json_pack("{s:s}", "group_id", pick);
		r = svc_net_journal(sv, host, "sg_delete", body, now, err);
		json_decref(body);
		json_object_del(pending, pick);
	}
	json_decref(pending);
	return r;
}
