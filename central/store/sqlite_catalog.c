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
	" WHERE project_id = ?1 AND vm_state != 'deleted'"
	" UNION ALL SELECT count(*), 0, 0 FROM keypairs WHERE project_id = ?1";

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
	int rc = sqlite3_step(st); /* the second row: key pairs */
	if (rc == SQLITE_ROW)
		json_object_set_new(*ret, "key_pairs",
				    json_integer((json_int_t)sqlite3_column_int64(st, 0)));
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		json_decref(*ret);
		return sq_error(s, rc, "project usage", err);
	}
	return 0;
}

/* ---- flavors ------------------------------------------------------------------------------ */

static const char sql_flavor_insert[] =
	"INSERT INTO flavors(id, name, vcpus, ram, disk, ephemeral, swap, is_public, description,"
	" extra_specs, created_ms) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)";
static const char sql_flavor_by_id[] =
	"SELECT id, name, vcpus, ram, disk, ephemeral, swap, is_public, description, extra_specs,"
	" created_ms FROM flavors WHERE id = ?1";
static const char sql_flavor_by_name[] =
	"SELECT id, name, vcpus, ram, disk, ephemeral, swap, is_public, description, extra_specs,"
	" created_ms FROM flavors WHERE name = ?1";
static const char sql_flavor_list[] =
	"SELECT id, name, vcpus, ram, disk, ephemeral, swap, is_public, description, extra_specs,"
	" created_ms FROM flavors WHERE ?1 < 0 OR is_public = ?1 ORDER BY name";

static int64_t
jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

int
store_flavor_insert(struct store *s, json_t *f, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_flavor_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	const char *id = json_string_value(json_object_get(f, "id"));
	const char *name = json_string_value(json_object_get(f, "name"));
	const char *desc = json_string_value(json_object_get(f, "description"));
	json_t *specs = json_object_get(f, "extra_specs");
	char *text = json_dumps(json_is_object(specs) ? specs : json_object(), JSON_COMPACT);
	if (!text)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sq_bind_text(st, 1, id);
	sq_bind_text(st, 2, name);
	sqlite3_bind_int64(st, 3, jint(f, "vcpus"));
	sqlite3_bind_int64(st, 4, jint(f, "ram"));
	sqlite3_bind_int64(st, 5, jint(f, "disk"));
	sqlite3_bind_int64(st, 6, jint(f, "ephemeral"));
	sqlite3_bind_int64(st, 7, jint(f, "swap"));
	sqlite3_bind_int(st, 8, !json_is_false(json_object_get(f, "is_public")));
	sq_bind_text(st, 9, desc ? desc : "");
	sq_bind_text(st, 10, text);
	sqlite3_bind_int64(st, 11, now_ms);
	free(text);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_CONSTRAINT)
		return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "flavor insert", err);
	sqlite3_stmt *q;
	bool id_taken = sq_row_by_key(s, sql_flavor_by_id, id, "flavor get", &q, NULL) == 0;
	if (id_taken)
		sqlite3_reset(q);
	return id_taken ? hv_error_set(err, -EEXIST, "id", "a flavor with id '%s' already exists",
				       id)
			: hv_error_set(err, -EEXIST, "name", "a flavor named '%s' already exists",
				       name);
}

static json_t *
flavor_row(sqlite3_stmt *st)
{
	return json_pack(
		"{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:o, s:I}", "id", sq_col_text(st, 0),
		"name", sq_col_text(st, 1), "vcpus", (json_int_t)sqlite3_column_int64(st, 2), "ram",
		(json_int_t)sqlite3_column_int64(st, 3), "disk",
		(json_int_t)sqlite3_column_int64(st, 4), "ephemeral",
		(json_int_t)sqlite3_column_int64(st, 5), "swap",
		(json_int_t)sqlite3_column_int64(st, 6), "is_public", sqlite3_column_int(st, 7),
		"description", sq_col_text(st, 8), "extra_specs", sq_col_json(st, 9), "created_ms",
		(json_int_t)sqlite3_column_int64(st, 10));
}

int
store_flavor_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_flavor_by_id, id_or_name, "flavor get", &st, err);
	if (r == -ENOENT)
		r = sq_row_by_key(s, sql_flavor_by_name, id_or_name, "flavor get", &st, err);
	if (r < 0)
		return r;
	*ret = flavor_row(st);
	sqlite3_reset(st);
	return 0;
}

int
store_flavor_list(struct store *s, int is_public, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_flavor_list, err);
	if (!st)
		return err ? err->code : -EIO;
	sqlite3_bind_int(st, 1, is_public);
	return sq_collect(s, st, flavor_row, ret, "flavor list", err);
}

