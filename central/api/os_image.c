/* os_image.c - the Image v2 (Glance) entry of the REST front over the image catalog
 * (service/image.c holds every rule): images listed, shown, created, patched, deleted,
 * their data streamed in and out a chunk at a time, and the schemas clients fetch. Only
 * decodes requests and encodes replies, plus who sees an image: Glance's scoping (public
 * and community images to all, the others to their owner's project; admins see all) and
 * that only the owner or an admin changes one. An id that names no visible image answers
 * 404 even when it is an image's name: clients then list by name. */
#include "os-priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "json.h"
#include "vec.h"

#define LIST_LIMIT 25
#define LIST_MAX 1000

static const char *
str_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static const char *
project_of(const struct os_req *q)
{
	return str_of(q->auth, "project_id");
}

static bool
visible(const struct os_req *q, const json_t *img)
{
	const char *vis = str_of(img, "visibility");
	return os_is_admin(q) || strcmp(vis, "public") == 0 || strcmp(vis, "community") == 0 ||
	       strcmp(str_of(img, "owner"), project_of(q)) == 0;
}

static bool
owned(const struct os_req *q, const json_t *img)
{
	return os_is_admin(q) || strcmp(str_of(img, "owner"), project_of(q)) == 0;
}

/* The catalog's image as Glance shows it: its properties at the top level. */
static json_t *
image_json(const json_t *img)
{
	char created[32], updated[32], self[128], file[140];
	const char *id = str_of(img, "id");
	os_time(json_integer_value(json_object_get(img, "created_ms")), created);
	os_time(json_integer_value(json_object_get(img, "updated_ms")), updated);
	snprintf(self, sizeof self, "/v2/images/%s", id);
	snprintf(file, sizeof file, "/v2/images/%s/file", id);
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)json_object_get(img, "properties"), k, v)
		json_object_set(o, k, v);
	static const char *const copied[] = {
		"id",           "name",          "status",
		"visibility",   "protected",     "checksum",
		"os_hash_algo", "os_hash_value", "container_format",
		"disk_format",  "min_disk",      "min_ram",
		"size",         "owner",         NULL,
	};
	for (size_t i = 0; copied[i]; i++) {
		json_t *c = json_object_get(img, copied[i]);
		json_object_set(o, copied[i], c ? c : json_null());
	}
	json_t *extra =
		json_pack("{s:b, s:n, s:[], s:s, s:s, s:s, s:s, s:s}", "os_hidden", 0,
			  "virtual_size", "tags", "created_at", created, "updated_at", updated,
			  "self", self, "file", file, "schema", "/v2/schemas/image");
	json_object_update(o, extra);
	json_decref(extra);
	return o;
}

/* The image id names, when the caller sees it; replies 404 (a name is not an id) else. */
static int
image_get(struct os_front *f, struct os_req *q, const char *id, json_t **ret)
{
	struct hv_error err = {0};
	json_t *img = NULL;
	int r = svc_image_show(f->svc, id, &img, &err);
	if (r < 0 && r != -ENOENT && r != -EINVAL) {
		os_svc_error(q, r, &err);
		return -1;
	}
	if (r < 0 || strcmp(str_of(img, "id"), id) != 0 || !visible(q, img)) {
		json_decref(img);
		os_error(q, 404, "No image found with ID %.64s", id);
		return -1;
	}
	*ret = img;
	return 0;
}

/* As image_get, and only for the owner or an admin (403 else). */
static int
image_mine(struct os_front *f, struct os_req *q, const char *id, json_t **ret)
{
	if (image_get(f, q, id, ret) < 0)
		return -1;
	if (owned(q, *ret))
		return 0;
	json_decref(*ret);
	os_error(q, 403,
		 "You are not authorized to change image %.64s: it belongs to another "
		 "project.",
		 id);
	return -1;
}

/* ---- list ---------------------------------------------------------------------------- */

static char sort_key[16] = "created_at";
static bool sort_desc = true;

static int
cmp_images(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *k = strcmp(sort_key, "created_at") == 0   ? "created_ms"
			: strcmp(sort_key, "updated_at") == 0 ? "updated_ms"
							      : sort_key;
	json_t *vx = json_object_get(x, k), *vy = json_object_get(y, k);
	int c;
	if (json_is_integer(vx) || json_is_integer(vy))
		c = (json_integer_value(vx) > json_integer_value(vy)) -
		    (json_integer_value(vx) < json_integer_value(vy));
	else
		c = strcmp(json_string_value(vx) ? json_string_value(vx) : "",
			   json_string_value(vy) ? json_string_value(vy) : "");
	if (!c)
		c = strcmp(str_of(x, "id"), str_of(y, "id"));
	return sort_desc ? -c : c;
}

