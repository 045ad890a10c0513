/* os_network.c - the Networking v2.0 subset of the REST front: the version document,
 * extensions, networks, subnets, ports (read), security groups and their rules, floating
 * IPs and quotas, over the service's records (network.c, secgroup.c, floatip.c), which are
 * Neutron's already. Here only the wire: body keys to the service's args, project scoping
 * of what a caller sees, query filters, status codes. Every rule stays in the service. */
#include "os-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

static const char *
field(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

/* One collection: its path, its reply's keys (list, one record), the service's key for a
 * record, its create body's keys as the service's args ({wire, arg}), and the service's
 * calls. */
struct coll {
	const char *path, *many, *one, *ref, *type;
	const char *const (*keys)[2];
	size_t n_keys;
	svc_net_fn *list, *show, *create, *del;
};

static const char *const network_keys[][2] = {
	{"name", "name"},
	{"shared", "shared"},
	{"router:external", "external"},
	{"admin_state_up", "admin_state_up"},
};
static const char *const subnet_keys[][2] = {
	{"network_id", "network"},
	{"cidr", "cidr"},
	{"name", "name"},
	{"gateway_ip", "gateway_ip"},
	{"allocation_pools", "allocation_pools"},
	{"dns_nameservers", "dns_nameservers"},
	{"enable_dhcp", "enable_dhcp"},
	{"ip_version", "ip_version"},
};
static const char *const secgroup_keys[][2] = {
	{"name", "name"},
	{"description", "description"},
};
static const char *const sgrule_keys[][2] = {
	{"security_group_id", "group"},
	{"direction", "direction"},
	{"ethertype", "ethertype"},
	{"protocol", "protocol"},
	{"port_range_min", "port_range_min"},
	{"port_range_max", "port_range_max"},
	{"remote_ip_prefix", "remote_ip_prefix"},
	{"remote_group_id", "remote_group"},
};
static const char *const fip_keys[][2] = {
	{"floating_network_id", "network"},
	{"description", "description"},
};

#define KEYS(k) k, sizeof k / sizeof k[0]

static const struct coll colls[] = {
	{"networks", "networks", "network", "network", "Network", KEYS(network_keys),
	 svc_network_list, svc_network_show, svc_network_create, svc_network_delete},
	{"subnets", "subnets", "subnet", "subnet", "Subnet", KEYS(subnet_keys), svc_subnet_list,
	 svc_subnet_show, svc_subnet_create, svc_subnet_delete},
	{"ports", "ports", "port", "port", "Port", NULL, 0, svc_port_list, svc_port_show, NULL,
	 NULL},
	{"security-groups", "security_groups", "security_group", "group", "SecurityGroup",
	 KEYS(secgroup_keys), svc_secgroup_list, svc_secgroup_show, svc_secgroup_create,
	 svc_secgroup_delete},
	{"security-group-rules", "security_group_rules", "security_group_rule", "rule",
	 "SecurityGroupRule", KEYS(sgrule_keys), svc_sgrule_list, NULL, svc_sgrule_create,
	 svc_sgrule_delete},
	{"floatingips", "floatingips", "floatingip", "floating_ip", "FloatingIP", KEYS(fip_keys),
	 svc_fip_list, svc_fip_show, svc_fip_create, svc_fip_delete},
};

/* The extensions served, by the alias a client checks before using a feature. */
static const char *const extensions[][2] = {
	{"security-group", "security-group"},
	{"external-net", "Neutron external network"},
	{"quotas", "Quota management support"},
};

static json_t *
args_new(const struct os_req *q)
{
	return json_pack("{s:O}", "project", json_object_get(q->auth, "project_id"));
}

/* Neutron's project_id comes with its older name tenant_id, which the clients still read. */
static json_t *
wire(json_t *rec)
{
	json_t *p = json_object_get(rec, "project_id");
	if (p)
		json_object_set(rec, "tenant_id", p);
	if (!json_object_get(rec, "description"))
		json_object_set_new(rec, "description", json_string(""));
	json_object_set_new(rec, "tags", json_array());
	json_t *rules = json_object_get(rec, "security_group_rules"), *r;
	size_t i;
	json_array_foreach (rules, i, r)
		wire(r);
	return rec;
}

/* Another project's record is invisible unless shared or external (or the caller admin). */
static bool
visible(const struct os_req *q, const json_t *rec)
{
	const char *owner = field(rec, "project_id");
	return !*owner || os_is_admin(q) || strcmp(owner, field(q->auth, "project_id")) == 0 ||
	       json_is_true(json_object_get(rec, "shared")) ||
	       json_is_true(json_object_get(rec, "router:external"));
}

/* A query filter against a record's value: strings equal, booleans as True/False. */
static bool
matches(const json_t *v, const char *want)
{
	char buf[32];
	if (json_is_string(v))
		return strcmp(json_string_value(v), want) == 0;
	if (json_is_boolean(v))
		return strcasecmp(want, json_is_true(v) ? "true" : "false") == 0;
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		return strcmp(buf, want) == 0;
	}
	return json_is_null(v) && !*want;
}

