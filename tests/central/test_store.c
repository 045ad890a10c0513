/* test_store.c - hvcentral's SQLite store: what is written survives a reopen, names stay
 * unique among live servers, pending keys are found by prefix, commands are journaled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

static char db_path[64];

static int
setup(void **state)
{
	snprintf(db_path, sizeof db_path, "/tmp/hvc-store-XXXXXX");
	int fd = mkstemp(db_path);
	if (fd < 0)
		return -1;
	close(fd);
	struct store *s = NULL;
	struct hv_error err = {0};
	if (store_open(db_path, &s, &err) < 0)
		return -1;
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	store_free(*state);
	char p[80];
	unlink(db_path);
	snprintf(p, sizeof p, "%s-wal", db_path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", db_path);
	unlink(p);
	return 0;
}

static json_t *
server(const char *uuid, const char *name)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:s, s:s}", "uuid", uuid, "name",
			 name, "host", "node-1", "image", "cirros", "flavor", "vcpus", 2, "ram",
			 512, "disk", 1, "vm_state", "building", "task_state", "scheduling");
}

static int
count_row(void *ctx, int n, char **vals, char **names)
{
	(*(int *)ctx)++;
	return 0;
}

/* The schema is versioned: reopening applies nothing twice, and a file a newer release
 * wrote is refused rather than misread. */
static void
a_database_from_a_newer_release_is_refused(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	store_free(s);
	*state = NULL;
	assert_int_equal(store_open(db_path, &s, &err), 0);
	store_free(s);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	int rows = 0;
	assert_int_equal(sqlite3_exec(db,
				      "SELECT 1 FROM meta WHERE key = 'schema_version' AND "
				      "value = '11'",
				      count_row, &rows, NULL),
			 SQLITE_OK);
	assert_int_equal(rows, 1);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE meta SET value = '999' WHERE key = "
				      "'schema_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	s = NULL;
	assert_int_equal(store_open(db_path, &s, &err), -EPROTO);
	assert_null(s);
	assert_string_equal(err.field, "database");
	assert_non_null(strstr(err.message, "schema version 999"));
}

/* A database written before the catalog existed (schema version 1, with a server in it)
 * opens with every later step applied: the server is kept, with no project yet, and the
 * guide's flavors are there. */
/* An operator's word on a host's service and a server's description and tags are kept
 * until changed; an old row has none of them. */
static void
a_service_word_and_a_servers_tags_are_kept(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	json_t *h = NULL, *inst = server("0d2c2ae4-0000-4000-8000-000000000009", "tagged"),
	       *tags = json_pack("[s, s]", "blue", "prod");
	assert_int_equal(store_host_seen(s, "node-1", "", "", 1, &err), 0);
	assert_int_equal(store_host_get(s, "node-1", &h, &err), 0);
	assert_false(json_is_true(json_object_get(h, "service_disabled")));
	assert_true(json_is_null(json_object_get(h, "service_reason")));
	json_decref(h);
	assert_int_equal(store_host_set_service(s, "node-1", true, "disk swap", true, &err), 0);
	assert_int_equal(store_host_set_service(s, "node-9", true, NULL, false, &err), -ENOENT);
	assert_int_equal(store_host_get(s, "node-1", &h, &err), 0);
	assert_true(json_is_true(json_object_get(h, "service_disabled")));
	assert_true(json_is_true(json_object_get(h, "forced_down")));
	assert_string_equal(json_string_value(json_object_get(h, "service_reason")), "disk swap");
	json_decref(h);

	assert_int_equal(store_instance_insert(s, inst, 1, &err), 0);
	json_decref(inst);
	assert_int_equal(store_instance_get(s, "tagged", &inst, &err), 0);
	assert_true(json_is_null(json_object_get(inst, "description")));
	assert_int_equal(json_array_size(json_object_get(inst, "tags")), 0);
	json_decref(inst);
	assert_int_equal(store_instance_set_description(s, "0d2c2ae4-0000-4000-8000-000000000009",
							"web tier", 2, &err),
			 0);
	assert_int_equal(
		store_instance_set_tags(s, "0d2c2ae4-0000-4000-8000-000000000009", tags, 2, &err),
		0);
	assert_int_equal(
		store_instance_set_tags(s, "0d2c2ae4-0000-4000-8000-00000000000f", tags, 2, &err),
		-ENOENT);
	assert_int_equal(store_instance_get(s, "tagged", &inst, &err), 0);
	assert_string_equal(json_string_value(json_object_get(inst, "description")), "web tier");
	assert_true(json_equal(json_object_get(inst, "tags"), tags));
	json_decref(inst);
	json_decref(tags);
}