/* sort_key/sort_dir or sort=key[:dir]; false after replying 400. */
static bool
list_sort(struct os_req *q)
{
	static const char keys[] = "|name|created_at|updated_at|size|id|status|disk_format|";
	char key[64] = "created_at", pat[70];
	const char *dir = os_query(q, "sort_dir"), *sort = os_query(q, "sort");
	if (os_query(q, "sort_key"))
		snprintf(key, sizeof key, "%s", os_query(q, "sort_key"));
	if (sort) {
		snprintf(key, sizeof key, "%s", sort);
		char *colon = strchr(key, ':');
		if (colon) {
			*colon = '\0';
			dir = sort + (colon - key) + 1;
		}
	}
	snprintf(pat, sizeof pat, "|%s|", key);
	if (!strstr(keys, pat) || strchr(key, '|')) {
		os_error(q, 400,
			 "sort_key: %.64s is not one of name, created_at, updated_at, "
			 "size, id, status, disk_format",
			 key);
		return false;
	}
	if (dir && strcmp(dir, "asc") != 0 && strcmp(dir, "desc") != 0) {
		os_error(q, 400, "sort_dir: %.16s is not asc or desc", dir);
		return false;
	}
	snprintf(sort_key, sizeof sort_key, "%s", key); /* qsort's comparator reads it */
	sort_desc = !dir || strcmp(dir, "desc") == 0;
	return true;
}

static bool
list_match(const struct os_req *q, const json_t *img)
{
	static const char *const exact[] = {"name",        "status",           "owner",
					    "disk_format", "container_format", NULL};
	if (!visible(q, img))
		return false;
	for (size_t i = 0; exact[i]; i++) {
		const char *want = os_query(q, exact[i]);
		if (want && strcmp(str_of(img, exact[i]), want) != 0)
			return false;
	}
	const char *vis = os_query(q, "visibility"), *has = str_of(img, "visibility");
	if (vis && strcmp(vis, "all") != 0)
		return strcmp(has, vis) == 0;
	/* Glance leaves community images out unless asked for */
	return vis || strcmp(has, "community") != 0 ||
	       strcmp(str_of(img, "owner"), project_of(q)) == 0;
}

static void
url_encode(char *buf, size_t size, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s && *len + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c)) {
			buf[(*len)++] = (char)c;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[c >> 4];
			buf[(*len)++] = hex[c & 15];
		}
	}
	buf[*len] = '\0';
}

/* The next page: the request's own filters and sort, after marker. */
static json_t *
next_link(const struct os_req *q, const char *marker)
{
	char buf[2048] = "/v2/images?marker=";
	size_t len = strlen(buf);
	const char *k;
	json_t *v;
	url_encode(buf, sizeof buf, &len, marker);
	json_object_foreach (q->query, k, v) {
		if (strcmp(k, "marker") == 0 || len + 2 >= sizeof buf)
			continue;
		buf[len++] = '&';
		url_encode(buf, sizeof buf, &len, k);
		if (json_is_string(v) && len + 2 < sizeof buf) {
			buf[len++] = '=';
			url_encode(buf, sizeof buf, &len, json_string_value(v));
		}
	}
	return json_string(buf);
}

static void
list_images(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *all = NULL;
	const char *marker = os_query(q, "marker"), *lim = os_query(q, "limit");
	char *end = NULL;
	long limit = lim ? strtol(lim, &end, 10) : LIST_LIMIT;
	if (lim && (!*lim || *end || limit < 0))
		return os_error(q, 400, "limit: %.32s is not a non-negative integer", lim);
	if (limit > LIST_MAX)
		limit = LIST_MAX;
	if (!list_sort(q))
		return;
	int r = svc_image_list(f->svc, &all, &err);
	if (r < 0)
		return os_svc_error(q, r, &err);
	size_t n = 0, total = json_array_size(all);
	json_t **v = calloc(total + 1, sizeof *v);
	for (size_t i = 0; v && i < total; i++)
		if (list_match(q, json_array_get(all, i)))
			v[n++] = json_array_get(all, i);
	if (!v) {
		json_decref(all);
		return os_error(q, 503, "out of memory");
	}
	qsort(v, n, sizeof *v, cmp_images);
	size_t from = 0;
	if (marker) {
		while (from < n && strcmp(str_of(v[from], "id"), marker) != 0)
			from++;
		if (from == n) {
			free(v);
			json_decref(all);
			return os_error(q, 400, "marker: no image %.64s", marker);
		}
		from++;
	}
	json_t *out = json_array();
	size_t i;
	for (i = from; i < n && json_array_size(out) < (size_t)limit; i++)
		json_array_append_new(out, image_json(v[i]));
	json_t *body = json_pack("{s:o, s:s, s:s}", "images", out, "schema", "/v2/schemas/images",
				 "first", "/v2/images");
	if (i < n && i > from)
		json_object_set_new(body, "next", next_link(q, str_of(v[i - 1], "id")));
	free(v);
	json_decref(all);
	os_reply(q, 200, body);
}

