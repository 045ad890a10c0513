/* identity.c - the rules of the REST front's identity: users, their one role per project
 * (admin, member, reader; admin implies member implies reader, as keystone's implied
 * roles), passwords kept as argon2id hashes, and tokens: random, kept only as a hash,
 * project-scoped, expiring. A failed login says nothing of which part was wrong. Must never
 * log, keep or return a password or a token's text beyond the call that made it, never
 * encode a reply or touch a socket. */
#include "service-priv.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "json.h"

#define TOKEN_TTL_MS (3600 * 1000LL)
#define TOKEN_BYTES 32
#define PASSWORD_MIN 8
#define PASSWORD_MAX 4096

const char *const svc_roles[] = {"admin", "member", "reader", NULL};

/* keystone's names: 1-64 of letters, digits and @ . _ - */
static bool
user_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n <= 64 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-") ==
		       n;
}

static void
user_id_new(char ret[33])
{
	unsigned char b[16];
	randombytes_buf(b, sizeof b);
	sodium_bin2hex(ret, 33, b, sizeof b);
}

/* The roles a role grants, itself first. */
static json_t *
roles_of(const char *role)
{
	json_t *a = json_array();
	size_t i = 0;
	while (svc_roles[i] && strcmp(svc_roles[i], role) != 0)
		i++;
	for (; svc_roles[i]; i++)
		json_array_append_new(a, json_string(svc_roles[i]));
	return a;
}

/* The user's assignments with each project's name and the roles each grants:
 * [{project_id, project, role, roles[]}]. */
static int
user_roles(struct svc *sv, const char *user_id, json_t **ret, struct hv_error *err)
{
	json_t *list = NULL;
	int r = store_role_list(sv->store, user_id, &list, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *a;
	json_array_foreach (list, i, a) {
		json_t *p = NULL;
		json_object_del(a, "user_id");
		json_object_set_new(a, "roles", roles_of(field_or(a, "role", "")));
		if (store_project_get(sv->store, field_or(a, "project_id", ""), &p, NULL) == 0)
			json_object_set(a, "project", json_object_get(p, "name"));
		json_decref(p);
	}
	*ret = list;
	return 0;
}

int
svc_user_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"name", "project", "role", "password", NULL};
	const char *name, *project, *role, *password;
	json_t *p = NULL, *u = NULL;
	char id[33], hash[crypto_pwhash_STRBYTES];
	int r;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 64, &name, err)) < 0 ||
	    (r = hj_str(args, "args", "project", HJ_REQUIRED, 64, &project, err)) < 0 ||
	    (r = hj_enum(args, "args", "role", HJ_REQUIRED, "admin|member|reader", &role, err)) <
		    0 ||
	    (r = hj_str(args, "args", "password", HJ_REQUIRED, PASSWORD_MAX, &password, err)) < 0)
		return r;
	if (!user_name_ok(name))
		return hv_error_set(err, -EINVAL, "args.name",
				    "args.name: 1-64 letters, digits, @ . _ or -");
	if (strlen(password) < PASSWORD_MIN)
		return hv_error_set(err, -EINVAL, "args.password",
				    "args.password: at least %d characters", PASSWORD_MIN);
	if ((r = svc_project_find(sv, project, "args.project", &p, err)) < 0)
		return r;
	if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		json_decref(p);
		return hv_error_set(err, -ENOMEM, "", "out of memory hashing the password");
	}
	user_id_new(id);
	u = json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "password_hash", hash);
	r = store_user_insert(sv->store, u, now, err);
	if (r == -EEXIST)
		r = hv_error_set(err, -EEXIST, "args.name",
				 "args.name: a user named '%s' already exists", name);
	if (r == 0)
		r = store_role_set(sv->store, id, field_or(p, "id", ""), role, err);
	json_decref(u);
	json_decref(p);
	sodium_memzero(hash, sizeof hash);
	if (r < 0)
		return r;
	return svc_user_show(sv, id, ret, err);
}

int
svc_user_show(struct svc *sv, const char *user, json_t **ret, struct hv_error *err)
{
	json_t *u = NULL, *roles = NULL;
	int r = store_user_get(sv->store, user, &u, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "args.user", "args.user: no user '%s'", user);
	if (r < 0)
		return r;
	json_object_del(u, "password_hash");
	if ((r = user_roles(sv, field_or(u, "id", ""), &roles, err)) < 0) {
		json_decref(u);
		return r;
	}
	json_object_set_new(u, "roles", roles);
	*ret = u;
	return 0;
}

