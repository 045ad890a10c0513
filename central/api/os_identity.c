/* os_identity.c - the Keystone v3 subset of the REST front: version discovery, tokens by
 * password or from another token (keystone's "token" method, Horizon's re-scoping),
 * unscoped or scoped to a project (the token in X-Subject-Token, what it grants in the body
 * with the service catalog), token validation and revocation, and the reads Horizon's
 * pages make: projects, the one domain, users, roles and role assignments. The rules
 * (passwords, roles, expiry) are identity.c's. Must never log, echo or keep a password or a
 * token. */
#include "os-priv.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "json.h"

#define DOMAIN_ID "default"
#define DOMAIN_NAME "Default"

static json_t *
version_v3(const struct os_front *f)
{
	char href[300];
	snprintf(href, sizeof href, "%s/identity/v3/", f->public_url);
	return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}", "id", "v3.14", "status",
			 "stable", "updated", "2020-04-07T00:00:00Z", "links", "rel", "self",
			 "href", href, "media-types", "base", "application/json", "type",
			 "application/vnd.openstack.identity-v3+json");
}

static json_t *
endpoints(const char *url)
{
	static const char *const ifaces[] = {"public", "internal", "admin"};
	json_t *a = json_array();
	for (size_t i = 0; i < 3; i++) {
		char id[37];
		proto_uuid4(id);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id,
						   "interface", ifaces[i], "region", "RegionOne",
						   "region_id", "RegionOne", "url", url));
	}
	return a;
}

/* Only what is served: a client asks every service the catalog lists. */
static json_t *
catalog(const struct os_front *f)
{
	char identity[300], compute[300], image[300], network[300];
	snprintf(identity, sizeof identity, "%s/identity", f->public_url);
	snprintf(compute, sizeof compute, "%s/compute/v2.1", f->public_url);
	snprintf(image, sizeof image, "%s/image", f->public_url);
	snprintf(network, sizeof network, "%s/network", f->public_url);
	return json_pack("[{s:s, s:s, s:s, s:o}, {s:s, s:s, s:s, s:o}, {s:s, s:s, s:s, s:o}, "
			 "{s:s, s:s, s:s, s:o}]",
			 "type", "identity", "name", "keystone", "id", "identity", "endpoints",
			 endpoints(identity), "type", "compute", "name", "nova", "id", "compute",
			 "endpoints", endpoints(compute), "type", "image", "name", "glance", "id",
			 "image", "endpoints", endpoints(image), "type", "network", "name",
			 "neutron", "id", "network", "endpoints", endpoints(network));
}

static json_t *
links_self(const struct os_front *f, const char *what, const char *id)
{
	char href[400];
	snprintf(href, sizeof href, "%s/identity/v3/%s%s%s", f->public_url, what, id ? "/" : "",
		 id ? id : "");
	return json_pack("{s:s}", "self", href);
}

static json_t *
list_links(const struct os_front *f, const char *what)
{
	json_t *l = links_self(f, what, NULL);
	json_object_set_new(l, "next", json_null());
	json_object_set_new(l, "previous", json_null());
	return l;
}

static json_t *
project_json(const struct os_front *f, const json_t *p)
{
	const char *id = json_string_value(json_object_get(p, "id"));
	return json_pack("{s:s, s:O, s:s, s:b, s:s, s:s, s:b, s:[], s:{}, s:o}", "id", id, "name",
			 json_object_get(p, "name"), "description",
			 json_string_value(json_object_get(p, "description"))
				 ? json_string_value(json_object_get(p, "description"))
				 : "",
			 "enabled", json_is_true(json_object_get(p, "enabled")), "domain_id",
			 DOMAIN_ID, "parent_id", DOMAIN_ID, "is_domain", 0, "tags", "options",
			 "links", links_self(f, "projects", id));
}

static json_t *
domain_json(const struct os_front *f)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:[], s:{}, s:o}", "id", DOMAIN_ID, "name",
			 DOMAIN_NAME, "description", "The default domain", "enabled", 1, "tags",
			 "options", "links", links_self(f, "domains", DOMAIN_ID));
}

static json_t *
user_json(const struct os_front *f, const json_t *u)
{
	const char *id = json_string_value(json_object_get(u, "id"));
	return json_pack("{s:s, s:O, s:s, s:b, s:n, s:{}, s:o}", "id", id, "name",
			 json_object_get(u, "name"), "domain_id", DOMAIN_ID, "enabled", 1,
			 "password_expires_at", "options", "links", links_self(f, "users", id));
}

