/* os_catalog.c - the Compute 2.1 resources that are the catalog's rather than a server's:
 * flavors with extra specs and access, key pairs, nova's read-only view of the security
 * groups, limits and quota sets, in nova's shapes at the request's microversion. Which
 * project a request may see is decided from its token; every rule is the service
 * layer's. */
#include "os-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* nova's flavor; from 2.55 with its description. */
static json_t *
flavor_json(const struct os_front *f, const struct os_req *q, const json_t *fl)
{
	json_int_t swap = os_num(fl, "swap");
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:o, s:f, s:O, s:o}", "id",
			      os_field(fl, "id"), "name", os_field(fl, "name"), "ram",
			      os_num(fl, "ram"), "vcpus", os_num(fl, "vcpus"), "disk",
			      os_num(fl, "disk"), "OS-FLV-EXT-DATA:ephemeral",
			      os_num(fl, "ephemeral"), "OS-FLV-DISABLED:disabled", 0, "swap",
			      swap ? json_integer(swap) : json_string(""), "rxtx_factor", 1.0,
			      "os-flavor-access:is_public", json_object_get(fl, "is_public"),
			      "links", os_links(f, "flavors", os_field(fl, "id")));
	if (o && os_mv(q, 55)) {
		const char *d = os_field(fl, "description");
		json_object_set_new(o, "description", *d ? json_string(d) : json_null());
	}
	return o;
}

static json_t *
keypair_json(const struct os_req *q, const json_t *kp, bool full)
{
	json_t *o =
		json_pack("{s:s, s:s, s:s}", "name", os_field(kp, "name"), "public_key",
			  os_field(kp, "public_key"), "fingerprint", os_field(kp, "fingerprint"));
	if (os_mv(q, 2))
		json_object_set_new(o, "type", json_string("ssh"));
	if (full) {
		char created[32];
		os_time(os_num(kp, "created_ms"), created);
		json_object_set(o, "user_id", json_object_get(q->auth, "user_id"));
		json_object_set_new(o, "created_at", json_string(created));
		json_object_set_new(o, "deleted", json_false());
		json_object_set_new(o, "id", json_integer(0));
	}
	return o;
}

/* ---- flavors ---------------------------------------------------------------------------- */

/* Whether fl is public or shared with the request's project (nova's is_public=True). */
static bool
flavor_granted(struct os_req *q, const json_t *fl)
{
	size_t i;
	json_t *p;
	if (json_is_true(json_object_get(fl, "is_public")))
		return true;
	json_array_foreach (json_object_get(fl, "access_project_ids"), i, p)
		if (strcmp(json_string_value(p), os_field(q->auth, "project_id")) == 0)
			return true;
	return false;
}

/* Whether a listed flavor (which has no access list) is public or shared with q's project. */
static bool
flavor_listed(struct os_front *f, struct os_req *q, const json_t *fl)
{
	struct hv_error err = {0};
	json_t *full = NULL;
	if (json_is_true(json_object_get(fl, "is_public")))
		return true;
	bool r = svc_flavor_show(f->svc, os_field(fl, "id"), &full, &err) == 0 &&
		 flavor_granted(q, full);
	json_decref(full);
	return r;
}

/* The flavor id names, when the request's project may see it; else NULL after 404. */
static json_t *
flavor_find(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *fl = NULL;
	if (svc_flavor_show(f->svc, id, &fl, &err) == 0 &&
	    strcmp(os_field(fl, "id"), id) == 0 && /* nova looks flavors up by id only */
	    (os_is_admin(q) || flavor_granted(q, fl)))
		return fl;
	json_decref(fl);
	os_error(q, 404, "Flavor %s could not be found.", id);
	return NULL;
}

static void
flavors_list(struct os_front *f, struct os_req *q, bool detail)
{
	struct hv_error err = {0};
	const char *pub = os_query(q, "is_public");
	const char *which = "public";
	if (os_is_admin(q) && pub)
		which = strcasecmp(pub, "none") == 0                         ? "all"
			: strcasecmp(pub, "false") == 0 || !strcmp(pub, "0") ? "private"
									     : "public";
	/* nova's is_public=True lists the private flavors shared with the caller's project too */
	bool granted = strcmp(which, "public") == 0;
	json_t *list = NULL, *out = json_array();
	int r = svc_flavor_list(f->svc, granted ? "all" : which, &list, &err);
	if (r < 0) {
		json_decref(out);
		return os_svc_error(q, r, &err);
	}
	size_t i;
	json_t *fl;
	json_array_foreach (list, i, fl) {
		if (granted && !flavor_listed(f, q, fl))
			continue;
		json_t *o = flavor_json(f, q, fl);
		json_array_append_new(out, detail ? o
						  : json_pack("{s:O, s:O, s:O}", "id",
							      json_object_get(o, "id"), "name",
							      json_object_get(o, "name"), "links",
							      json_object_get(o, "links")));
		if (!detail)
			json_decref(o);
	}
	json_decref(list);
	os_reply(q, 200, json_pack("{s:o}", "flavors", out));
}

