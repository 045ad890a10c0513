/* sqlite.c - the SQLite backend of store.h. Every statement is prepared with bound
 * parameters (request text never becomes SQL). Prepared statements are cached per store
 * because the controller runs thousands of them a second. The schema is versioned: each
 * change is one more entry of `migrations`, applied once in order when the store opens;
 * an entry, once released, is never edited. Never logs, never talks to a socket. */
#include "sqlite-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set on every open: they are connection settings, not part of the stored schema. */
static const char pragmas_sql[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"PRAGMA busy_timeout=5000;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);";

/* migrations[i] takes the schema from version i to i + 1 (meta.schema_version). Version 1
 * is the schema as it was before it was versioned step by step: a database written then
 * already says '1', and IF NOT EXISTS keeps the step harmless anyway. */
static const char *const migrations[] = {
	/* 0 -> 1: hosts, pending keys, instances, the command journal */
	"CREATE TABLE IF NOT EXISTS hosts("
	" host_id TEXT PRIMARY KEY, public_key TEXT NOT NULL DEFAULT '',"
	" address TEXT NOT NULL DEFAULT '', boot_id TEXT NOT NULL DEFAULT '',"
	" last_seq INTEGER NOT NULL DEFAULT 0, agent_version TEXT NOT NULL DEFAULT '',"
	" last_seen_ms INTEGER NOT NULL DEFAULT 0, resources TEXT);"
	"CREATE TABLE IF NOT EXISTS pending_keys("
	" public_key TEXT PRIMARY KEY, address TEXT NOT NULL DEFAULT '',"
	" first_seen_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE IF NOT EXISTS instances("
	" uuid TEXT PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL,"
	" image TEXT NOT NULL DEFAULT '', flavor TEXT NOT NULL DEFAULT '{}',"
	" properties TEXT NOT NULL DEFAULT '{}', vm_state TEXT NOT NULL,"
	" task_state TEXT NOT NULL DEFAULT '', power_state TEXT NOT NULL DEFAULT 'nostate',"
	" fault TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS instances_live_name ON instances(name)"
	" WHERE vm_state != 'deleted';"
	"CREATE INDEX IF NOT EXISTS instances_host ON instances(host);"
	"CREATE INDEX IF NOT EXISTS instances_name ON instances(name);"
	"CREATE TABLE IF NOT EXISTS commands("
	" cmd_id TEXT PRIMARY KEY, host_id TEXT NOT NULL, uuid TEXT NOT NULL,"
	" action TEXT NOT NULL, args TEXT NOT NULL DEFAULT '{}', state INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL,"
	" deadline_ms INTEGER NOT NULL, next_try_ms INTEGER NOT NULL, result TEXT);"
	"CREATE INDEX IF NOT EXISTS commands_open ON commands(state, next_try_ms);"
	"CREATE INDEX IF NOT EXISTS commands_uuid ON commands(uuid, created_ms);",
	/* 1 -> 2: projects, their quota limits (only those set: the rest are the defaults),
	 * and the project that owns each instance */
	"CREATE TABLE projects("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',"
	" enabled INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL);"
	"CREATE TABLE quotas("
	" project_id TEXT NOT NULL REFERENCES projects(id), resource TEXT NOT NULL,"
	" hard_limit INTEGER NOT NULL, PRIMARY KEY(project_id, resource));"
	"ALTER TABLE instances ADD COLUMN project_id TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX instances_project ON instances(project_id, vm_state);",
	/* 2 -> 3: flavors, with the guide's defaults under nova's historical ids, and the
	 * projects that may use a private flavor */
	"CREATE TABLE flavors("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, vcpus INTEGER NOT NULL,"
	" ram INTEGER NOT NULL, disk INTEGER NOT NULL, ephemeral INTEGER NOT NULL DEFAULT 0,"
	" swap INTEGER NOT NULL DEFAULT 0, is_public INTEGER NOT NULL DEFAULT 1,"
	" description TEXT NOT NULL DEFAULT '', extra_specs TEXT NOT NULL DEFAULT '{}',"
	" created_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE flavor_access("
	" flavor_id TEXT NOT NULL REFERENCES flavors(id) ON DELETE CASCADE,"
	" project_id TEXT NOT NULL, PRIMARY KEY(flavor_id, project_id));"
	"INSERT INTO flavors(id, name, vcpus, ram, disk) VALUES"
	" ('1', 'm1.tiny', 1, 512, 1), ('2', 'm1.small', 1, 2048, 20),"
	" ('3', 'm1.medium', 2, 4096, 40), ('4', 'm1.large', 4, 8192, 80),"
	" ('5', 'm1.xlarge', 8, 16384, 160);",
	/* 3 -> 4: key pairs, named per project (their private halves are never stored) */
	"CREATE TABLE keypairs("
	" project_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL DEFAULT 'ssh',"
	" public_key TEXT NOT NULL, fingerprint TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	" PRIMARY KEY(project_id, name));",
	/* 4 -> 5: networks, subnets, ports, security groups (their rules inside) and floating IPs as
	 * Neutron's records (the body), one table keyed by kind; the addresses given out
	 * per network, so two ports never share one */
	"CREATE TABLE net_objects("
	" kind TEXT NOT NULL, id TEXT NOT NULL, project_id TEXT NOT NULL DEFAULT '',"
	" name TEXT NOT NULL DEFAULT '', body TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	" PRIMARY KEY(kind, id));"
	"CREATE UNIQUE INDEX net_objects_name ON net_objects(kind, project_id, name)"
	" WHERE kind IN ('network', 'security_group');"
	"CREATE UNIQUE INDEX net_fip_port ON net_objects(json_extract(body, '$.port_id'))"
	" WHERE kind = 'floatingip' AND json_extract(body, '$.port_id') IS NOT NULL;"
	"CREATE TABLE net_ips("
	" network_id TEXT NOT NULL, ip_address TEXT NOT NULL, owner_id TEXT NOT NULL,"
	" PRIMARY KEY(network_id, ip_address));"
	"CREATE INDEX net_ips_owner ON net_ips(owner_id);",
	/* 5 -> 6: host aggregates (their availability zone is the metadata key availability_zone, as
	 * nova keeps it) and the hosts in each; server groups and their members */
	"CREATE TABLE aggregates("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE, name TEXT NOT NULL "
	"UNIQUE,"
	" metadata TEXT NOT NULL DEFAULT '{}', created_ms INTEGER NOT NULL);"
	"CREATE TABLE aggregate_hosts("
	" aggregate_id INTEGER NOT NULL REFERENCES aggregates(id), host TEXT NOT NULL,"
	" PRIMARY KEY(aggregate_id, host));"
	"CREATE INDEX aggregate_hosts_host ON aggregate_hosts(host);"
	"CREATE TABLE server_groups("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, policy TEXT NOT NULL,"
	" project_id TEXT NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE server_group_members("
	" group_id TEXT NOT NULL REFERENCES server_groups(id), uuid TEXT NOT NULL,"
	" PRIMARY KEY(group_id, uuid));"
	"CREATE INDEX server_group_members_uuid ON server_group_members(uuid);",
	/* 6 -> 7: the image catalog (Glance's fields; the data is a file named by the id under
	 * the images dir, never in the database) */
	"CREATE TABLE images("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL, disk_format TEXT NOT NULL,"
	" container_format TEXT NOT NULL DEFAULT 'bare', size INTEGER,"
	" checksum TEXT, os_hash_algo TEXT, os_hash_value TEXT, status TEXT NOT NULL,"
	" visibility TEXT NOT NULL, owner TEXT NOT NULL, min_disk INTEGER NOT NULL DEFAULT 0,"
	" min_ram INTEGER NOT NULL DEFAULT 0, protected INTEGER NOT NULL DEFAULT 0,"
	" properties TEXT NOT NULL DEFAULT '{}', created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE INDEX images_name ON images(name);",
	/* 7 -> 8: the REST front's identity: users (argon2id password hashes), one role per
	 * user and project, and tokens stored by their hash only */
	"CREATE TABLE users("
	" id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL);"
	"CREATE TABLE role_assignments("
	" user_id TEXT NOT NULL, project_id TEXT NOT NULL, role TEXT NOT NULL,"
	" PRIMARY KEY(user_id, project_id));"
	"CREATE TABLE tokens("
	" hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, project_id TEXT NOT NULL,"
	" issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);"
	"CREATE INDEX tokens_expiry ON tokens(expires_ms);",
	/* 8 -> 9: the host a server was evacuated from, until what it left there is destroyed */
	"ALTER TABLE instances ADD COLUMN evacuated_from TEXT NOT NULL DEFAULT '';",
	/* 9 -> 10: the key pair a server was created with, by name (nova's key_name), its user
	 * metadata (nova's server metadata, a JSON object of strings), whether it has a config
	 * drive */
	"ALTER TABLE instances ADD COLUMN key_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE instances ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';"
	"ALTER TABLE instances ADD COLUMN config_drive INTEGER NOT NULL DEFAULT 0;",
	/* 10 -> 11: an operator's word on a host's compute service (nova's os-services: disabled
	 * with a reason, forced down), a server's description (null until set) and its tags (a
	 * JSON array of strings) */
	"ALTER TABLE hosts ADD COLUMN service_disabled INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN service_reason TEXT;"
	"ALTER TABLE hosts ADD COLUMN forced_down INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE instances ADD COLUMN description TEXT;"
	"ALTER TABLE instances ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

