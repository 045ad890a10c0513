/* test_journal.c - the journal remembers a command's answer across a reopen (a crash), so a
 * duplicate is answered and never acted on twice; it never stores a secret; a damaged file
 * or WAL is refused at open, naming the file, instead of being found at the first command
 * or silently read back to an older state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

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

/* A journal in dir/sub with enough commands for an index of several pages. */
static void
fill_journal(const char *sub, int n)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	char path[256];

	snprintf(path, sizeof path, "%s/%s", dir, sub);
	assert_int_equal(journal_open(path, &j, &err), 0);
	assert_true(journal_fresh(j));
	assert_int_equal(journal_begin(j, &err), 0);
	for (int i = 0; i < n; i++) {
		char id[32];
		json_t *req = json_pack("{s:s, s:i}", "command", "pause", "n", i);

		snprintf(id, sizeof id, "cmd-%06d", i);
		assert_int_equal(journal_cmd_accept(j, id, "pause", "u-1", req, &err), 0);
		json_decref(req);
	}
	assert_int_equal(journal_commit(j, &err), 0);
	journal_free(j);
}

static void
write_garbage(const char *path, long offset, size_t len)
{
	unsigned char junk[4096];
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0 && len <= sizeof junk);
	for (size_t i = 0; i < len; i++)
		junk[i] = (unsigned char)(0x5a ^ (i * 131));
	assert_int_equal(pwrite(fd, junk, len, offset), (ssize_t)len);
	close(fd);
}

static void
a_damaged_index_page_is_refused_at_open_naming_the_file(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	sqlite3 *db;
	sqlite3_stmt *st;
	char path[256];
	int root, psize;

	fill_journal("idx", 2000);
	snprintf(path, sizeof path, "%s/idx/journal.sqlite", dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT rootpage, (SELECT page_size FROM"
					    " pragma_page_size) FROM sqlite_master WHERE"
					    " name='commands_state'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	root = sqlite3_column_int(st, 0);
	psize = sqlite3_column_int(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	write_garbage(path, (long)(root - 1) * psize, 64); /* its header and cell pointers */
	snprintf(path, sizeof path, "%s/idx", dir);
	assert_int_equal(journal_open(path, &j, &err), -EUCLEAN);
	assert_null(j);
	assert_non_null(strstr(err.message, "/idx/journal.sqlite is damaged"));
}

/* A copy of a live journal (its WAL not checkpointed), as kill -9 leaves it. */
static void
crash_copy(const char *from, const char *to, int n_commits)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	char cmd[512];

	assert_int_equal(journal_open(from, &j, &err), 0);
	for (int i = 0; i < n_commits; i++) {
		char id[32];
		json_t *res = json_pack("{s:s, s:i}", "status", "ok", "n", i);

		snprintf(id, sizeof id, "w-%d", i);
		assert_int_equal(journal_cmd_accept(j, id, "pause", "u-1", NULL, &err), 0);
		assert_int_equal(journal_cmd_finish(j, id, res, &err), 0);
		json_decref(res);
	}
	snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/journal.sqlite %s/journal.sqlite-wal %s/",
		 to, from, from, to);
	assert_int_equal(system(cmd), 0);
	journal_free(j);
}

static void
commits_after_a_corrupt_wal_frame_are_not_silently_dropped(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	char from[256], to[256], wal[300];
	struct journal_cmd c;

	snprintf(from, sizeof from, "%s/live1", dir);
	snprintf(to, sizeof to, "%s/crashed", dir);
	crash_copy(from, to, 6);
	/* garbage in the page of frame 3 (frames: 24-byte header + a 4096-byte page) */
	snprintf(wal, sizeof wal, "%s/journal.sqlite-wal", to);
	write_garbage(wal, 32 + 2 * (24 + 4096) + 24 + 200, 64);
	assert_int_equal(journal_open(to, &j, &err), -EUCLEAN);
	assert_non_null(strstr(err.message, "/crashed/journal.sqlite is damaged: WAL frame 3"));

	/* a torn last frame (a crash during the write, never acknowledged) is not damage */
	snprintf(from, sizeof from, "%s/live2", dir);
	snprintf(to, sizeof to, "%s/torn", dir);
	crash_copy(from, to, 1);
	snprintf(wal, sizeof wal, "%s/journal.sqlite-wal", to);
	{
		FILE *f = fopen(wal, "rb");
		long size;

		assert_non_null(f);
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		fclose(f);
		write_garbage(wal, size - 100, 64);
	}
	assert_int_equal(journal_open(to, &j, &err), 0);
	assert_int_equal(journal_cmd_get(j, "w-0", &c, &err), 1); /* older commits are there */
	journal_cmd_release(&c);
	journal_free(j);
}

static void
a_missing_or_emptied_journal_is_fresh(void **state)
{
	struct journal *j = NULL;
	struct hv_error err = {0};
	char path[256], file[300];
	json_t *rec = json_object();

	snprintf(path, sizeof path, "%s/fresh", dir);
	assert_int_equal(journal_open(path, &j, &err), 0);
	assert_true(journal_fresh(j));
	assert_int_equal(journal_inst_put(j, "u-1", rec, &err), 0);
	json_decref(rec);
	journal_free(j);
	assert_int_equal(journal_open(path, &j, &err), 0);
	assert_false(journal_fresh(j));
	journal_free(j);
	snprintf(file, sizeof file, "%s/journal.sqlite", path);
	assert_int_equal(truncate(file, 0), 0);
	assert_int_equal(journal_open(path, &j, &err), 0);
	assert_true(journal_fresh(j));
	journal_discard(j); /* a refused start leaves nothing behind */
	assert_int_equal(access(file, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_finished_command_is_answered_after_reopening),
		cmocka_unit_test(a_refusal_is_remembered_too),
		cmocka_unit_test(instances_are_replaced_and_deleted),
		cmocka_unit_test(secrets_never_reach_the_journal_file),
		cmocka_unit_test(a_damaged_index_page_is_refused_at_open_naming_the_file),
		cmocka_unit_test(commits_after_a_corrupt_wal_frame_are_not_silently_dropped),
		cmocka_unit_test(a_missing_or_emptied_journal_is_fresh),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