static void
flavor_create(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *fl, *res = NULL;
	if (os_admin_refused(q, "os_compute_api:os-flavor-manage:create") ||
	    os_body(q, "flavor", &doc, &fl) < 0)
		return;
	json_t *args = json_object();
	static const char *const copy[][2] = {
		{"name", "name"},
		{"id", "id"},
		{"vcpus", "vcpus"},
		{"ram", "ram"},
		{"disk", "disk"},
		{"swap", "swap"},
		{"OS-FLV-EXT-DATA:ephemeral", "ephemeral"},
		{"os-flavor-access:is_public", "is_public"},
		{"description", "description"},
	};
	for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++) {
		json_t *v = json_object_get(fl, copy[i][0]);
		if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)))
			json_object_set(args, copy[i][1], v);
	}
	int r = svc_flavor_create(f->svc, args, f->now, &res, &err);
	if (r < 0)
		os_svc_error(q, r, &err);
	else
		os_reply(q, 200, json_pack("{s:o}", "flavor", flavor_json(f, q, res)));
	json_decref(res);
	json_decref(args);
	json_decref(doc);
}

static void
extra_specs(struct os_front *f, struct os_req *q, json_t *fl, const char *key)
{
	struct hv_error err = {0};
	json_t *specs = json_object_get(fl, "extra_specs"), *doc = NULL, *body, *res = NULL;
	bool get = strcmp(q->method, "GET") == 0;
	if (get && !key)
		return os_reply(q, 200, json_pack("{s:O}", "extra_specs", specs));
	if (get) {
		json_t *v = json_object_get(specs, key);
		return v ? os_reply(q, 200, json_pack("{s:O}", key, v))
			 : os_error(q, 404, "Flavor %s has no extra specs with key %s.",
				    os_field(fl, "id"), key);
	}
	if (os_admin_refused(q, strcmp(q->method, "POST") == 0
					? "os_compute_api:os-flavor-extra-specs:create"
				: strcmp(q->method, "DELETE") == 0
					? "os_compute_api:os-flavor-extra-specs:delete"
					: "os_compute_api:os-flavor-extra-specs:update"))
		return;
	json_t *args = json_pack("{s:s}", "flavor", os_field(fl, "id"));
	bool del = strcmp(q->method, "DELETE") == 0;
	int r;
	if (del && key) {
		if (!json_object_get(specs, key)) {
			json_decref(args);
			return os_error(q, 404, "Flavor %s has no extra specs with key %s.",
					os_field(fl, "id"), key);
		}
		json_object_set_new(args, "extra_specs", json_pack("[s]", key));
		r = svc_flavor_update(f->svc, args, false, &res, &err);
	} else if (!del && os_body(q, key ? NULL : "extra_specs", &doc, &body) == 0) {
		if (key && (json_object_size(body) != 1 || !json_object_get(body, key))) {
			r = hv_error_set(&err, -EINVAL, "", "the body must hold only %s", key);
		} else {
			json_object_set(args, "extra_specs", body);
			r = svc_flavor_update(f->svc, args, true, &res, &err);
		}
	} else {
		json_decref(args);
		return del ? os_error(q, 405, "The method is not allowed here.") : (void)0;
	}
	if (r < 0)
		os_svc_error(q, r, &err);
	else if (del)
		os_reply(q, 200, NULL);
	else
		os_reply(q, 200,
			 key ? json_deep_copy(body)
			     : json_pack("{s:O}", "extra_specs",
					 json_object_get(res, "extra_specs")));
	json_decref(res);
	json_decref(args);
	json_decref(doc);
}

static json_t *
access_json(const json_t *fl)
{
	json_t *out = json_array();
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(fl, "access_project_ids"), i, p)
		json_array_append_new(out, json_pack("{s:s, s:O}", "flavor_id", os_field(fl, "id"),
						     "tenant_id", p));
	return json_pack("{s:o}", "flavor_access", out);
}