int
sq_error(struct store *s, int rc, const char *what, struct hv_error *err)
{
	int code = rc == SQLITE_CONSTRAINT ? -EEXIST : rc == SQLITE_BUSY ? -EBUSY : -EIO;
	return hv_error_set(err, code, "", "store: %s: %s", what,
			    s && s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* Returns the cached statement for sql, reset and with bindings cleared. */
sqlite3_stmt *
sq_stmt(struct store *s, const char *sql, struct hv_error *err)
{
	int i;
	for (i = 0; i < STMT_CACHE && s->cache[i].sql; i++) {
		if (s->cache[i].sql == sql) {
			sqlite3_reset(s->cache[i].st);
			sqlite3_clear_bindings(s->cache[i].st);
			return s->cache[i].st;
		}
	}
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		sq_error(s, rc, "prepare", err);
		return NULL;
	}
	if (i < STMT_CACHE) {
		s->cache[i].sql = sql;
		s->cache[i].st = st;
	}
	/* A full cache would leak here; STMT_CACHE exceeds the statements of sqlite*.c. */
	return st;
}

void
sq_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	if (v)
		sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, idx);
}

const char *
sq_col_text(sqlite3_stmt *st, int idx)
{
	const unsigned char *t = sqlite3_column_text(st, idx);
	return t ? (const char *)t : "";
}

json_t *
sq_col_json(sqlite3_stmt *st, int idx)
{
	const char *t = sq_col_text(st, idx);
	json_t *j = *t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;
	return j ? j : json_object();
}

/* Runs a write statement to completion. */
int
sq_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct hv_error *err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, what, err);
	return 0;
}

/* Runs a one-key query to its first row: 0 with *ret on the row (the caller reads its
 * columns, then sqlite3_reset), -ENOENT when there is none (err left for the caller to name
 * what is missing), or the database error. */
int
sq_row_by_key(struct store *s, const char *sql, const char *key, const char *what,
	      sqlite3_stmt **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, key);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret = st;
		return 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? -ENOENT : sq_error(s, rc, what, err);
}

