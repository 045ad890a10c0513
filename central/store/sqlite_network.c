/* sqlite_network.c - networking's tables in the SQLite backend of store.h: Neutron's
 * records kept whole as JSON in one table keyed by kind (the REST front later returns them
 * as they are), and the addresses given out per network. Bound parameters only; holds no
 * rule (allocation, quotas and references are the service layer's), never logs. */
#include "sqlite-priv.h"

#include <stdlib.h>

static const char sql_net_insert[] =
	"INSERT INTO net_objects(kind, id, project_id, name, body, created_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char sql_net_update[] =
	"UPDATE net_objects SET name = ?3, body = ?4 WHERE kind = ?1 AND id = ?2";

/* Binds kind, id, project_id, name and the body text from obj at 1-4 and 5 (insert) or
 * kind, id, name, body at 1-4 (update). */
static int
bind_obj(sqlite3_stmt *st, const char *kind, json_t *obj, bool insert, struct hv_error *err)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	const char *name = json_string_value(json_object_get(obj, "name"));
	const char *project = json_string_value(json_object_get(obj, "project_id"));
	sq_bind_text(st, 1, kind);
	sq_bind_text(st, 2, json_string_value(json_object_get(obj, "id")));
	if (insert) {
		sq_bind_text(st, 3, project ? project : "");
		sq_bind_text(st, 4, name ? name : "");
		sq_bind_text(st, 5, text);
	} else {
		sq_bind_text(st, 3, name ? name : "");
		sq_bind_text(st, 4, text);
	}
	free(text);
	return 0;
}

int
store_net_insert(struct store *s, const char *kind, json_t *obj, int64_t now_ms,
		 struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_net_insert, err);
	int r;
	if (!st)
		return err ? err->code : -EIO;
	if ((r = bind_obj(st, kind, obj, true, err)) < 0)
		return r;
	sqlite3_bind_int64(st, 6, now_ms);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return hv_error_set(err, -EEXIST, "name", "a %s named '%s' already exists", kind,
				    json_string_value(json_object_get(obj, "name")));
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "net insert", err);
}

int
store_net_update(struct store *s, const char *kind, json_t *obj, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_net_update, err);
	int r;
	if (!st)
		return err ? err->code : -EIO;
	if ((r = bind_obj(st, kind, obj, false, err)) < 0 ||
	    (r = sq_step_done(s, st, "net update", err)) < 0)
		return r;
	return sqlite3_changes(s->db) ? 0 : -ENOENT;
}

static json_t *
body_row(sqlite3_stmt *st)
{
	return sq_col_json(st, 0);
}

static const char sql_net_get[] = "SELECT body FROM net_objects WHERE kind = ?1 AND id = ?2";
static const char sql_net_by_name[] =
	"SELECT body FROM net_objects WHERE kind = ?1 AND project_id = ?2 AND name = ?3"
	" ORDER BY created_ms LIMIT 1";

/* The first row of a query on up to three text keys. */
static int
one_body(struct store *s, const char *sql, const char *k1, const char *k2, const char *k3,
	 json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, k1);
	sq_bind_text(st, 2, k2);
	if (k3)
		sq_bind_text(st, 3, k3);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = body_row(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : sq_error(s, rc, "net get", err);
}

int
store_net_get(struct store *s, const char *kind, const char *id, json_t **ret, struct hv_error *err)
{
	return one_body(s, sql_net_get, kind, id, NULL, ret, err);
}

int
store_net_by_name(struct store *s, const char *kind, const char *project_id, const char *name,
		  json_t **ret, struct hv_error *err)
{
	return one_body(s, sql_net_by_name, kind, project_id, name, ret, err);
}

/* field is a body member named by the caller's code; quoted so a name with ':' in it
 * (binding:host_id) is one member */
static const char sql_net_list[] =
	"SELECT body FROM net_objects WHERE kind = ?1"
	" AND (?2 IS NULL OR json_extract(body, '$.\"' || ?2 || '\"') = ?3)"
	" ORDER BY created_ms, id";

