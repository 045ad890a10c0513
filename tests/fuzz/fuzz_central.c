/* fuzz_central.c - the controller fixture of the central fuzz targets (fuzz_central.h).
 * Never linked into a product binary. */
#include "fuzz_central.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fuzz_det.h"

static int
fake_send(void *ctx, const char *host, const struct proto_msg *m)
{
	struct fzc *f = ctx;

	f->n_sent++;
	if (m->type == PROTO_COMMAND && f->n_cmds < FZC_MAX_SENT) {
		snprintf(f->cmd_id[f->n_cmds], sizeof f->cmd_id[0], "%s", m->hdr.cmd_id);
		snprintf(f->msg_id[f->n_cmds], sizeof f->msg_id[0], "%s", m->hdr.msg_id);
		f->n_cmds++;
	}
	return 0;
}

static void
fake_done(void *ctx, const char *cmd_id, bool ok, json_t *result)
{
	struct fzc *f = ctx;

	f->n_done++;
	/* ctl.h: a failed command's result is {"code", "message", "field"?}; an agent's RESULT
	 * or ERROR without a string code is handed on as sent today (open: see fuzz_central.h) */
	if (!ok && !json_is_string(json_object_get(result, "code")))
		__builtin_trap();
	if (f->on_done)
		f->on_done(f->done_ctx, cmd_id, ok, result);
}

void
fzc_agent_says(struct fzc *f, const char *host, enum proto_type type, uint64_t seq, json_t *body,
	       int64_t now)
{
	struct proto_msg m = {.type = type, .body = body};

	proto_header_init(&m.hdr, host, strcmp(host, "node-1") == 0 ? FZC_BOOT_1 : FZC_BOOT_2);
	m.hdr.has_seq = seq > 0;
	m.hdr.seq = seq;
	ctl_on_agent(f->ctl, host, "127.0.0.1", &m, now);
	json_decref(body);
}

static json_t *
record(int n, const char *name, const char *vm, const char *power)
{
	char uuid[37];

	snprintf(uuid, sizeof uuid, "00000000-0000-4000-8000-%012d", n);
	return json_pack("{s:s, s:s, s:s, s:n, s:s, s:{s:i, s:i, s:i}, s:{s:s}}", "uuid", uuid,
			 "name", name, "vm_state", vm, "task_state", "power_state", power, "flavor",
			 "vcpus", 1, "ram_mb", 64, "root_gb", 1, "image", "id", "cirros");
}

/* The database every input starts from, and its connection (see sqlite3_open_v2 below). */
static struct store *base;
static sqlite3 *base_db;

/* The store opens its database through here: the fixture keeps the connection to wrap each
 * input in a savepoint that is rolled back afterwards. A new database per input would cost
 * most of each execution (under ASan, every page is a fresh allocation). */
int
sqlite3_open_v2(const char *path, sqlite3 **ret, int flags, const char *vfs)
{
	static int (*real)(const char *, sqlite3 **, int, const char *);

	if (!real)
		real = (int (*)(const char *, sqlite3 **, int, const char *))dlsym(
			RTLD_NEXT, "sqlite3_open_v2");
	int rc = real(path, ret, flags, vfs);

	base_db = *ret;
	return rc;
}

static void
exec_or_abort(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(base_db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "fuzz fixture: %s: %s\n", sql, msg ? msg : "?");
		abort();
	}
}

static void
links_open(struct fzc *f)
{
	struct hv_error err = {0};
	struct ctl_config cfg;

	ctl_config_default(&cfg);
	cfg.retry_ms = 1000;
	cfg.cmd_timeout_ms = 10000;
	if (ctl_new(f->store, &cfg, fake_send, fake_done, f, &f->ctl, &err) < 0 ||
	    svc_new(f->store, f->ctl, NULL, &cfg.liveness, &f->svc, &err) < 0) {
		fprintf(stderr, "fuzz fixture: %s\n", err.message);
		abort();
	}
}