/* Collects every row of a prepared query through fn into a new array. */
int
sq_collect(struct store *s, sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *), json_t **ret,
	   const char *what, struct hv_error *err)
{
	json_t *arr = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, fn(st));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return sq_error(s, rc, what, err);
	}
	*ret = arr;
	return 0;
}

/* The schema version the file says it has; 0 for a new file. */
static int
schema_version(struct store *s, int *ret)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema_version'",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	*ret = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = atoi(sq_col_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Brings the schema to SCHEMA_VERSION, one step per transaction, so a step that fails
 * leaves the file at the version before it. A file from a newer hvcentral is refused:
 * this one would not know what its tables mean. */
static int
migrate(struct store *s, const char *path, struct hv_error *err)
{
	int version = 0, rc = schema_version(s, &version);
	if (rc != SQLITE_OK)
		return hv_error_set(err, -EIO, "database",
				    "cannot read the schema version of %s: %s", path,
				    sqlite3_errmsg(s->db));
	if (version > SCHEMA_VERSION)
		return hv_error_set(err, -EPROTO, "database",
				    "%s has schema version %d; this "
				    "hvcentral knows up to %d (a newer release wrote it)",
				    path, version, SCHEMA_VERSION);
	for (; version < SCHEMA_VERSION; version++) {
		char *msg = NULL, step[160];
		snprintf(step, sizeof step,
			 "INSERT OR REPLACE INTO meta(key, value) VALUES "
			 "('schema_version', '%d'); COMMIT",
			 version + 1);
		rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, migrations[version], NULL, NULL, &msg);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(s->db, step, NULL, NULL, &msg);
		if (rc != SQLITE_OK) {
			int r = hv_error_set(err, -EIO, "database",
					     "cannot apply schema version %d to %s: %s",
					     version + 1, path, msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
	}
	return 0;
}

int
store_open(const char *path, struct store **ret, struct hv_error *err)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return hv_error_set(err, -ENOMEM, "", "store: out of memory");
	int rc = sqlite3_open_v2(path, &s->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		int r = hv_error_set(err, -EIO, "database", "cannot open %s: %s", path,
				     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		store_free(s);
		return r;
	}
	char *msg = NULL;
	rc = sqlite3_exec(s->db, pragmas_sql, NULL, NULL, &msg);
	int r = rc == SQLITE_OK ? migrate(s, path, err)
				: hv_error_set(err, -EIO, "database", "cannot open %s: %s", path,
					       msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	if (r < 0) {
		store_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void
store_free(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_CACHE; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s);
}

/* The outermost level is the transaction; each inner level is a savepoint, so a caller
 * can undo its own writes (store_rollback) without losing those of the turn around it.
 * A transaction the store did not open (a test's own SAVEPOINT) is nested into too. */
int
store_begin(struct store *s, struct hv_error *err)
{
	bool nest = s->depth > 0 || !sqlite3_get_autocommit(s->db);
	int rc = sqlite3_exec(s->db, nest ? "SAVEPOINT nested" : "BEGIN IMMEDIATE", NULL, NULL,
			      NULL);
	if (rc != SQLITE_OK)
		return sq_error(s, rc, "begin", err);
	if (s->depth++ == 0)
		s->own_txn = !nest;
	return 0;
}

/* Whether the level being closed is a savepoint (else it is the store's transaction). */
static bool
closing_savepoint(struct store *s)
{
	return --s->depth > 0 || !s->own_txn;
}

int
store_commit(struct store *s, struct hv_error *err)
{
	if (s->depth == 0)
		return 0;
	if (closing_savepoint(s)) {
		int rc = sqlite3_exec(s->db, "RELEASE nested", NULL, NULL, NULL);
		return rc == SQLITE_OK ? 0 : sq_error(s, rc, "release", err);
	}
	int rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = sq_error(s, rc, "commit", err); /* before ROLLBACK replaces the message */
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	if (s->depth == 0)
		return;
	if (closing_savepoint(s))
		sqlite3_exec(s->db, "ROLLBACK TO nested; RELEASE nested", NULL, NULL, NULL);
	else
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- hosts ------------------------------------------------------------------------------ */

static const char sql_host_seen[] =
	"INSERT INTO hosts(host_id, public_key, address, last_seen_ms)"
	" VALUES (?1, coalesce(?2, ''), coalesce(?3, ''), ?4)"
	" ON CONFLICT(host_id) DO UPDATE SET last_seen_ms = ?4,"
	" public_key = CASE WHEN ?2 IS NULL THEN public_key ELSE ?2 END,"
	" address = CASE WHEN ?3 IS NULL THEN address ELSE ?3 END";

int
store_host_seen(struct store *s, const char *host_id, const char *public_key, const char *address,
		int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_host_seen, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host_id);
	sq_bind_text(st, 2, public_key);
	sq_bind_text(st, 3, address);
	sqlite3_bind_int64(st, 4, now_ms);
	return sq_step_done(s, st, "host seen", err);
}

static const char sql_host_hello[] =
	"UPDATE hosts SET boot_id = ?2, agent_version = ?3, last_seq = 0 WHERE host_id = ?1";

int
store_host_hello(struct store *s, const char *host_id, const char *boot_id,
		 const char *agent_version, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_host_hello, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host_id);
	sq_bind_text(st, 2, boot_id ? boot_id : "");
	sq_bind_text(st, 3, agent_version ? agent_version : "");
	return sq_step_done(s, st, "host hello", err);
}

static const char sql_host_seq[] = "SELECT last_seq, boot_id FROM hosts WHERE host_id = ?1";

int
store_host_seq(struct store *s, const char *host_id, uint64_t *ret_seq, char ret_boot_id[80],
	       struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_host_seq, host_id, "host seq", &st, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "host_id", "unknown host %s", host_id);
	if (r < 0)
		return r;
	*ret_seq = (uint64_t)sqlite3_column_int64(st, 0);
	snprintf(ret_boot_id, 80, "%s", sq_col_text(st, 1));
	sqlite3_reset(st);
	return 0;
}

static const char sql_host_set_seq[] = "UPDATE hosts SET last_seq = ?2 WHERE host_id = ?1";

int
store_host_set_seq(struct store *s, const char *host_id, uint64_t seq, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_host_set_seq, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	return sq_step_done(s, st, "host seq", err);
}

static const char sql_host_set_res[] = "UPDATE hosts SET resources = ?2 WHERE host_id = ?1";

int
store_host_set_resources(struct store *s, const char *host_id, json_t *resources,
			 struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_host_set_res, err);
	if (!st)
		return err ? err->code : -EIO;
	char *text = json_dumps(resources, JSON_COMPACT);
	if (!text)
		return hv_error_set(err, -EINVAL, "resources", "cannot be encoded");
	sq_bind_text(st, 1, host_id);
	sq_bind_text(st, 2, text);
	free(text);
	return sq_step_done(s, st, "host resources", err);
}