/* Whether one of a repeated filter's values (?id=A&id=B, Neutron's "any of") matches v;
 * true when none is a string (a filter given without a value filters nothing). */
static bool
matches_any(const json_t *v, const json_t *wants)
{
	bool any_string = false;
	json_t *want;
	size_t i;
	json_array_foreach (wants, i, want) {
		if (!json_is_string(want))
			continue;
		any_string = true;
		if (matches(v, json_string_value(want)))
			return true;
	}
	return !any_string;
}

static bool
filtered_out(const struct os_req *q, const json_t *rec)
{
	static const char *const paging[] = {"fields", "limit", "marker", "sort_key", "sort_dir"};
	const char *name;
	json_t *wants;
	json_object_foreach (q->query_all, name, wants) {
		size_t i = 0;
		while (i < sizeof paging / sizeof paging[0] && strcmp(paging[i], name) != 0)
			i++;
		if (i < sizeof paging / sizeof paging[0])
			continue;
		/* a filter on a field the record lacks matches nothing, as Neutron answers;
		 * tenant_id is project_id's older name (Horizon filters by it) */
		const char *key = strcmp(name, "tenant_id") == 0 ? "project_id" : name;
		if (!matches_any(json_object_get(rec, key), wants))
			return true;
	}
	return !visible(q, rec);
}

static void
list(struct os_front *f, struct os_req *q, const struct coll *c)
{
	struct hv_error err = {0};
	json_t *args = args_new(q), *all = NULL, *out = json_array(), *rec;
	size_t i;
	int r = c->list(f->svc, args, f->now, &all, &err);
	json_decref(args);
	if (r < 0) {
		json_decref(out);
		return os_svc_error(q, r, &err);
	}
	json_array_foreach (all, i, rec)
		if (!filtered_out(q, rec))
			json_array_append(out, wire(rec));
	json_decref(all);
	os_reply(q, 200, json_pack("{s:o}", c->many, out));
}

/* The record of id the caller may see; NULL after replying 404. */
static json_t *
find(struct os_front *f, struct os_req *q, const struct coll *c, const char *id)
{
	struct hv_error err = {0};
	json_t *args = args_new(q), *rec = NULL;
	int r = -ENOENT;
	json_object_set_new(args, c->ref, json_string(id));
	if (c->show)
		r = c->show(f->svc, args, f->now, &rec, &err);
	json_decref(args);
	if (r == 0 && visible(q, rec))
		return rec;
	json_decref(rec);
	if (r < 0 && r != -ENOENT)
		os_svc_error(q, r, &err);
	else
		os_error(q, 404, "%s %.64s could not be found.", c->type, id);
	return NULL;
}

/* The body's record as the service's args: only the keys Neutron's create takes that
 * the service knows; a null is an attribute left unset. */
static json_t *
create_args(const struct os_req *q, const struct coll *c, json_t *body)
{
	json_t *args = args_new(q), *v;
	for (size_t i = 0; i < c->n_keys; i++)
		if ((v = json_object_get(body, c->keys[i][0])) && !json_is_null(v))
			json_object_set(args, c->keys[i][1], v);
	return args;
}

/* The service names a field by its args key ("args.network: ..."); the caller sent the
 * wire's ("network_id"), so the message names that. */
