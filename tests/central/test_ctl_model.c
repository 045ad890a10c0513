/* test_ctl_model.c - the controller core against a real store, with the agent played by
 * the test: commands are journaled before they leave and resent with the same cmd_id,
 * states are mirrored from SNAPSHOT/DELTA/RESULT, a gap asks RESYNC, a command nobody
 * accepted expires, and the state table refuses what the protocol refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "ctl.h"
#include "ids.h"
#include "service/service.h"
#include "zap.h"

#define MAX_SENT 32

struct fixture {
	struct store *store;
	struct ctl *ctl;
	struct svc *svc;
	bool connected;
	int n_sent;
	struct {
		enum proto_type type;
		char host[PROTO_MAX_ID + 1];
		char cmd_id[PROTO_MAX_ID + 1];
		char msg_id[37];
		json_t *body;
	} sent[MAX_SENT];
	int n_done;
	bool last_ok;
	char last_code[32];
};

static int
fake_send(void *ctx, const char *host, const struct proto_msg *m)
{
	struct fixture *f = ctx;
	if (!f->connected)
		return -EHOSTUNREACH;
	if (f->n_sent < MAX_SENT) {
		f->sent[f->n_sent].type = m->type;
		snprintf(f->sent[f->n_sent].host, sizeof f->sent[0].host, "%s", host);
		snprintf(f->sent[f->n_sent].cmd_id, sizeof f->sent[0].cmd_id, "%s", m->hdr.cmd_id);
		snprintf(f->sent[f->n_sent].msg_id, sizeof f->sent[0].msg_id, "%s", m->hdr.msg_id);
		f->sent[f->n_sent].body = json_deep_copy(m->body);
		f->n_sent++;
	}
	return 0;
}

static void
fake_done(void *ctx, const char *cmd_id, bool ok, json_t *result)
{
	struct fixture *f = ctx;
	f->n_done++;
	f->last_ok = ok;
	snprintf(f->last_code, sizeof f->last_code, "%s",
		 ok ? "" : json_string_value(json_object_get(result, "code")));
}

static const int64_t T0 = 1800000000000;

static void
host_says(struct fixture *f, const char *host, enum proto_type type, uint64_t seq, const char *corr,
	  json_t *body, int64_t now)
{
	struct proto_msg m = {.type = type, .body = body};
	proto_header_init(&m.hdr, host, "boot-1");
	m.hdr.has_seq = seq > 0;
	m.hdr.seq = seq;
	if (corr)
		snprintf(m.hdr.corr_id, sizeof m.hdr.corr_id, "%s", corr);
	ctl_on_agent(f->ctl, host, "127.0.0.1", &m, now);
	json_decref(body);
}

static void
agent_says(struct fixture *f, enum proto_type type, uint64_t seq, const char *corr, json_t *body,
	   int64_t now)
{
	host_says(f, "node-1", type, seq, corr, body, now);
}

static int
setup(void **state)
{
	static struct fixture f;
	memset(&f, 0, sizeof f);
	struct hv_error err = {0};
	struct ctl_config cfg;
	ctl_config_default(&cfg);
	cfg.retry_ms = 1000;
	cfg.cmd_timeout_ms = 10000;
	if (store_open(":memory:", &f.store, &err) < 0 ||
	    ctl_new(f.store, &cfg, fake_send, fake_done, &f, &f.ctl, &err) < 0 ||
	    svc_new(f.store, f.ctl, NULL, &cfg.liveness, &f.svc, &err) < 0)
		return -1;
	f.connected = true;
	agent_says(&f, PROTO_HELLO, 0, NULL, json_pack("{s:s}", "agent_version", "t"), T0);
	agent_says(
		&f, PROTO_SNAPSHOT, 1, NULL,
		json_pack("{s:i, s:{s:i}, s:[]}", "generation", 1, "host", "vcpus", 8, "instances"),
		T0);
	for (int i = 0; i < f.n_sent; i++) /* the WELCOME */
		json_decref(f.sent[i].body);
	f.n_sent = 0;
	*state = &f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < f->n_sent && i < MAX_SENT; i++)
		json_decref(f->sent[i].body);
	svc_free(f->svc);
	ctl_free(f->ctl);
	store_free(f->store);
	return 0;
}

static json_t *
create_args(const char *name)
{
	return json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}}", "name", name, "host", "node-1",
			 "image", "cirros", "flavor", "vcpus", 1, "ram", 64, "disk", 1);
}

static json_t *
record(const char *uuid, const char *vm, const char *task, const char *power)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s}", "uuid", uuid, "name", "web-1", "vm_state", vm,
			 "task_state", task ? json_string(task) : json_null(), "power_state",
			 power);
}

static const char *
field(struct store *s, const char *server, const char *key)
{
	static char buf[64];
	json_t *i = NULL;
	assert_int_equal(store_instance_get(s, server, &i, NULL), 0);
	json_t *v = json_object_get(i, key);
	snprintf(buf, sizeof buf, "%s", json_is_null(v) ? "null" : json_string_value(v));
	json_decref(i);
	return buf;
}

static void
a_create_is_journaled_sent_and_mirrored_back(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	assert_int_equal(svc_server_create(f->svc, args, T0 + 10, &inst, cmd, &err), 0);
	json_decref(args);
	char uuid[37];
	snprintf(uuid, sizeof uuid, "%s", json_string_value(json_object_get(inst, "uuid")));
	assert_string_equal(json_string_value(json_object_get(inst, "vm_state")), "building");
	assert_string_equal(json_string_value(json_object_get(inst, "task_state")), "spawning");
	json_decref(inst);

	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, PROTO_COMMAND);
	assert_string_equal(f->sent[0].cmd_id, cmd);
	assert_string_equal(json_string_value(json_object_get(f->sent[0].body, "command")),
			    "spawn");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(f->sent[0].body, "flavor"), "ram_mb")),
			 64);
	assert_string_equal(json_string_value(json_object_get(f->sent[0].body, "hostname")),
			    "web-1");

	agent_says(f, PROTO_ACK, 0, f->sent[0].msg_id, json_pack("{s:s}", "cmd_id", cmd), T0 + 20);
	agent_says(f, PROTO_RESULT, 0, f->sent[0].msg_id,
		   json_pack("{s:s, s:s, s:s, s:o}", "cmd_id", cmd, "status", "ok", "uuid", uuid,
			     "instance", record(uuid, "active", NULL, "running")),
		   T0 + 30);
	assert_int_equal(f->n_done, 1);
	assert_true(f->last_ok);
	assert_string_equal(field(f->store, "web-1", "vm_state"), "active");
	assert_string_equal(field(f->store, "web-1", "task_state"), "null");
	assert_string_equal(field(f->store, "web-1", "power_state"), "running");
	/* the RESULT is acknowledged so the agent stops resending it */
	assert_int_equal(f->sent[f->n_sent - 1].type, PROTO_ACK);

	/* a duplicate RESULT is acknowledged again and changes nothing */
	agent_says(f, PROTO_RESULT, 0, NULL,
		   json_pack("{s:s, s:s, s:s, s:o}", "cmd_id", cmd, "status", "ok", "uuid", uuid,
			     "instance", record(uuid, "active", NULL, "running")),
		   T0 + 40);
	assert_int_equal(f->n_done, 1);
	assert_int_equal(f->sent[f->n_sent - 1].type, PROTO_ACK);
}