int
store_net_list(struct store *s, const char *kind, const char *field, const char *value,
	       json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_net_list, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, kind);
	sq_bind_text(st, 2, field);
	sq_bind_text(st, 3, value);
	return sq_collect(s, st, body_row, ret, "net list", err);
}

static const char sql_net_delete[] = "DELETE FROM net_objects WHERE kind = ?1 AND id = ?2";

int
store_net_delete(struct store *s, const char *kind, const char *id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_net_delete, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, kind);
	sq_bind_text(st, 2, id);
	int r = sq_step_done(s, st, "net delete", err);
	return r < 0 ? r : sqlite3_changes(s->db) ? 0 : -ENOENT;
}

static const char sql_ip_claim[] =
	"INSERT INTO net_ips(network_id, ip_address, owner_id) VALUES (?1, ?2, ?3)";
static const char sql_ip_release[] = "DELETE FROM net_ips WHERE owner_id = ?1";

int
store_net_ip_claim(struct store *s, const char *network_id, const char *ip, const char *owner_id,
		   struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_ip_claim, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, network_id);
	sq_bind_text(st, 2, ip);
	sq_bind_text(st, 3, owner_id);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : sq_error(s, rc, "ip claim", err);
}

int
store_net_ip_release(struct store *s, const char *owner_id, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_ip_release, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, owner_id);
	return sq_step_done(s, st, "ip release", err);
}

static const char sql_group_hosts[] =
	"SELECT DISTINCT json_extract(p.body, '$.\"binding:host_id\"') AS h"
	" FROM net_objects p, json_each(p.body, '$.security_groups') g"
	" WHERE p.kind = 'port' AND h IS NOT NULL AND h != '' AND (g.value = ?1 OR g.value IN"
	" (SELECT sg.id FROM net_objects sg, json_each(sg.body, '$.security_group_rules') r"
	"  WHERE sg.kind = 'security_group'"
	"  AND json_extract(r.value, '$.remote_group_id') = ?1)) ORDER BY h";

static json_t *
text_col(sqlite3_stmt *st)
{
	return json_string(sq_col_text(st, 0));
}

int
store_net_group_hosts(struct store *s, const char *group_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_group_hosts, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, group_id);
	return sq_collect(s, st, text_col, ret, "group hosts", err);
}

static const char sql_group_ports[] =
	"SELECT p.body FROM net_objects p, json_each(p.body, '$.security_groups') g"
	" WHERE p.kind = 'port' AND g.value = ?1 ORDER BY p.created_ms, p.id";

int
store_net_group_ports(struct store *s, const char *group_id, json_t **ret, struct hv_error *err)
{
	sqlite3_stmt *st = sq_stmt(s, sql_group_ports, err);
	if (!st)
		return err ? err->code : -EIO;
	sq_bind_text(st, 1, group_id);
	return sq_collect(s, st, body_row, ret, "group ports", err);
}

static const char sql_net_usage[] =
	"SELECT (SELECT count(*) FROM net_objects WHERE kind = 'floatingip' AND project_id = ?1),"
	" (SELECT count(*) FROM net_objects WHERE kind = 'security_group' AND project_id = ?1),"
	" (SELECT coalesce(sum(json_array_length(body, '$.security_group_rules')), 0)"
	"  FROM net_objects WHERE kind = 'security_group' AND project_id = ?1)";

int
store_net_usage(struct store *s, const char *project_id, json_t *used, struct hv_error *err)
{
	sqlite3_stmt *st;
	int r = sq_row_by_key(s, sql_net_usage, project_id, "net usage", &st, err);
	if (r < 0)
		return r == -ENOENT ? sq_error(s, SQLITE_ERROR, "net usage", err) : r;
	static const char *const names[] = {"floating_ips", "security_groups",
					    "security_group_rules"};
	for (int i = 0; i < 3; i++)
		json_object_set_new(used, names[i],
				    json_integer((json_int_t)sqlite3_column_int64(st, i)));
	sqlite3_reset(st);
	return 0;
}
