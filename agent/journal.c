/* journal.c - SQLite edge of the journal. Must never keep a statement across a failed
 * transaction, and never write anything it was not handed (secrets are stripped upstream). */
#include "journal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "json.h"
#include "proto.h"

/* Every statement is prepared once and reset after each use (a reset statement holds no
 * lock and survives a rolled-back transaction). */
enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_ACCEPT,
	ST_REFUSE,
	ST_FINISH,
	ST_ACK,
	ST_GET,
	ST_FOREACH,
	ST_DUE,
	ST_DUE_MARK,
	ST_PRUNE,
	ST_INST_PUT,
	ST_INST_DEL,
	ST_INST_ALL,
	ST_META_PUT,
	ST_META_GET,
	ST_COUNT
};

#define CMD_COLUMNS "cmd_id, command, uuid, state, request, reply, acked, created_ms"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT cmd",
	[ST_RELEASE] = "RELEASE cmd",
	[ST_ROLLBACK_TO] = "ROLLBACK TO cmd",
	[ST_ACCEPT] = "INSERT INTO commands(cmd_id, command, uuid, state, request, created_ms,"
		      " updated_ms) VALUES(?,?,?,?,?,?,?)",
	[ST_REFUSE] = "INSERT INTO commands(cmd_id, command, uuid, state, request, reply, acked,"
		      " created_ms, updated_ms) VALUES(?,?,?,?,?,?,1,?,?)",
	[ST_FINISH] = "UPDATE commands SET state=?, reply=?, updated_ms=? WHERE cmd_id=?",
	[ST_ACK] = "UPDATE commands SET acked=1, updated_ms=? WHERE cmd_id=? AND state=2",
	[ST_GET] = "SELECT " CMD_COLUMNS " FROM commands WHERE cmd_id=?",
	[ST_FOREACH] = "SELECT " CMD_COLUMNS " FROM commands WHERE state=? AND"
		       " (state<>2 OR acked=0) ORDER BY created_ms, rowid",
	[ST_DUE] = "SELECT " CMD_COLUMNS " FROM commands WHERE state=2 AND acked=0 AND"
		   " updated_ms<? ORDER BY updated_ms, rowid LIMIT ?",
	[ST_DUE_MARK] = "UPDATE commands SET updated_ms=? WHERE cmd_id=?",
	[ST_PRUNE] = "DELETE FROM commands WHERE state<>1 AND acked=1 AND updated_ms<?",
	[ST_INST_PUT] = "INSERT OR REPLACE INTO instances(uuid, record, updated_ms) VALUES(?,?,?)",
	[ST_INST_DEL] = "DELETE FROM instances WHERE uuid=?",
	[ST_INST_ALL] = "SELECT record FROM instances ORDER BY uuid",
	[ST_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES(?,?)",
	[ST_META_GET] = "SELECT value FROM meta WHERE key=?",
};

struct journal {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	bool batch; /* inside journal_batch_begin: journal_begin is a savepoint */
	bool inner; /* a savepoint is open */
	bool fresh; /* the file was missing or empty when opened */
	char path[PATH_MAX];
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS commands ("
	" cmd_id TEXT PRIMARY KEY, command TEXT NOT NULL, uuid TEXT NOT NULL,"
	" state INTEGER NOT NULL, request TEXT, reply TEXT, acked INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS commands_state ON commands(state, acked);"
	"CREATE TABLE IF NOT EXISTS instances ("
	" uuid TEXT PRIMARY KEY, record TEXT NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/* The errno a caller can act on: a full disk and a damaged file are told apart from
 * other I/O errors (main.c turns them into distinct exit codes). */
static int
db_errno(sqlite3 *db)
{
	switch (sqlite3_errcode(db) & 0xff) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: return -EUCLEAN;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_CANTOPEN: return sqlite3_system_errno(db) ? -sqlite3_system_errno(db) : -EACCES;
	case SQLITE_NOMEM: return -ENOMEM;
	default: return -EIO;
	}
}

static int
db_error(struct journal *j, struct hv_error *err, const char *what)
{
	return hv_error_set(err, db_errno(j->db), "state_dir", "journal %s: %s: %s", j->path, what,
			    sqlite3_errmsg(j->db));
}

static uint32_t
be32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* SQLite's WAL checksum (the file format's): pairs of 32-bit words, big-endian when the
 * header's magic says so, native otherwise, carried from frame to frame. */