static void
the_guest_hostname_comes_from_the_server_name(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	const char *cases[][2] = {
		{"Web Server_1.prod", "web-server-1-prod"},
		{"--db<&>\"01--", "db01"},
		{"<>", NULL}, /* nothing usable: the host's own default applies */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *inst = NULL, *args = create_args(cases[i][0]);
		char cmd[PROTO_MAX_ID + 1];
		f->n_sent = 0;
		assert_int_equal(svc_server_create(f->svc, args, T0 + 10, &inst, cmd, &err), 0);
		json_decref(args);
		json_decref(inst);
		assert_int_equal(f->n_sent, 1);
		json_t *h = json_object_get(f->sent[0].body, "hostname");
		if (cases[i][1])
			assert_string_equal(json_string_value(h), cases[i][1]);
		else
			assert_null(h);
		json_decref(f->sent[0].body);
		f->sent[0].body = NULL;
	}
	f->n_sent = 0;
}

static void
an_unanswered_command_is_resent_with_the_same_cmd_id(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	f->connected = false;
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(args);
	json_decref(inst);
	assert_int_equal(f->n_sent, 0);
	f->connected = true;
	ctl_tick(f->ctl, T0 + 500); /* not yet due */
	assert_int_equal(f->n_sent, 0);
	ctl_tick(f->ctl, T0 + 1000);
	assert_int_equal(f->n_sent, 1);
	ctl_tick(f->ctl, T0 + 2000);
	assert_int_equal(f->n_sent, 2);
	assert_string_equal(f->sent[0].cmd_id, cmd);
	assert_string_equal(f->sent[1].cmd_id, cmd);
	assert_string_not_equal(f->sent[0].msg_id, f->sent[1].msg_id);
}

static void
a_command_nobody_accepts_expires_and_a_spawn_leaves_error(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	f->connected = false;
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(args);
	json_decref(inst);
	ctl_tick(f->ctl, T0 + 10000);
	assert_int_equal(f->n_done, 1);
	assert_false(f->last_ok);
	assert_string_equal(f->last_code, "expired");
	assert_string_equal(field(f->store, "web-1", "vm_state"), "error");
	assert_string_equal(field(f->store, "web-1", "task_state"), "null");
}

/* A firewall command for node-1, queued while node-1 is away. */
static void
queue_firewall(struct fixture *f, char cmd[PROTO_MAX_ID + 1])
{
	struct hv_error err = {0};
	json_t *args = json_pack("{s:{s:s, s:[]}}", "group", "id", "sg-1", "rules");
	f->connected = false;
	assert_int_equal(ctl_queue_host(f->ctl, "node-1", "sg_update", args, T0, cmd, &err), 0);
	json_decref(args);
}

static enum store_cmd_state
cmd_state(struct fixture *f, const char *cmd)
{
	struct store_cmd sc = {0};
	assert_int_equal(store_cmd_get(f->store, cmd, &sc, NULL, NULL), 0);
	enum store_cmd_state st = sc.state;
	store_cmd_clear(&sc);
	return st;
}

static void
a_firewall_command_waits_for_its_host_but_not_past_firewall_max_age(void **state)
{
	struct fixture *f = *state;
	struct ctl_config cfg;
	char cmd[PROTO_MAX_ID + 1];
	ctl_config_default(&cfg);
	assert_int_equal(cfg.host_cmd_max_age_ms, 7 * 86400 * 1000LL); /* a week by default */
	cfg.retry_ms = 1000;
	cfg.host_cmd_max_age_ms = 60000;
	ctl_set_config(f->ctl, &cfg);
	queue_firewall(f, cmd);
	ctl_tick(f->ctl, T0 + 59000); /* longer than [commands] timeout: still kept */
	assert_int_equal(f->n_done, 0);
	assert_int_equal(cmd_state(f, cmd), STORE_CMD_QUEUED);
	ctl_tick(f->ctl, T0 + 61000);
	assert_int_equal(f->n_done, 1);
	assert_false(f->last_ok);
	assert_string_equal(f->last_code, "expired");
	assert_int_equal(cmd_state(f, cmd), STORE_CMD_FAILED);
	f->connected = true; /* the host returns: the dropped command is not sent */
	ctl_tick(f->ctl, T0 + 120000);
	assert_int_equal(f->n_sent, 0);
}

static void
a_firewall_command_is_kept_for_ever_with_firewall_max_age_0(void **state)
{
	struct fixture *f = *state;
	struct ctl_config cfg;
	char cmd[PROTO_MAX_ID + 1];
	ctl_config_default(&cfg);
	cfg.retry_ms = 1000;
	cfg.host_cmd_max_age_ms = 0;
	ctl_set_config(f->ctl, &cfg);
	queue_firewall(f, cmd);
	ctl_tick(f->ctl, T0 + 30LL * 86400 * 1000);
	assert_int_equal(f->n_done, 0);
	f->connected = true;
	ctl_tick(f->ctl, T0 + 30LL * 86400 * 1000 + 1000);
	assert_int_equal(f->n_sent, 1);
	assert_string_equal(f->sent[0].cmd_id, cmd);
}

static bool
only_node_2_known(void *ctx, const char *host)
{
	(void)ctx;
	return strcmp(host, "node-2") == 0;
}

static void
a_firewall_command_for_a_host_out_of_the_allowlist_is_dropped(void **state)
{
	struct fixture *f = *state;
	char cmd[PROTO_MAX_ID + 1];
	queue_firewall(f, cmd);
	ctl_set_host_known(f->ctl, only_node_2_known, NULL);
	ctl_tick(f->ctl, T0 + 2000);
	assert_int_equal(f->n_done, 1);
	assert_string_equal(f->last_code, "expired");
	assert_int_equal(cmd_state(f, cmd), STORE_CMD_FAILED);
	f->connected = true;
	ctl_tick(f->ctl, T0 + 10000);
	assert_int_equal(f->n_sent, 0);
}