static json_t *
host_row(sqlite3_stmt *st)
{
	const unsigned char *why = sqlite3_column_text(st, 9);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:b, s:o, s:b}", "host_id",
			 sq_col_text(st, 0), "public_key", sq_col_text(st, 1), "address",
			 sq_col_text(st, 2), "boot_id", sq_col_text(st, 3), "agent_version",
			 sq_col_text(st, 4), "last_seen_ms",
			 (json_int_t)sqlite3_column_int64(st, 5), "last_seq",
			 (json_int_t)sqlite3_column_int64(st, 6), "resources", sq_col_json(st, 7),
			 "service_disabled", sqlite3_column_int(st, 8) != 0, "service_reason",
			 why ? json_string((const char *)why) : json_null(), "forced_down",
			 sqlite3_column_int(st, 10) != 0);
}

#define HOST_COLS                                                                                  \
	"host_id, public_key, address, boot_id, agent_version, last_seen_ms, last_seq, resources," \
	" service_disabled, service_reason, forced_down"
static const char sql_host_get[] = "SELECT " HOST_COLS " FROM hosts WHERE host_id = ?1";
static const char sql_host_list[] = "SELECT " HOST_COLS " FROM hosts ORDER BY host_id";

int
store_host_get(struct store *s, const char *host_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_host_get, host_id, "host get", &st, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "host", "no host named '%s'", host_id);
	if (r < 0)
		return r;
	*ret = host_row(st);
	sqlite3_reset(st);
	return 0;
}

int
store_host_list(struct store *s, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_host_list, err);
	if (!st)
		return err ? err->code : -EIO;
	return sq_collect(s, st, host_row, ret, "host list", err);
}

static const char sql_host_service[] =
	"UPDATE hosts SET service_disabled = ?2, service_reason = ?3, forced_down = ?4"
	" WHERE host_id = ?1";

int
store_host_set_service(struct store *s, const char *host_id, bool disabled, const char *reason,
		       bool forced_down, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_host_service, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host_id);
	sqlite3_bind_int(st, 2, disabled);
	if (reason)
		sq_bind_text(st, 3, reason);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, forced_down);
	int r = sq_step_done(s, st, "host service", err);
	return r < 0 ? r : sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_host_seen_ms[] = "SELECT last_seen_ms FROM hosts WHERE host_id = ?1";

int
store_host_last_seen(struct store *s, const char *host_id, int64_t *ret_ms, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_host_seen_ms, host_id, "host last seen", &st, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "host", "no host named '%s'", host_id);
	if (r < 0)
		return r;
	*ret_ms = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* ---- pending keys ------------------------------------------------------------------------ */

static const char sql_pending_rec[] =
	"INSERT INTO pending_keys(public_key, address, first_seen_ms, last_seen_ms)"
	" VALUES (?1, ?2, ?3, ?3) ON CONFLICT(public_key) DO UPDATE SET"
	" address = ?2, last_seen_ms = ?3, attempts = attempts + 1";

static const char sql_pending_bound[] =
	"DELETE FROM pending_keys WHERE last_seen_ms < ?1 OR public_key NOT IN"
	" (SELECT public_key FROM pending_keys ORDER BY attempts > 1 DESC, last_seen_ms DESC"
	" LIMIT ?2)";

int
store_pending_record(struct store *s, const char *public_key, const char *address, int64_t now_ms,
		     struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_pending_rec, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, public_key);
	sq_bind_text(st, 2, address ? address : "");
	sqlite3_bind_int64(st, 3, now_ms);
	int r = sq_step_done(s, st, "pending record", err);
	if (r < 0 || !(st = sq_stmt(s, sql_pending_bound, err)))
		return r < 0 ? r : (err ? err->code : -EIO);
	sqlite3_bind_int64(st, 1, now_ms - STORE_PENDING_TTL_MS);
	sqlite3_bind_int(st, 2, STORE_PENDING_MAX);
	return sq_step_done(s, st, "pending bound", err);
}

static json_t *
pending_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "public_key", sq_col_text(st, 0), "address",
			 sq_col_text(st, 1), "first_seen_ms",
			 (json_int_t)sqlite3_column_int64(st, 2), "last_seen_ms",
			 (json_int_t)sqlite3_column_int64(st, 3), "attempts",
			 (json_int_t)sqlite3_column_int64(st, 4));
}

static const char sql_pending_list[] =
	"SELECT public_key, address, first_seen_ms, last_seen_ms, attempts FROM pending_keys"
	" ORDER BY first_seen_ms";

int
store_pending_list(struct store *s, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_pending_list, err);
	if (!st)
		return err ? err->code : -EIO;
	return sq_collect(s, st, pending_row, ret, "pending list", err);
}