static void
flavor_access_action(struct os_front *f, struct os_req *q, json_t *fl)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body, *res = NULL;
	if (os_body(q, NULL, &doc, &body) < 0)
		return;
	bool add = json_object_get(doc, "addTenantAccess") != NULL;
	if (os_admin_refused(q, add ? "os_compute_api:os-flavor-access:add_tenant_access"
				    : "os_compute_api:os-flavor-access:remove_tenant_access")) {
		json_decref(doc);
		return;
	}
	json_t *a = json_object_get(doc, add ? "addTenantAccess" : "removeTenantAccess");
	const char *tenant = json_string_value(json_object_get(a, "tenant"));
	if (!tenant) {
		json_decref(doc);
		return os_error(q, 400,
				"addTenantAccess.tenant or removeTenantAccess.tenant is "
				"required");
	}
	json_t *args = json_pack("{s:s, s:s}", "flavor", os_field(fl, "id"), "project", tenant);
	int r = svc_flavor_update(f->svc, args, add, &res, &err);
	r < 0 ? os_svc_error(q, r, &err) : os_reply(q, 200, access_json(res));
	json_decref(res);
	json_decref(args);
	json_decref(doc);
}

void
os_flavors_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	bool get = strcmp(q->method, "GET") == 0;
	if (n == 1 && get)
		return flavors_list(f, q, false);
	if (n == 1 && strcmp(q->method, "POST") == 0)
		return flavor_create(f, q);
	if (n == 2 && get && strcmp(seg[1], "detail") == 0)
		return flavors_list(f, q, true);
	if (n < 2)
		return os_error(q, 405, "The method is not allowed here.");
	json_t *fl = flavor_find(f, q, seg[1]);
	if (!fl)
		return;
	if (n == 2 && get) {
		os_reply(q, 200, json_pack("{s:o}", "flavor", flavor_json(f, q, fl)));
	} else if (n == 2 && strcmp(q->method, "DELETE") == 0) {
		if (!os_admin_refused(q, "os_compute_api:os-flavor-manage:delete")) {
			int r = svc_flavor_delete(f->svc, os_field(fl, "id"), &err);
			r < 0 ? os_svc_error(q, r, &err) : os_reply(q, 202, NULL);
		}
	} else if (strcmp(seg[2], "os-extra_specs") == 0 && n <= 4) {
		extra_specs(f, q, fl, n == 4 ? seg[3] : NULL);
	} else if (n == 3 && get && strcmp(seg[2], "os-flavor-access") == 0) {
		if (json_is_true(json_object_get(fl, "is_public")))
			os_error(q, 404, "Access list not available for public flavors.");
		else
			os_reply(q, 200, access_json(fl));
	} else if (n == 3 && strcmp(seg[2], "action") == 0 && strcmp(q->method, "POST") == 0) {
		flavor_access_action(f, q, fl);
	} else {
		os_error(q, 404, "The resource could not be found.");
	}
	json_decref(fl);
}

/* ---- key pairs ---------------------------------------------------------------------- */

/* A public key without the line ends and spaces around it. */
static json_t *
key_line(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	while (n && strchr(" \t\r\n", s[n - 1]))
		n--;
	while (n && strchr(" \t\r\n", *s)) {
		s++;
		n--;
	}
	return json_stringn(s, n);
}