static void
a_refused_command_clears_the_task_and_keeps_the_state(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(args);
	const char *u = json_string_value(json_object_get(inst, "uuid"));
	char uuid[37];
	snprintf(uuid, sizeof uuid, "%s", u);
	json_decref(inst);
	agent_says(f, PROTO_DELTA, 2, NULL,
		   json_pack("{s:i, s:[o], s:[]}", "prev_seq", 1, "instances",
			     record(uuid, "active", NULL, "running"), "removed"),
		   T0 + 5);
	/* the spawn's RESULT never matters here: pretend it finished */
	agent_says(f, PROTO_RESULT, 0, NULL,
		   json_pack("{s:s, s:s, s:s}", "cmd_id", cmd, "status", "ok", "uuid", uuid),
		   T0 + 6);
	assert_int_equal(
		svc_server_action(f->svc, "web-1", "pause", false, T0 + 10, &inst, cmd, &err), 0);
	json_decref(inst);
	assert_string_equal(field(f->store, "web-1", "task_state"), "pausing");
	const char *msg_id = f->sent[f->n_sent - 1].msg_id;
	agent_says(f, PROTO_ERROR, 0, msg_id,
		   json_pack("{s:s, s:s}", "code", "invalid_state", "message", "not now"), T0 + 20);
	assert_false(f->last_ok);
	assert_string_equal(f->last_code, "invalid_state");
	assert_string_equal(field(f->store, "web-1", "vm_state"), "active");
	assert_string_equal(field(f->store, "web-1", "task_state"), "null");
}

static void
a_project_goes_to_the_spawn_as_project_id(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *proj = NULL, *args = create_args("web-1");
	json_t *pargs = json_pack("{s:s}", "name", "proj-1");
	char cmd[PROTO_MAX_ID + 1];
	assert_int_equal(svc_project_create(f->svc, pargs, T0, &proj, &err), 0);
	json_object_set_new(args, "project", json_string("proj-1"));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	assert_string_equal(json_string_value(json_object_get(inst, "project_id")),
			    json_string_value(json_object_get(proj, "id")));
	json_decref(inst);
	assert_string_equal(json_string_value(json_object_get(f->sent[0].body, "project_id")),
			    json_string_value(json_object_get(proj, "id")));
	json_object_set_new(args, "name", json_string("web-2"));
	json_object_set_new(args, "project", json_string("no such project"));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -ENOENT);
	assert_string_equal(err.field, "args.project");
	/* without a project, the one created at first start owns the server */
	json_object_del(args, "project");
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_t *admin = NULL;
	assert_int_equal(svc_project_show(f->svc, "admin", &admin, &err), 0);
	assert_string_equal(json_string_value(json_object_get(inst, "project_id")),
			    json_string_value(json_object_get(admin, "id")));
	json_decref(admin);
	json_decref(inst);
	json_decref(proj);
	json_decref(pargs);
	json_decref(args);
}

/* The quota is checked against what the project's live servers hold, in the transaction
 * that writes the new one: a create that does not fit leaves nothing behind, and a deleted
 * server frees its share. */
static void
a_create_over_quota_is_refused_and_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *list = NULL, *res = NULL;
	json_t *q = json_pack("{s:i, s:i}", "instances", 2, "cores", 3);
	char cmd[PROTO_MAX_ID + 1], name[16];
	assert_int_equal(svc_quota_set(f->svc, NULL, q, &res, &err), 0);
	json_decref(res);
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof name, "web-%d", i);
		json_t *args = create_args(name);
		assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
		json_decref(inst);
		json_decref(args);
	}
	int sent = f->n_sent;
	json_t *args = create_args("web-3");
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EDQUOT);
	assert_string_equal(err.field, "quota");
	assert_non_null(strstr(err.message, "Quota exceeded for instances: Requested 1, but "
					    "already used 2 of 2 instances"));
	assert_int_equal(svc_server_list(f->svc, NULL, false, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(f->n_sent, sent);

	json_decref(q);
	q = json_pack("{s:i}", "instances", 5);
	assert_int_equal(svc_quota_set(f->svc, "admin", q, &res, &err), 0);
	json_decref(res);
	json_object_set_new(json_object_get(args, "flavor"), "vcpus", json_integer(2));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EDQUOT);
	assert_non_null(strstr(err.message, "for cores: Requested 2, but already used 2 of 3"));
	json_decref(q);
	json_decref(args);

	/* quota show counts what the live servers hold */
	assert_int_equal(svc_quota_show(f->svc, NULL, &res, &err), 0);
	json_t *used = json_object_get(res, "in_use");
	assert_int_equal(json_integer_value(json_object_get(used, "instances")), 2);
	assert_int_equal(json_integer_value(json_object_get(used, "cores")), 2);
	assert_int_equal(json_integer_value(json_object_get(used, "ram")), 128);
	assert_int_equal(json_integer_value(json_object_get(res, "floating_ips")), 50);
	json_decref(res);
	/* a limit below what is used is refused, naming the resource */
	q = json_pack("{s:i}", "instances", 1);
	assert_int_equal(svc_quota_set(f->svc, NULL, q, &res, &err), -EINVAL);
	assert_string_equal(err.field, "args.quotas.instances");
	json_decref(q);
	/* a deleted server holds nothing: its share goes to the next create */
	json_t *gone = NULL;
	assert_int_equal(svc_server_get(f->svc, "web-0", &gone, &err), 0);
	assert_int_equal(store_instance_set_state(f->store,
						  json_string_value(json_object_get(gone, "uuid")),
						  "deleted", "", NULL, NULL, T0, &err),
			 0);
	json_decref(gone);
	args = create_args("web-3");
	json_object_set_new(json_object_get(args, "flavor"), "vcpus", json_integer(2));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(inst);
	json_decref(args);
}

/* A create of several servers names them NAME-1..NAME-N, makes as many as the quota allows
 * down to min_count, and writes none when even min_count does not fit. */