static void
wal_sum(const unsigned char *p, size_t n, bool big, uint32_t s[2])
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint32_t x0, x1;

		memcpy(&x0, p + i, 4);
		memcpy(&x1, p + i + 4, 4);
		if (big) {
			x0 = ntohl(x0);
			x1 = ntohl(x1);
		}
		s[0] += x0 + s[1];
		s[1] += x1 + s[0];
	}
}

/* SQLite reads a WAL up to its first frame whose checksum fails and silently drops the
 * rest: a damaged frame would turn durable, acknowledged commits back without a word. A
 * commit frame of the same WAL generation (same salts) after a bad frame proves that
 * commits were written past the damage: refuse rather than recover from an older state.
 * (A crash tears only the last, never-acknowledged transaction: nothing follows it.) */
static int
wal_check(const char *db_path, struct hv_error *err)
{
	unsigned char hdr[32], fh[24], *page = NULL;
	char path[PATH_MAX + 8];
	uint32_t s[2] = {0, 0}, salt[2], psize;
	bool big, bad = false;
	long frame = 0, first_bad = 0;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof path, "%s-wal", db_path);
	if (!(f = fopen(path, "rb")))
		return 0; /* no WAL: nothing to lose */
	if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr || (be32(hdr) & 0xfffffffeu) != 0x377f0682u)
		goto out; /* empty or never initialized: SQLite ignores it too */
	big = be32(hdr) & 1;
	psize = be32(hdr + 8);
	if (psize == 1)
		psize = 65536;
	if (psize < 512 || psize > 65536 || (psize & (psize - 1)))
		goto out;
	salt[0] = be32(hdr + 16);
	salt[1] = be32(hdr + 20);
	wal_sum(hdr, 24, big, s);
	if (s[0] != be32(hdr + 24) || s[1] != be32(hdr + 28))
		goto out; /* a bad header: SQLite ignores the whole WAL, as after a reset */
	if (!(page = malloc(psize))) {
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
		goto out;
	}
	while (fread(fh, 1, sizeof fh, f) == sizeof fh && fread(page, 1, psize, f) == psize) {
		bool same_gen = be32(fh + 8) == salt[0] && be32(fh + 12) == salt[1];

		frame++;
		if (bad) {
			if (same_gen && be32(fh + 4) != 0) { /* a commit written after the damage */
				r = hv_error_set(err, -EUCLEAN, "state_dir",
						 "journal %s is damaged: WAL frame %ld is corrupt "
						 "and commits "
						 "were written after it (frame %ld); starting "
						 "would forget them",
						 db_path, first_bad, frame);
				goto out;
			}
			continue;
		}
		wal_sum(fh, 8, big, s);
		wal_sum(page, psize, big, s);
		if (!same_gen || s[0] != be32(fh + 16) || s[1] != be32(fh + 20)) {
			bad = true;
			first_bad = frame;
		}
	}
out:
	free(page);
	fclose(f);
	return r;
}

static int
quick_check(struct journal *j, struct hv_error *err)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int r = 0;

	if (sqlite3_prepare_v2(j->db, "PRAGMA quick_check(1)", -1, &st, NULL) != SQLITE_OK)
		r = db_error(j, err, "integrity check");
	else if (sqlite3_step(st) != SQLITE_ROW)
		r = db_error(j, err, "integrity check");
	else if (!(t = sqlite3_column_text(st, 0)) || strcmp((const char *)t, "ok") != 0)
		r = hv_error_set(err, -EUCLEAN, "state_dir", "journal %s is damaged: %s", j->path,
				 t ? (const char *)t : "quick_check failed");
	sqlite3_finalize(st);
	return r;
}

