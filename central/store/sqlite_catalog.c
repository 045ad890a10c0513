/* sqlite_catalog.c - the catalog's tables in the SQLite backend of store.h: projects and
 * their quota limits (the tables are migrations of sqlite.c). Bound parameters only;
 * holds no rule (defaults and limits are the service layer's), never logs. */
#include "sqlite-priv.h"

#include <stdlib.h>

static const char sql_project_insert[] =
	"INSERT INTO projects(id, name, description, enabled, created_ms) VALUES (?1,?2,?3,?4,?5)";

int
store_project_insert(struct store *s, json_t *p, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_project_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	const char *desc = json_string_value(json_object_get(p, "description"));
	sq_bind_text(st, 1, json_string_value(json_object_get(p, "id")));
	sq_bind_text(st, 2, json_string_value(json_object_get(p, "name")));
	sq_bind_text(st, 3, desc ? desc : "");
	sqlite3_bind_int(st, 4, !json_is_false(json_object_get(p, "enabled")));
	sqlite3_bind_int64(st, 5, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "a project named '%s' already exists",
				    json_string_value(json_object_get(p, "name")));
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "project insert", err);
}

#define PROJECT_COLS "id, name, description, enabled, created_ms"

static json_t *
project_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:I}", "id", sq_col_text(st, 0), "name",
			 sq_col_text(st, 1), "description", sq_col_text(st, 2), "enabled",
			 sqlite3_column_int(st, 3), "created_ms",
			 (json_int_t)sqlite3_column_int64(st, 4));
}

static const char sql_project_by_id[] = "SELECT " PROJECT_COLS " FROM projects WHERE id = ?1";
static const char sql_project_by_name[] = "SELECT " PROJECT_COLS " FROM projects WHERE name = ?1";
static const char sql_project_list[] = "SELECT " PROJECT_COLS " FROM projects ORDER BY name";

int
store_project_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_project_by_id, id_or_name, "project get", &st, err);
	if (r == -ENOENT)
		r = sq_row_by_key(s, sql_project_by_name, id_or_name, "project get", &st, err);
	if (r < 0)
		return r;
	*ret = project_row(st);
	sqlite3_reset(st);
	return 0;
}

int
store_project_list(struct store *s, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_project_list, err);
	if (!st)
		return err ? err->code : -EIO;
	return sq_collect(s, st, project_row, ret, "project list", err);
}

static const char sql_quota_get[] = "SELECT resource, hard_limit FROM quotas WHERE project_id = ?1";

int
store_quota_get(struct store *s, const char *project_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_quota_get, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, project_id);
	json_t *o = json_object();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(o, sq_col_text(st, 0),
				    json_integer((json_int_t)sqlite3_column_int64(st, 1)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(o);
		return sq_error(s, rc, "quota get", err);
	}
	*ret = o;
	return 0;
}

static const char sql_quota_set[] =
	"INSERT INTO quotas(project_id, resource, hard_limit) VALUES (?1, ?2, ?3)"
	" ON CONFLICT(project_id, resource) DO UPDATE SET hard_limit = ?3";

int
store_quota_set(struct store *s, const char *project_id, const char *resource, int64_t limit,
		struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_quota_set, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, project_id);
	sq_bind_text(st, 2, resource);
	sqlite3_bind_int64(st, 3, limit);
	return sq_step_done(s, st, "quota set", err);
}

/* A deleted instance holds nothing; one in any other state (error included) still holds
 * its flavor, as in nova until it is deleted. */
static const char sql_project_usage[] =
	"SELECT count(*), coalesce(sum(json_extract(flavor, '$.vcpus')), 0),"
	" coalesce(sum(json_extract(flavor, '$.ram_mb')), 0) FROM instances"
	" WHERE project_id = ?1 AND vm_state != 'deleted'";

int
store_project_usage(struct store *s, const char *project_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_project_usage, project_id, "project usage", &st, err);
	if (r < 0)
		return r == -ENOENT ? sq_error(s, SQLITE_ERROR, "project usage", err) : r;
	*ret = json_pack("{s:I, s:I, s:I}", "instances", (json_int_t)sqlite3_column_int64(st, 0),
			 "cores", (json_int_t)sqlite3_column_int64(st, 1), "ram",
			 (json_int_t)sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	return 0;
}