static void
a_create_of_several_fits_the_quota_or_makes_none(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *list = NULL, *res = NULL;
	json_t *q = json_pack("{s:i}", "instances", 4);
	char cmd[PROTO_MAX_ID + 1];
	assert_int_equal(svc_quota_set(f->svc, NULL, q, &res, &err), 0);
	json_decref(res);
	json_decref(q);

	json_t *args = create_args("web");
	json_object_set_new(args, "min_count", json_integer(5));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EDQUOT);
	assert_non_null(strstr(err.message, "Requested 5, but already used 0 of 4 instances"));
	assert_int_equal(svc_server_list(f->svc, NULL, false, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(f->n_sent, 0);

	json_object_set_new(args, "min_count", json_integer(2));
	json_object_set_new(args, "max_count", json_integer(3));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_t *servers = json_object_get(inst, "servers");
	assert_int_equal(json_array_size(servers), 3);
	for (int i = 0; i < 3; i++) {
		char want[16];
		snprintf(want, sizeof want, "web-%d", i + 1);
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(servers, (size_t)i), "name")),
				    want);
	}
	assert_string_equal(json_string_value(json_object_get(inst, "name")), "web-1");
	json_decref(inst);
	assert_int_equal(f->n_sent, 3); /* one spawn each */

	/* one place left: max 3, min 1 makes one; min 2 makes none */
	json_object_set_new(args, "name", json_string("db"));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EDQUOT);
	json_object_set_new(args, "min_count", json_integer(1));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	assert_null(json_object_get(inst, "servers"));
	assert_string_equal(json_string_value(json_object_get(inst, "name")), "db");
	json_decref(inst);

	/* a name taken half way through writes none of them */
	assert_int_equal(
		svc_quota_set(f->svc, NULL, q = json_pack("{s:i}", "instances", 10), &res, &err),
		0);
	json_decref(q);
	json_decref(res);
	json_t *one = create_args("x-2");
	assert_int_equal(svc_server_create(f->svc, one, T0, &inst, cmd, &err), 0);
	json_decref(inst);
	json_decref(one);
	int sent = f->n_sent;
	json_object_set_new(args, "name", json_string("x"));
	json_object_set_new(args, "min_count", json_integer(3));
	json_object_set_new(args, "max_count", json_integer(3));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EEXIST);
	assert_string_equal(err.field, "args.name");
	assert_non_null(strstr(err.message, "'x-2'"));
	assert_int_equal(svc_server_list(f->svc, NULL, false, &list, &err), 0);
	assert_int_equal(json_array_size(list), 5); /* x-1 was written, then undone */
	json_decref(list);
	assert_int_equal(svc_server_get(f->svc, "x-1", &inst, &err), -ENOENT);
	assert_int_equal(f->n_sent, sent);
	json_object_set_new(args, "max_count", json_integer(2));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EINVAL);
	assert_string_equal(err.field, "args.max_count");
	json_decref(args);
}

/* A catalog flavor gives the spawn its sizes and extra specs; a private one serves only the
 * projects on its list, and to the others it is not there. */
static void
a_catalog_flavor_goes_to_the_spawn_and_a_private_one_to_its_projects(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *fl = NULL, *proj = NULL;
	char cmd[PROTO_MAX_ID + 1];
	json_t *pargs = json_pack("{s:s}", "name", "demo");
	assert_int_equal(svc_project_create(f->svc, pargs, T0, &proj, &err), 0);
	json_decref(pargs);
	json_t *fargs = json_pack("{s:s, s:i, s:i, s:i, s:i, s:b, s:s, s:{s:s}}", "name", "secret",
				  "vcpus", 2, "ram", 256, "disk", 3, "swap", 128, "is_public", 0,
				  "project", "demo", "extra_specs", "hw:watchdog_action", "reset");
	assert_int_equal(svc_flavor_create(f->svc, fargs, T0, &fl, &err), 0);
	json_decref(fargs);
	json_decref(fl);

	json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "name", "a", "host", "node-1", "image",
				 "cirros", "flavor", "secret");
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -ENOENT);
	assert_string_equal(err.field, "args.flavor"); /* admin is not on its list */
	json_object_set_new(args, "project", json_string("demo"));
	json_object_set_new(args, "properties", json_pack("{s:s}", "a", "b"));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EINVAL);
	assert_string_equal(err.field, "args.properties");
	json_object_del(args, "properties");
	assert_int_equal(f->n_sent, 0);
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(inst);
	json_t *sent = json_object_get(f->sent[0].body, "flavor");
	assert_string_equal(json_string_value(json_object_get(sent, "name")), "secret");
	assert_int_equal(json_integer_value(json_object_get(sent, "vcpus")), 2);
	assert_int_equal(json_integer_value(json_object_get(sent, "ram_mb")), 256);
	assert_int_equal(json_integer_value(json_object_get(sent, "root_gb")), 3);
	assert_int_equal(json_integer_value(json_object_get(sent, "swap_mb")), 128);
	assert_string_equal(json_string_value(json_object_get(json_object_get(sent, "extra_specs"),
							      "hw:watchdog_action")),
			    "reset");
	assert_null(json_object_get(sent, "id"));
	json_decref(args);
	json_decref(proj);
}

static void
a_disabled_host_takes_no_server_and_its_busy_refusals_are_resent(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1], uuid[37];
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	snprintf(uuid, sizeof uuid, "%s", json_string_value(json_object_get(inst, "uuid")));
	json_decref(inst);
	agent_says(f, PROTO_RESULT, 0, NULL,
		   json_pack("{s:s, s:s, s:s, s:o}", "cmd_id", cmd, "status", "ok", "uuid", uuid,
			     "instance", record(uuid, "active", NULL, "running")),
		   T0 + 5);

	/* the host loses its hypervisor: the REPORT says so */
	agent_says(f, PROTO_REPORT, 0, NULL,
		   json_pack("{s:i, s:s, s:s}", "vcpus", 8, "status", "disabled", "disabled_reason",
			     "AUTO: hypervisor connection lost"),
		   T0 + 10);
	json_t *h = NULL;
	assert_int_equal(svc_host_show(f->svc, "node-1", T0 + 10, &h, &err), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "disabled");
	assert_string_equal(json_string_value(json_object_get(h, "disabled_reason")),
			    "AUTO: hypervisor connection lost");
	json_decref(h);
	json_object_set_new(args, "name", json_string("web-2"));
	assert_int_equal(svc_server_create(f->svc, args, T0 + 10, &inst, cmd, &err), -EHOSTUNREACH);
	assert_string_equal(err.field, "host");
	assert_non_null(strstr(err.message, "AUTO: hypervisor connection lost"));

	/* an action is sent, refused as busy, kept and sent again with the same cmd_id */
	assert_int_equal(
		svc_server_action(f->svc, "web-1", "pause", false, T0 + 20, &inst, cmd, &err), 0);
	json_decref(inst);
	int n = f->n_sent;
	agent_says(f, PROTO_ERROR, 0, f->sent[n - 1].msg_id,
		   json_pack("{s:s, s:s, s:s}", "code", "busy", "field", "host", "message",
			     "host: disabled (AUTO: hypervisor connection lost); retry pause when "
			     "it is back"),
		   T0 + 30);
	assert_string_equal(field(f->store, "web-1", "task_state"), "pausing");
	ctl_tick(f->ctl, T0 + 30 + 1000);
	assert_int_equal(f->n_sent, n + 1);
	assert_string_equal(f->sent[n].cmd_id, cmd);

	/* back: enabled, and the resent pause completes */
	agent_says(f, PROTO_REPORT, 0, NULL,
		   json_pack("{s:i, s:s}", "vcpus", 8, "status", "enabled"), T0 + 2000);
	assert_int_equal(svc_host_show(f->svc, "node-1", T0 + 2000, &h, &err), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")), "enabled");
	assert_true(json_is_null(json_object_get(h, "disabled_reason")));
	json_decref(h);
	agent_says(f, PROTO_RESULT, 0, f->sent[n].msg_id,
		   json_pack("{s:s, s:s, s:s, s:o}", "cmd_id", cmd, "status", "ok", "uuid", uuid,
			     "instance", record(uuid, "paused", NULL, "paused")),
		   T0 + 2100);
	assert_true(f->last_ok);
	assert_string_equal(field(f->store, "web-1", "vm_state"), "paused");

	/* a busy refusal until the deadline: the command expires, never runs late */
	assert_int_equal(
		svc_server_action(f->svc, "web-1", "unpause", false, T0 + 3000, &inst, cmd, &err),
		0);
	json_decref(inst);
	agent_says(f, PROTO_ERROR, 0, f->sent[f->n_sent - 1].msg_id,
		   json_pack("{s:s, s:s, s:s}", "code", "busy", "field", "host", "message", "x"),
		   T0 + 3010);
	ctl_tick(f->ctl, T0 + 3000 + 10000);
	assert_false(f->last_ok);
	assert_string_equal(f->last_code, "expired");
	assert_string_equal(field(f->store, "web-1", "task_state"), "null");
	json_decref(args);
}