static int
open_db(struct journal *j, bool exclusive, struct hv_error *err)
{
	char *msg = NULL;
	int r;

	sqlite3_close(j->db);
	j->db = NULL;
	/* private to the agent whatever the umask (its state directory is searchable by qemu's
	 * user); SQLite gives the -wal and -shm files the journal's own mode. Called before
	 * any thread starts, so the umask change is seen by no one else. */
	mode_t mask = umask(077);
	int rc = sqlite3_open_v2(j->path, &j->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	umask(mask);
	if (rc != SQLITE_OK)
		return j->db ? db_error(j, err, "open")
			     : hv_error_set(err, -ENOMEM, "state_dir", "opening %s", j->path);
	(void)chmod(j->path, 0600); /* a journal an older release made with another mode */
	sqlite3_busy_timeout(j->db, 5000);
	if ((exclusive &&
	     sqlite3_exec(j->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, &msg) != SQLITE_OK) ||
	    sqlite3_exec(j->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			 " PRAGMA cache_size=-512;", /* KiB: the journal is written, rarely read */
			 NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(j->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK) {
		r = db_errno(j->db);
		hv_error_set(err, r, "state_dir", "journal %s%s: %s", j->path,
			     r == -EUCLEAN ? " is damaged" : "", msg ? msg : "setup failed");
		sqlite3_free(msg);
		return r;
	}
	return 0;
}

int
journal_open(const char *state_dir, struct journal **ret, struct hv_error *err)
{
	struct journal *j;
	struct stat sb;
	int r;

	*ret = NULL;
	/* 0711: the instances path, image store and config drives may sit below it, and qemu's
	 * user must search its way to them; the journal file and the keys keep their own modes */
	if (mkdir(state_dir, 0711) == 0)
		(void)chmod(state_dir, 0711);
	else if (errno != EEXIST)
		return hv_error_set(err, -errno, "state_dir", "creating %s: %s", state_dir,
				    strerror(errno));
	j = calloc(1, sizeof *j);
	if (!j)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	snprintf(j->path, sizeof j->path, "%s/journal.sqlite", state_dir);
	j->fresh = stat(j->path, &sb) < 0 ? errno == ENOENT : sb.st_size == 0;
	if (!j->fresh && (r = wal_check(j->path, err)) < 0) {
		free(j);
		return r;
	}
	if ((r = open_db(j, false, err)) == -ENOSPC || (r == -EIO && !j->fresh)) {
		/* a full disk: the shared-memory index (-shm) cannot be created. The WAL works
		 * without it in exclusive locking mode (this process is the journal's only user),
		 * so the agent can start, serve and refuse commands until there is room. */
		struct hv_error first = *err;

		if ((r = open_db(j, true, err)) < 0)
			*err = first;
	}
	if (r < 0) {
		journal_free(j);
		return r;
	}
	/* found at start, not at the first command */
	if (!j->fresh && (r = quick_check(j, err)) < 0) {
		journal_free(j);
		return r;
	}
	*ret = j;
	return 0;
}

bool
journal_fresh(const struct journal *j)
{
	return j->fresh;
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

void
journal_discard(struct journal *j)
{
	char side[PATH_MAX + 8];
	bool fresh;

	if (!j)
		return;
	fresh = j->fresh;
	snprintf(side, sizeof side, "%s", j->path);
	journal_free(j);
	if (!fresh)
		return;
	unlink(side);
	strcat(side, "-wal");
	unlink(side);
	side[strlen(side) - 4] = '\0';
	strcat(side, "-shm");
	unlink(side);
}

void
journal_free(struct journal *j)
{
	if (!j)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(j->st[i]);
	sqlite3_close(j->db);
	free(j);
}

/* The prepared statement k, ready to bind; NULL after reporting an error. */
static sqlite3_stmt *
stmt(struct journal *j, int k, struct hv_error *err)
{
	if (!j->st[k] && sqlite3_prepare_v3(j->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT,
					    &j->st[k], NULL) != SQLITE_OK) {
		db_error(j, err, "prepare");
		return NULL;
	}
	return j->st[k];
}

static void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Binds text parameters (NULL -> SQL NULL) and int64s given as "t" / "i" in types, steps
 * once. Returns the number of rows changed or -errno. The text is bound without a copy: it
 * only has to live until the statement is reset, here. */
static int
run(struct journal *j, int k, const char *types, const void *const *args, struct hv_error *err)
{
	sqlite3_stmt *st = stmt(j, k, err);
	int rc;

	if (!st)
		return -EIO;
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't')
			sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i + 1, *(const int64_t *)args[i]);
	}
	rc = sqlite3_step(st);
	done(st);
	if (rc != SQLITE_DONE)
		return db_error(j, err, k <= ST_ROLLBACK_TO ? stmt_sql[k] : "write");
	return sqlite3_changes(j->db);
}

static int
exec(struct journal *j, int k, struct hv_error *err)
{
	int r = run(j, k, "", NULL, err);

	return r < 0 ? r : 0;
}

int
journal_begin(struct journal *j, struct hv_error *err)
{
	int r;

	if (!j->batch)
		return exec(j, ST_BEGIN, err);
	if ((r = exec(j, ST_SAVEPOINT, err)) == 0)
		j->inner = true;
	return r;
}

int
journal_commit(struct journal *j, struct hv_error *err)
{
	int r;

	if (!j->batch) {
		/* a failed COMMIT (a full disk) may leave the transaction open: end it, or
		 * every later BEGIN fails too */
		if ((r = exec(j, ST_COMMIT, err)) < 0 && !sqlite3_get_autocommit(j->db))
			exec(j, ST_ROLLBACK, NULL);
		return r;
	}
	if ((r = exec(j, ST_RELEASE, err)) == 0)
		j->inner = false;
	return r;
}

void
journal_rollback(struct journal *j)
{
	if (!j->batch) {
		exec(j, ST_ROLLBACK, NULL);
		return;
	}
	if (j->inner) { /* undo this command's writes only; the batch goes on */
		exec(j, ST_ROLLBACK_TO, NULL);
		exec(j, ST_RELEASE, NULL);
		j->inner = false;
	}
}

int
journal_batch_begin(struct journal *j, struct hv_error *err)
{
	int r;

	if (j->batch)
		return 0;
	if ((r = exec(j, ST_BEGIN, err)) == 0)
		j->batch = true;
	return r;
}

int
journal_batch_commit(struct journal *j, struct hv_error *err)
{
	int r = 0;

	if (!j->batch)
		return 0;
	j->batch = j->inner = false;
	if (sqlite3_get_autocommit(j->db)) /* SQLite rolled it back after an I/O error */
		return hv_error_set(err, db_errno(j->db), "state_dir",
				    "journal %s: transaction lost: %s", j->path,
				    sqlite3_errmsg(j->db));
	if ((r = exec(j, ST_COMMIT, err)) < 0 && !sqlite3_get_autocommit(j->db))
		exec(j, ST_ROLLBACK, NULL);
	return r;
}

int
journal_probe(struct journal *j, struct hv_error *err)
{
	json_t *now = json_integer(proto_now_ms());
	int r;

	if ((r = journal_begin(j, err)) < 0)
		goto out;
	if ((r = journal_meta_put(j, "write_probe", now, err)) < 0) {
		journal_rollback(j);
		goto out;
	}
	r = journal_commit(j, err);
out:
	json_decref(now);
	return r;
}

void
journal_batch_abort(struct journal *j)
{
	if (!j->batch)
		return;
	j->batch = j->inner = false;
	if (!sqlite3_get_autocommit(j->db))
		exec(j, ST_ROLLBACK, NULL);
}

bool
journal_in_batch(const struct journal *j)
{
	return j->batch;
}

static char *
dump_or_null(const json_t *v)
{
	return v ? hj_dump(v) : NULL;
}

int
journal_cmd_accept(struct journal *j, const char *cmd_id, const char *command, const char *uuid,
		   const json_t *request, struct hv_error *err)
{
	int64_t now = proto_now_ms(), state = JOURNAL_ACCEPTED;
	char *req = dump_or_null(request);
	const void *args[] = {cmd_id, command, uuid, &state, req, &now, &now};
	int r = run(j, ST_ACCEPT, "tttitii", args, err);

	free(req);
	return r < 0 ? r : 0;
}

int
journal_cmd_refuse(struct journal *j, const char *cmd_id, const char *command, const char *uuid,
		   const json_t *request, const json_t *error_body, struct hv_error *err)
{
	int64_t now = proto_now_ms(), state = JOURNAL_REFUSED;
	char *req = dump_or_null(request), *rep = dump_or_null(error_body);
	const void *args[] = {cmd_id, command, uuid, &state, req, rep, &now, &now};
	int r = run(j, ST_REFUSE, "tttittii", args, err);

	free(req);
	free(rep);
	return r < 0 ? r : 0;
}

int
journal_cmd_finish(struct journal *j, const char *cmd_id, const json_t *result_body,
		   struct hv_error *err)
{
	int64_t now = proto_now_ms(), state = JOURNAL_DONE;
	char *rep = dump_or_null(result_body);
	const void *args[] = {&state, rep, &now, cmd_id};
	int r = run(j, ST_FINISH, "itit", args, err);

	free(rep);
	if (r == 0)
		return hv_error_set(err, -ENOENT, "cmd_id", "journal: no command %s", cmd_id);
	return r < 0 ? r : 0;
}

int
journal_cmd_ack(struct journal *j, const char *cmd_id, struct hv_error *err)
{
	int64_t now = proto_now_ms();
	const void *args[] = {&now, cmd_id};
	int r = run(j, ST_ACK, "it", args, err);

	return r < 0 ? r : 0;
}

static json_t *
column_json(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? json_loads((const char *)t, 0, NULL) : NULL;
}

static void
fill(sqlite3_stmt *st, struct journal_cmd *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->cmd_id, sizeof c->cmd_id, "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(c->command, sizeof c->command, "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(c->uuid, sizeof c->uuid, "%s", (const char *)sqlite3_column_text(st, 2));
	c->state = (enum journal_cmd_state)sqlite3_column_int(st, 3);
	c->request = column_json(st, 4);
	c->reply = column_json(st, 5);
	c->acked = sqlite3_column_int(st, 6) != 0;
	c->created_ms = sqlite3_column_int64(st, 7);
}

int
journal_cmd_get(struct journal *j, const char *cmd_id, struct journal_cmd *ret,
		struct hv_error *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(ret, 0, sizeof *ret);
	if (!(st = stmt(j, ST_GET, err)))
		return -EIO;
	sqlite3_bind_text(st, 1, cmd_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		fill(st, ret);
	done(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(j, err, "read");
}

void
journal_cmd_release(struct journal_cmd *c)
{
	if (!c)
		return;
	json_decref(c->request);
	json_decref(c->reply);
	c->request = c->reply = NULL;
}

int
journal_cmd_foreach(struct journal *j, enum journal_cmd_state state,
		    void (*fn)(void *ctx, const struct journal_cmd *c), void *ctx,
		    struct hv_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = stmt(j, ST_FOREACH, err)))
		return -EIO;
	sqlite3_bind_int(st, 1, (int)state);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct journal_cmd c;

		fill(st, &c);
		fn(ctx, &c);
		journal_cmd_release(&c);
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : db_error(j, err, "read");
}

int
journal_cmd_due(struct journal *j, int64_t before_ms, int limit,
		void (*fn)(void *ctx, const struct journal_cmd *c), void *ctx, struct hv_error *err)
{
	sqlite3_stmt *st;
	int64_t now = proto_now_ms();
	int rc, r;

	if ((r = journal_begin(j, err)) < 0)
		return r;
	if (!(st = stmt(j, ST_DUE, err))) {
		journal_rollback(j);
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, before_ms);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct journal_cmd c;
		const void *args[2];

		fill(st, &c);
		fn(ctx, &c);
		args[0] = &now;
		args[1] = c.cmd_id;
		run(j, ST_DUE_MARK, "it", args, NULL);
		journal_cmd_release(&c);
	}
	done(st);
	if (rc != SQLITE_DONE) {
		journal_rollback(j);
		return db_error(j, err, "read");
	}
	return journal_commit(j, err);
}