static const char sql_pending_find[] =
	"SELECT public_key FROM pending_keys WHERE substr(public_key, 1, length(?1)) = ?1 LIMIT 2";

int
store_pending_find(struct store *s, const char *key_or_prefix, char ret_key[41],
		   struct hv_error *err)
{
	if (strlen(key_or_prefix) < 8 || strlen(key_or_prefix) > 40)
		return hv_error_set(
			err, -EINVAL, "key",
			"give the 40-character key or a prefix of at least 8 characters");
	sqlite3_stmt *st = sq_stmt(s, sql_pending_find, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, key_or_prefix);
	int n = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == 0)
			snprintf(ret_key, 41, "%s", sq_col_text(st, 0));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, "pending find", err);
	if (n == 0)
		return hv_error_set(err, -ENOENT, "key", "no pending key starts with '%s'",
				    key_or_prefix);
	if (n > 1)
		return hv_error_set(err, -EINVAL, "key", "prefix '%s' matches several pending keys",
				    key_or_prefix);
	return 0;
}

static const char sql_pending_rm[] = "DELETE FROM pending_keys WHERE public_key = ?1";

int
store_pending_remove(struct store *s, const char *public_key, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_pending_rm, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, public_key);
	return sq_step_done(s, st, "pending remove", err);
}

/* ---- instances --------------------------------------------------------------------------- */

static const char sql_inst_insert[] =
	"INSERT INTO instances(uuid, name, host, image, flavor, properties, vm_state, task_state,"
	" power_state, created_ms, updated_ms, project_id, key_name, metadata, config_drive,"
	" description, tags) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?10,?11,?12,?13,?14,?15,"
	" coalesce(?16, '[]'))";

static const char *
jstr(json_t *o, const char *k, const char *def)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : def;
}

static char *
jdump(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v ? json_dumps(v, JSON_COMPACT) : strdup("{}");
}

int
store_instance_insert(struct store *s, json_t *inst, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	char *flavor = jdump(inst, "flavor"), *props = jdump(inst, "properties");
	sq_bind_text(st, 1, jstr(inst, "uuid", NULL));
	sq_bind_text(st, 2, jstr(inst, "name", NULL));
	sq_bind_text(st, 3, jstr(inst, "host", NULL));
	sq_bind_text(st, 4, jstr(inst, "image", ""));
	sq_bind_text(st, 5, flavor);
	sq_bind_text(st, 6, props);
	sq_bind_text(st, 7, jstr(inst, "vm_state", "building"));
	sq_bind_text(st, 8, jstr(inst, "task_state", ""));
	sq_bind_text(st, 9, jstr(inst, "power_state", "nostate"));
	sqlite3_bind_int64(st, 10, now_ms);
	sq_bind_text(st, 11, jstr(inst, "project_id", ""));
	sq_bind_text(st, 12, jstr(inst, "key_name", ""));
	char *meta = jdump(inst, "metadata");
	sq_bind_text(st, 13, meta);
	sqlite3_bind_int(st, 14, json_is_true(json_object_get(inst, "config_drive")));
	if (json_is_string(json_object_get(inst, "description")))
		sq_bind_text(st, 15, jstr(inst, "description", ""));
	else
		sqlite3_bind_null(st, 15);
	char *tags = json_is_array(json_object_get(inst, "tags")) ? jdump(inst, "tags") : NULL;
	if (tags)
		sq_bind_text(st, 16, tags);
	else
		sqlite3_bind_null(st, 16);
	free(flavor);
	free(props);
	free(meta);
	int rc = sqlite3_step(st);
	free(tags);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "an instance named '%s' already exists",
				    jstr(inst, "name", ""));
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, "instance insert", err);
	return 0;
}

#define INST_COLS                                                                       \
	"uuid, name, host, image, flavor, properties, vm_state, task_state,"            \
	" power_state, fault, created_ms, updated_ms, project_id, key_name, metadata, " \
	"config_drive, description, tags"

static json_t *
inst_row(sqlite3_stmt *st)
{
	const char *task = sq_col_text(st, 7), *fault = sq_col_text(st, 9);
	const unsigned char *desc = sqlite3_column_text(st, 16);
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:o, s:I, s:I, s:s, s:s, s:o, s:b, "
		"s:o, s:o}",
		"uuid", sq_col_text(st, 0), "name", sq_col_text(st, 1), "host", sq_col_text(st, 2),
		"image", sq_col_text(st, 3), "flavor", sq_col_json(st, 4), "properties",
		sq_col_json(st, 5), "vm_state", sq_col_text(st, 6), "task_state",
		*task ? json_string(task) : json_null(), "power_state", sq_col_text(st, 8), "fault",
		*fault ? json_string(fault) : json_null(), "created_ms",
		(json_int_t)sqlite3_column_int64(st, 10), "updated_ms",
		(json_int_t)sqlite3_column_int64(st, 11), "project_id", sq_col_text(st, 12),
		"key_name", sq_col_text(st, 13), "metadata", sq_col_json(st, 14), "config_drive",
		sqlite3_column_int(st, 15) != 0, "description",
		desc ? json_string((const char *)desc) : json_null(), "tags", sq_col_json(st, 17));
}

/* Two lookups, each on its own index: by primary key, then by name (live first). */
static const char sql_inst_by_uuid[] = "SELECT " INST_COLS " FROM instances WHERE uuid = ?1";
static const char sql_inst_by_name[] =
	"SELECT " INST_COLS " FROM instances WHERE name = ?1"
	" ORDER BY vm_state != 'deleted' DESC, updated_ms DESC LIMIT 1";

static int
inst_lookup(struct store *s, const char *sql, const char *key, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql, key, "instance get", &st, err);
	if (r < 0)
		return r;
	*ret = inst_row(st);
	sqlite3_reset(st);
	return 0;
}