static void
a_sequence_gap_asks_for_a_resync(void **state)
{
	struct fixture *f = *state;
	agent_says(f, PROTO_DELTA, 5, NULL,
		   json_pack("{s:i, s:[], s:[]}", "prev_seq", 4, "instances", "removed"), T0);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].type, PROTO_RESYNC);
	/* in order: applied silently */
	agent_says(f, PROTO_DELTA, 2, NULL,
		   json_pack("{s:i, s:[], s:[]}", "prev_seq", 1, "instances", "removed"), T0);
	assert_int_equal(f->n_sent, 1);
}

static void
an_instance_only_the_host_knows_is_adopted(void **state)
{
	struct fixture *f = *state;
	const char *uuid = "0d2c2ae4-1111-4222-8333-444455556666";
	agent_says(f, PROTO_SNAPSHOT, 7, NULL,
		   json_pack("{s:i, s:{}, s:[o]}", "generation", 3, "host", "instances",
			     record(uuid, "stopped", NULL, "shutdown")),
		   T0);
	assert_string_equal(field(f->store, uuid, "vm_state"), "stopped");
	assert_string_equal(field(f->store, uuid, "host"), "node-1");
}

static void
the_state_table_is_the_protocols(void **state)
{
	assert_true(svc_action_allowed("pause", false, "active"));
	assert_false(svc_action_allowed("pause", false, "paused"));
	assert_true(svc_action_allowed("unpause", false, "paused"));
	assert_true(svc_action_allowed("start", false, "stopped"));
	assert_false(svc_action_allowed("start", false, "active"));
	assert_false(svc_action_allowed("reboot", false, "stopped"));
	assert_true(svc_action_allowed("reboot", true, "stopped"));
	assert_true(svc_action_allowed("reboot", true, "error"));
	assert_true(svc_action_allowed("delete", false, "error"));
	assert_false(svc_action_allowed("delete", false, "deleted"));
	assert_false(svc_action_allowed("frobnicate", false, "active"));
	assert_string_equal(svc_task_for("reboot", true), "rebooting_hard");
	assert_string_equal(svc_task_for("stop", false), "powering_off");
	assert_true(svc_action_allowed("resize", false, "stopped"));
	assert_false(svc_action_allowed("resize", false, "resized"));
	assert_true(svc_action_allowed("confirm_resize", false, "resized"));
	assert_false(svc_action_allowed("revert_resize", false, "active"));
	assert_true(svc_action_allowed("rebuild", false, "error"));
	assert_false(svc_action_allowed("rescue", false, "paused"));
	assert_true(svc_action_allowed("unrescue", false, "rescued"));
	assert_true(svc_action_allowed("stop", false, "rescued"));
	assert_true(svc_action_allowed("snapshot", false, "suspended"));
	assert_false(svc_action_allowed("set_admin_password", false, "stopped"));
	assert_false(svc_action_allowed("get_console", false, "stopped"));
	assert_string_equal(svc_task_for("resize", false), "resize_migrating");
	assert_string_equal(svc_task_for("snapshot", false), "image_snapshot");
	assert_string_equal(svc_task_for("set_admin_password", false), "updating_password");
	assert_null(svc_task_for("get_console", false));
}

/* The journaled command of a create with a password, as the store returns it. */
static json_t *
journaled_args(struct fixture *f, int64_t now)
{
	struct store_cmd due[4];
	struct hv_error err = {0};
	assert_int_equal(store_cmd_due(f->store, now, due, 4, &err), 1);
	json_t *args = json_incref(due[0].args);
	store_cmd_clear(&due[0]);
	return args;
}

/* Two hosts that report 8 GiB each, nothing used. */
static void
two_hosts(struct fixture *f)
{
	host_says(f, "node-1", PROTO_REPORT, 0, NULL,
		  json_pack("{s:i, s:i, s:i, s:s}", "vcpus", 8, "memory_mb", 8192, "local_gb", 100,
			    "status", "enabled"),
		  T0);
	host_says(f, "node-2", PROTO_HELLO, 0, NULL, json_pack("{s:s}", "agent_version", "t"), T0);
	host_says(f, "node-2", PROTO_REPORT, 0, NULL,
		  json_pack("{s:i, s:i, s:i, s:s}", "vcpus", 8, "memory_mb", 8192, "local_gb", 100,
			    "status", "enabled"),
		  T0);
}

static const char *
create_on(struct fixture *f, const char *name, const char *host, int ram, int64_t now)
{
	struct hv_error err = {0};
	json_t *inst = NULL;
	char cmd[PROTO_MAX_ID + 1];
	json_t *args = json_pack("{s:s, s:s, s:{s:i, s:i, s:i}}", "name", name, "image", "cirros",
				 "flavor", "vcpus", 1, "ram", ram, "disk", 1);
	if (host)
		json_object_set_new(args, "host", json_string(host));
	assert_int_equal(svc_server_create(f->svc, args, now, &inst, cmd, &err), 0);
	json_decref(args);
	json_decref(inst);
	return field(f->store, name, "host");
}

/* The scheduler's table of hosts is kept between decisions, and what changes a host counts
 * at the next one: a server forced on it (before the host says anything), its report. */