int
journal_cmd_prune(struct journal *j, int64_t before_ms, struct hv_error *err)
{
	const void *args[] = {&before_ms};

	return run(j, ST_PRUNE, "i", args, err);
}

int
journal_inst_put(struct journal *j, const char *uuid, const json_t *record, struct hv_error *err)
{
	int64_t now = proto_now_ms();
	char *rec = hj_dump(record);
	const void *args[] = {uuid, rec, &now};
	int r = run(j, ST_INST_PUT, "tti", args, err);

	free(rec);
	return r < 0 ? r : 0;
}

int
journal_inst_delete(struct journal *j, const char *uuid, struct hv_error *err)
{
	const void *args[] = {uuid};
	int r = run(j, ST_INST_DEL, "t", args, err);

	return r < 0 ? r : 0;
}

int
journal_inst_foreach(struct journal *j, void (*fn)(void *ctx, const json_t *record), void *ctx,
		     struct hv_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (!(st = stmt(j, ST_INST_ALL, err)))
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *rec = column_json(st, 0);

		if (rec)
			fn(ctx, rec);
		json_decref(rec);
	}
	done(st);
	return rc == SQLITE_DONE ? 0 : db_error(j, err, "read");
}

int
journal_meta_put(struct journal *j, const char *key, const json_t *value, struct hv_error *err)
{
	char *v = hj_dump(value);
	const void *args[] = {key, v};
	int r = run(j, ST_META_PUT, "tt", args, err);

	free(v);
	return r < 0 ? r : 0;
}

int
journal_meta_get(struct journal *j, const char *key, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*ret = NULL;
	if (!(st = stmt(j, ST_META_GET, err)))
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = column_json(st, 0);
	done(st);
	if (rc == SQLITE_ROW)
		return *ret ? 1 : 0;
	return rc == SQLITE_DONE ? 0 : db_error(j, err, "read");
}
