/* sqlite_aggregate.c - host aggregates and server groups in the SQLite backend of store.h
 * (their tables are a migration of sqlite.c). Bound parameters only; holds no rule (which
 * zone a host may be in, which policy a group may have are the service layer's), never
 * logs. */
#include "sqlite-priv.h"

#include <stdlib.h>
#include <string.h>

/* ---- aggregates ------------------------------------------------------------------------- */

static const char sql_agg_insert[] =
	"INSERT INTO aggregates(uuid, name, metadata, created_ms) VALUES (?1, ?2, ?3, ?4)";

int
store_aggregate_insert(struct store *s, json_t *agg, int64_t now_ms, int64_t *ret_id,
		       struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_agg_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	const char *name = json_string_value(json_object_get(agg, "name"));
	char *meta = json_dumps(json_object_get(agg, "metadata"), JSON_COMPACT);
	if (!meta)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sq_bind_text(st, 1, json_string_value(json_object_get(agg, "uuid")));
	sq_bind_text(st, 2, name);
	sq_bind_text(st, 3, meta);
	sqlite3_bind_int64(st, 4, now_ms);
	free(meta);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "an aggregate named '%s' already exists",
				    name);
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, "aggregate insert", err);
	*ret_id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

#define AGG_COLS "id, uuid, name, metadata, created_ms"
static const char sql_agg_by_id[] = "SELECT " AGG_COLS " FROM aggregates WHERE id = ?1";
static const char sql_agg_by_name[] = "SELECT " AGG_COLS " FROM aggregates WHERE name = ?1";
static const char sql_agg_list[] = "SELECT " AGG_COLS " FROM aggregates ORDER BY id";
static const char sql_agg_hosts[] =
	"SELECT host FROM aggregate_hosts WHERE aggregate_id = ?1 ORDER BY host";

static json_t *
agg_row(sqlite3_stmt *st)
{
	json_t *meta = sq_col_json(st, 3);
	json_t *az = json_object_get(meta, "availability_zone");
	return json_pack("{s:I, s:s, s:s, s:O, s:o, s:I, s:[]}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "uuid", sq_col_text(st, 1),
			 "name", sq_col_text(st, 2), "availability_zone", az ? az : json_null(),
			 "metadata", meta, "created_ms", (json_int_t)sqlite3_column_int64(st, 4),
			 "hosts");
}

static json_t *
text_row(sqlite3_stmt *st)
{
	return json_string(sq_col_text(st, 0));
}

/* Fills each aggregate's hosts. */
static int
agg_hosts(struct store *s, json_t *agg, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_agg_hosts, err);
	if (!st)
		return err ? err->code : -EIO;
	sqlite3_bind_int64(st, 1, json_integer_value(json_object_get(agg, "id")));
	json_t *hosts = NULL;
	int r = sq_collect(s, st, text_row, &hosts, "aggregate hosts", err);
	if (r == 0)
		json_object_set_new(agg, "hosts", hosts);
	return r;
}

/* A key that is all digits is the id; anything else, or no id of that number, the name. */
static bool
all_digits(const char *k)
{
	return *k && strspn(k, "0123456789") == strlen(k) && strlen(k) < 19;
}

int
store_aggregate_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = NULL;
	int r = -ENOENT;
	if (all_digits(id_or_name)) {
		if (!(st = sq_stmt(s, sql_agg_by_id, err)))
			return err ? err->code : -EIO;
		sqlite3_bind_int64(st, 1, strtoll(id_or_name, NULL, 10));
		int rc = sqlite3_step(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sq_error(s, rc, "aggregate get", err);
		r = rc == SQLITE_ROW ? 0 : -ENOENT;
		if (r < 0)
			sqlite3_reset(st);
	}
	if (r == -ENOENT)
		r = sq_row_by_key(s, sql_agg_by_name, id_or_name, "aggregate get", &st, err);
	if (r < 0)
		return r;
	json_t *agg = agg_row(st);
	sqlite3_reset(st);
	if ((r = agg_hosts(s, agg, err)) < 0) {
		json_decref(agg);
		return r;
	}
	*ret = agg;
	return 0;
}

int
store_aggregate_list(struct store *s, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_agg_list, err);
	json_t *list = NULL, *agg;
	size_t i;
	if (!st)
		return err ? err->code : -EIO;
	int r = sq_collect(s, st, agg_row, &list, "aggregate list", err);
	json_array_foreach (list, i, agg)
		if (r == 0)
			r = agg_hosts(s, agg, err);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

static const char sql_agg_update[] =
	"UPDATE aggregates SET name = coalesce(?2, name), metadata = ?3 WHERE id = ?1";

int
store_aggregate_update(struct store *s, int64_t id, const char *name, json_t *metadata,
		       struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_agg_update, err);
	if (!st)
		return err ? err->code : -EIO;
	char *meta = json_dumps(metadata, JSON_COMPACT);
	if (!meta)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sqlite3_bind_int64(st, 1, id);
	sq_bind_text(st, 2, name);
	sq_bind_text(st, 3, meta);
	free(meta);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "an aggregate named '%s' already exists",
				    name ? name : "");
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, "aggregate update", err);
	return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