static void
a_server_forced_on_a_host_counts_at_the_next_placement(void **state)
{
	struct fixture *f = *state;
	two_hosts(f);
	assert_string_equal(create_on(f, "a", NULL, 512, T0 + 10), "node-1"); /* a tie */
	assert_string_equal(create_on(f, "b", "node-2", 4096, T0 + 20), "node-2");
	/* node-1: 7680 MB free, node-2: 4096 */
	assert_string_equal(create_on(f, "c", NULL, 512, T0 + 30), "node-1");
	/* then node-2's report says it holds more than hvcentral placed there (11000 of
	 * 8192 x 1.5 MB): the next decision reads it, and 2 GB no longer fits node-2 */
	host_says(f, "node-2", PROTO_REPORT, 0, NULL,
		  json_pack("{s:i, s:i, s:i, s:i, s:s}", "vcpus", 8, "memory_mb", 8192,
			    "memory_mb_used", 11000, "local_gb", 100, "status", "enabled"),
		  T0 + 40);
	assert_string_equal(create_on(f, "d", NULL, 2048, T0 + 50), "node-1");
}

/* A host whose claim refuses a spawn hands it on: the same command (cmd_id, secrets) goes
 * to the next host the scheduler picks, without the one that refused; when no host is
 * left the server is in error with every refusal, and the command fails no_valid_host. */
static void
a_refused_claim_goes_to_the_next_host_then_fails_with_every_reason(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL;
	char cmd[PROTO_MAX_ID + 1];
	two_hosts(f);
	host_says(f, "node-2", PROTO_REPORT, 0, NULL,
		  json_pack("{s:i, s:i, s:i, s:s}", "vcpus", 8, "memory_mb", 4096, "local_gb", 100,
			    "status", "enabled"),
		  T0);
	for (int i = 0; i < f->n_sent; i++)
		json_decref(f->sent[i].body);
	f->n_sent = 0;
	json_t *args = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}}", "name", "web-1", "image",
				 "cirros", "admin_pass", "Tr0ub4dor&3", "flavor", "vcpus", 1, "ram",
				 1024, "disk", 1);
	assert_int_equal(svc_server_create(f->svc, args, T0 + 10, &inst, cmd, &err), 0);
	json_decref(args);
	json_decref(inst);
	/* the most free RAM first, with the limit RamFilter checked: 8192 MB x 1.5 */
	assert_int_equal(f->n_sent, 1);
	assert_string_equal(f->sent[0].host, "node-1");
	json_t *lim = json_object_get(f->sent[0].body, "limits");
	assert_int_equal(json_integer_value(json_object_get(lim, "memory_mb")), 12288);
	assert_null(json_object_get(lim, "vcpus")); /* CoreFilter is not in the list */

	host_says(f, "node-1", PROTO_ERROR, 0, f->sent[0].msg_id,
		  json_pack("{s:s, s:s, s:s}", "code", "claim_refused", "field", "body.limits",
			    "message", "claim refused: memory: node-1 is full"),
		  T0 + 20);
	assert_int_equal(f->n_done, 0); /* nobody is told: it is not over */
	assert_string_equal(field(f->store, "web-1", "host"), "node-2");
	ctl_tick(f->ctl, T0 + 30);
	assert_int_equal(f->n_sent, 2);
	assert_string_equal(f->sent[1].host, "node-2");
	assert_string_equal(f->sent[1].cmd_id, cmd);
	json_t *body = f->sent[1].body;
	assert_string_equal(json_string_value(json_object_get(body, "admin_pass")), "Tr0ub4dor&3");
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(body, "limits"), "memory_mb")),
		6144);
	json_t *tried = json_object_get(json_object_get(body, "placement"), "tried");
	assert_int_equal(json_array_size(tried), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tried, 0), "host")),
			    "node-1");

	host_says(f, "node-2", PROTO_ERROR, 0, f->sent[1].msg_id,
		  json_pack("{s:s, s:s}", "code", "claim_refused", "message",
			    "claim refused: memory: node-2 is full"),
		  T0 + 40);
	assert_int_equal(f->n_done, 1);
	assert_false(f->last_ok);
	assert_string_equal(f->last_code, "no_valid_host");
	assert_string_equal(field(f->store, "web-1", "vm_state"), "error");
	json_t *i = NULL;
	assert_int_equal(store_instance_get(f->store, "web-1", &i, NULL), 0);
	const char *fault = json_string_value(json_object_get(i, "fault"));
	assert_non_null(strstr(fault, "node-1: claim refused: memory: node-1 is full"));
	assert_non_null(strstr(fault, "node-2: claim refused: memory: node-2 is full"));
	assert_non_null(strstr(fault, "RetryFilter removed 2"));
	json_decref(i);
}

static void
a_password_is_sent_but_journaled_redacted(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	json_object_set_new(args, "admin_pass", json_string("Tr0ub4dor&3"));
	json_object_set_new(args, "user_data", json_string("IyEvYmluL3NoCg=="));
	json_object_set_new(args, "key_data", json_string("ssh-ed25519 AAAAC3Nz k@h"));
	f->connected = false;
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(args);
	json_decref(inst);
	json_t *kept = journaled_args(f, T0 + 5000);
	assert_null(json_object_get(kept, "admin_pass"));
	assert_null(json_object_get(kept, "user_data"));
	assert_true(json_is_true(json_object_get(kept, "admin_pass_redacted")));
	assert_true(json_is_true(json_object_get(kept, "user_data_redacted")));
	assert_string_equal(json_string_value(json_object_get(kept, "key_data")),
			    "ssh-ed25519 AAAAC3Nz k@h");
	json_decref(kept);

	f->connected = true; /* the retry takes the secrets from memory */
	ctl_tick(f->ctl, T0 + 5000);
	assert_int_equal(f->n_sent, 1);
	json_t *body = f->sent[0].body;
	assert_string_equal(json_string_value(json_object_get(body, "admin_pass")), "Tr0ub4dor&3");
	assert_string_equal(json_string_value(json_object_get(body, "user_data")),
			    "IyEvYmluL3NoCg==");
	assert_null(json_object_get(body, "admin_pass_redacted"));
	assert_true(json_is_false(json_object_get(body, "config_drive")));
}

static void
a_secret_lost_in_a_restart_fails_the_command_unsent(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	json_object_set_new(args, "admin_pass", json_string("Tr0ub4dor&3"));
	f->connected = false;
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(args);
	json_decref(inst);
	/* hvcentral restarts: the store stays, the memory goes */
	struct ctl_config cfg;
	ctl_config_default(&cfg);
	svc_free(f->svc);
	ctl_free(f->ctl);
	assert_int_equal(ctl_new(f->store, &cfg, fake_send, fake_done, f, &f->ctl, &err), 0);
	assert_int_equal(svc_new(f->store, f->ctl, NULL, &cfg.liveness, &f->svc, &err), 0);
	f->connected = true;
	ctl_tick(f->ctl, T0 + 5000);
	assert_int_equal(f->n_sent, 0);
	assert_int_equal(f->n_done, 1);
	assert_false(f->last_ok);
	assert_string_equal(f->last_code, "interrupted");
	assert_string_equal(field(f->store, "web-1", "vm_state"), "error");
	assert_non_null(strstr(field(f->store, "web-1", "fault"), "hvcentral restarted"));
}