int
store_instance_get(struct store *s, const char *uuid_or_name, json_t **ret, struct hv_error *err)
{
	int r = inst_lookup(s, sql_inst_by_uuid, uuid_or_name, ret, err);
	if (r == -ENOENT)
		r = inst_lookup(s, sql_inst_by_name, uuid_or_name, ret, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "server", "no server with name or id '%s'",
				    uuid_or_name);
	return r;
}

static const char sql_inst_rename[] =
	"UPDATE instances SET name = ?2, updated_ms = ?3 WHERE uuid = ?1 AND vm_state != 'deleted'";

int
store_instance_rename(struct store *s, const char *uuid, const char *name, int64_t now_ms,
		      struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_rename, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "an instance named '%s' already exists",
				    name);
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, "instance rename", err);
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_inst_metadata[] = "UPDATE instances SET metadata = ?2, updated_ms = ?3"
					" WHERE uuid = ?1 AND vm_state != 'deleted'";

int
store_instance_set_metadata(struct store *s, const char *uuid, const json_t *metadata,
			    int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_metadata, err);
	char *text = json_dumps(metadata, JSON_COMPACT);
	if (!st || !text) {
		free(text);
		return st ? hv_error_set(err, -ENOMEM, "", "out of memory")
			  : (err ? err->code : -EIO);
	}
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, text);
	sqlite3_bind_int64(st, 3, now_ms);
	int r = sq_step_done(s, st, "instance metadata", err);
	free(text);
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_inst_description[] = "UPDATE instances SET description = ?2, updated_ms = ?3"
					   " WHERE uuid = ?1 AND vm_state != 'deleted'";

int
store_instance_set_description(struct store *s, const char *uuid, const char *description,
			       int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_description, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	if (description)
		sq_bind_text(st, 2, description);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, now_ms);
	int r = sq_step_done(s, st, "instance description", err);
	return r < 0 ? r : sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_inst_tags[] = "UPDATE instances SET tags = ?2, updated_ms = ?3"
				    " WHERE uuid = ?1 AND vm_state != 'deleted'";

int
store_instance_set_tags(struct store *s, const char *uuid, const json_t *tags, int64_t now_ms,
			struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_tags, err);
	char *text = json_dumps(tags, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!st || !text) {
		free(text);
		return st ? hv_error_set(err, -ENOMEM, "", "out of memory")
			  : (err ? err->code : -EIO);
	}
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, text);
	sqlite3_bind_int64(st, 3, now_ms);
	int r = sq_step_done(s, st, "instance tags", err);
	free(text);
	return r < 0 ? r : sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_inst_evacuate[] =
	"UPDATE instances SET evacuated_from = host, host = ?2, task_state = 'rebuilding',"
	" fault = '', updated_ms = ?3 WHERE uuid = ?1 AND vm_state != 'deleted'";

int
store_instance_evacuate(struct store *s, const char *uuid, const char *host, int64_t now_ms,
			struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_evacuate, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, host);
	sqlite3_bind_int64(st, 3, now_ms);
	int r = sq_step_done(s, st, "instance evacuate", err);
	return r < 0 ? r : sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_inst_move[] =
	"UPDATE instances SET host = ?2, fault = coalesce(?3, fault), updated_ms = ?4"
	" WHERE uuid = ?1 AND vm_state != 'deleted'";

int
store_instance_move(struct store *s, const char *uuid, const char *host, const char *fault,
		    int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_move, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, host);
	sq_bind_text(st, 3, fault);
	sqlite3_bind_int64(st, 4, now_ms);
	int r = sq_step_done(s, st, "instance move", err);
	return r < 0 ? r : sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_inst_leftover[] =
	"UPDATE instances SET evacuated_from = '' WHERE uuid = ?1 AND evacuated_from = ?2"
	" AND host != ?2";

int
store_instance_take_leftover(struct store *s, const char *uuid, const char *host,
			     struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_leftover, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, host);
	int r = sq_step_done(s, st, "instance leftover", err);
	return r < 0 ? r : sqlite3_changes(s->db);
}

static const char sql_cmd_last_args[] = "SELECT args FROM commands WHERE uuid = ?1 AND action = ?2"
					" ORDER BY created_ms DESC LIMIT 1";

int
store_cmd_last_args(struct store *s, const char *uuid, const char *action, json_t **ret,
		    struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_last_args, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, action);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sq_col_json(st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return *ret ? 0 : hv_error_set(err, -ENOMEM, NULL, "out of memory");
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return sq_error(s, rc, "command args", err);
}

static const char sql_inst_list[] =
	"SELECT " INST_COLS " FROM instances WHERE (?1 IS NULL OR host = ?1)"
	" AND (?2 OR vm_state != 'deleted') ORDER BY created_ms, uuid";

int
store_instance_list(struct store *s, const char *host, bool with_deleted, json_t **ret,
		    struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_list, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host);
	sqlite3_bind_int(st, 2, with_deleted);
	return sq_collect(s, st, inst_row, ret, "instance list", err);
}

/* ?7 NULL: any host (a decision of the controller); else only an instance on that host. */
static const char sql_inst_state[] =
	"UPDATE instances SET vm_state = coalesce(?2, vm_state),"
	" task_state = coalesce(?3, task_state), power_state = coalesce(?4, power_state),"
	" fault = coalesce(?5, fault), updated_ms = ?6 WHERE uuid = ?1 AND (?7 IS NULL OR host = "
	"?7)";
static const char sql_inst_owner[] = "SELECT host FROM instances WHERE uuid = ?1";