/* Two hosts that said HELLO and SNAPSHOT: built once, kept for the process. */
static void
base_open(void)
{
	struct hv_error err = {0};
	struct fzc f = {0};

	if (store_open(":memory:", &base, &err) < 0 || !base_db) {
		fprintf(stderr, "fuzz fixture: %s\n", err.message);
		abort();
	}
	f.store = base;
	links_open(&f);
	fzc_agent_says(&f, "node-1", PROTO_HELLO, 0, json_pack("{s:s}", "agent_version", "t"),
		       FZC_T0);
	fzc_agent_says(&f, "node-1", PROTO_SNAPSHOT, 1,
		       json_pack("{s:i, s:{s:i, s:i}, s:[o, o, o, o, o, o, o]}", "generation", 1,
				 "host", "vcpus", 8, "memory_mb", 8192, "instances",
				 record(1, "web-1", "active", "running"),
				 record(2, "db-1", "stopped", "shutdown"),
				 record(3, "paused-1", "paused", "paused"),
				 record(4, "broken-1", "error", "nostate"),
				 record(5, "resized-1", "resized", "running"),
				 record(6, "rescued-1", "rescued", "running"),
				 record(7, "suspended-1", "suspended", "suspended")),
		       FZC_T0);
	fzc_agent_says(&f, "node-2", PROTO_HELLO, 0, json_pack("{s:s}", "agent_version", "t"),
		       FZC_T0);
	fzc_agent_says(&f, "node-2", PROTO_SNAPSHOT, 1,
		       json_pack("{s:i, s:{s:i}, s:[o]}", "generation", 1, "host", "vcpus", 8,
				 "instances", record(8, "other-1", "active", "running")),
		       FZC_T0);
	svc_free(f.svc);
	ctl_free(f.ctl);
}

void
fzc_open(struct fzc *f)
{
	struct hv_error err = {0};
	json_t *inst = NULL, *args;
	char cmd[PROTO_MAX_ID + 1];

	if (!base)
		base_open();
	memset(f, 0, sizeof *f);
	fuzz_det_reset();
	f->store = base;
	exec_or_abort("SAVEPOINT fuzz_input");
	links_open(f);
	/* two commands in flight on node-1: a spawn (with a secret) and a reboot */
	args = json_pack("{s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:s}", "name", "new-1", "host",
			 "node-1", "image", "cirros", "flavor", "vcpus", 1, "ram", 64, "disk", 1,
			 "admin_pass", "fixture-secret");
	if (svc_server_create(f->svc, args, FZC_T0 + 10, &inst, cmd, &err) < 0) {
		fprintf(stderr, "fuzz fixture: create: %s\n", err.message);
		abort();
	}
	json_decref(args);
	json_decref(inst);
	if (svc_server_action(f->svc, "web-1", "reboot", false, FZC_T0 + 20, &inst, cmd, &err) <
	    0) {
		fprintf(stderr, "fuzz fixture: reboot: %s\n", err.message);
		abort();
	}
	json_decref(inst);
	inst = NULL;
	f->n_sent = f->n_done = 0;
	if (getenv("HV_FUZZ_SHOW_FIXTURE")) { /* what tests/fuzz/seeds.py writes seeds with */
		if (store_instance_get(f->store, "new-1", &inst, &err) == 0)
			fprintf(stderr, "new-1: uuid %s\n",
				json_string_value(json_object_get(inst, "uuid")));
		json_decref(inst);
		for (int i = 0; i < f->n_cmds; i++)
			fprintf(stderr, "command %d: cmd_id %s msg_id %s\n", i, f->cmd_id[i],
				f->msg_id[i]);
	}
}

void
fzc_close(struct fzc *f)
{
	svc_free(f->svc);
	ctl_free(f->ctl);
	exec_or_abort("ROLLBACK TO fuzz_input; RELEASE fuzz_input");
}

static const char *
text_of(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "null";
}

json_t *
fzc_servers_of(struct fzc *f, const char *host)
{
	struct hv_error err = {0};
	json_t *list = NULL, *out = json_object(), *s;
	size_t i;

	if (store_instance_list(f->store, host, true, &list, &err) < 0)
		abort();
	json_array_foreach (list, i, s) {
		char v[256];

		snprintf(v, sizeof v, "%s/%s/%s/%s", text_of(s, "vm_state"),
			 text_of(s, "task_state"), text_of(s, "power_state"), text_of(s, "host"));
		json_object_set_new(out, text_of(s, "uuid"), json_string(v));
	}
	json_decref(list);
	return out;
}