void
os_keypairs_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	const char *project = os_field(q->auth, "project_id");
	json_t *res = NULL, *doc = NULL, *kp;
	int r = 0;
	if (n == 1 && strcmp(q->method, "GET") == 0) {
		if ((r = svc_keypair_list(f->svc, project, &res, &err)) == 0) {
			json_t *out = json_array();
			size_t i;
			json_t *k;
			json_array_foreach (res, i, k)
				json_array_append_new(out, json_pack("{s:o}", "keypair",
								     keypair_json(q, k, false)));
			os_reply(q, 200, json_pack("{s:o}", "keypairs", out));
		}
	} else if (n == 1 && strcmp(q->method, "POST") == 0) {
		if (os_reader_refused(q) || os_body(q, "keypair", &doc, &kp) < 0)
			return;
		const char *type = json_string_value(json_object_get(kp, "type"));
		if (os_mv(q, 2) && json_object_get(kp, "type") && (!type || strcmp(type, "ssh"))) {
			json_decref(doc); /* 2.2's x509 keys are not served */
			return os_error(q, 400,
					"Invalid input for field/attribute keypair.type: only "
					"'ssh' is served");
		}
		json_t *args = json_pack("{s:O, s:s}", "name", json_object_get(kp, "name"),
					 "project", project);
		if (!args)
			r = hv_error_set(&err, -EINVAL, "keypair.name", "keypair.name is required");
		else if (json_is_string(json_object_get(kp, "public_key")))
			/* clients send the file as read, its newline included */
			json_object_set_new(args, "public_key",
					    key_line(json_object_get(kp, "public_key")));
		else if (json_object_get(kp, "public_key"))
			json_object_set(args, "public_key", json_object_get(kp, "public_key"));
		if (r == 0 && (r = svc_keypair_create(f->svc, args, f->now, &res, &err)) == 0) {
			json_t *o = keypair_json(q, res, false);
			json_object_set(o, "user_id", json_object_get(q->auth, "user_id"));
			if (json_object_get(res, "private_key"))
				json_object_set(o, "private_key",
						json_object_get(res, "private_key"));
			os_reply(q, os_mv(q, 2) ? 201 : 200, json_pack("{s:o}", "keypair", o));
			hj_wipe_string(json_object_get(res, "private_key"));
		}
		json_decref(args);
	} else if (n == 2 && strcmp(q->method, "GET") == 0) {
		if ((r = svc_keypair_show(f->svc, project, seg[1], &res, &err)) == 0)
			os_reply(q, 200, json_pack("{s:o}", "keypair", keypair_json(q, res, true)));
	} else if (n == 2 && strcmp(q->method, "DELETE") == 0) {
		if (os_reader_refused(q))
			return;
		if ((r = svc_keypair_delete(f->svc, project, seg[1], &err)) == 0)
			os_reply(q, os_mv(q, 2) ? 204 : 202, NULL);
	} else {
		os_error(q, 404, "The resource could not be found.");
	}
	if (r == -ENOENT && n == 2)
		os_error(q, 404, "Keypair %s not found for user %s", seg[1],
			 os_field(q->auth, "user_id"));
	else if (r < 0)
		os_svc_error(q, r, &err);
	json_decref(res);
	json_decref(doc);
}

/* ---- security groups (nova's read-only view of the networking service's) ------------- */

/* nova shows a group's ingress rules only, with the remote as ip_range or group. */
static json_t *
secgroup_json(const json_t *g)
{
	json_t *rules = json_array(), *r;
	size_t i;
	json_array_foreach (json_object_get(g, "security_group_rules"), i, r) {
		if (strcmp(os_field(r, "direction"), "ingress") != 0)
			continue;
		const char *prefix = os_field(r, "remote_ip_prefix");
		json_t *from = json_object_get(r, "port_range_min"),
		       *to = json_object_get(r, "port_range_max");
		json_array_append_new(rules, json_pack("{s:O, s:O, s:O, s:O, s:O, s:o, s:{}}", "id",
						       json_object_get(r, "id"), "parent_group_id",
						       json_object_get(g, "id"), "ip_protocol",
						       json_object_get(r, "protocol"), "from_port",
						       from ? from : json_null(), "to_port",
						       to ? to : json_null(), "ip_range",
						       *prefix ? json_pack("{s:s}", "cidr", prefix)
							       : json_object(),
						       "group"));
	}
	return json_pack("{s:O, s:O, s:O, s:O, s:o}", "id", json_object_get(g, "id"), "name",
			 json_object_get(g, "name"), "description",
			 json_object_get(g, "description"), "tenant_id",
			 json_object_get(g, "project_id"), "rules", rules);
}

/* GET /os-security-groups[/{id or name}], the caller's project's: openstackclient finds a
 * group there for server add/remove security group. */
void
os_secgroups_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	json_t *res = NULL,
	       *args = json_pack("{s:O}", "project", json_object_get(q->auth, "project_id"));
	int r;
	if (strcmp(q->method, "GET") != 0 || n > 2) {
		json_decref(args);
		return os_error(q, 405, "security groups are managed through the network API");
	}
	if (n == 2) {
		json_object_set_new(args, "group", json_string(seg[1]));
		r = svc_secgroup_show(f->svc, args, f->now, &res, &err);
		if (r == 0)
			os_reply(q, 200, json_pack("{s:o}", "security_group", secgroup_json(res)));
		else if (r == -ENOENT)
			os_error(q, 404, "Security group %.64s not found.", seg[1]);
	} else if ((r = svc_secgroup_list(f->svc, args, f->now, &res, &err)) == 0) {
		json_t *all = json_array(), *g;
		size_t i;
		json_array_foreach (res, i, g)
			json_array_append_new(all, secgroup_json(g));
		os_reply(q, 200, json_pack("{s:o}", "security_groups", all));
	}
	if (r < 0 && r != -ENOENT)
		os_svc_error(q, r, &err);
	json_decref(res);
	json_decref(args);
}