static int
set_state(struct store *s, const char *host, const char *uuid, const char *vm_state,
	  const char *task_state, const char *power_state, const char *fault, int64_t now_ms,
	  struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_state, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, vm_state);
	sq_bind_text(st, 3, task_state);
	sq_bind_text(st, 4, power_state);
	sq_bind_text(st, 5, fault);
	sqlite3_bind_int64(st, 6, now_ms);
	sq_bind_text(st, 7, host);
	int r = sq_step_done(s, st, "instance state", err);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) > 0)
		return 0;
	if (host && (r = sq_row_by_key(s, sql_inst_owner, uuid, "instance owner", &st, err)) == 0) {
		char owner[256];
		snprintf(owner, sizeof owner, "%s", sq_col_text(st, 0));
		sqlite3_reset(st);
		return hv_error_set(err, -EPERM, "uuid", "instance %s belongs to host %s", uuid,
				    owner);
	}
	if (host && r != -ENOENT)
		return r;
	return hv_error_set(err, -ENOENT, "uuid", "no instance %s", uuid);
}

int
store_instance_set_state(struct store *s, const char *uuid, const char *vm_state,
			 const char *task_state, const char *power_state, const char *fault,
			 int64_t now_ms, struct hv_error *err)
{
	return set_state(s, NULL, uuid, vm_state, task_state, power_state, fault, now_ms, err);
}

int
store_instance_report_state(struct store *s, const char *host, const char *uuid,
			    const char *vm_state, const char *task_state, const char *power_state,
			    const char *fault, int64_t now_ms, struct hv_error *err)
{
	return set_state(s, host, uuid, vm_state, task_state, power_state, fault, now_ms, err);
}

static const char sql_inst_spec[] =
	"UPDATE instances SET flavor = coalesce(?2, flavor), properties = coalesce(?3, properties),"
	" image = coalesce(?4, image), updated_ms = ?5 WHERE uuid = ?1";

int
store_instance_set_spec(struct store *s, const char *uuid, json_t *flavor, const char *image,
			int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_spec, err);
	if (!st)
		return err ? err->code : -EIO;
	json_t *specs = json_object_get(flavor, "extra_specs");
	char *ftext = json_is_object(flavor) ? json_dumps(flavor, JSON_COMPACT) : NULL;
	char *ptext = json_is_object(specs) ? json_dumps(specs, JSON_COMPACT) : NULL;
	sq_bind_text(st, 1, uuid);
	sq_bind_text(st, 2, ftext);
	sq_bind_text(st, 3, ptext);
	sq_bind_text(st, 4, image);
	sqlite3_bind_int64(st, 5, now_ms);
	int r = sq_step_done(s, st, "instance spec", err);
	free(ftext);
	free(ptext);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return hv_error_set(err, -ENOENT, "uuid", "no instance %s", uuid);
	return 0;
}

static const char sql_inst_uuids[] =
	"SELECT uuid FROM instances WHERE host = ?1 AND vm_state != 'deleted'";

static json_t *
uuid_row(sqlite3_stmt *st)
{
	return json_string(sq_col_text(st, 0));
}

int
store_instance_uuids_on(struct store *s, const char *host, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_inst_uuids, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host);
	return sq_collect(s, st, uuid_row, ret, "instance uuids", err);
}

/* ---- commands ---------------------------------------------------------------------------- */

const char *
store_cmd_state_name(enum store_cmd_state st)
{
	static const char *const names[] = {"queued", "sent", "acked", "done", "failed"};
	return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "failed";
}

void
store_cmd_clear(struct store_cmd *c)
{
	if (c) {
		json_decref(c->args);
		c->args = NULL;
	}
}

static const char sql_cmd_insert[] =
	"INSERT INTO commands(cmd_id, host_id, uuid, action, args, state, attempts, created_ms,"
	" deadline_ms, next_try_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";

int
store_cmd_insert(struct store *s, const struct store_cmd *c, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	char *args = c->args ? json_dumps(c->args, JSON_COMPACT) : strdup("{}");
	sq_bind_text(st, 1, c->cmd_id);
	sq_bind_text(st, 2, c->host_id);
	sq_bind_text(st, 3, c->uuid);
	sq_bind_text(st, 4, c->action);
	sq_bind_text(st, 5, args);
	sqlite3_bind_int(st, 6, c->state);
	sqlite3_bind_int(st, 7, c->attempts);
	sqlite3_bind_int64(st, 8, c->created_ms);
	sqlite3_bind_int64(st, 9, c->deadline_ms);
	sqlite3_bind_int64(st, 10, c->next_try_ms);
	free(args);
	return sq_step_done(s, st, "command insert", err);
}

#define CMD_COLS                                                            \
	"cmd_id, host_id, uuid, action, args, state, attempts, created_ms," \
	" deadline_ms, next_try_ms, result"

static void
cmd_row(sqlite3_stmt *st, struct store_cmd *c, bool with_args)
{
	memset(c, 0, sizeof *c);
	snprintf(c->cmd_id, sizeof c->cmd_id, "%s", sq_col_text(st, 0));
	snprintf(c->host_id, sizeof c->host_id, "%s", sq_col_text(st, 1));
	snprintf(c->uuid, sizeof c->uuid, "%s", sq_col_text(st, 2));
	snprintf(c->action, sizeof c->action, "%s", sq_col_text(st, 3));
	c->args = with_args ? sq_col_json(st, 4) : NULL;
	c->state = (enum store_cmd_state)sqlite3_column_int(st, 5);
	c->attempts = sqlite3_column_int(st, 6);
	c->created_ms = sqlite3_column_int64(st, 7);
	c->deadline_ms = sqlite3_column_int64(st, 8);
	c->next_try_ms = sqlite3_column_int64(st, 9);
}

static const char sql_cmd_get[] = "SELECT " CMD_COLS " FROM commands WHERE cmd_id = ?1";