static void
create_error(struct os_req *q, const struct coll *c, int r, struct hv_error *err)
{
	char msg[sizeof err->message];
	for (size_t i = 0; i < c->n_keys; i++) {
		size_t n = strlen(c->keys[i][1]);
		const char *m = err->message;
		if (strncmp(m, "args.", 5) != 0 || strncmp(m + 5, c->keys[i][1], n) != 0 ||
		    (m[5 + n] != ':' && m[5 + n] != ' '))
			continue;
		snprintf(msg, sizeof msg, "%s%s", c->keys[i][0], m + 5 + n);
		snprintf(err->message, sizeof err->message, "%s", msg);
		break;
	}
	os_svc_error(q, r, err);
}

static void
create(struct os_front *f, struct os_req *q, const struct coll *c)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body, *args, *rec = NULL;
	if (os_body(q, c->one, &doc, &body) < 0)
		return;
	args = create_args(q, c, body);
	int r = c->create(f->svc, args, f->now, &rec, &err);
	if (r < 0)
		create_error(q, c, r, &err);
	else
		os_reply(q, 201, json_pack("{s:o}", c->one, wire(rec)));
	json_decref(args);
	json_decref(doc);
}

static void
remove_one(struct os_front *f, struct os_req *q, const struct coll *c, const char *id)
{
	struct hv_error err = {0};
	json_t *rec = NULL, *args, *res = NULL;
	/* a rule has no show: its group's project says whose it is */
	if (c->show && !(rec = find(f, q, c, id)))
		return;
	args = args_new(q);
	json_object_set_new(args, c->ref, json_string(rec ? field(rec, "id") : id));
	int r = c->del(f->svc, args, f->now, &res, &err);
	r < 0 ? os_svc_error(q, r, &err) : os_reply(q, 204, NULL);
	json_decref(res);
	json_decref(args);
	json_decref(rec);
}

/* PUT {"network": {"name"}}: only the name changes here. */
static void
network_update(struct os_front *f, struct os_req *q, const struct coll *c, const char *id)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body, *net, *args = NULL, *res = NULL;
	const char *key;
	json_t *v;
	if (!(net = find(f, q, c, id)))
		return;
	if (os_body(q, c->one, &doc, &body) < 0)
		goto out;
	json_object_foreach (body, key, v)
		if (strcmp(key, "name") != 0) {
			os_error(q, 400, "Invalid input for %.64s: only name can be changed", key);
			goto out;
		}
	args = args_new(q);
	json_object_set(args, "network", json_object_get(net, "id"));
	if ((v = json_object_get(body, "name")))
		json_object_set(args, "name", v);
	int r = svc_network_update(f->svc, args, f->now, &res, &err);
	if (r < 0)
		create_error(q, c, r, &err);
	else
		os_reply(q, 200, json_pack("{s:O}", c->one, wire(res)));
out:
	json_decref(res);
	json_decref(args);
	json_decref(doc);
	json_decref(net);
}

static const struct coll *
coll_of(const char *path)
{
	for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++)
		if (strcmp(colls[i].path, path) == 0)
			return &colls[i];
	return NULL;
}

/* The groups of want (ids) each once and resolved to a record the caller sees, no more
 * than a port holds; -1 after replying. Checked before anything changes. */
static int
port_groups_check(struct os_front *f, struct os_req *q, const json_t *want)
{
	json_t *g, *rec;
	size_t i;
	if (!json_is_array(want) || json_array_size(want) > 16) {
		os_error(q, 400, "Invalid input for security_groups: a list of at most 16 ids");
		return -1;
	}
	json_array_foreach (want, i, g) {
		if (!json_is_string(g)) {
			os_error(q, 400, "Invalid input for security_groups: ids are strings");
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(want, j), g)) {
				os_error(q, 400, "Invalid input for security_groups: %.64s twice",
					 json_string_value(g));
				return -1;
			}
		if (!(rec = find(f, q, coll_of("security-groups"), json_string_value(g))))
			return -1;
		json_decref(rec);
	}
	return 0;
}

/* PUT {"port": {"security_groups": [ids]}} (Horizon's Edit Security Groups puts each of the
 * server's ports so): that port's groups become those, as Neutron sets them. */