int
svc_user_list(struct svc *sv, json_t **ret, struct hv_error *err)
{
	json_t *list = NULL;
	int r = store_user_list(sv->store, &list, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *u;
	json_array_foreach (list, i, u) {
		json_t *roles = NULL;
		if ((r = user_roles(sv, field_or(u, "id", ""), &roles, err)) < 0) {
			json_decref(list);
			return r;
		}
		json_object_set_new(u, "roles", roles);
	}
	*ret = list;
	return 0;
}

int
svc_user_delete(struct svc *sv, const char *user, struct hv_error *err)
{
	json_t *u = NULL;
	int r = store_user_get(sv->store, user, &u, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "args.user", "args.user: no user '%s'", user);
	if (r == 0)
		r = store_user_delete(sv->store, field_or(u, "id", ""), err);
	json_decref(u);
	return r;
}

static void
token_hash(const char *token, char ret[65])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(ret, 65, h, sizeof h);
}

static int
refused(struct hv_error *err)
{
	return hv_error_set(err, -EACCES, "auth",
			    "The request you have made requires authentication.");
}

/* What a token grants: {user_id, user, project_id, project, role, roles[], issued_ms,
 * expires_ms}, only {user_id, user, issued_ms, expires_ms} for an unscoped one (project
 * NULL); -EACCES when the user has no role on the project. */