static const char sql_agg_delete[] = "DELETE FROM aggregates WHERE id = ?1";

int
store_aggregate_delete(struct store *s, int64_t id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_agg_delete, err);
	if (!st)
		return err ? err->code : -EIO;
	sqlite3_bind_int64(st, 1, id);
	int r = sq_step_done(s, st, "aggregate delete", err);
	return r < 0 ? r : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

static const char sql_agg_host_add[] =
	"INSERT INTO aggregate_hosts(aggregate_id, host) VALUES (?1, ?2)";
static const char sql_agg_host_rm[] =
	"DELETE FROM aggregate_hosts WHERE aggregate_id = ?1 AND host = ?2";

int
store_aggregate_host(struct store *s, int64_t id, const char *host, bool add, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, add ? sql_agg_host_add : sql_agg_host_rm, err);
	if (!st)
		return err ? err->code : -EIO;
	sqlite3_bind_int64(st, 1, id);
	sq_bind_text(st, 2, host);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return sq_error(s, rc, "aggregate host", err);
	return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

/* ---- server groups ------------------------------------------------------------------------ */

static const char sql_sg_insert[] = "INSERT INTO server_groups(id, name, policy, project_id,"
				    " created_ms) VALUES (?1, ?2, ?3, ?4, ?5)";

int
store_server_group_insert(struct store *s, json_t *g, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_sg_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	static const char *const cols[] = {"id", "name", "policy", "project_id"};
	for (int i = 0; i < 4; i++)
		sq_bind_text(st, i + 1, json_string_value(json_object_get(g, cols[i])));
	sqlite3_bind_int64(st, 5, now_ms);
	return sq_step_done(s, st, "server group insert", err);
}

#define SG_COLS "id, name, policy, project_id, created_ms"
static const char sql_sg_by_id[] = "SELECT " SG_COLS " FROM server_groups WHERE id = ?1";
static const char sql_sg_by_name[] =
	"SELECT " SG_COLS " FROM server_groups WHERE name = ?1 ORDER BY created_ms LIMIT 2";
static const char sql_sg_list[] =
	"SELECT " SG_COLS " FROM server_groups WHERE ?1 IS NULL OR project_id = ?1"
	" ORDER BY name, id";
static const char sql_sg_members[] =
	"SELECT uuid FROM server_group_members WHERE group_id = ?1 ORDER BY uuid";

static json_t *
sg_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:[]}", "id", sq_col_text(st, 0), "name",
			 sq_col_text(st, 1), "policy", sq_col_text(st, 2), "project_id",
			 sq_col_text(st, 3), "created_ms", (json_int_t)sqlite3_column_int64(st, 4),
			 "members");
}

static int
sg_members(struct store *s, json_t *g, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_sg_members, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, json_string_value(json_object_get(g, "id")));
	json_t *m = NULL;
	int r = sq_collect(s, st, text_row, &m, "server group members", err);
	if (r == 0)
		json_object_set_new(g, "members", m);
	return r;
}

int
store_server_group_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_sg_by_id, id_or_name, "server group get", &st, err);
	if (r == -ENOENT) {
		r = sq_row_by_key(s, sql_sg_by_name, id_or_name, "server group get", &st, err);
		if (r == 0) {
			json_t *g = sg_row(st);
			bool twice = sqlite3_step(st) == SQLITE_ROW;
			sqlite3_reset(st);
			if (twice) {
				json_decref(g);
				return hv_error_set(err, -EINVAL, "name",
						    "several server groups are named '%s': give "
						    "its id",
						    id_or_name);
			}
			*ret = g;
			return sg_members(s, g, err);
		}
	}
	if (r < 0)
		return r;
	*ret = sg_row(st);
	sqlite3_reset(st);
	return sg_members(s, *ret, err);
}

int
store_server_group_list(struct store *s, const char *project_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_sg_list, err);
	json_t *list = NULL, *g;
	size_t i;
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, project_id);
	int r = sq_collect(s, st, sg_row, &list, "server group list", err);
	json_array_foreach (list, i, g)
		if (r == 0)
			r = sg_members(s, g, err);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ret = list;
	return 0;
}

static const char sql_sg_delete[] = "DELETE FROM server_groups WHERE id = ?1";
static const char sql_sg_clear[] = "DELETE FROM server_group_members WHERE group_id = ?1";

int
store_server_group_delete(struct store *s, const char *id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_sg_clear, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	int r = sq_step_done(s, st, "server group clear", err);
	if (r < 0 || !(st = sq_stmt(s, sql_sg_delete, err)))
		return r < 0 ? r : err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	r = sq_step_done(s, st, "server group delete", err);
	return r < 0 ? r : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

static const char sql_sg_add[] =
	"INSERT OR IGNORE INTO server_group_members(group_id, uuid) VALUES (?1, ?2)";

int
store_server_group_add(struct store *s, const char *id, const char *uuid, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_sg_add, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	sq_bind_text(st, 2, uuid);
	return sq_step_done(s, st, "server group add", err);
}