/* ---- create and patch ---------------------------------------------------------------- */

static const char *const core_fields[] = {"name",    "visibility", "min_disk",
					  "min_ram", "protected",  NULL};

static bool
is_core(const char *key)
{
	for (size_t i = 0; core_fields[i]; i++)
		if (strcmp(core_fields[i], key) == 0)
			return true;
	return false;
}

static bool
read_only(const char *key)
{
	static const char list[] = "|status|size|virtual_size|checksum|os_hash_algo|"
				   "os_hash_value|owner|created_at|updated_at|self|file|schema|"
				   "locations|direct_url|os_hidden|";
	char pat[300];
	snprintf(pat, sizeof pat, "|%s|", key);
	return strstr(list, pat) != NULL && !strchr(key, '|');
}

/* A custom property: a string (what the catalog carries to hosts); false after 400. */
static bool
add_property(struct os_req *q, json_t *args, const char *key, json_t *value)
{
	if (!json_is_string(value)) {
		os_error(q, 400, "Property %.64s: a string is required", key);
		return false;
	}
	json_t *props = json_object_get(args, "properties");
	if (!props)
		json_object_set_new(args, "properties", props = json_object());
	json_object_set(props, key, value);
	return true;
}

static void
create_image(struct os_front *f, struct os_req *q)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body, *v, *img = NULL;
	const char *k;
	if (os_body(q, NULL, &doc, &body) < 0)
		return;
	json_t *args = json_pack("{s:O}", "project", json_object_get(q->auth, "project_id"));
	json_object_foreach (body, k, v) {
		if (read_only(k)) {
			os_error(q, 403, "Attribute '%.64s' is read-only.", k);
			goto out;
		}
		if (strcmp(k, "tags") == 0 && json_array_size(v) == 0)
			continue;
		if (is_core(k) || strcmp(k, "disk_format") == 0 ||
		    strcmp(k, "container_format") == 0 || strcmp(k, "id") == 0)
			json_object_set(args, k, v);
		else if (!add_property(q, args, k, v))
			goto out;
	}
	int r = svc_image_create(f->svc, args, f->now, &img, &err);
	if (r < 0)
		os_svc_error(q, r, &err);
	else
		os_reply(q, 201, image_json(img));
out:
	json_decref(img);
	json_decref(args);
	json_decref(doc);
}

/* One JSON-patch operation into args (properties_remove lists the removed ones); false
 * after replying. */
static bool
patch_op(struct os_req *q, json_t *args, json_t *op)
{
	const char *kind = json_string_value(json_object_get(op, "op"));
	const char *path = json_string_value(json_object_get(op, "path"));
	json_t *value = json_object_get(op, "value");
	if (!kind || !path || *path != '/' || !path[1] || strchr(path + 1, '/')) {
		os_error(q, 400,
			 "Invalid JSON pointer for this resource: an operation needs op "
			 "and a path /FIELD");
		return false;
	}
	const char *key = path + 1;
	bool remove = strcmp(kind, "remove") == 0;
	if (!remove && strcmp(kind, "add") != 0 && strcmp(kind, "replace") != 0) {
		os_error(q, 400, "Operation %.16s is not supported: add, replace or remove", kind);
		return false;
	}
	if (read_only(key) || strcmp(key, "disk_format") == 0 ||
	    strcmp(key, "container_format") == 0 || strcmp(key, "id") == 0 ||
	    (remove && is_core(key))) {
		os_error(q, 403, "Attribute '%.64s' is read-only.", key);
		return false;
	}
	if (!remove && !value) {
		os_error(q, 400, "Operation %.16s of %.64s needs a value", kind, key);
		return false;
	}
	if (is_core(key)) {
		json_object_set(args, key, value);
		return true;
	}
	if (!remove)
		return add_property(q, args, key, value);
	json_t *gone = json_object_get(args, "properties_remove");
	if (!gone)
		json_object_set_new(args, "properties_remove", gone = json_array());
	json_array_append_new(gone, json_string(key));
	return true;
}