static const char sql_flavor_delete[] = "DELETE FROM flavors WHERE id = ?1";
static const char sql_flavor_access_clear[] = "DELETE FROM flavor_access WHERE flavor_id = ?1";

int
store_flavor_delete(struct store *s, const char *id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_flavor_delete, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	int r = sq_step_done(s, st, "flavor delete", err);
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return hv_error_set(err, -ENOENT, "flavor", "no flavor with id '%s'", id);
	if (!(st = sq_stmt(s, sql_flavor_access_clear, err)))
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	return sq_step_done(s, st, "flavor access clear", err);
}

static const char sql_flavor_update[] =
	"UPDATE flavors SET extra_specs = ?2, description = coalesce(?3, description)"
	" WHERE id = ?1";

int
store_flavor_update(struct store *s, const char *id, json_t *extra_specs, const char *description,
		    struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_flavor_update, err);
	if (!st)
		return err ? err->code : -EIO;
	char *text = json_dumps(extra_specs, JSON_COMPACT);
	if (!text)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sq_bind_text(st, 1, id);
	sq_bind_text(st, 2, text);
	sq_bind_text(st, 3, description);
	free(text);
	int r = sq_step_done(s, st, "flavor update", err);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		return hv_error_set(err, -ENOENT, "flavor", "no flavor with id '%s'", id);
	return r;
}

static const char sql_flavor_access_list[] =
	"SELECT project_id FROM flavor_access WHERE flavor_id = ?1 ORDER BY project_id";

static json_t *
text_row(sqlite3_stmt *st)
{
	return json_string(sq_col_text(st, 0));
}

int
store_flavor_access_list(struct store *s, const char *id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_flavor_access_list, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	return sq_collect(s, st, text_row, ret, "flavor access list", err);
}

static const char sql_flavor_access_add[] =
	"INSERT OR IGNORE INTO flavor_access(flavor_id, project_id) VALUES (?1, ?2)";
static const char sql_flavor_access_rm[] =
	"DELETE FROM flavor_access WHERE flavor_id = ?1 AND project_id = ?2";

int
store_flavor_access_set(struct store *s, const char *id, const char *project_id, bool add,
			struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, add ? sql_flavor_access_add : sql_flavor_access_rm, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	sq_bind_text(st, 2, project_id);
	return sq_step_done(s, st, "flavor access", err);
}

/* ---- key pairs ---------------------------------------------------------------------------- */

static const char sql_kp_insert[] =
	"INSERT INTO keypairs(project_id, name, type, public_key, fingerprint, created_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

int
store_keypair_insert(struct store *s, json_t *kp, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_kp_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	static const char *const cols[] = {"project_id", "name", "type", "public_key",
					   "fingerprint"};
	for (int i = 0; i < 5; i++)
		sq_bind_text(st, i + 1, json_string_value(json_object_get(kp, cols[i])));
	sqlite3_bind_int64(st, 6, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "a key pair named '%s' already exists",
				    json_string_value(json_object_get(kp, "name")));
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "key pair insert", err);
}

#define KP_COLS "project_id, name, type, public_key, fingerprint, created_ms"
static const char sql_kp_get[] =
	"SELECT " KP_COLS " FROM keypairs WHERE project_id = ?1 AND name = ?2";
static const char sql_kp_list[] =
	"SELECT " KP_COLS " FROM keypairs WHERE project_id = ?1 ORDER BY name";
static const char sql_kp_delete[] = "DELETE FROM keypairs WHERE project_id = ?1 AND name = ?2";

static json_t *
kp_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "project_id", sq_col_text(st, 0), "name",
			 sq_col_text(st, 1), "type", sq_col_text(st, 2), "public_key",
			 sq_col_text(st, 3), "fingerprint", sq_col_text(st, 4), "created_ms",
			 (json_int_t)sqlite3_column_int64(st, 5));
}

int
store_keypair_get(struct store *s, const char *project_id, const char *name, json_t **ret,
		  struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_kp_get, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, project_id);
	sq_bind_text(st, 2, name);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = kp_row(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : sq_error(s, rc, "key pair get", err);
}

int
store_keypair_list(struct store *s, const char *project_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_kp_list, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, project_id);
	return sq_collect(s, st, kp_row, ret, "key pair list", err);
}

int
store_keypair_delete(struct store *s, const char *project_id, const char *name,
		     struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_kp_delete, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, project_id);
	sq_bind_text(st, 2, name);
	int r = sq_step_done(s, st, "key pair delete", err);
	return r < 0 ? r : sqlite3_changes(s->db) ? 0 : -ENOENT;
}