static void
port_update(struct os_front *f, struct os_req *q, const struct coll *c, const char *id)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body, *port, *want, *args = NULL, *res = NULL;
	if (!(port = find(f, q, c, id)))
		return;
	if (os_body(q, c->one, &doc, &body) < 0)
		goto out;
	want = json_object_get(body, "security_groups");
	if (json_object_size(body) != 1 || !want) {
		os_error(q, 400, "Invalid input for port: only security_groups can be changed");
		goto out;
	}
	if (port_groups_check(f, q, want) < 0)
		goto out;
	args = json_pack("{s:O, s:O}", "port", json_object_get(port, "id"), "security_groups",
			 want);
	int r = svc_port_set_groups(f->svc, args, f->now, &res, &err);
	r < 0 ? os_svc_error(q, r, &err) : os_reply(q, 200, json_pack("{s:O}", c->one, wire(res)));
out:
	json_decref(res);
	json_decref(args);
	json_decref(doc);
	json_decref(port);
}

/* PUT {"floatingip": {"port_id": ID | null}}: associates with the port's server, or
 * disassociates. */
static void
fip_update(struct os_front *f, struct os_req *q, const struct coll *c, const char *id)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body, *fip, *port = NULL, *args = NULL, *res = NULL;
	int r;
	if (!(fip = find(f, q, c, id)))
		return;
	if (os_body(q, c->one, &doc, &body) < 0)
		goto out;
	json_t *pid = json_object_get(body, "port_id");
	if (!json_is_null(pid) && !json_is_string(pid)) {
		os_error(q, 400, "Invalid input for port_id: a port id or null is required");
		goto out;
	}
	if (pid && !json_is_null(pid) &&
	    !(port = find(f, q, coll_of("ports"), json_string_value(pid))))
		goto out;
	args = args_new(q);
	json_object_set(args, "floating_ip", json_object_get(fip, "id"));
	if (port && !*field(port, "device_id")) {
		os_error(q, 400, "Invalid input for port_id: port %s has no server",
			 field(port, "id"));
		goto out;
	}
	if (port) {
		json_object_set(args, "server", json_object_get(port, "device_id"));
		r = svc_fip_associate(f->svc, args, f->now, &res, &err);
	} else {
		r = svc_fip_disassociate(f->svc, args, f->now, &res, &err);
	}
	json_decref(res);
	res = NULL;
	if (r == 0)
		r = c->show(f->svc, args, f->now, &res, &err);
	r < 0 ? os_svc_error(q, r, &err)
	      : os_reply(q, 200, json_pack("{s:o}", c->one, wire(json_incref(res))));
out:
	json_decref(res);
	json_decref(args);
	json_decref(port);
	json_decref(doc);
	json_decref(fip);
}

static void
quota_show(struct os_front *f, struct os_req *q, const char *project)
{
	struct hv_error err = {0};
	json_t *p = NULL, *qs = NULL;
	int r = svc_project_show(f->svc, project, &p, &err);
	if (r < 0 || (!os_is_admin(q) && strcmp(field(p, "id"), field(q->auth, "project_id")))) {
		json_decref(p);
		return os_error(q, 404, "Project %.64s could not be found.", project);
	}
	r = svc_quota_show(f->svc, field(p, "id"), &qs, &err);
	json_decref(p);
	if (r < 0)
		return os_svc_error(q, r, &err);
	/* networks, subnets and ports have no limit here: -1 is Neutron's "unlimited" */
	os_reply(q, 200,
		 json_pack("{s:{s:i, s:i, s:i, s:i, s:O, s:O, s:O}}", "quota", "network", -1,
			   "subnet", -1, "port", -1, "router", 0, "floatingip",
			   json_object_get(qs, "floating_ips"), "security_group",
			   json_object_get(qs, "security_groups"), "security_group_rule",
			   json_object_get(qs, "security_group_rules")));
	json_decref(qs);
}

static json_t *
extension_json(size_t i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:[]}", "alias", extensions[i][0], "name",
			 extensions[i][1], "description", extensions[i][1], "updated",
			 "2012-10-05T10:00:00-00:00", "links");
}