static void
patch_image(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *img = NULL, *done = NULL, *op;
	size_t i;
	if (hj_parse(q->body ? q->body : "", q->len, "body", false, &doc, &err) < 0 ||
	    !json_is_array(doc)) {
		json_decref(doc);
		return os_error(q, 400, "Malformed request body: a JSON-patch list is required");
	}
	if (image_mine(f, q, id, &img) < 0) {
		json_decref(doc);
		return;
	}
	json_t *args = json_pack("{s:s}", "image", id);
	json_array_foreach (doc, i, op)
		if (!json_is_object(op) || !patch_op(q, args, op)) {
			if (!json_is_object(op))
				os_error(q, 400,
					 "Malformed request body: operation %zu is not "
					 "an object",
					 i);
			goto out;
		}
	int r = svc_image_set(f->svc, args, f->now, &done, &err);
	if (r < 0)
		os_svc_error(q, r, &err);
	else
		os_reply(q, 200, image_json(done));
out:
	json_decref(done);
	json_decref(args);
	json_decref(img);
	json_decref(doc);
}

static void
delete_image(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *img = NULL;
	if (image_mine(f, q, id, &img) < 0)
		return;
	json_decref(img);
	int r = svc_image_delete(f->svc, id, &err);
	if (r == -EPERM) /* Glance refuses a protected image's deletion as forbidden */
		return os_error(q, 403, "%s", err.message);
	if (r < 0)
		return os_svc_error(q, r, &err);
	os_reply(q, 204, NULL);
}

/* ---- data ---------------------------------------------------------------------------- */

bool
os_image_upload(const char *method, const char *path)
{
	size_t n = strlen(path);
	return strcmp(method, "PUT") == 0 && strncmp(path, "/image/v2/images/", 17) == 0 &&
	       n > 22 && strcmp(path + n - 5, "/file") == 0 && !memchr(path + 17, '/', n - 22);
}

/* Stores the chunk held (if any) at the offset received so far. */
static int
store_chunk(struct os_front *f, struct os_req *q, const char *id, struct hv_error *err)
{
	if (!q->len)
		return 0;
	if (q->received + (int64_t)q->len > f->max_image)
		return hv_error_set(err, -EFBIG, "body",
				    "Image exceeds the storage quota: at most %lld bytes",
				    (long long)f->max_image);
	char *text = hv_base64_encode((unsigned char *)q->body, q->len);
	json_t *args = json_pack("{s:s, s:I, s:s}", "image", id, "offset", (json_int_t)q->received,
				 "data", text ? text : "");
	json_t *ret = NULL;
	int r = text && args ? svc_image_upload(f->svc, args, f->now, &ret, err)
			     : hv_error_set(err, -ENOMEM, "", "out of memory");
	if (r == 0) {
		crypto_hash_sha256_update(q->hash, (unsigned char *)q->body, q->len);
		q->received += (int64_t)q->len;
		q->len = 0;
	}
	json_decref(ret);
	json_decref(args);
	free(text);
	return r;
}

static int
finish_upload(struct os_front *f, struct os_req *q, const char *id, struct hv_error *err)
{
	unsigned char sum[crypto_hash_sha256_BYTES];
	char hex[2 * sizeof sum + 1];
	crypto_hash_sha256_final(q->hash, sum);
	sodium_bin2hex(hex, sizeof hex, sum, sizeof sum);
	json_t *args = json_pack("{s:s, s:s}", "image", id, "sha256", hex), *ret = NULL;
	int r = svc_image_finish(f->svc, args, f->now, &ret, err);
	json_decref(ret);
	json_decref(args);
	return r;
}

