/* sqlite_image.c - the image catalog's table in the SQLite backend of store.h (its table is
 * a migration of sqlite.c). Bound parameters only; holds no rule (states, visibility and
 * who may fetch are the service layer's and the link's), never logs. */
#include "sqlite-priv.h"

#include <stdio.h>

#define IMAGE_COLS                                                                 \
	"id, name, disk_format, container_format, size, checksum, os_hash_algo,"   \
	" os_hash_value, status, visibility, owner, min_disk, min_ram, protected," \
	" properties, created_ms, updated_ms"

static json_t *
text_or_null(sqlite3_stmt *st, int idx)
{
	return sqlite3_column_type(st, idx) == SQLITE_NULL ? json_null()
							   : json_string(sq_col_text(st, idx));
}

static json_t *
image_row(sqlite3_stmt *st)
{
	json_t *size = sqlite3_column_type(st, 4) == SQLITE_NULL
			       ? json_null()
			       : json_integer((json_int_t)sqlite3_column_int64(st, 4));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:s, s:I, s:I, s:b,"
			 " s:o, s:I, s:I}",
			 "id", sq_col_text(st, 0), "name", sq_col_text(st, 1), "disk_format",
			 sq_col_text(st, 2), "container_format", sq_col_text(st, 3), "size", size,
			 "checksum", text_or_null(st, 5), "os_hash_algo", text_or_null(st, 6),
			 "os_hash_value", text_or_null(st, 7), "status", sq_col_text(st, 8),
			 "visibility", sq_col_text(st, 9), "owner", sq_col_text(st, 10), "min_disk",
			 (json_int_t)sqlite3_column_int64(st, 11), "min_ram",
			 (json_int_t)sqlite3_column_int64(st, 12), "protected",
			 sqlite3_column_int(st, 13), "properties", sq_col_json(st, 14),
			 "created_ms", (json_int_t)sqlite3_column_int64(st, 15), "updated_ms",
			 (json_int_t)sqlite3_column_int64(st, 16));
}

static const char *
str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Binds the record's fields 1-15 (the columns before created_ms). */
static int
bind_image(sqlite3_stmt *st, json_t *img)
{
	json_t *size = json_object_get(img, "size");
	char *props = json_dumps(json_object_get(img, "properties"), JSON_COMPACT | JSON_SORT_KEYS);
	if (!props)
		return -ENOMEM;
	sq_bind_text(st, 1, str_of(img, "id"));
	sq_bind_text(st, 2, str_of(img, "name"));
	sq_bind_text(st, 3, str_of(img, "disk_format"));
	sq_bind_text(st, 4,
		     str_of(img, "container_format") ? str_of(img, "container_format") : "bare");
	if (json_is_integer(size))
		sqlite3_bind_int64(st, 5, json_integer_value(size));
	else
		sqlite3_bind_null(st, 5);
	sq_bind_text(st, 6, str_of(img, "checksum"));
	sq_bind_text(st, 7, str_of(img, "os_hash_algo"));
	sq_bind_text(st, 8, str_of(img, "os_hash_value"));
	sq_bind_text(st, 9, str_of(img, "status"));
	sq_bind_text(st, 10, str_of(img, "visibility"));
	sq_bind_text(st, 11, str_of(img, "owner"));
	sqlite3_bind_int64(st, 12, json_integer_value(json_object_get(img, "min_disk")));
	sqlite3_bind_int64(st, 13, json_integer_value(json_object_get(img, "min_ram")));
	sqlite3_bind_int(st, 14, json_is_true(json_object_get(img, "protected")));
	sqlite3_bind_text(st, 15, props, -1, free);
	return 0;
}

static const char sql_image_insert[] = "INSERT INTO images(" IMAGE_COLS ") VALUES (?1,?2,?3,?4,"
				       "?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?16)";

int
store_image_insert(struct store *s, json_t *img, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_image_insert, err);
	if (!st)
		return err ? err->code : -EIO;
	if (bind_image(st, img) < 0)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sqlite3_bind_int64(st, 16, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "args.id", "args.id: image %s already exists",
				    str_of(img, "id"));
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "image insert", err);
}

static const char sql_image_get[] = "SELECT " IMAGE_COLS " FROM images WHERE id = ?1";
static const char sql_image_by_name[] =
	"SELECT " IMAGE_COLS " FROM images WHERE name = ?1 ORDER BY created_ms, id";
static const char sql_image_list[] = "SELECT " IMAGE_COLS " FROM images ORDER BY name, id";

int
store_image_get(struct store *s, const char *id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_image_get, id, "image get", &st, err);
	if (r < 0)
		return r;
	*ret = image_row(st);
	sqlite3_reset(st);
	return 0;
}

int
store_image_by_name(struct store *s, const char *name, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_image_by_name, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, name);
	return sq_collect(s, st, image_row, ret, "image by name", err);
}

int
store_image_list(struct store *s, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_image_list, err);
	if (!st)
		return err ? err->code : -EIO;
	return sq_collect(s, st, image_row, ret, "image list", err);
}

static const char sql_image_update[] =
	"UPDATE images SET name = ?2, disk_format = ?3, container_format = ?4, size = ?5,"
	" checksum = ?6, os_hash_algo = ?7, os_hash_value = ?8, status = ?9, visibility = ?10,"
	" owner = ?11, min_disk = ?12, min_ram = ?13, protected = ?14, properties = ?15,"
	" updated_ms = ?16 WHERE id = ?1";

int
store_image_update(struct store *s, json_t *img, int64_t now_ms, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_image_update, err);
	if (!st)
		return err ? err->code : -EIO;
	if (bind_image(st, img) < 0)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	sqlite3_bind_int64(st, 16, now_ms);
	int r = sq_step_done(s, st, "image update", err);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		return -ENOENT;
	return r;
}

static const char sql_image_delete[] = "DELETE FROM images WHERE id = ?1";

int
store_image_delete(struct store *s, const char *id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_image_delete, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, id);
	int r = sq_step_done(s, st, "image delete", err);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		return -ENOENT;
	return r;
}

/* A live instance created from it, or an open command (a rebuild, a rescue) naming it:
 * states below 3 are queued, sent and acknowledged (store_cmd_state). */
static const char sql_image_used_on[] =
	"SELECT 1 FROM instances WHERE host = ?1 AND image = ?2 AND vm_state != 'deleted'"
	" UNION ALL SELECT 1 FROM commands WHERE host_id = ?1 AND state < 3"
	" AND json_extract(args, '$.image.id') = ?2 LIMIT 1";

int
store_image_used_on(struct store *s, const char *host, const char *id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_image_used_on, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, host);
	sq_bind_text(st, 2, id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "image used on", err);
}

static const char sql_image_snapshot_cmd[] =
	"SELECT cmd_id FROM commands WHERE action = 'snapshot' AND state = 3"
	" AND json_extract(args, '$.image_id') = ?1 LIMIT 1";

int
store_image_snapshot_cmd(struct store *s, const char *id, char ret_cmd_id[40], struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_image_snapshot_cmd, id, "image snapshot command", &st, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	snprintf(ret_cmd_id, 40, "%s", sq_col_text(st, 0));
	sqlite3_reset(st);
	return 1;
}