static void
a_snapshot_gets_an_image_id_from_its_name_and_records_it(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(args);
	char uuid[37];
	snprintf(uuid, sizeof uuid, "%s", json_string_value(json_object_get(inst, "uuid")));
	json_decref(inst);
	agent_says(f, PROTO_RESULT, 0, NULL,
		   json_pack("{s:s, s:s, s:s, s:o}", "cmd_id", cmd, "status", "ok", "uuid", uuid,
			     "instance", record(uuid, "active", NULL, "running")),
		   T0 + 6);
	args = json_pack("{s:s}", "name", "../nightly 1");
	assert_int_equal(svc_server_command(f->svc, "web-1", "snapshot", false, args, T0 + 10,
					    &inst, cmd, &err),
			 0);
	json_decref(args);
	const char *id =
		json_string_value(json_object_get(json_object_get(inst, "image_snapshot"), "id"));
	assert_non_null(id);
	/* a UUID, as Glance's image ids are, whatever the name ("../" is no path here) */
	assert_true(hv_uuid_valid(id));
	assert_true(proto_id_valid(id));
	assert_string_equal(
		json_string_value(json_object_get(f->sent[f->n_sent - 1].body, "image_id")), id);
	assert_string_equal(field(f->store, "web-1", "task_state"), "image_snapshot");
	agent_says(f, PROTO_RESULT, 0, NULL,
		   json_pack("{s:s, s:s, s:s, s:o, s:{s:{s:s}}}", "cmd_id", cmd, "status", "ok",
			     "uuid", uuid, "instance", record(uuid, "active", NULL, "running"),
			     "data", "image", "id", id),
		   T0 + 20);
	json_t *hist = NULL;
	assert_int_equal(store_cmd_list_for(f->store, uuid, 1, &hist, &err), 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "image_id")),
			    id);
	json_decref(hist);
	json_decref(inst);

	args = json_pack("{s:s}", "name", "");
	assert_int_equal(svc_server_command(f->svc, "web-1", "snapshot", false, args, T0 + 30,
					    &inst, cmd, &err),
			 -EINVAL);
	assert_string_equal(err.field, "args.name");
	json_decref(args);
}

static void
zap_lets_in_only_allowlisted_curve_keys(void **state)
{
	char dir[] = "/tmp/hvc-allow-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct allow *al = NULL;
	struct hv_error err = {0};
	assert_int_equal(allow_open(dir, &al, &err), 0);
	unsigned char key[32];
	for (int i = 0; i < 32; i++)
		key[i] = (unsigned char)i;
	char z85[41];
	assert_non_null(zmq_z85_encode(z85, key, 32));
	struct zap_outcome o;
	zap_decide(al, "1.0", ZAP_DOMAIN, "CURVE", key, 32, &o);
	assert_false(o.allowed);
	assert_string_equal(o.key, z85);

	assert_int_equal(allow_add(al, "../x", z85, &err), -EINVAL);
	assert_string_equal(err.field, "name");
	assert_int_equal(allow_add(al, "node-1", z85, &err), 0);
	zap_decide(al, "1.0", ZAP_DOMAIN, "CURVE", key, 32, &o);
	assert_true(o.allowed);
	assert_string_equal(o.host_id, "node-1");
	zap_decide(al, "1.0", ZAP_DOMAIN, "PLAIN", key, 32, &o);
	assert_false(o.allowed);
	zap_decide(al, "1.0", "other", "CURVE", key, 32, &o);
	assert_false(o.allowed);
	assert_int_equal(allow_add(al, "node-2", z85, &err), -EEXIST);

	char path[64];
	snprintf(path, sizeof path, "%s/node-1.pub", dir);
	unlink(path);
	rmdir(dir);
	allow_free(al);
}

/* Config management writes a key file in two steps: created empty (the folder's mtime
 * moves), then written (only the file's does). A refresh between the two must not hide the
 * key for good. */