static void
put_data(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *img = NULL;
	int r;
	if (q->failed) /* answered when it failed; the rest was dropped */
		return;
	if (!q->hash) { /* the first chunk: may this caller upload? */
		if (image_mine(f, q, id, &img) < 0)
			goto fail;
		if (strcmp(str_of(img, "status"), "queued") != 0) {
			os_error(q, 409, "Image status transition from %s to saving is not allowed",
				 str_of(img, "status"));
			goto fail;
		}
		if (!(q->hash = malloc(sizeof(crypto_hash_sha256_state)))) {
			os_error(q, 503, "out of memory");
			goto fail;
		}
		crypto_hash_sha256_init(q->hash);
	}
	if ((r = store_chunk(f, q, id, &err)) < 0 ||
	    (q->final && (r = finish_upload(f, q, id, &err)) < 0)) {
		if (r == -EFBIG)
			os_error(q, 413, "%s", err.message);
		else
			os_svc_error(q, r, &err);
		svc_image_abort(f->svc, id, f->now);
		goto fail;
	}
	if (q->final)
		os_reply(q, 204, NULL);
	return;
fail:
	json_decref(img);
	q->failed = true;
	q->len = 0;
}

void
os_image_left(struct os_front *f, const struct os_req *q)
{
	/* begun, neither ended nor answered (a failure queued the image again already) */
	if (!q->upload || !q->hash || q->final || q->failed)
		return;
	const char *id = q->path + strlen("/image/v2/images/");
	size_t n = strlen(id) - strlen("/file");
	if (n >= sizeof *f->left || HV_GROW(f->left, f->cap_left, f->n_left + 1) < 0)
		return;
	memcpy(f->left[f->n_left], id, n);
	f->left[f->n_left++][n] = '\0';
}

void
os_image_reap(struct os_front *f)
{
	for (size_t i = 0; i < f->n_left; i++)
		svc_image_abort(f->svc, f->left[i], f->now);
	f->n_left = 0;
}

static void
get_data(struct os_front *f, struct os_req *q, const char *id)
{
	json_t *img = NULL;
	if (image_get(f, q, id, &img) < 0)
		return;
	if (strcmp(str_of(img, "status"), "active") != 0) {
		json_decref(img);
		return os_reply(q, 204, NULL); /* Glance: no data yet */
	}
	snprintf(q->file_id, sizeof q->file_id, "%s", id);
	q->file_size = json_integer_value(json_object_get(img, "size"));
	os_header(q, "Content-Type", "application/octet-stream");
	os_header(q, "Content-MD5", str_of(img, "checksum"));
	json_decref(img);
	os_reply(q, 200, NULL);
}

ssize_t
os_image_read(struct os_req *q, char *buf, size_t len)
{
	struct hv_error err = {0};
	json_t *args = json_pack("{s:s, s:I}", "image", q->file_id, "offset",
				 (json_int_t)q->file_offset),
	       *ret = NULL;
	unsigned char *bin = NULL;
	size_t n = 0;
	ssize_t got = -1;
	if (args && svc_image_download(q->front->svc, args, &ret, &err) == 0) {
		const char *data = str_of(ret, "data");
		if (hv_base64_decode(data, strlen(data), &bin, &n) == 0) {
			got = (ssize_t)(n < len ? n : len);
			memcpy(buf, bin, (size_t)got);
		}
	}
	free(bin);
	json_decref(ret);
	json_decref(args);
	return got;
}

/* ---- schemas and routing ------------------------------------------------------------- */

static json_t *
image_schema(void)
{
	return json_pack(
		"{s:s, s:{s:{s:s}, s:{s:[s,s]}, s:{s:s, s:[s,s,s,s]}, s:{s:s, s:[s,s]}, "
		"s:{s:s, s:[s]}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:s}, "
		"s:{s:s}, s:{s:s}, s:{s:s}, s:{s:[s,s]}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, "
		"s:{s:s}}, s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
		"name", "image", "properties", "id", "type", "string", "name", "type", "null",
		"string", "status", "type", "string", "enum", "queued", "saving", "active",
		"deleted", "visibility", "type", "string", "enum", "public", "private",
		"disk_format", "type", "string", "enum", "raw", "container_format", "type",
		"string", "protected", "type", "boolean", "min_disk", "type", "integer", "min_ram",
		"type", "integer", "size", "type", "null", "integer", "checksum", "type", "null",
		"string", "owner", "type", "string", "created_at", "type", "string", "updated_at",
		"type", "string", "os_hash_algo", "type", "string", "os_hash_value", "type", "null",
		"string", "self", "type", "string", "file", "type", "string", "schema", "type",
		"string", "tags", "type", "array", "os_hidden", "type", "boolean",
		"additionalProperties", "type", "string", "links", "rel", "self", "href", "{self}",
		"rel", "enclosure", "href", "{file}", "rel", "describedby", "href", "{schema}");
}