/* ---- limits, quotas, availability zones ---------------------------------------------- */

void
os_limits(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *qs = NULL;
	int r = svc_quota_show(f->svc, os_field(q->auth, "project_id"), &qs, &err);
	if (r < 0)
		return os_svc_error(q, r, &err);
	json_t *use = json_object_get(qs, "in_use");
	json_t *abs = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:i}",
		"maxTotalInstances", os_num(qs, "instances"), "totalInstancesUsed",
		os_num(use, "instances"), "maxTotalCores", os_num(qs, "cores"), "totalCoresUsed",
		os_num(use, "cores"), "maxTotalRAMSize", os_num(qs, "ram"), "totalRAMUsed",
		os_num(use, "ram"), "maxTotalKeypairs", os_num(qs, "key_pairs"),
		"maxSecurityGroups", os_num(qs, "security_groups"), "maxTotalFloatingIps",
		os_num(qs, "floating_ips"), "totalFloatingIpsUsed", 0, "totalSecurityGroupsUsed", 0,
		"maxServerMeta", 128, "maxImageMeta", 128, "maxServerGroups", 10,
		"maxServerGroupMembers", 10);
	json_decref(qs);
	if (os_mv(q, 36)) { /* the networking service's now */
		static const char *const gone[] = {"maxSecurityGroups", "maxTotalFloatingIps",
						   "totalFloatingIpsUsed",
						   "totalSecurityGroupsUsed"};
		for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
			json_object_del(abs, gone[i]);
	}
	if (os_mv(q, 39))
		json_object_del(abs, "maxImageMeta");
	os_reply(q, 200, json_pack("{s:{s:[], s:o}}", "limits", "rate", "absolute", abs));
}

static json_t *
quota_set_json(const struct os_req *q, const json_t *qs)
{
	static const char *const keys[] = {"instances",           "cores",        "ram",
					   "key_pairs",           "floating_ips", "security_groups",
					   "security_group_rules"};
	json_t *o = json_pack("{s:O}", "id", json_object_get(qs, "project_id"));
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		json_object_set_new(o, keys[i], json_integer(os_num(qs, keys[i])));
	json_object_set_new(o, "metadata_items", json_integer(128));
	json_object_set_new(o, "server_groups", json_integer(10));
	json_object_set_new(o, "server_group_members", json_integer(10));
	json_object_set_new(o, "injected_files", json_integer(5));
	json_object_set_new(o, "injected_file_content_bytes", json_integer(10240));
	json_object_set_new(o, "injected_file_path_bytes", json_integer(255));
	if (os_mv(q, 36)) {
		json_object_del(o, "floating_ips");
		json_object_del(o, "security_groups");
		json_object_del(o, "security_group_rules");
	}
	if (os_mv(q, 57)) {
		json_object_del(o, "injected_files");
		json_object_del(o, "injected_file_content_bytes");
		json_object_del(o, "injected_file_path_bytes");
	}
	return json_pack("{s:o}", "quota_set", o);
}

void
os_quotas_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	json_t *qs = NULL, *doc = NULL, *body;
	if (n != 2 && !(n == 3 && strcmp(seg[2], "defaults") == 0))
		return os_error(q, 404, "The resource could not be found.");
	json_t *p = NULL;
	int r = svc_project_show(f->svc, seg[1], &p, &err);
	if (r < 0 ||
	    (!os_is_admin(q) && strcmp(os_field(p, "id"), os_field(q->auth, "project_id")))) {
		json_decref(p);
		return os_error(q, r < 0 ? 404 : 403,
				"Project %s could not be found or is not "
				"yours.",
				seg[1]);
	}
	const char *id = os_field(p, "id");
	if (strcmp(q->method, "GET") == 0) {
		r = svc_quota_show(f->svc, id, &qs, &err);
	} else if (strcmp(q->method, "PUT") == 0 && n == 2) {
		if (os_admin_refused(q, "os_compute_api:os-quota-sets:update") ||
		    os_body(q, "quota_set", &doc, &body) < 0) {
			json_decref(p);
			return;
		}
		json_object_del(body, "force");
		r = svc_quota_set(f->svc, id, body, &qs, &err);
	} else {
		r = hv_error_set(&err, -EINVAL, "", "only GET and PUT");
	}
	r < 0 ? os_svc_error(q, r, &err) : os_reply(q, 200, quota_set_json(q, qs));
	json_decref(qs);
	json_decref(doc);
	json_decref(p);
}
