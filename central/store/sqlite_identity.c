/* sqlite_identity.c - the identity tables in the SQLite backend of store.h: users with
 * their password hashes, role assignments and tokens, the latter kept by hash so a copy of
 * the database holds no usable token. Bound parameters only; holds no rule (who may log in,
 * how long a token lives: the service layer's), never logs. */
#include "sqlite-priv.h"

static const char sql_user_insert[] =
	"INSERT INTO users(id, name, password_hash, created_ms) VALUES (?1,?2,?3,?4)";

int
store_user_insert(struct store *s, json_t *u, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_user_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, json_string_value(json_object_get(u, "id")));
	sq_bind_text(st, 2, json_string_value(json_object_get(u, "name")));
	sq_bind_text(st, 3, json_string_value(json_object_get(u, "password_hash")));
	sqlite3_bind_int64(st, 4, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "a user named '%s' already exists",
				    json_string_value(json_object_get(u, "name")));
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "user insert", err);
}

static json_t *
user_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:s, s:I}", "id", sq_col_text(st, 0), "name",
			 sq_col_text(st, 1), "password_hash", sq_col_text(st, 2), "created_ms",
			 (json_int_t)sqlite3_column_int64(st, 3));
}

static json_t *
user_row_public(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:I}", "id", sq_col_text(st, 0), "name", sq_col_text(st, 1),
			 "created_ms", (json_int_t)sqlite3_column_int64(st, 3));
}

#define USER_COLS "id, name, password_hash, created_ms"
static const char sql_user_by_id[] = "SELECT " USER_COLS " FROM users WHERE id = ?1";
static const char sql_user_by_name[] = "SELECT " USER_COLS " FROM users WHERE name = ?1";
static const char sql_user_list[] = "SELECT " USER_COLS " FROM users ORDER BY name";

int
store_user_get(struct store *s, const char *id_or_name, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_user_by_id, id_or_name, "user get", &st, err);
	if (r == -ENOENT)
		r = sq_row_by_key(s, sql_user_by_name, id_or_name, "user get", &st, err);
	if (r < 0)
		return r;
	*ret = user_row(st);
	sqlite3_reset(st);
	return 0;
}

int
store_user_list(struct store *s, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_user_list, err);
	if (!st)
		return err ? err->code : -EIO;
	return sq_collect(s, st, user_row_public, ret, "user list", err);
}

static int
delete_by(struct store *s, const char *sql, const char *key, const char *what, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, key);
	int r = sq_step_done(s, st, what, err);
	return r < 0 ? r : sqlite3_changes(s->db);
}

static const char sql_user_delete[] = "DELETE FROM users WHERE id = ?1";
static const char sql_user_roles_delete[] = "DELETE FROM role_assignments WHERE user_id = ?1";
static const char sql_user_tokens_delete[] = "DELETE FROM tokens WHERE user_id = ?1";

int
store_user_delete(struct store *s, const char *id, struct hv_error *err)
{
	int r = delete_by(s, sql_user_delete, id, "user delete", err);
	if (r == 0)
		return -ENOENT;
	if (r < 0 || (r = delete_by(s, sql_user_roles_delete, id, "user delete", err)) < 0 ||
	    (r = delete_by(s, sql_user_tokens_delete, id, "user delete", err)) < 0)
		return r;
	return 0;
}

static const char sql_role_set[] =
	"INSERT INTO role_assignments(user_id, project_id, role) VALUES (?1, ?2, ?3)"
	" ON CONFLICT(user_id, project_id) DO UPDATE SET role = ?3";

int
store_role_set(struct store *s, const char *user_id, const char *project_id, const char *role,
	       struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_role_set, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, user_id);
	sq_bind_text(st, 2, project_id);
	sq_bind_text(st, 3, role);
	return sq_step_done(s, st, "role set", err);
}

static json_t *
role_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:s, s:s}", "user_id", sq_col_text(st, 0), "project_id",
			 sq_col_text(st, 1), "role", sq_col_text(st, 2));
}

static const char sql_role_list_user[] = "SELECT user_id, project_id, role FROM role_assignments"
					 " WHERE user_id = ?1 ORDER BY project_id";
static const char sql_role_list_all[] = "SELECT user_id, project_id, role FROM role_assignments"
					" ORDER BY user_id, project_id";

int
store_role_list(struct store *s, const char *user_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, user_id ? sql_role_list_user : sql_role_list_all, err);
	if (!st)
		return err ? err->code : -EIO;
	if (user_id)
		sq_bind_text(st, 1, user_id);
	return sq_collect(s, st, role_row, ret, "role list", err);
}

static const char sql_token_insert[] = "INSERT INTO tokens(hash, user_id, project_id, issued_ms,"
				       " expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)";

int
store_token_insert(struct store *s, const char *hash, const char *user_id, const char *project_id,
		   int64_t issued_ms, int64_t expires_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_token_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, hash);
	sq_bind_text(st, 2, user_id);
	sq_bind_text(st, 3, project_id);
	sqlite3_bind_int64(st, 4, issued_ms);
	sqlite3_bind_int64(st, 5, expires_ms);
	return sq_step_done(s, st, "token insert", err);
}

static const char sql_token_get[] =
	"SELECT user_id, project_id, issued_ms, expires_ms FROM tokens WHERE hash = ?1";

int
store_token_get(struct store *s, const char *hash, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_token_get, hash, "token get", &st, err);
	if (r < 0)
		return r;
	*ret = json_pack("{s:s, s:s, s:I, s:I}", "user_id", sq_col_text(st, 0), "project_id",
			 sq_col_text(st, 1), "issued_ms", (json_int_t)sqlite3_column_int64(st, 2),
			 "expires_ms", (json_int_t)sqlite3_column_int64(st, 3));
	sqlite3_reset(st);
	return 0;
}

static const char sql_token_delete[] = "DELETE FROM tokens WHERE hash = ?1";
static const char sql_token_purge[] = "DELETE FROM tokens WHERE expires_ms <= ?1";

int
store_token_delete(struct store *s, const char *hash, struct hv_error *err)
{
	int r = delete_by(s, sql_token_delete, hash, "token delete", err);
	return r == 0 ? -ENOENT : r < 0 ? r : 0;
}

int
store_token_purge(struct store *s, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_token_purge, err);
	if (!st)
		return err ? err->code : -EIO;
	sqlite3_bind_int64(st, 1, now_ms);
	return sq_step_done(s, st, "token purge", err);
}
