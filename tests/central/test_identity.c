/* test_identity.c - the REST front's identity rules in the service layer against a real
 * store: users with a role per project, password tokens scoped to a project that expire,
 * are kept only as a hash and die with their user, and refusals that say nothing of which
 * part was wrong. An unscoped token (Horizon's login) grants no project: services refuse
 * it; re-scoping it to a project needs no password and never outlives it. Bad input names
 * its field and changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "service/service.h"

static const int64_t T0 = 1800000000000;
#define HOUR_MS 3600000

struct fixture {
	struct store *store;
	struct svc *svc;
};

static int
setup(void **state)
{
	static struct fixture f;
	struct hv_error err = {0};
	struct reg_intervals iv;
	reg_intervals_default(&iv);
	memset(&f, 0, sizeof f);
	if (store_open(":memory:", &f.store, &err) < 0 ||
	    svc_new(f.store, NULL, NULL, &iv, &f.svc, &err) < 0)
		return -1;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	svc_free(f->svc);
	store_free(f->store);
	return 0;
}

#define MUST(call, err)                                                          \
	do {                                                                     \
		int r_ = (call);                                                 \
		if (r_ < 0)                                                      \
			fail_msg("unexpected error %d: %s", r_, (err)->message); \
	} while (0)

static void
user_new(struct fixture *f, const char *name, const char *role, const char *password)
{
	struct hv_error err = {0};
	json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "name", name, "project", "admin", "role",
				 role, "password", password),
	       *u = NULL;
	MUST(svc_user_create(f->svc, args, T0, &u, &err), &err);
	json_decref(args);
	json_decref(u);
}

static void
a_token_grants_the_users_role_until_it_expires(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	char token[SVC_TOKEN_MAX + 1];
	json_t *ctx = NULL, *checked = NULL;
	user_new(f, "bob", "member", "correct horse");
	MUST(svc_token_issue(f->svc, "bob", "correct horse", "admin", T0, token, &ctx, &err), &err);
	assert_string_equal(json_string_value(json_object_get(ctx, "role")), "member");
	assert_int_equal(json_array_size(json_object_get(ctx, "roles")), 2); /* member, reader */
	assert_string_equal(json_string_value(json_object_get(ctx, "project")), "admin");
	MUST(svc_token_check(f->svc, token, T0 + HOUR_MS - 1, &checked, &err), &err);
	assert_true(
		json_equal(json_object_get(checked, "user_id"), json_object_get(ctx, "user_id")));
	json_decref(checked);
	checked = NULL;
	assert_int_equal(svc_token_check(f->svc, token, T0 + HOUR_MS, &checked, &err), -EACCES);
	assert_null(checked);
	json_decref(ctx);
}

static void
the_configured_token_ttl_bounds_new_tokens(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	char token[SVC_TOKEN_MAX + 1];
	json_t *ctx = NULL, *checked = NULL;
	user_new(f, "bob", "member", "correct horse");
	svc_set_token_ttl(f->svc, 5000);
	MUST(svc_token_issue(f->svc, "bob", "correct horse", "admin", T0, token, &ctx, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(ctx, "expires_ms")), T0 + 5000);
	MUST(svc_token_check(f->svc, token, T0 + 4999, &checked, &err), &err);
	json_decref(checked);
	checked = NULL;
	assert_int_equal(svc_token_check(f->svc, token, T0 + 5000, &checked, &err), -EACCES);
	assert_null(checked);
	json_decref(ctx);
}

static void
a_token_is_stored_only_as_a_hash_and_dies_with_its_user(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	char token[SVC_TOKEN_MAX + 1];
	json_t *ctx = NULL, *row = NULL;
	user_new(f, "bob", "admin", "correct horse");
	MUST(svc_token_issue(f->svc, "bob", "correct horse", "admin", T0, token, &ctx, &err), &err);
	json_decref(ctx);
	ctx = NULL;
	assert_true(strlen(token) >= 43);
	assert_int_equal(store_token_get(f->store, token, &row, NULL), -ENOENT);
	MUST(svc_user_delete(f->svc, "bob", &err), &err);
	assert_int_equal(svc_token_check(f->svc, token, T0 + 1, &ctx, &err), -EACCES);
}