/* A role's id is its name: the three roles are fixed. */
static json_t *
role_json(const struct os_front *f, const char *name)
{
	return json_pack("{s:s, s:s, s:n, s:n, s:{}, s:o}", "id", name, "name", name, "domain_id",
			 "description", "options", "links", links_self(f, "roles", name));
}

/* The token body keystoneauth reads (AccessInfoV3): an unscoped token has no project, roles
 * or catalog. */
static json_t *
token_json(const struct os_front *f, const json_t *ctx, const char *method)
{
	char issued[32], expires[32];
	os_time(json_integer_value(json_object_get(ctx, "issued_ms")), issued);
	os_time(json_integer_value(json_object_get(ctx, "expires_ms")), expires);
	unsigned char audit[16];
	char audit_id[32];
	randombytes_buf(audit, sizeof audit);
	sodium_bin2base64(audit_id, sizeof audit_id, audit, sizeof audit,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	json_t *t = json_pack(
		"{s:[s], s:s, s:s, s:[s], s:b, s:{s:O, s:O, s:{s:s, s:s}, s:n}}", "methods", method,
		"issued_at", issued, "expires_at", expires, "audit_ids", audit_id, "is_domain", 0,
		"user", "id", json_object_get(ctx, "user_id"), "name", json_object_get(ctx, "user"),
		"domain", "id", DOMAIN_ID, "name", DOMAIN_NAME, "password_expires_at");
	if (json_object_get(ctx, "project_id")) {
		json_t *roles = json_array();
		size_t i;
		json_t *r;
		json_array_foreach (json_object_get(ctx, "roles"), i, r)
			json_array_append_new(roles, json_pack("{s:O, s:O}", "id", r, "name", r));
		json_object_set_new(t, "project",
				    json_pack("{s:O, s:O, s:{s:s, s:s}}", "id",
					      json_object_get(ctx, "project_id"), "name",
					      json_object_get(ctx, "project"), "domain", "id",
					      DOMAIN_ID, "name", DOMAIN_NAME));
		json_object_set_new(t, "roles", roles);
		json_object_set_new(t, "catalog", catalog(f));
	}
	return json_pack("{s:o}", "token", t);
}

/* auth.scope: absent or "unscoped" (*project NULL), or a project by id or name. A domain or
 * system scope is refused as keystone refuses a user without a role there (Horizon asks
 * for the domain at login and goes on without it). */
static int
scope_field(struct os_req *q, json_t *auth, const char **project)
{
	json_t *scope = json_object_get(auth, "scope");
	*project = NULL;
	if (!scope || (json_is_string(scope) && strcmp(json_string_value(scope), "unscoped") == 0))
		return 0;
	json_t *p = json_object_get(scope, "project");
	if (json_is_object(p)) {
		*project = json_string_value(json_object_get(p, "id"));
		if (!*project)
			*project = json_string_value(json_object_get(p, "name"));
		if (*project)
			return 0;
		os_error(q, 400, "auth.scope.project: a name or an id is required");
		return -1;
	}
	if (json_object_get(scope, "domain") || json_object_get(scope, "system")) {
		os_error(q, 401, "The request you have made requires authentication.");
		return -1;
	}
	os_error(q, 400, "auth.scope: a project, or \"unscoped\"");
	return -1;
}

static bool
has_method(json_t *identity, const char *name)
{
	size_t i;
	json_t *m;
	json_array_foreach (json_object_get(identity, "methods"), i, m)
		if (json_is_string(m) && strcmp(json_string_value(m), name) == 0)
			return true;
	return false;
}

/* auth.identity.password.user.{name|id} and password. */
static int
password_fields(struct os_req *q, json_t *identity, const char **user, const char **password)
{
	json_t *u = json_object_get(json_object_get(identity, "password"), "user");
	*user = json_string_value(json_object_get(u, "id"));
	if (!*user)
		*user = json_string_value(json_object_get(u, "name"));
	*password = json_string_value(json_object_get(u, "password"));
	if (!*user || !*password) {
		os_error(q, 400, "auth.identity.password.user: name (or id) and password required");
		return -1;
	}
	return 0;
}

/* POST /v3/auth/tokens, by password or from a token (auth.identity.token.id). */
static void
token_issue(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *auth, *ctx = NULL;
	const char *user, *password, *project, *method = "password";
	char token[SVC_TOKEN_MAX + 1];
	int r = -1;
	if (os_body(q, "auth", &doc, &auth) < 0)
		return;
	json_t *identity = json_object_get(auth, "identity");
	json_t *from = json_object_get(json_object_get(identity, "token"), "id");
	if (scope_field(q, auth, &project) < 0) {
		/* replied */
	} else if (has_method(identity, "password")) {
		if (password_fields(q, identity, &user, &password) == 0)
			r = svc_token_issue(f->svc, user, password, project, f->now, token, &ctx,
					    &err);
	} else if (has_method(identity, "token")) {
		method = "token";
		if (!json_is_string(from))
			os_error(q, 400, "auth.identity.token.id: the token is required");
		else
			r = svc_token_rescope(f->svc, json_string_value(from), project, f->now,
					      token, &ctx, &err);
	} else {
		os_error(q, 400, "auth.identity.methods: \"password\" or \"token\"");
	}
	if (ctx) {
		os_reply(q, 201, token_json(f, ctx, method));
		os_header(q, "X-Subject-Token", token);
		sodium_memzero(token, sizeof token);
	} else if (!q->status) {
		os_svc_error(q, r, &err);
	}
	hj_wipe_string(json_object_get(
		json_object_get(json_object_get(identity, "password"), "user"), "password"));
	hj_wipe_string(from);
	json_decref(ctx);
	json_decref(doc);
}

static void
token_check(struct os_front *f, struct os_req *q, bool revoke)
{
	struct hv_error err = {0};
	json_t *ctx = NULL;
	if (!q->subject_token)
		return os_error(q, 400, "X-Subject-Token: the token to check is required");
	if (revoke) {
		int r = svc_token_revoke(f->svc, q->subject_token, &err);
		return r < 0 ? os_error(q, 404, "Could not find token.") : os_reply(q, 204, NULL);
	}
	if (svc_token_validate(f->svc, q->subject_token, f->now, &ctx, &err) < 0)
		return os_error(q, 404, "Could not find token.");
	os_reply(q, 200, token_json(f, ctx, "password"));
	os_header(q, "X-Subject-Token", q->subject_token);
	json_decref(ctx);
}

/* X-Auth-Token, scoped or not: what the identity calls accept (each checks what it shows). */
static bool
authenticate(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	if (q->token && svc_token_validate(f->svc, q->token, f->now, &q->auth, &err) == 0)
		return true;
	os_error(q, 401, "The request you have made requires authentication.");
	os_header(q, "WWW-Authenticate", "Keystone uri=\"/identity\"");
	return false;
}

static const char *
caller(const struct os_req *q)
{
	const char *id = json_string_value(json_object_get(q->auth, "user_id"));
	return id ? id : "";
}

/* keystone's default policy for listing what is not one's own: an admin token. */
static bool
admin_only(struct os_req *q)
{
	if (os_is_admin(q))
		return true;
	os_error(q, 403, "You are not authorized to perform the requested action.");
	return false;
}

static bool
filtered_out(const struct os_req *q, const char *param, const char *value)
{
	const char *want = os_query(q, param);
	return want && strcmp(want, value ? value : "") != 0;
}

/* The projects of user_id: GET /v3/auth/projects, /v3/users/{id}/projects. */
static void
user_projects(struct os_front *f, struct os_req *q, const char *user_id)
{
	struct hv_error err = {0};
	json_t *list = NULL, *out = json_array();
	int r = svc_user_projects(f->svc, user_id, &list, &err);
	if (r < 0) {
		json_decref(out);
		return os_svc_error(q, r, &err);
	}
	size_t i;
	json_t *p;
	json_array_foreach (list, i, p)
		json_array_append_new(out, project_json(f, p));
	json_decref(list);
	os_reply(q, 200,
		 json_pack("{s:o, s:o}", "projects", out, "links", list_links(f, "projects")));
}

/* GET /v3/projects and /v3/users (admins): what read answers, filtered by name or
 * domain_id as keystone does, each as shape makes it, under key. */
static void
named_list(struct os_front *f, struct os_req *q, const char *key,
	   int (*read)(struct svc *, json_t **, struct hv_error *),
	   json_t *(*shape)(const struct os_front *, const json_t *))
{
	struct hv_error err = {0};
	json_t *list = NULL, *out = json_array();
	int r = read(f->svc, &list, &err);
	if (r < 0) {
		json_decref(out);
		return os_svc_error(q, r, &err);
	}
	size_t i;
	json_t *p;
	json_array_foreach (list, i, p)
		if (!filtered_out(q, "name", json_string_value(json_object_get(p, "name"))) &&
		    !filtered_out(q, "domain_id", DOMAIN_ID))
			json_array_append_new(out, shape(f, p));
	json_decref(list);
	os_reply(q, 200, json_pack("{s:o, s:o}", key, out, "links", list_links(f, key)));
}

/* GET /v3/projects/{id or name}: the token's own project (admins: any). */
static void
project_get(struct os_front *f, struct os_req *q, const char *which)
{
	struct hv_error err = {0};
	json_t *p = NULL;
	int r = svc_project_show(f->svc, which, &p, &err);
	const char *mine = json_string_value(json_object_get(q->auth, "project_id"));
	bool own = r == 0 && mine && strcmp(json_string_value(json_object_get(p, "id")), mine) == 0;
	if (r < 0 || (!own && !os_is_admin(q))) {
		json_decref(p);
		return os_error(q, 404, "Could not find project: %s.", which);
	}
	os_reply(q, 200, json_pack("{s:o}", "project", project_json(f, p)));
	json_decref(p);
}

/* GET /v3/users/{id}: oneself (admins: anyone). */
static void
user_get(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *u = NULL;
	if ((strcmp(id, caller(q)) != 0 && !os_is_admin(q)) ||
	    svc_user_show(f->svc, id, &u, &err) < 0 ||
	    strcmp(json_string_value(json_object_get(u, "id")), id) != 0) {
		json_decref(u);
		return os_error(q, 404, "Could not find user: %s.", id);
	}
	os_reply(q, 200, json_pack("{s:o}", "user", user_json(f, u)));
	json_decref(u);
}

static const char *
role_known(const char *name)
{
	for (size_t i = 0; svc_roles[i]; i++)
		if (strcmp(svc_roles[i], name) == 0)
			return svc_roles[i];
	return NULL;
}

static void
role_list(struct os_front *f, struct os_req *q)
{
	json_t *out = json_array();
	for (size_t i = 0; svc_roles[i]; i++)
		if (!filtered_out(q, "name", svc_roles[i]))
			json_array_append_new(out, role_json(f, svc_roles[i]));
	os_reply(q, 200, json_pack("{s:o, s:o}", "roles", out, "links", list_links(f, "roles")));
}

/* One assignment as keystone lists it (names with ?include_names). */
static json_t *
assignment_json(const struct os_front *f, const struct os_req *q, const json_t *a, const char *role)
{
	char href[400];
	const char *user = json_string_value(json_object_get(a, "user_id"));
	const char *project = json_string_value(json_object_get(a, "project_id"));
	snprintf(href, sizeof href, "%s/identity/v3/projects/%s/users/%s/roles/%s", f->public_url,
		 project, user, role);
	json_t *out = json_pack("{s:{s:s}, s:{s:s}, s:{s:{s:s}}, s:{s:s}}", "role", "id", role,
				"user", "id", user, "scope", "project", "id", project, "links",
				"assignment", href);
	if (json_object_get(q->query, "include_names")) {
		json_t *dom = json_pack("{s:s, s:s}", "id", DOMAIN_ID, "name", DOMAIN_NAME);
		json_object_set_new(json_object_get(out, "role"), "name", json_string(role));
		json_object_set(json_object_get(out, "user"), "name", json_object_get(a, "user"));
		json_object_set(json_object_get(out, "user"), "domain", dom);
		json_t *p = json_object_get(json_object_get(out, "scope"), "project");
		json_object_set(p, "name", json_object_get(a, "project"));
		json_object_set(p, "domain", dom);
		json_decref(dom);
	}
	return out;
}

/* GET /v3/role_assignments: admins, or anyone about themselves (?user.id). Filters
 * user.id, scope.project.id, role.id; ?effective adds the roles each one implies. */
static void
assignment_list(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	const char *who = os_query(q, "user.id");
	if (!(who && strcmp(who, caller(q)) == 0) && !admin_only(q))
		return;
	json_t *users = NULL, *out = json_array();
	int r = svc_user_list(f->svc, &users, &err);
	if (r < 0) {
		json_decref(out);
		return os_svc_error(q, r, &err);
	}
	bool effective = json_object_get(q->query, "effective") != NULL;
	size_t i, j, k;
	json_t *u, *a;
	json_array_foreach (users, i, u) {
		const char *uid = json_string_value(json_object_get(u, "id"));
		if (filtered_out(q, "user.id", uid))
			continue;
		json_array_foreach (json_object_get(u, "roles"), j, a) {
			json_object_set(a, "user_id", json_object_get(u, "id"));
			json_object_set(a, "user", json_object_get(u, "name"));
			if (filtered_out(q, "scope.project.id",
					 json_string_value(json_object_get(a, "project_id"))))
				continue;
			json_t *held = json_object_get(a, effective ? "roles" : "role");
			json_t *one =
				json_is_string(held) ? json_pack("[O]", held) : json_incref(held);
			json_t *role;
			json_array_foreach (one, k, role)
				if (!filtered_out(q, "role.id", json_string_value(role)))
					json_array_append_new(
						out,
						assignment_json(f, q, a, json_string_value(role)));
			json_decref(one);
		}
	}
	json_decref(users);
	os_reply(q, 200,
		 json_pack("{s:o, s:o}", "role_assignments", out, "links",
			   list_links(f, "role_assignments")));
}

/* The tail of rest when it is prefix and one non-empty path segment; else NULL. (A loop,
 * not strchr: gcc's -Wstringop-overread misjudges strchr after the strcmps below.) */
static const char *
one_segment(const char *rest, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(rest, prefix, n) != 0 || !rest[n])
		return NULL;
	for (const char *p = rest + n; *p; p++)
		if (*p == '/')
			return NULL;
	return rest + n;
}

