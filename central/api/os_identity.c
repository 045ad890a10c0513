/* os_identity.c - the Keystone v3 subset of the REST front: version discovery, password
 * tokens scoped to a project (the token in X-Subject-Token, what it grants in the body with
 * the service catalog), token validation and revocation, the caller's projects and
 * catalog. The rules (passwords, roles, expiry) are identity.c's. Must never log, echo or
 * keep a password or a token. */
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
project_json(const struct os_front *f, const json_t *p)
{
	char href[300];
	snprintf(href, sizeof href, "%s/identity/v3/projects/%s", f->public_url,
		 json_string_value(json_object_get(p, "id")));
	return json_pack("{s:O, s:O, s:O, s:O, s:s, s:s, s:b, s:{s:s}}", "id",
			 json_object_get(p, "id"), "name", json_object_get(p, "name"),
			 "description", json_object_get(p, "description"), "enabled",
			 json_object_get(p, "enabled"), "domain_id", DOMAIN_ID, "parent_id",
			 DOMAIN_ID, "is_domain", 0, "links", "self", href);
}

/* The token body keystoneauth reads (AccessInfoV3). */
static json_t *
token_json(const struct os_front *f, const json_t *ctx)
{
	char issued[32], expires[32];
	os_time(json_integer_value(json_object_get(ctx, "issued_ms")), issued);
	os_time(json_integer_value(json_object_get(ctx, "expires_ms")), expires);
	json_t *roles = json_array();
	size_t i;
	json_t *r;
	json_array_foreach (json_object_get(ctx, "roles"), i, r)
		json_array_append_new(roles, json_pack("{s:O, s:O}", "id", r, "name", r));
	unsigned char audit[16];
	char audit_id[32];
	randombytes_buf(audit, sizeof audit);
	sodium_bin2base64(audit_id, sizeof audit_id, audit, sizeof audit,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return json_pack("{s:{s:[s], s:s, s:s, s:[s], s:b, s:{s:O, s:O, s:{s:s, s:s}, "
			 "s:n}, s:{s:O, s:O, s:{s:s, s:s}}, s:o, s:o}}",
			 "token", "methods", "password", "issued_at", issued, "expires_at", expires,
			 "audit_ids", audit_id, "is_domain", 0, "user", "id",
			 json_object_get(ctx, "user_id"), "name", json_object_get(ctx, "user"),
			 "domain", "id", DOMAIN_ID, "name", DOMAIN_NAME, "password_expires_at",
			 "project", "id", json_object_get(ctx, "project_id"), "name",
			 json_object_get(ctx, "project"), "domain", "id", DOMAIN_ID, "name",
			 DOMAIN_NAME, "roles", roles, "catalog", catalog(f));
}

/* auth.identity.password.user.{name|id} and auth.scope.project.{name|id}. */
static int
auth_fields(struct os_req *q, json_t *auth, const char **user, const char **password,
	    const char **project)
{
	json_t *identity = json_object_get(auth, "identity");
	json_t *methods = json_object_get(identity, "methods");
	json_t *u = json_object_get(json_object_get(identity, "password"), "user");
	json_t *p = json_object_get(json_object_get(auth, "scope"), "project");
	bool password_method = false;
	size_t i;
	json_t *m;
	json_array_foreach (methods, i, m)
		password_method |=
			json_is_string(m) && strcmp(json_string_value(m), "password") == 0;
	if (!password_method || !json_is_object(u)) {
		os_error(q, 400, "auth.identity: only the password method is served");
		return -1;
	}
	*user = json_string_value(json_object_get(u, "id"));
	if (!*user)
		*user = json_string_value(json_object_get(u, "name"));
	*password = json_string_value(json_object_get(u, "password"));
	*project = json_string_value(json_object_get(p, "id"));
	if (!*project)
		*project = json_string_value(json_object_get(p, "name"));
	if (!*user || !*password) {
		os_error(q, 400, "auth.identity.password.user: name (or id) and password required");
		return -1;
	}
	if (!*project) {
		os_error(q, 400, "auth.scope.project: a project scope (name or id) is required");
		return -1;
	}
	return 0;
}

static void
token_issue(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *auth, *ctx = NULL;
	const char *user, *password, *project;
	char token[SVC_TOKEN_MAX + 1];
	if (os_body(q, "auth", &doc, &auth) < 0)
		return;
	if (auth_fields(q, auth, &user, &password, &project) == 0) {
		int r = svc_token_issue(f->svc, user, password, project, f->now, token, &ctx, &err);
		if (r < 0) {
			os_svc_error(q, r, &err);
		} else {
			os_reply(q, 201, token_json(f, ctx));
			os_header(q, "X-Subject-Token", token);
			sodium_memzero(token, sizeof token);
		}
	}
	hj_wipe_string(json_object_get(
		json_object_get(json_object_get(json_object_get(auth, "identity"), "password"),
				"user"),
		"password"));
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
	if (svc_token_check(f->svc, q->subject_token, f->now, &ctx, &err) < 0)
		return os_error(q, 404, "Could not find token.");
	os_reply(q, 200, token_json(f, ctx));
	os_header(q, "X-Subject-Token", q->subject_token);
	json_decref(ctx);
}

static void
auth_projects(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *list = NULL, *out = json_array();
	int r = svc_user_projects(f->svc, json_string_value(json_object_get(q->auth, "user_id")),
				  &list, &err);
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
		 json_pack("{s:o, s:{s:n, s:n}}", "projects", out, "links", "next", "previous"));
}

/* GET /v3/projects/{id or name}: the token's own project (admins: any). */
static void
project_get(struct os_front *f, struct os_req *q, const char *which)
{
	struct hv_error err = {0};
	json_t *p = NULL;
	int r = svc_project_show(f->svc, which, &p, &err);
	bool own = r == 0 && strcmp(json_string_value(json_object_get(p, "id")),
				    json_string_value(json_object_get(q->auth, "project_id"))) == 0;
	if (r < 0 || (!own && !os_is_admin(q))) {
		json_decref(p);
		return os_error(q, 404, "Could not find project: %s.", which);
	}
	os_reply(q, 200, json_pack("{s:o}", "project", project_json(f, p)));
	json_decref(p);
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
		if (!os_authenticate(f, q))
			return;
		if (get || strcmp(q->method, "DELETE") == 0)
			return token_check(f, q, !get);
		return os_error(q, 405, "The method is not allowed here.");
	}
	if (!os_authenticate(f, q))
		return;
	if (get && strcmp(rest, "/v3/auth/projects") == 0)
		return auth_projects(f, q);
	if (get && strcmp(rest, "/v3/auth/catalog") == 0)
		return os_reply(q, 200,
				json_pack("{s:o, s:{s:n, s:n}}", "catalog", catalog(f), "links",
					  "next", "previous"));
	if (get && strncmp(rest, "/v3/projects/", 13) == 0 && !strchr(rest + 13, '/'))
		return project_get(f, q, rest + 13);
	os_error(q, 404, "The resource could not be found.");
}
