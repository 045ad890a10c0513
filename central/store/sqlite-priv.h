/* sqlite-priv.h - the SQLite backend's handle and statement helpers, shared by the files
 * of that backend (sqlite.c: schema, hosts, instances, journal; sqlite_catalog.c: the
 * catalog) and nobody else: a caller of the store sees store.h only. */
#ifndef HVC_SQLITE_PRIV_H
#define HVC_SQLITE_PRIV_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store.h"

#define STMT_CACHE 256

struct store {
	sqlite3 *db;
	int depth;    /* nested store_begin calls; inner levels are savepoints */
	bool own_txn; /* the outermost level is our BEGIN, not a savepoint in another's */
	struct {
		const char *sql; /* identity: the static string the caller passed */
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
};

/* The store error for an SQLite result code: -EEXIST for a constraint, -EBUSY, else -EIO. */
int sq_error(struct store *s, int rc, const char *what, struct hv_error *err);
/* The cached statement for sql (a static string: its address is the cache key), reset and
 * with bindings cleared; NULL with err filled. */
sqlite3_stmt *sq_stmt(struct store *s, const char *sql, struct hv_error *err);
/* Binds v, or NULL when v is NULL. */
void sq_bind_text(sqlite3_stmt *st, int idx, const char *v);
/* A column as text ("" for NULL), or parsed as JSON ({} when empty or not JSON). */
const char *sq_col_text(sqlite3_stmt *st, int idx);
json_t *sq_col_json(sqlite3_stmt *st, int idx);
/* Runs a write statement to completion. */
int sq_step_done(struct store *s, sqlite3_stmt *st, const char *what, struct hv_error *err);
/* Runs a one-key query to its first row: 0 with *ret on the row (the caller reads it, then
 * sqlite3_reset), -ENOENT when there is none (err untouched), or the database error. */
int sq_row_by_key(struct store *s, const char *sql, const char *key, const char *what,
		  sqlite3_stmt **ret, struct hv_error *err);
/* Collects every row of a prepared query through fn into a new array (*ret). */
int sq_collect(struct store *s, sqlite3_stmt *st, json_t *(*fn)(sqlite3_stmt *), json_t **ret,
	       const char *what, struct hv_error *err);

#endif