static void
extensions_route(struct os_req *q, char **seg, int n)
{
	size_t count = sizeof extensions / sizeof extensions[0];
	if (n == 1) {
		json_t *all = json_array();
		for (size_t i = 0; i < count; i++)
			json_array_append_new(all, extension_json(i));
		return os_reply(q, 200, json_pack("{s:o}", "extensions", all));
	}
	for (size_t i = 0; i < count; i++)
		if (strcmp(extensions[i][0], seg[1]) == 0)
			return os_reply(q, 200, json_pack("{s:o}", "extension", extension_json(i)));
	os_error(q, 404, "Extension with alias %.64s does not exist", seg[1]);
}

static void
coll_route(struct os_front *f, struct os_req *q, const struct coll *c, char **seg, int n)
{
	bool get = strcmp(q->method, "GET") == 0;
	if (n == 1 && get)
		return list(f, q, c);
	if (n == 1 && strcmp(q->method, "POST") == 0 && c->create)
		return create(f, q, c);
	if (n == 2 && get && c->show) {
		json_t *rec = find(f, q, c, seg[1]);
		if (rec)
			os_reply(q, 200, json_pack("{s:o}", c->one, wire(rec)));
		return;
	}
	if (n == 2 && strcmp(q->method, "DELETE") == 0 && c->del)
		return remove_one(f, q, c, seg[1]);
	if (n == 2 && strcmp(q->method, "PUT") == 0 && strcmp(c->path, "floatingips") == 0)
		return fip_update(f, q, c, seg[1]);
	if (n == 2 && strcmp(q->method, "PUT") == 0 && strcmp(c->path, "networks") == 0)
		return network_update(f, q, c, seg[1]);
	if (n == 2 && strcmp(q->method, "PUT") == 0 && strcmp(c->path, "ports") == 0)
		return port_update(f, q, c, seg[1]);
	if (n <= 2)
		return os_error(q, 405, "%s is not served on %s", q->method, c->path);
	os_error(q, 404, "The resource could not be found.");
}

#define MAX_SEGS 4

void
os_network_route(struct os_front *f, struct os_req *q, const char *rest)
{
	char path[512], href[300];
	char *seg[MAX_SEGS];
	int n = 0;
	if (!*rest || strcmp(rest, "/") == 0) {
		snprintf(href, sizeof href, "%s/network/v2.0/", f->public_url);
		return os_reply(q, 200,
				json_pack("{s:[{s:s, s:s, s:[{s:s, s:s}]}]}", "versions", "id",
					  "v2.0", "status", "CURRENT", "links", "rel", "self",
					  "href", href));
	}
	if (strncmp(rest, "/v2.0", 5) != 0 || (rest[5] && rest[5] != '/'))
		return os_error(q, 404, "The resource could not be found.");
	if (!os_authenticate(f, q))
		return;
	if (snprintf(path, sizeof path, "%s", rest + 5) >= (int)sizeof path)
		return os_error(q, 404, "The resource could not be found.");
	for (char *save = NULL, *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save))
		if (n++ < MAX_SEGS)
			seg[n - 1] = t;
	if (n == 0)
		return os_reply(q, 200, json_pack("{s:[]}", "resources"));
	if (n > MAX_SEGS)
		return os_error(q, 404, "The resource could not be found.");
	/* the clients' ".json" suffix of older days */
	char *dot = strstr(seg[n - 1], ".json");
	if (dot && !dot[5])
		*dot = '\0';
	if (strcmp(q->method, "GET") != 0 && strcmp(field(q->auth, "role"), "reader") == 0)
		return os_error(q, 403, "The reader role only reads.");
	if (strcmp(seg[0], "extensions") == 0 && n <= 2 && strcmp(q->method, "GET") == 0)
		return extensions_route(q, seg, n);
	if (strcmp(seg[0], "quotas") == 0 && n == 2 && strcmp(q->method, "GET") == 0)
		return quota_show(f, q, seg[1]);
	const struct coll *c = coll_of(seg[0]);
	if (c)
		return coll_route(f, q, c, seg, n);
	os_error(q, 404, "The resource could not be found.");
}