/* The identity calls that need a token (any; each checks what it shows). */
static void
identity_get(struct os_front *f, struct os_req *q, const char *rest)
{
	if (strcmp(rest, "/v3/auth/projects") == 0)
		return user_projects(f, q, caller(q));
	if (strcmp(rest, "/v3/auth/domains") == 0)
		return os_reply(q, 200,
				json_pack("{s:[], s:o}", "domains", "links",
					  list_links(f, "auth/domains")));
	if (strcmp(rest, "/v3/auth/catalog") == 0)
		return os_reply(q, 200,
				json_pack("{s:o, s:o}", "catalog", catalog(f), "links",
					  list_links(f, "auth/catalog")));
	if (strcmp(rest, "/v3/projects") == 0)
		return admin_only(q) ? named_list(f, q, "projects", svc_project_list, project_json)
				     : (void)0;
	const char *project = one_segment(rest, "/v3/projects/");
	if (project)
		return project_get(f, q, project);
	if (strcmp(rest, "/v3/domains") == 0)
		return admin_only(q) ? os_reply(q, 200,
						json_pack("{s:[o], s:o}", "domains", domain_json(f),
							  "links", list_links(f, "domains")))
				     : (void)0;
	if (strcmp(rest, "/v3/domains/" DOMAIN_ID) == 0)
		return os_reply(q, 200, json_pack("{s:o}", "domain", domain_json(f)));
	if (strcmp(rest, "/v3/users") == 0)
		return admin_only(q) ? named_list(f, q, "users", svc_user_list, user_json)
				     : (void)0;
	if (strncmp(rest, "/v3/users/", 10) == 0) {
		const char *id = rest + 10, *slash = strchr(id, '/');
		if (!slash)
			return user_get(f, q, id);
		if (strcmp(slash, "/projects") == 0) {
			char uid[65];
			snprintf(uid, sizeof uid, "%.*s", (int)(slash - id), id);
			if (strcmp(uid, caller(q)) != 0 && !admin_only(q))
				return;
			return user_projects(f, q, uid);
		}
	}
	if (strcmp(rest, "/v3/roles") == 0)
		return admin_only(q) ? role_list(f, q) : (void)0;
	if (strncmp(rest, "/v3/roles/", 10) == 0 && role_known(rest + 10))
		return admin_only(q) ? os_reply(q, 200,
						json_pack("{s:o}", "role", role_json(f, rest + 10)))
				     : (void)0;
	if (strcmp(rest, "/v3/role_assignments") == 0)
		return assignment_list(f, q);
	os_error(q, 404, "The resource could not be found.");
}

void
os_identity_route(struct os_front *f, struct os_req *q, const char *rest)
{
	bool get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
	if (!*rest || strcmp(rest, "/") == 0) {
		if (!get)
			return os_error(q, 405, "The method is not allowed here.");
		return os_reply(q, 300,
				json_pack("{s:{s:[o]}}", "versions", "values", version_v3(f)));
	}
	if (strcmp(rest, "/v3") == 0 || strcmp(rest, "/v3/") == 0)
		return get ? os_reply(q, 200, json_pack("{s:o}", "version", version_v3(f)))
			   : os_error(q, 405, "The method is not allowed here.");
	if (strcmp(rest, "/v3/auth/tokens") == 0) {
		if (strcmp(q->method, "POST") == 0)
			return token_issue(f, q);
		if (!authenticate(f, q))
			return;
		if (get || strcmp(q->method, "DELETE") == 0)
			return token_check(f, q, !get);
		return os_error(q, 405, "The method is not allowed here.");
	}
	if (!authenticate(f, q))
		return;
	if (!get)
		return os_error(q, 404, "The resource could not be found.");
	identity_get(f, q, rest);
}