static void
a_database_from_before_the_catalog_is_brought_up_to_date(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	store_free(s);
	*state = NULL;
	unlink(db_path);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_exec(
			db,
			"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
			"INSERT INTO meta VALUES('schema_version', '1');"
			"CREATE TABLE hosts(host_id TEXT PRIMARY KEY, public_key TEXT NOT NULL "
			"DEFAULT '', address TEXT NOT NULL DEFAULT '', boot_id TEXT NOT NULL "
			"DEFAULT '', last_seq INTEGER NOT NULL DEFAULT 0, agent_version TEXT NOT "
			"NULL DEFAULT '', last_seen_ms INTEGER NOT NULL DEFAULT 0, resources TEXT);"
			"CREATE TABLE instances(uuid TEXT PRIMARY KEY, name TEXT NOT NULL,"
			" host TEXT NOT NULL, image TEXT NOT NULL DEFAULT '',"
			" flavor TEXT NOT NULL DEFAULT '{}', properties TEXT NOT NULL DEFAULT "
			"'{}', vm_state TEXT NOT NULL, task_state TEXT NOT NULL DEFAULT '',"
			" power_state TEXT NOT NULL DEFAULT 'nostate', fault TEXT NOT NULL "
			"DEFAULT '', created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
			"INSERT INTO instances(uuid, name, host, flavor, vm_state, created_ms,"
			" updated_ms) VALUES ('0d2c2ae4-0000-4000-8000-000000000001', 'old',"
			" 'node-1', '{\"vcpus\": 2, \"ram_mb\": 512}', 'active', 1, 1);",
			NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(db_path, &s, &err), 0);
	*state = s;
	json_t *inst = NULL, *list = NULL, *f = NULL;
	assert_int_equal(store_instance_get(s, "old", &inst, &err), 0);
	assert_string_equal(json_string_value(json_object_get(inst, "vm_state")), "active");
	assert_string_equal(json_string_value(json_object_get(inst, "project_id")), "");
	json_decref(inst);
	assert_int_equal(store_flavor_list(s, -1, &list, &err), 0);
	assert_int_equal(json_array_size(list), 5);
	json_decref(list);
	assert_int_equal(store_flavor_get(s, "m1.small", &f, &err), 0);
	assert_string_equal(json_string_value(json_object_get(f, "id")), "2");
	json_decref(f);
	assert_int_equal(store_keypair_list(s, "p", &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
}

static void
a_server_survives_a_controller_restart(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	json_t *in = server("11111111-2222-4333-8444-555555555555", "web-1");
	assert_int_equal(store_instance_insert(s, in, 1000, &err), 0);
	json_decref(in);
	assert_int_equal(store_instance_set_state(s, "11111111-2222-4333-8444-555555555555",
						  "active", "", "running", NULL, 2000, &err),
			 0);
	store_free(s);
	assert_int_equal(store_open(db_path, &s, &err), 0);
	*state = s;

	json_t *out = NULL;
	assert_int_equal(store_instance_get(s, "web-1", &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "vm_state")), "active");
	assert_true(json_is_null(json_object_get(out, "task_state")));
	assert_string_equal(json_string_value(json_object_get(out, "power_state")), "running");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "flavor"), "ram")),
			 512);
	json_decref(out);
}

/* A host's report changes only its own instances: another host's is refused naming the
 * owner, an unknown uuid is not found, and nothing changes. */
