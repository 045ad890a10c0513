/* test_journal.c - the journal remembers a command's answer across a reopen (a crash), so a
 * duplicate is answered and never acted on twice; it never stores a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "journal.h"
#include "req.h"

static char dir[] = "/tmp/hv-journal-test-XXXXXX";

static int
setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
count(void *ctx, const struct journal_cmd *c)
{
	(*(int *)ctx)++;
}

static void
count_rec(void *ctx, const json_t *rec)
{
	(*(int *)ctx)++;
}

static void
a_finished_command_is_answered_after_reopening(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	struct journal_cmd c;
	json_t *req = json_pack("{s:s}", "command", "pause");
	json_t *res = json_pack("{s:s, s:s}", "cmd_id", "c-1", "status", "ok");
	int accepted = 0;

	assert_int_equal(journal_open(dir, &j, &err), 0);
	assert_int_equal(journal_cmd_get(j, "c-1", &c, &err), 0);
	assert_int_equal(journal_cmd_accept(j, "c-1", "pause", "u-1", req, &err), 0);
	/* a second accept of the same id is refused by the store itself */
	assert_true(journal_cmd_accept(j, "c-1", "pause", "u-1", req, &err) < 0);
	assert_int_equal(journal_cmd_foreach(j, JOURNAL_ACCEPTED, count, &accepted, &err), 0);
	assert_int_equal(accepted, 1);
	assert_int_equal(journal_cmd_finish(j, "c-1", res, &err), 0);
	journal_free(j);

	assert_int_equal(journal_open(dir, &j, &err), 0);
	assert_int_equal(journal_cmd_get(j, "c-1", &c, &err), 1);
	assert_int_equal(c.state, JOURNAL_DONE);
	assert_string_equal(c.command, "pause");
	assert_false(c.acked);
	assert_true(json_equal(c.reply, res));
	journal_cmd_release(&c);
	accepted = 0;
	journal_cmd_foreach(j, JOURNAL_DONE, count, &accepted, &err);
	assert_int_equal(accepted, 1); /* unacknowledged: re-sent after WELCOME */
	assert_int_equal(journal_cmd_ack(j, "c-1", &err), 0);
	accepted = 0;
	journal_cmd_foreach(j, JOURNAL_DONE, count, &accepted, &err);
	assert_int_equal(accepted, 0);
	journal_free(j);
	json_decref(req);
	json_decref(res);
}

static void
a_refusal_is_remembered_too(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	struct journal_cmd c;
	json_t *e = json_pack("{s:s}", "code", "invalid_state");

	assert_int_equal(journal_open(dir, &j, &err), 0);
	assert_int_equal(journal_cmd_refuse(j, "c-2", "unpause", "u-1", NULL, e, &err), 0);
	assert_int_equal(journal_cmd_get(j, "c-2", &c, &err), 1);
	assert_int_equal(c.state, JOURNAL_REFUSED);
	assert_string_equal(json_string_value(json_object_get(c.reply, "code")), "invalid_state");
	journal_cmd_release(&c);
	journal_free(j);
	json_decref(e);
}

static void
instances_are_replaced_and_deleted(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	json_t *r1 = json_pack("{s:s, s:s}", "uuid", "u-9", "vm_state", "building");
	json_t *r2 = json_pack("{s:s, s:s}", "uuid", "u-9", "vm_state", "active");
	int n = 0;

	assert_int_equal(journal_open(dir, &j, &err), 0);
	assert_int_equal(journal_inst_put(j, "u-9", r1, &err), 0);
	assert_int_equal(journal_inst_put(j, "u-9", r2, &err), 0);
	assert_int_equal(journal_inst_foreach(j, count_rec, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(journal_inst_delete(j, "u-9", &err), 0);
	n = 0;
	journal_inst_foreach(j, count_rec, &n, &err);
	assert_int_equal(n, 0);
	journal_free(j);
	json_decref(r1);
	json_decref(r2);
}

static void
secrets_never_reach_the_journal_file(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	json_t *body = json_pack("{s:s, s:s, s:s}", "command", "spawn", "admin_pass",
				 "Tr0ub4dor&3-unique", "user_data", "c2VjcmV0LXVzZXItZGF0YQ==");
	json_t *red = req_redacted(body);
	char path[256], cmd[512];

	assert_null(json_object_get(red, "admin_pass"));
	assert_true(json_is_true(json_object_get(red, "admin_pass_redacted")));
	assert_int_equal(journal_open(dir, &j, &err), 0);
	assert_int_equal(journal_cmd_accept(j, "c-3", "spawn", "u-3", red, &err), 0);
	journal_free(j);
	req_wipe(body);
	assert_int_equal(json_string_value(json_object_get(body, "admin_pass"))[0], '\0');
	snprintf(path, sizeof path, "%s", dir);
	snprintf(cmd, sizeof cmd, "cat %s/journal.sqlite* | grep -a -q -e Tr0ub4dor -e c2VjcmV0",
		 path);
	assert_int_not_equal(system(cmd), 0);
	json_decref(body);
	json_decref(red);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_finished_command_is_answered_after_reopening),
		cmocka_unit_test(a_refusal_is_remembered_too),
		cmocka_unit_test(instances_are_replaced_and_deleted),
		cmocka_unit_test(secrets_never_reach_the_journal_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