int
store_cmd_get(struct store *s, const char *cmd_id, struct store_cmd *ret, json_t **ret_result,
	      struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_cmd_get, cmd_id, "command get", &st, err);
	if (r == -ENOENT)
		return hv_error_set(err, -ENOENT, "cmd_id", "unknown command %s", cmd_id);
	if (r < 0)
		return r;
	cmd_row(st, ret, false);
	if (ret_result)
		*ret_result =
			sqlite3_column_type(st, 10) == SQLITE_NULL ? NULL : sq_col_json(st, 10);
	sqlite3_reset(st);
	return 0;
}

static const char sql_cmd_update[] =
	"UPDATE commands SET state = ?2, attempts = ?3, next_try_ms = ?4,"
	" result = coalesce(?5, result) WHERE cmd_id = ?1";

int
store_cmd_update(struct store *s, const char *cmd_id, enum store_cmd_state state, int attempts,
		 int64_t next_try_ms, json_t *result, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_update, err);
	if (!st)
		return err ? err->code : -EIO;
	char *text = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	sq_bind_text(st, 1, cmd_id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_int(st, 3, attempts);
	sqlite3_bind_int64(st, 4, next_try_ms);
	sq_bind_text(st, 5, text);
	free(text);
	return sq_step_done(s, st, "command update", err);
}

static const char sql_cmd_reroute[] =
	"UPDATE commands SET host_id = ?2, args = ?3, state = 0, attempts = 0, next_try_ms = ?4"
	" WHERE cmd_id = ?1 AND state IN (0, 1, 2)";

int
store_cmd_reroute(struct store *s, const char *cmd_id, const char *host, json_t *args,
		  int64_t next_try_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_reroute, err);
	if (!st)
		return err ? err->code : -EIO;
	char *text = json_dumps(args, JSON_COMPACT);
	if (!text)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	sq_bind_text(st, 1, cmd_id);
	sq_bind_text(st, 2, host);
	sq_bind_text(st, 3, text);
	sqlite3_bind_int64(st, 4, next_try_ms);
	free(text);
	int r = sq_step_done(s, st, "command reroute", err);
	return r < 0 ? r : sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

static const char sql_cmd_acked[] =
	"UPDATE commands SET state = 2, next_try_ms = ?3 WHERE cmd_id = ?1 AND host_id = ?2"
	" AND state IN (0, 1)";

int
store_cmd_mark_acked(struct store *s, const char *cmd_id, const char *host_id, int64_t next_try_ms,
		     struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_acked, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, cmd_id);
	sq_bind_text(st, 2, host_id);
	sqlite3_bind_int64(st, 3, next_try_ms);
	return sq_step_done(s, st, "command acked", err);
}

/* rowid last: commands journaled in one step are sent again in the order they were made
 * (a host must have a security group before the port that names it) */
static const char sql_cmd_due[] =
	"SELECT " CMD_COLS " FROM commands WHERE state IN (0, 1, 2) AND next_try_ms <= ?1"
	" ORDER BY next_try_ms, created_ms, rowid LIMIT ?2";

int
store_cmd_due(struct store *s, int64_t now_ms, struct store_cmd *out, int max, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_due, err);
	if (!st)
		return err ? err->code : -EIO;
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, max);
	int n = 0, rc;
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
		cmd_row(st, &out[n++], true);
	if (n < max && rc != SQLITE_DONE) {
		sqlite3_reset(st);
		for (int i = 0; i < n; i++)
			store_cmd_clear(&out[i]);
		return sq_error(s, rc, "commands due", err);
	}
	sqlite3_reset(st);
	return n;
}

static const char sql_cmd_inflight[] =
	"SELECT count(*) FROM commands WHERE uuid = ?1 AND state IN (0, 1, 2)";

int
store_cmd_inflight_for(struct store *s, const char *uuid, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_inflight, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	int rc = sqlite3_step(st);
	int n = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_reset(st);
	if (n < 0)
		return sq_error(s, rc, "commands in flight", err);
	return n > 0;
}

static json_t *
cmd_json_row(sqlite3_stmt *st)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "cmd_id", sq_col_text(st, 0),
			      "action", sq_col_text(st, 3), "state",
			      store_cmd_state_name((enum store_cmd_state)sqlite3_column_int(st, 5)),
			      "attempts", (json_int_t)sqlite3_column_int(st, 6), "created_ms",
			      (json_int_t)sqlite3_column_int64(st, 7), "deadline_ms",
			      (json_int_t)sqlite3_column_int64(st, 8));
	/* a failed command's result is its error ({code, message}); a success adds nothing
	 * the instance record does not already show */
	if (sqlite3_column_int(st, 5) == STORE_CMD_FAILED &&
	    sqlite3_column_type(st, 10) != SQLITE_NULL) {
		json_t *e = sq_col_json(st, 10);
		json_object_del(e, "result");
		json_object_set_new(o, "error", e);
	} else if (sqlite3_column_int(st, 5) == STORE_CMD_DONE &&
		   sqlite3_column_type(st, 10) != SQLITE_NULL) {
		/* what a finished command produced that the record does not hold (a snapshot's
		 * image id) */
		json_t *res = sq_col_json(st, 10);
		json_t *image = json_object_get(json_object_get(res, "data"), "image");
		if (json_is_object(image))
			json_object_set(o, "image_id", json_object_get(image, "id"));
		json_decref(res);
	}
	return o;
}

static const char sql_cmd_list[] =
	"SELECT " CMD_COLS " FROM commands WHERE uuid = ?1 ORDER BY created_ms DESC, rowid DESC"
	" LIMIT ?2";

int
store_cmd_list_for(struct store *s, const char *uuid, int limit, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_cmd_list, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, uuid);
	sqlite3_bind_int(st, 2, limit);
	return sq_collect(s, st, cmd_json_row, ret, "command list", err);
}