static void
schema(struct os_req *q, const char *which)
{
	json_t *img = image_schema();
	if (strcmp(which, "image") == 0)
		return os_reply(q, 200, img);
	if (strcmp(which, "images") == 0)
		return os_reply(q, 200,
				json_pack("{s:s, s:{s:{s:s, s:o}, s:{s:s}, s:{s:s}, s:{s:s}}, "
					  "s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
					  "name", "images", "properties", "images", "type", "array",
					  "items", img, "schema", "type", "string", "first", "type",
					  "string", "next", "type", "string", "links", "rel",
					  "first", "href", "{first}", "rel", "next", "href",
					  "{next}", "rel", "describedby", "href", "{schema}"));
	json_decref(img);
	/* Horizon's metadata forms read the metadefs schemas; no namespaces are defined here */
	if (strncmp(which, "metadefs/", 9) == 0 && strlen(which) < 64)
		return os_reply(q, 200,
				json_pack("{s:s, s:{}, s:b}", "name", which + 9, "properties",
					  "additionalProperties", 1));
	os_error(q, 404, "No schema %.64s", which);
}

static void
versions(struct os_front *f, struct os_req *q)
{
	char href[300];
	snprintf(href, sizeof href, "%s/image/v2/", f->public_url);
	os_reply(q, 300,
		 json_pack("{s:[{s:s, s:s, s:[{s:s, s:s}]}, {s:s, s:s, s:[{s:s, s:s}]}]}",
			   "versions", "id", "v2.9", "status", "CURRENT", "links", "rel", "self",
			   "href", href, "id", "v2.0", "status", "SUPPORTED", "links", "rel",
			   "self", "href", href));
}

static void
one_image(struct os_front *f, struct os_req *q, const char *id, const char *sub)
{
	json_t *img = NULL;
	bool get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
	if (strlen(id) > 64)
		return os_error(q, 404, "No image found with ID %.64s", id);
	if (strcmp(sub, "/file") == 0) {
		if (strcmp(q->method, "PUT") == 0)
			return put_data(f, q, id);
		return get ? get_data(f, q, id) : os_error(q, 405, "Use GET or PUT.");
	}
	if (*sub)
		return os_error(q, 404, "The resource could not be found.");
	if (get) {
		if (image_get(f, q, id, &img) == 0)
			os_reply(q, 200, image_json(img));
		json_decref(img);
		return;
	}
	if (strcmp(q->method, "PATCH") == 0)
		return patch_image(f, q, id);
	if (strcmp(q->method, "DELETE") == 0)
		return delete_image(f, q, id);
	os_error(q, 405, "Use GET, PATCH or DELETE.");
}

void
os_image_route(struct os_front *f, struct os_req *q, const char *rest)
{
	if (!*rest || strcmp(rest, "/") == 0 || strcmp(rest, "/versions") == 0)
		return versions(f, q);
	if (!q->auth && !os_authenticate(f, q)) {
		q->failed = true; /* an upload's data is dropped */
		return;
	}
	if (strncmp(rest, "/v2/schemas/", 12) == 0)
		return schema(q, rest + 12);
	if (strcmp(rest, "/v2/metadefs/namespaces") == 0 && strcmp(q->method, "GET") == 0)
		return os_reply(q, 200,
				json_pack("{s:[], s:s, s:s}", "namespaces", "first",
					  "/v2/metadefs/namespaces", "schema",
					  "/v2/schemas/metadefs/namespaces"));
	if (strcmp(rest, "/v2/images") == 0) {
		if (strcmp(q->method, "POST") == 0)
			return create_image(f, q);
		return strcmp(q->method, "GET") == 0 ? list_images(f, q)
						     : os_error(q, 405, "Use GET or POST.");
	}
	if (strncmp(rest, "/v2/images/", 11) == 0) {
		char id[72];
		const char *slash = strchr(rest + 11, '/');
		size_t n = slash ? (size_t)(slash - rest - 11) : strlen(rest + 11);
		if (!n || n >= sizeof id)
			return os_error(q, 404, "No image found with ID %.64s", rest + 11);
		memcpy(id, rest + 11, n);
		id[n] = '\0';
		return one_image(f, q, id, slash ? slash : "");
	}
	os_error(q, 404, "The resource could not be found.");
}