static void
refusals_do_not_say_which_part_was_wrong(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0}, first = {0};
	char token[SVC_TOKEN_MAX + 1];
	json_t *ctx = NULL, *p = NULL, *args = json_pack("{s:s}", "name", "other");
	user_new(f, "bob", "member", "correct horse");
	MUST(svc_project_create(f->svc, args, T0, &p, &err), &err);
	json_decref(args);
	json_decref(p);
	assert_int_equal(
		svc_token_issue(f->svc, "bob", "wrong horse", "admin", T0, token, &ctx, &first),
		-EACCES);
	assert_int_equal(
		svc_token_issue(f->svc, "nobody", "correct horse", "admin", T0, token, &ctx, &err),
		-EACCES);
	assert_string_equal(err.message, first.message);
	/* a project the user has no role on, and one that does not exist */
	assert_int_equal(
		svc_token_issue(f->svc, "bob", "correct horse", "other", T0, token, &ctx, &err),
		-EACCES);
	assert_string_equal(err.message, first.message);
	assert_int_equal(
		svc_token_issue(f->svc, "bob", "correct horse", "nowhere", T0, token, &ctx, &err),
		-EACCES);
	assert_string_equal(err.message, first.message);
	assert_null(ctx);
}

static void
an_unscoped_token_grants_no_project_until_rescoped(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	char unscoped[SVC_TOKEN_MAX + 1], scoped[SVC_TOKEN_MAX + 1];
	json_t *ctx = NULL, *checked = NULL;
	user_new(f, "bob", "member", "correct horse");
	MUST(svc_token_issue(f->svc, "bob", "correct horse", NULL, T0, unscoped, &ctx, &err), &err);
	assert_null(json_object_get(ctx, "project_id"));
	assert_null(json_object_get(ctx, "roles"));
	json_decref(ctx);
	ctx = NULL;
	/* identity answers it; every other service requires a project */
	MUST(svc_token_validate(f->svc, unscoped, T0 + 1, &checked, &err), &err);
	assert_string_equal(json_string_value(json_object_get(checked, "user")), "bob");
	json_decref(checked);
	checked = NULL;
	assert_int_equal(svc_token_check(f->svc, unscoped, T0 + 1, &checked, &err), -EACCES);
	assert_null(checked);
	/* the token method: a project token from it, with the same end */
	MUST(svc_token_rescope(f->svc, unscoped, "admin", T0 + 1000, scoped, &ctx, &err), &err);
	assert_string_not_equal(scoped, unscoped);
	assert_string_equal(json_string_value(json_object_get(ctx, "project")), "admin");
	assert_string_equal(json_string_value(json_object_get(ctx, "role")), "member");
	assert_int_equal(json_integer_value(json_object_get(ctx, "expires_ms")), T0 + HOUR_MS);
	json_decref(ctx);
	ctx = NULL;
	MUST(svc_token_check(f->svc, scoped, T0 + HOUR_MS - 1, &checked, &err), &err);
	json_decref(checked);
	checked = NULL;
	assert_int_equal(svc_token_check(f->svc, scoped, T0 + HOUR_MS, &checked, &err), -EACCES);
	/* and back to unscoped, from the scoped one */
	MUST(svc_token_rescope(f->svc, scoped, NULL, T0 + 2000, unscoped, &ctx, &err), &err);
	assert_null(json_object_get(ctx, "project_id"));
	json_decref(ctx);
	ctx = NULL;
}