static void
a_host_reports_only_its_own_servers(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	const char *uuid = "11111111-2222-4333-8444-555555555555";
	json_t *in = server(uuid, "web-1"), *out = NULL;
	assert_int_equal(store_instance_insert(s, in, 1000, &err), 0);
	json_decref(in);
	assert_int_equal(store_instance_report_state(s, "node-1", uuid, "active", "", "running",
						     NULL, 2000, &err),
			 0);
	assert_int_equal(store_instance_report_state(s, "node-2", uuid, "deleted", "", "nostate",
						     NULL, 3000, &err),
			 -EPERM);
	assert_non_null(strstr(err.message, "belongs to host node-1"));
	assert_int_equal(store_instance_report_state(s, "node-2",
						     "11111111-2222-4333-8444-000000000009",
						     "active", "", "running", NULL, 3000, &err),
			 -ENOENT);
	assert_int_equal(store_instance_get(s, uuid, &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "vm_state")), "active");
	assert_string_equal(json_string_value(json_object_get(out, "power_state")), "running");
	json_decref(out);
}

/* A flood of one-off keys cannot grow the pending list without bound, nor push out an agent
 * that keeps retrying; a key silent for a day is forgotten. */
static void
the_pending_list_is_bounded_and_keeps_retrying_agents(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	json_t *list = NULL;
	char key[41];
	assert_int_equal(store_pending_record(s, "real-agent-key", "10.0.0.7", 1000, &err), 0);
	assert_int_equal(store_pending_record(s, "real-agent-key", "10.0.0.7", 2000, &err), 0);
	assert_int_equal(store_pending_record(s, "old-key", "10.0.0.8", 2000, &err), 0);
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof key, "flood-%05d", i);
		assert_int_equal(store_pending_record(s, key, "10.9.9.9", 3000 + i, &err), 0);
	}
	assert_int_equal(store_pending_list(s, &list, &err), 0);
	assert_int_equal(json_array_size(list), STORE_PENDING_MAX);
	bool real = false, newest = false;
	size_t i;
	json_t *p;
	json_array_foreach (list, i, p) {
		const char *k = json_string_value(json_object_get(p, "public_key"));
		real = real || strcmp(k, "real-agent-key") == 0;
		newest = newest || strcmp(k, "flood-01999") == 0;
	}
	assert_true(real);
	assert_true(newest);
	json_decref(list);
	/* a day later only what spoke since is kept */
	assert_int_equal(
		store_pending_record(s, "late-key", "10.0.0.9", 5000 + STORE_PENDING_TTL_MS, &err),
		0);
	assert_int_equal(store_pending_list(s, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

static void
two_live_servers_cannot_share_a_name(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	json_t *a = server("11111111-2222-4333-8444-000000000001", "db");
	json_t *b = server("11111111-2222-4333-8444-000000000002", "db");
	assert_int_equal(store_instance_insert(s, a, 1, &err), 0);
	assert_int_equal(store_instance_insert(s, b, 2, &err), -EEXIST);
	assert_string_equal(err.field, "name");
	/* once the first is deleted its name is free again */
	assert_int_equal(store_instance_set_state(s, "11111111-2222-4333-8444-000000000001",
						  "deleted", "", "nostate", NULL, 3, &err),
			 0);
	assert_int_equal(store_instance_insert(s, b, 4, &err), 0);
	json_t *list = NULL;
	assert_int_equal(store_instance_list(s, NULL, false, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(store_instance_list(s, NULL, true, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	json_decref(a);
	json_decref(b);
}

static void
an_unknown_server_is_not_found_naming_it(void **state)
{
	struct hv_error err = {0};
	json_t *out = NULL;
	assert_int_equal(store_instance_get(*state, "nope", &out, &err), -ENOENT);
	assert_non_null(strstr(err.message, "nope"));
	assert_int_equal(
		store_instance_set_state(*state, "nope", "active", NULL, NULL, NULL, 1, &err),
		-ENOENT);
}

static void
a_pending_key_is_found_by_a_unique_prefix(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	char key[41];
	assert_int_equal(store_pending_record(s, "AAAAAAAAAAbbbbbbbbbbccccccccccdddddddddd",
					      "127.0.0.1", 10, &err),
			 0);
	assert_int_equal(store_pending_record(s, "AAAAAAAAAAzzzzzzzzzzccccccccccdddddddddd",
					      "127.0.0.1", 11, &err),
			 0);
	assert_int_equal(store_pending_record(s, "AAAAAAAAAAbbbbbbbbbbccccccccccdddddddddd",
					      "127.0.0.2", 12, &err),
			 0);
	assert_int_equal(store_pending_find(s, "AAAAAAAAAAb", key, &err), 0);
	assert_string_equal(key, "AAAAAAAAAAbbbbbbbbbbccccccccccdddddddddd");
	assert_int_equal(store_pending_find(s, "AAAAAAAAAA", key, &err), -EINVAL);
	assert_int_equal(store_pending_find(s, "AAAA", key, &err), -EINVAL);
	assert_int_equal(store_pending_find(s, "BBBBBBBBBB", key, &err), -ENOENT);

	json_t *list = NULL;
	assert_int_equal(store_pending_list(s, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	json_t *first = json_array_get(list, 0);
	assert_int_equal(json_integer_value(json_object_get(first, "attempts")), 2);
	assert_string_equal(json_string_value(json_object_get(first, "address")), "127.0.0.2");
	json_decref(list);

	assert_int_equal(store_pending_remove(s, key, &err), 0);
	assert_int_equal(store_pending_find(s, "AAAAAAAAAAb", key, &err), -ENOENT);
}

static void
a_host_keeps_its_sequence_until_a_new_boot(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	uint64_t seq;
	char boot[80];
	assert_int_equal(store_host_seen(s, "node-1", "KEY", "10.0.0.1", 500, &err), 0);
	assert_int_equal(store_host_hello(s, "node-1", "boot-a", "0.1.0", &err), 0);
	assert_int_equal(store_host_set_seq(s, "node-1", 42, &err), 0);
	assert_int_equal(store_host_seq(s, "node-1", &seq, boot, &err), 0);
	assert_int_equal(seq, 42);
	assert_string_equal(boot, "boot-a");
	assert_int_equal(store_host_hello(s, "node-1", "boot-b", "0.1.0", &err), 0);
	assert_int_equal(store_host_seq(s, "node-1", &seq, boot, &err), 0);
	assert_int_equal(seq, 0);
	/* seen again without a key keeps the recorded one */
	assert_int_equal(store_host_seen(s, "node-1", NULL, NULL, 900, &err), 0);
	json_t *h = NULL;
	assert_int_equal(store_host_get(s, "node-1", &h, &err), 0);
	assert_string_equal(json_string_value(json_object_get(h, "public_key")), "KEY");
	assert_int_equal(json_integer_value(json_object_get(h, "last_seen_ms")), 900);
	json_decref(h);
	assert_int_equal(store_host_get(s, "node-2", &h, &err), -ENOENT);
}

static void
a_command_is_due_until_it_finishes(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	struct store_cmd c = {.state = STORE_CMD_QUEUED,
			      .created_ms = 100,
			      .deadline_ms = 5000,
			      .next_try_ms = 100};
	snprintf(c.cmd_id, sizeof c.cmd_id, "cmd-1");
	snprintf(c.host_id, sizeof c.host_id, "node-1");
	snprintf(c.uuid, sizeof c.uuid, "u-1");
	snprintf(c.action, sizeof c.action, "pause");
	c.args = json_pack("{s:s}", "uuid", "u-1");
	assert_int_equal(store_cmd_insert(s, &c, &err), 0);
	store_cmd_clear(&c);

	struct store_cmd due[4];
	assert_int_equal(store_cmd_due(s, 99, due, 4, &err), 0);
	assert_int_equal(store_cmd_due(s, 100, due, 4, &err), 1);
	assert_string_equal(due[0].action, "pause");
	assert_string_equal(json_string_value(json_object_get(due[0].args, "uuid")), "u-1");
	store_cmd_clear(&due[0]);
	assert_int_equal(store_cmd_inflight_for(s, "u-1", &err), 1);

	assert_int_equal(store_cmd_update(s, "cmd-1", STORE_CMD_SENT, 1, 1100, NULL, &err), 0);
	assert_int_equal(store_cmd_due(s, 1000, due, 4, &err), 0);
	assert_int_equal(store_cmd_due(s, 1100, due, 4, &err), 1);
	assert_int_equal(due[0].attempts, 1);
	store_cmd_clear(&due[0]);

	json_t *res = json_pack("{s:b}", "ok", 1);
	assert_int_equal(store_cmd_update(s, "cmd-1", STORE_CMD_DONE, 1, 0, res, &err), 0);
	json_decref(res);
	assert_int_equal(store_cmd_due(s, 99999, due, 4, &err), 0);
	assert_int_equal(store_cmd_inflight_for(s, "u-1", &err), 0);

	json_t *got = NULL;
	assert_int_equal(store_cmd_get(s, "cmd-1", &c, &got, &err), 0);
	assert_int_equal(c.state, STORE_CMD_DONE);
	assert_true(json_is_true(json_object_get(got, "ok")));
	store_cmd_clear(&c);
	json_decref(got);

	json_t *hist = NULL;
	assert_int_equal(store_cmd_list_for(s, "u-1", 10, &hist, &err), 0);
	assert_int_equal(json_array_size(hist), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "state")),
			    "done");
	json_decref(hist);
}

static void
an_ack_counts_only_from_the_commands_host_and_only_once(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	struct store_cmd c = {.state = STORE_CMD_SENT,
			      .attempts = 1,
			      .created_ms = 1,
			      .deadline_ms = 9000,
			      .next_try_ms = 100};
	snprintf(c.cmd_id, sizeof c.cmd_id, "cmd-a");
	snprintf(c.host_id, sizeof c.host_id, "node-1");
	snprintf(c.uuid, sizeof c.uuid, "u-a");
	snprintf(c.action, sizeof c.action, "stop");
	assert_int_equal(store_cmd_insert(s, &c, &err), 0);

	assert_int_equal(store_cmd_mark_acked(s, "cmd-a", "node-2", 5000, &err), 0);
	assert_int_equal(store_cmd_get(s, "cmd-a", &c, NULL, &err), 0);
	assert_int_equal(c.state, STORE_CMD_SENT); /* another host's ACK changes nothing */

	assert_int_equal(store_cmd_mark_acked(s, "cmd-a", "node-1", 5000, &err), 0);
	assert_int_equal(store_cmd_get(s, "cmd-a", &c, NULL, &err), 0);
	assert_int_equal(c.state, STORE_CMD_ACKED);
	assert_int_equal(c.next_try_ms, 5000);

	assert_int_equal(store_cmd_update(s, "cmd-a", STORE_CMD_DONE, 1, 0, NULL, &err), 0);
	assert_int_equal(store_cmd_mark_acked(s, "cmd-a", "node-1", 7000, &err), 0);
	assert_int_equal(store_cmd_get(s, "cmd-a", &c, NULL, &err), 0);
	assert_int_equal(c.state, STORE_CMD_DONE); /* a late ACK never reopens it */
}

static void
a_batch_of_writes_commits_together(void **state)
{
	struct store *s = *state;
	struct hv_error err = {0};
	assert_int_equal(store_begin(s, &err), 0);
	assert_int_equal(store_begin(s, &err), 0); /* nested */
	for (int i = 0; i < 100; i++) {
		char id[16];
		snprintf(id, sizeof id, "n-%d", i);
		assert_int_equal(store_host_seen(s, id, "K", "a", i + 1, &err), 0);
	}
	assert_int_equal(store_commit(s, &err), 0);
	assert_int_equal(store_commit(s, &err), 0);
	json_t *hosts = NULL;
	assert_int_equal(store_host_list(s, &hosts, &err), 0);
	assert_int_equal(json_array_size(hosts), 100);
	json_decref(hosts);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			a_database_from_before_the_catalog_is_brought_up_to_date, setup, teardown),
		cmocka_unit_test_setup_teardown(a_service_word_and_a_servers_tags_are_kept, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_server_survives_a_controller_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_database_from_a_newer_release_is_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_host_reports_only_its_own_servers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			the_pending_list_is_bounded_and_keeps_retrying_agents, setup, teardown),
		cmocka_unit_test_setup_teardown(two_live_servers_cannot_share_a_name, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_unknown_server_is_not_found_naming_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_pending_key_is_found_by_a_unique_prefix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_host_keeps_its_sequence_until_a_new_boot, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_command_is_due_until_it_finishes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			an_ack_counts_only_from_the_commands_host_and_only_once, setup, teardown),
		cmocka_unit_test_setup_teardown(a_batch_of_writes_commits_together, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