static int
token_context(struct svc *sv, const json_t *user, const json_t *project, int64_t issued,
	      int64_t expires, json_t **ret, struct hv_error *err)
{
	json_t *roles = NULL;
	const char *role = NULL;
	if (!project) {
		*ret = json_pack("{s:O, s:O, s:I, s:I}", "user_id", json_object_get(user, "id"),
				 "user", json_object_get(user, "name"), "issued_ms",
				 (json_int_t)issued, "expires_ms", (json_int_t)expires);
		return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	int r = store_role_list(sv->store, field_or(user, "id", ""), &roles, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *a;
	json_array_foreach (roles, i, a)
		if (strcmp(field_or(a, "project_id", ""), field_or(project, "id", "")) == 0)
			role = field_or(a, "role", "reader");
	if (!role || !json_is_true(json_object_get(project, "enabled"))) {
		json_decref(roles);
		return refused(err);
	}
	*ret = json_pack("{s:O, s:O, s:O, s:O, s:s, s:o, s:I, s:I}", "user_id",
			 json_object_get(user, "id"), "user", json_object_get(user, "name"),
			 "project_id", json_object_get(project, "id"), "project",
			 json_object_get(project, "name"), "role", role, "roles", roles_of(role),
			 "issued_ms", (json_int_t)issued, "expires_ms", (json_int_t)expires);
	json_decref(roles);
	return *ret ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
}

/* A new token for user u, scoped to project p (NULL: unscoped) until expires. */
static int
token_new(struct svc *sv, const json_t *u, const json_t *p, int64_t now, int64_t expires,
	  char ret_token[SVC_TOKEN_MAX + 1], json_t **ret_ctx, struct hv_error *err)
{
	unsigned char raw[TOKEN_BYTES];
	char hash[65];
	int r = token_context(sv, u, p, now, expires, ret_ctx, err);
	if (r < 0)
		return r;
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(ret_token, SVC_TOKEN_MAX + 1, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	token_hash(ret_token, hash);
	r = store_token_insert(sv->store, hash, field_or(u, "id", ""),
			       p ? field_or(p, "id", "") : "", now, expires, err);
	if (r == 0)
		r = store_token_purge(sv->store, now, err);
	if (r < 0) {
		sodium_memzero(ret_token, SVC_TOKEN_MAX + 1);
		json_decref(*ret_ctx);
		*ret_ctx = NULL;
	}
	return r;
}

/* The project a token is asked for, by name or id (NULL stays NULL: unscoped). */
static int
scope_find(struct svc *sv, const char *project, json_t **ret, struct hv_error *err)
{
	*ret = NULL;
	if (project && store_project_get(sv->store, project, ret, NULL) < 0)
		return refused(err);
	return 0;
}

void
svc_set_token_ttl(struct svc *sv, int64_t ttl_ms)
{
	sv->token_ttl_ms = ttl_ms;
}

int
svc_token_issue(struct svc *sv, const char *user, const char *password, const char *project,
		int64_t now, char ret_token[SVC_TOKEN_MAX + 1], json_t **ret_ctx,
		struct hv_error *err)
{
	json_t *u = NULL, *p = NULL;
	int r = store_user_get(sv->store, user, &u, NULL);
	if (r == 0 && crypto_pwhash_str_verify(field_or(u, "password_hash", ""), password,
					       strlen(password)) != 0)
		r = -EACCES;
	if (r < 0) {
		json_decref(u);
		return r == -EACCES || r == -ENOENT ? refused(err) : r;
	}
	r = scope_find(sv, project, &p, err);
	if (r == 0)
		r = token_new(sv, u, p, now,
			      now + (sv->token_ttl_ms > 0 ? sv->token_ttl_ms : TOKEN_TTL_MS),
			      ret_token, ret_ctx, err);
	json_decref(u);
	json_decref(p);
	return r;
}

/* The token's record and its user, when it is known and unexpired; -EACCES otherwise. */
static int
token_find(struct svc *sv, const char *token, int64_t now, json_t **ret_t, json_t **ret_u,
	   struct hv_error *err)
{
	char hash[65];
	*ret_t = *ret_u = NULL;
	if (!token || strlen(token) > SVC_TOKEN_MAX)
		return refused(err);
	token_hash(token, hash);
	int r = store_token_get(sv->store, hash, ret_t, NULL);
	if (r == 0 && json_integer_value(json_object_get(*ret_t, "expires_ms")) <= now)
		r = -EACCES;
	if (r == 0)
		r = store_user_get(sv->store, field_or(*ret_t, "user_id", ""), ret_u, NULL);
	if (r < 0) {
		json_decref(*ret_t);
		*ret_t = NULL;
		return refused(err);
	}
	return 0;
}

int
svc_token_rescope(struct svc *sv, const char *token, const char *project, int64_t now,
		  char ret_token[SVC_TOKEN_MAX + 1], json_t **ret_ctx, struct hv_error *err)
{
	json_t *t = NULL, *u = NULL, *p = NULL;
	int r = token_find(sv, token, now, &t, &u, err);
	if (r == 0)
		r = scope_find(sv, project, &p, err);
	/* keystone's rule: a token got from another never outlives it */
	if (r == 0)
		r = token_new(sv, u, p, now, json_integer_value(json_object_get(t, "expires_ms")),
			      ret_token, ret_ctx, err);
	json_decref(t);
	json_decref(u);
	json_decref(p);
	return r;
}

int
svc_token_validate(struct svc *sv, const char *token, int64_t now, json_t **ret_ctx,
		   struct hv_error *err)
{
	json_t *t = NULL, *u = NULL, *p = NULL;
	int r = token_find(sv, token, now, &t, &u, err);
	if (r < 0)
		return r;
	const char *project = field_or(t, "project_id", "");
	if (*project && store_project_get(sv->store, project, &p, NULL) < 0)
		r = refused(err);
	if (r == 0)
		r = token_context(sv, u, p, json_integer_value(json_object_get(t, "issued_ms")),
				  json_integer_value(json_object_get(t, "expires_ms")), ret_ctx,
				  err);
	json_decref(t);
	json_decref(u);
	json_decref(p);
	return r;
}

int
svc_token_check(struct svc *sv, const char *token, int64_t now, json_t **ret_ctx,
		struct hv_error *err)
{
	int r = svc_token_validate(sv, token, now, ret_ctx, err);
	if (r == 0 && !json_object_get(*ret_ctx, "project_id")) {
		json_decref(*ret_ctx);
		*ret_ctx = NULL;
		return refused(err);
	}
	return r;
}

int
svc_token_revoke(struct svc *sv, const char *token, struct hv_error *err)
{
	char hash[65];
	if (!token || strlen(token) > SVC_TOKEN_MAX)
		return hv_error_set(err, -ENOENT, "token", "no such token");
	token_hash(token, hash);
	int r = store_token_delete(sv->store, hash, err);
	return r == -ENOENT ? hv_error_set(err, -ENOENT, "token", "no such token") : r;
}

int
svc_user_projects(struct svc *sv, const char *user_id, json_t **ret, struct hv_error *err)
{
	json_t *roles = NULL, *out = json_array();
	int r = store_role_list(sv->store, user_id, &roles, err);
	size_t i;
	json_t *a;
	json_array_foreach (roles, i, a) {
		json_t *p = NULL;
		if (store_project_get(sv->store, field_or(a, "project_id", ""), &p, NULL) == 0)
			json_array_append_new(out, p);
	}
	json_decref(roles);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}