static void
rescoping_refuses_as_a_login_does(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0}, first = {0};
	char token[SVC_TOKEN_MAX + 1], other[SVC_TOKEN_MAX + 1];
	json_t *ctx = NULL, *p = NULL, *args = json_pack("{s:s}", "name", "other");
	user_new(f, "bob", "member", "correct horse");
	MUST(svc_project_create(f->svc, args, T0, &p, &err), &err);
	json_decref(args);
	json_decref(p);
	MUST(svc_token_issue(f->svc, "bob", "correct horse", NULL, T0, token, &ctx, &err), &err);
	json_decref(ctx);
	ctx = NULL;
	assert_int_equal(svc_token_rescope(f->svc, token, "other", T0, other, &ctx, &first),
			 -EACCES);
	assert_int_equal(svc_token_rescope(f->svc, token, "nowhere", T0, other, &ctx, &err),
			 -EACCES);
	assert_string_equal(err.message, first.message);
	assert_int_equal(svc_token_rescope(f->svc, "not-a-token", "admin", T0, other, &ctx, &err),
			 -EACCES);
	assert_string_equal(err.message, first.message);
	assert_int_equal(svc_token_rescope(f->svc, token, "admin", T0 + HOUR_MS, other, &ctx, &err),
			 -EACCES);
	MUST(svc_token_revoke(f->svc, token, &err), &err);
	assert_int_equal(svc_token_rescope(f->svc, token, "admin", T0 + 1, other, &ctx, &err),
			 -EACCES);
	assert_null(ctx);
}

static void
bad_users_name_their_field_and_change_nothing(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *json, *field;
	} cases[] = {
		{"{\"name\":\"a\",\"project\":\"admin\",\"role\":\"boss\",\"password\":"
		 "\"12345678\"}",
		 "args.role"},
		{"{\"name\":\"a\",\"project\":\"admin\",\"role\":\"member\",\"password\":"
		 "\"short\"}",
		 "args.password"},
		{"{\"name\":\"a\",\"project\":\"nope\",\"role\":\"member\",\"password\":"
		 "\"12345678\"}",
		 "args.project"},
		{"{\"name\":\"a b\",\"project\":\"admin\",\"role\":\"member\",\"password\":"
		 "\"12345678\"}",
		 "args.name"},
		{"{\"name\":\"a\",\"project\":\"admin\",\"role\":\"member\"}", "args.password"},
		{"{\"name\":\"a\",\"project\":\"admin\",\"role\":\"member\",\"password\":"
		 "\"12345678\","
		 "\"admin\":true}",
		 "args.admin"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct hv_error err = {0};
		json_t *args = json_loads(cases[i].json, 0, NULL), *u = NULL;
		int r = svc_user_create(f->svc, args, T0, &u, &err);
		/* an unknown project is "not found", the rest invalid */
		assert_int_equal(r,
				 strcmp(cases[i].field, "args.project") == 0 ? -ENOENT : -EINVAL);
		assert_string_equal(err.field, cases[i].field);
		json_decref(args);
	}
	struct hv_error err = {0};
	json_t *list = NULL;
	MUST(svc_user_list(f->svc, &list, &err), &err);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	user_new(f, "bob", "member", "correct horse");
	json_t *again = json_pack("{s:s, s:s, s:s, s:s}", "name", "bob", "project", "admin", "role",
				  "admin", "password", "another one"),
	       *u = NULL;
	assert_int_equal(svc_user_create(f->svc, again, T0, &u, &err), -EEXIST);
	assert_string_equal(err.field, "args.name");
	json_decref(again);
	MUST(svc_user_show(f->svc, "bob", &u, &err), &err);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(u, "roles"), 0), "role")),
			    "member");
	assert_null(json_object_get(u, "password_hash"));
	json_decref(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_token_grants_the_users_role_until_it_expires,
						setup, teardown),
		cmocka_unit_test_setup_teardown(the_configured_token_ttl_bounds_new_tokens, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_token_is_stored_only_as_a_hash_and_dies_with_its_user, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals_do_not_say_which_part_was_wrong, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_unscoped_token_grants_no_project_until_rescoped,
						setup, teardown),
		cmocka_unit_test_setup_teardown(rescoping_refuses_as_a_login_does, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_users_name_their_field_and_change_nothing,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