static void
a_key_file_read_half_written_is_read_again(void **state)
{
	char dir[] = "/tmp/hvc-allow-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	struct allow *al = NULL;
	struct hv_error err = {0};
	unsigned char key[32];
	char z85[41];
	struct zap_outcome o;
	(void)state;
	for (int i = 0; i < 32; i++)
		key[i] = (unsigned char)(i * 7);
	assert_non_null(zmq_z85_encode(z85, key, 32));
	assert_int_equal(allow_open(dir, &al, &err), 0);
	snprintf(path, sizeof path, "%s/node-3.pub", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fflush(fp);
	assert_int_equal(allow_refresh(al, &err), 0); /* sees the empty file */
	zap_decide(al, "1.0", ZAP_DOMAIN, "CURVE", key, 32, &o);
	assert_false(o.allowed);
	fprintf(fp, "%s\n", z85);
	fclose(fp);
	assert_int_equal(allow_refresh(al, &err), 0);
	zap_decide(al, "1.0", ZAP_DOMAIN, "CURVE", key, 32, &o);
	assert_true(o.allowed);
	assert_string_equal(o.host_id, "node-3");
	unlink(path);
	rmdir(dir);
	allow_free(al);
}

static int64_t
host_vcpus(struct fixture *f)
{
	json_t *h = NULL;
	assert_int_equal(store_host_get(f->store, "node-1", &h, NULL), 0);
	json_t *v = json_object_get(json_object_get(h, "resources"), "vcpus");
	int64_t n = json_is_integer(v) ? json_integer_value(v) : -999;
	json_decref(h);
	return n;
}

/* A report whose fields have the wrong type or range is refused whole, in a REPORT as in a
 * SNAPSHOT's host part: the last good one stays, never "lots" read as 0. */
static void
a_report_with_wrong_types_is_refused_and_the_last_good_one_stays(void **state)
{
	struct fixture *f = *state;
	agent_says(f, PROTO_REPORT, 0, NULL,
		   json_pack("{s:i, s:i, s:s}", "vcpus", 12, "vcpus_used", 0, "status", "enabled"),
		   T0 + 10);
	assert_int_equal(host_vcpus(f), 12);
	agent_says(
		f, PROTO_REPORT, 0, NULL,
		json_pack("{s:s, s:i, s:s}", "vcpus", "lots", "vcpus_used", 1, "status", "enabled"),
		T0 + 20);
	assert_int_equal(host_vcpus(f), 12);
	agent_says(f, PROTO_REPORT, 0, NULL, json_pack("{s:i, s:i}", "vcpus", 4, "vcpus_used", -5),
		   T0 + 30);
	assert_int_equal(host_vcpus(f), 12);
	agent_says(f, PROTO_REPORT, 0, NULL, json_pack("{s:i, s:s}", "vcpus", 4, "status", "on"),
		   T0 + 40);
	assert_int_equal(host_vcpus(f), 12);
	agent_says(f, PROTO_REPORT, 0, NULL,
		   json_pack("{s:i, s:{s:s}}", "vcpus", 4, "real", "memory_mb_used", "x"), T0 + 50);
	assert_int_equal(host_vcpus(f), 12);

	/* the SNAPSHOT's host part is refused, its instances are still mirrored */
	agent_says(f, PROTO_SNAPSHOT, 2, NULL,
		   json_pack("{s:i, s:{s:s}, s:[o]}", "generation", 2, "host", "vcpus", "lots",
			     "instances",
			     record("0d2c2ae4-0000-4000-8000-000000000001", "active", NULL,
				    "running")),
		   T0 + 60);
	assert_int_equal(host_vcpus(f), 12);
	assert_string_equal(field(f->store, "0d2c2ae4-0000-4000-8000-000000000001", "vm_state"),
			    "active");
	/* a good one is stored again; free_ram_mb may go below zero (overcommit) */
	agent_says(f, PROTO_REPORT, 0, NULL,
		   json_pack("{s:i, s:i}", "vcpus", 16, "free_ram_mb", -512), T0 + 70);
	assert_int_equal(host_vcpus(f), 16);
}

/* What a request carries that no rule reads is refused naming it, before anything
 * changes: an ignored "type": "hard" would reboot softly. */
static void
requests_refuse_args_they_do_not_read(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];

	json_object_set_new(args, "colour", json_string("blue"));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EINVAL);
	assert_string_equal(err.field, "args.colour");
	json_object_del(args, "colour");
	json_object_set_new(json_object_get(args, "flavor"), "vpcus", json_integer(2));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EINVAL);
	assert_string_equal(err.field, "args.flavor.vpcus");
	json_object_del(json_object_get(args, "flavor"), "vpcus");
	assert_int_equal(f->n_sent, 0);

	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(inst);
	int n = f->n_sent;
	json_t *reboot =
		json_pack("{s:s, s:s, s:s}", "server", "web-1", "action", "reboot", "type", "hard");
	assert_int_equal(
		svc_server_command(f->svc, "web-1", "reboot", false, reboot, T0, &inst, cmd, &err),
		-EINVAL);
	assert_string_equal(err.field, "args.type");
	assert_non_null(strstr(err.message, "unknown field"));
	assert_int_equal(f->n_sent, n);
	assert_string_equal(field(f->store, "web-1", "task_state"), "spawning");
	json_decref(reboot);
	/* a console request has no action and no hard */
	json_t *console = json_pack("{s:s, s:b}", "server", "web-1", "hard", 1);
	assert_int_equal(svc_server_command(f->svc, "web-1", "get_console", false, console, T0,
					    &inst, cmd, &err),
			 -EINVAL);
	assert_string_equal(err.field, "args.hard");
	json_decref(console);
	json_decref(args);
}

static void
an_empty_admin_pass_and_a_uuid_shaped_name_are_refused(void **state)
{
	struct fixture *f = *state;
	struct hv_error err = {0};
	json_t *inst = NULL, *args = create_args("web-1");
	char cmd[PROTO_MAX_ID + 1];

	json_object_set_new(args, "admin_pass", json_string(""));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EINVAL);
	assert_string_equal(err.field, "args.admin_pass");
	json_object_del(args, "admin_pass");
	static const char *const uuids[] = {"0d2c2ae4-0000-4000-8000-000000000001",
					    "0D2C2AE4-0000-4000-8000-00000000000A"};
	for (size_t i = 0; i < 2; i++) {
		json_object_set_new(args, "name", json_string(uuids[i]));
		assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), -EINVAL);
		assert_string_equal(err.field, "args.name");
	}
	assert_int_equal(f->n_sent, 0);
	/* one character off a uuid is a name like any other */
	json_object_set_new(args, "name", json_string("0d2c2ae4-0000-4000-8000-00000000000"));
	assert_int_equal(svc_server_create(f->svc, args, T0, &inst, cmd, &err), 0);
	json_decref(inst);
	json_decref(args);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			a_report_with_wrong_types_is_refused_and_the_last_good_one_stays, setup,
			teardown),
		cmocka_unit_test_setup_teardown(requests_refuse_args_they_do_not_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			an_empty_admin_pass_and_a_uuid_shaped_name_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_create_is_journaled_sent_and_mirrored_back, setup,
						teardown),
		cmocka_unit_test_setup_teardown(the_guest_hostname_comes_from_the_server_name,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			an_unanswered_command_is_resent_with_the_same_cmd_id, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_command_nobody_accepts_expires_and_a_spawn_leaves_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_firewall_command_waits_for_its_host_but_not_past_firewall_max_age, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_firewall_command_is_kept_for_ever_with_firewall_max_age_0, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_firewall_command_for_a_host_out_of_the_allowlist_is_dropped, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_refused_command_clears_the_task_and_keeps_the_state, setup, teardown),
		cmocka_unit_test_setup_teardown(a_project_goes_to_the_spawn_as_project_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			a_disabled_host_takes_no_server_and_its_busy_refusals_are_resent, setup,
			teardown),
		cmocka_unit_test_setup_teardown(a_sequence_gap_asks_for_a_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(an_instance_only_the_host_knows_is_adopted, setup,
						teardown),
		cmocka_unit_test(the_state_table_is_the_protocols),
		cmocka_unit_test_setup_teardown(
			a_refused_claim_goes_to_the_next_host_then_fails_with_every_reason, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_server_forced_on_a_host_counts_at_the_next_placement, setup, teardown),
		cmocka_unit_test_setup_teardown(a_password_is_sent_but_journaled_redacted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(a_secret_lost_in_a_restart_fails_the_command_unsent,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_snapshot_gets_an_image_id_from_its_name_and_records_it, setup, teardown),
		cmocka_unit_test_setup_teardown(a_create_over_quota_is_refused_and_changes_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(a_create_of_several_fits_the_quota_or_makes_none,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_catalog_flavor_goes_to_the_spawn_and_a_private_one_to_its_projects, setup,
			teardown),
		cmocka_unit_test(zap_lets_in_only_allowlisted_curve_keys),
		cmocka_unit_test(a_key_file_read_half_written_is_read_again),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
