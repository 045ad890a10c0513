/* image.c - the rules of the image catalog: Glance's fields and states (queued -> saving
 * -> active; a disk format is what the uploader says, never probed), uploads in chunks at
 * the offset received so far, an image active only once the SHA-256 hvcentral computes
 * equals the uploader's, protection, and which image a new server of a project resolves
 * to. The data itself is imgdata's. Must never hold an image in memory, encode a reply,
 * touch a socket or log. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "imgdata.h"
#include "json.h"

void
svc_set_images(struct svc *sv, struct imgdata *d)
{
	sv->images = d;
}

static int
no_images(struct hv_error *err)
{
	return hv_error_set(err, -EOPNOTSUPP, "images.dir",
			    "images.dir: hvcentral keeps no images");
}

/* The image by id, else the one image of that name; -ENOENT or an ambiguous name naming
 * field. */
static int
image_find(struct svc *sv, const char *ref, const char *field, json_t **ret, struct hv_error *err)
{
	json_t *list = NULL;
	int r = store_image_get(sv->store, ref, ret, err);
	if (r != -ENOENT)
		return r;
	if ((r = store_image_by_name(sv->store, ref, &list, err)) < 0)
		return r;
	size_t n = json_array_size(list);
	if (n == 1)
		*ret = json_incref(json_array_get(list, 0));
	json_decref(list);
	if (n == 0)
		return hv_error_set(err, -ENOENT, field, "%s: no image '%s'", field, ref);
	if (n > 1)
		return hv_error_set(err, -EINVAL, field,
				    "%s: %zu images are named '%s': give the id", field, n, ref);
	return 0;
}

/* The image at args.image (by id or name). */
static int
image_arg(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	const char *ref;
	int r = hj_str(args, "args", "image", HJ_REQUIRED, 255, &ref, err);
	return r < 0 ? r : image_find(sv, ref, "args.image", ret, err);
}

/* properties: at most 128 of string -> string, as the protocol carries them to a host. */
static int
props_check(json_t *args, struct hv_error *err)
{
	struct hv_kv *kv = NULL;
	size_t n = 0;
	int r = hj_str_map(args, "args", "properties", HJ_OPTIONAL, 128, 255, 255, &kv, &n, err);
	free(kv);
	return r;
}

/* The fields create and set share: name, visibility, min_disk, min_ram, protected. */
static int
apply_fields(json_t *args, json_t *img, struct hv_error *err)
{
	const char *name = NULL, *vis = NULL;
	int64_t min_disk = -1, min_ram = -1;
	bool prot = false;
	int r, has_prot;
	if ((r = hj_str(args, "args", "name", HJ_OPTIONAL, 255, &name, err)) < 0 ||
	    (r = hj_enum(args, "args", "visibility", HJ_OPTIONAL, "public|private|shared|community",
			 &vis, err)) < 0 ||
	    (r = hj_int(args, "args", "min_disk", HJ_OPTIONAL, 0, 65536, &min_disk, err)) < 0 ||
	    (r = hj_int(args, "args", "min_ram", HJ_OPTIONAL, 0, 16777216, &min_ram, err)) < 0 ||
	    (has_prot = hj_bool(args, "args", "protected", HJ_OPTIONAL, &prot, err)) < 0 ||
	    (r = props_check(args, err)) < 0)
		return r < 0 ? r : has_prot;
	if (name && !*name)
		return hv_error_set(err, -EINVAL, "args.name", "args.name: must not be empty");
	if (name)
		json_object_set_new(img, "name", json_string(name));
	if (vis)
		json_object_set_new(img, "visibility", json_string(vis));
	if (min_disk >= 0)
		json_object_set_new(img, "min_disk", json_integer(min_disk));
	if (min_ram >= 0)
		json_object_set_new(img, "min_ram", json_integer(min_ram));
	if (has_prot)
		json_object_set_new(img, "protected", json_boolean(prot));
	json_t *props = json_object_get(args, "properties");
	if (props)
		json_object_update(json_object_get(img, "properties"), props);
	return 0;
}

static const char *const create_args[] = {
	"name",      "disk_format", "container_format", "visibility", "min_disk", "min_ram",
	"protected", "properties",  "project",          "id",         NULL,
};

int
svc_image_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	const char *format, *container = "bare", *id = NULL, *name;
	char uuid[37], project[33];
	json_t *p = NULL, *img = NULL;
	int r;
	if (!sv->images)
		return no_images(err);
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "name", HJ_REQUIRED, 255, &name, err)) < 0 ||
	    (r = hj_enum(args, "args", "disk_format", HJ_REQUIRED, "raw|qcow2", &format, err)) <
		    0 ||
	    (r = hj_enum(args, "args", "container_format", HJ_OPTIONAL, "bare", &container, err)) <
		    0 ||
	    (r = hj_uuid(args, "args", "id", HJ_OPTIONAL, &id, err)) < 0)
		return r;
	const char *pname = NULL;
	if ((r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &pname, err)) < 0 ||
	    (r = svc_project_find(sv, pname, "args.project", &p, err)) < 0)
		return r;
	snprintf(project, sizeof project, "%s", field_or(p, "id", ""));
	json_decref(p);
	if (!id) {
		proto_uuid4(uuid);
		id = uuid;
	}
	img = json_pack("{s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:s, s:s, s:s, s:i, s:i, s:b,"
			" s:{}}",
			"id", id, "name", name, "disk_format", format, "container_format",
			container, "size", "checksum", "os_hash_algo", "os_hash_value", "status",
			"queued", "visibility", "shared", "owner", project, "min_disk", 0,
			"min_ram", 0, "protected", 0, "properties");
	if (!img)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	if ((r = apply_fields(args, img, err)) < 0 ||
	    (r = store_image_insert(sv->store, img, now, err)) < 0) {
		json_decref(img);
		return r;
	}
	json_decref(img);
	return svc_image_show(sv, id, ret, err);
}

int
svc_image_list(struct svc *sv, json_t **ret, struct hv_error *err)
{
	return store_image_list(sv->store, ret, err);
}

int
svc_image_show(struct svc *sv, const char *image, json_t **ret, struct hv_error *err)
{
	json_t *img = NULL;
	int r = image_find(sv, image, "args.image", &img, err);
	if (r < 0)
		return r;
	const char *status = field_or(img, "status", "");
	if (sv->images && (strcmp(status, "queued") == 0 || strcmp(status, "saving") == 0))
		json_object_set_new(
			img, "uploaded",
			json_integer(imgdata_received(sv->images, field_or(img, "id", ""))));
	*ret = img;
	return 0;
}

static bool
uploading(json_t *img)
{
	const char *st = field_or(img, "status", "");
	return strcmp(st, "queued") == 0 || strcmp(st, "saving") == 0;
}

static int
not_uploading(json_t *img, struct hv_error *err)
{
	return hv_error_set(err, -EEXIST, "args.image",
			    "args.image: image %s is %s: its data was already uploaded",
			    field_or(img, "id", ""), field_or(img, "status", ""));
}

int
svc_image_upload(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"image", "offset", "data", NULL};
	const char *data;
	int64_t offset;
	json_t *img = NULL;
	unsigned char *bin = NULL;
	size_t n = 0;
	int r;
	if (!sv->images)
		return no_images(err);
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_int(args, "args", "offset", HJ_REQUIRED, 0, INT64_MAX, &offset, err)) < 0 ||
	    (r = hj_str(args, "args", "data", HJ_REQUIRED, (PROTO_IMAGE_CHUNK / 3 + 1) * 4, &data,
			err)) < 0 ||
	    (r = image_arg(sv, args, &img, err)) < 0)
		return r;
	if (!uploading(img)) {
		r = not_uploading(img, err);
		goto out;
	}
	if ((r = hv_base64_decode(data, strlen(data), &bin, &n)) < 0) {
		r = hv_error_set(err, -EINVAL, "args.data", "args.data: not base64");
		goto out;
	}
	if (n == 0 || n > PROTO_IMAGE_CHUNK) {
		r = hv_error_set(err, -EINVAL, "args.data", "args.data: 1 to %d bytes per chunk",
				 PROTO_IMAGE_CHUNK);
		goto out;
	}
	const char *id = field_or(img, "id", "");
	if ((r = imgdata_append(sv->images, id, offset, bin, n, err)) < 0)
		goto out;
	if (strcmp(field_or(img, "status", ""), "saving") != 0) {
		json_object_set_new(img, "status", json_string("saving"));
		if ((r = store_image_update(sv->store, img, now, err)) < 0)
			goto out;
	}
	*ret = json_pack("{s:s, s:I}", "id", id, "uploaded", (json_int_t)(offset + (int64_t)n));
out:
	free(bin);
	json_decref(img);
	return r;
}

static bool
sha256_text_ok(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int
svc_image_finish(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"image", "sha256", NULL};
	const char *want;
	char got[65], md5[33];
	int64_t size = 0;
	json_t *img = NULL;
	int r;
	if (!sv->images)
		return no_images(err);
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "sha256", HJ_REQUIRED, 64, &want, err)) < 0)
		return r;
	if (!sha256_text_ok(want))
		return hv_error_set(err, -EINVAL, "args.sha256",
				    "args.sha256: expected 64 lower-case hex digits");
	if ((r = image_arg(sv, args, &img, err)) < 0)
		return r;
	const char *id = field_or(img, "id", "");
	if (!uploading(img)) {
		r = not_uploading(img, err);
		goto out;
	}
	if ((r = imgdata_hash(sv->images, id, got, md5, &size, err)) < 0)
		goto out;
	if (strcmp(got, want) != 0) {
		/* never active, never half kept: the upload starts again from offset 0 */
		imgdata_discard(sv->images, id);
		json_object_set_new(img, "status", json_string("queued"));
		store_image_update(sv->store, img, now, NULL);
		r = hv_error_set(err, -EINVAL, "args.sha256",
				 "args.sha256: the %lld bytes received hash to %s, not %s; the "
				 "upload was discarded, send it again",
				 (long long)size, got, want);
		goto out;
	}
	json_object_set_new(img, "status", json_string("active"));
	json_object_set_new(img, "size", json_integer(size));
	json_object_set_new(img, "checksum", json_string(md5));
	json_object_set_new(img, "os_hash_algo", json_string("sha256"));
	json_object_set_new(img, "os_hash_value", json_string(got));
	if ((r = store_image_update(sv->store, img, now, err)) < 0 ||
	    (r = imgdata_commit(sv->images, id, err)) < 0)
		goto out;
	r = svc_image_show(sv, id, ret, err);
out:
	json_decref(img);
	return r;
}

/* properties_remove: names of properties the image must no longer have (each present). */
static int
props_remove(json_t *args, json_t *props, struct hv_error *err)
{
	json_t *gone = json_object_get(args, "properties_remove"), *v;
	size_t i;
	if (gone && !json_is_array(gone))
		return hv_error_set(err, -EINVAL, "args.properties_remove",
				    "args.properties_remove: a list of names is required");
	json_array_foreach (gone, i, v) {
		const char *k = json_string_value(v);
		if (!k || !json_object_get(props, k))
			return hv_error_set(err, -ENOENT, "args.properties_remove",
					    "args.properties_remove[%zu]: the image has no "
					    "property '%.64s'",
					    i, k ? k : "");
	}
	json_array_foreach (gone, i, v)
		json_object_del(props, json_string_value(v));
	return 0;
}

int
svc_image_set(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {
		"image",     "name",       "visibility",        "min_disk", "min_ram",
		"protected", "properties", "properties_remove", NULL};
	json_t *img = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = image_arg(sv, args, &img, err)) < 0)
		return r;
	if ((r = apply_fields(args, img, err)) == 0 &&
	    (r = props_remove(args, json_object_get(img, "properties"), err)) == 0 &&
	    (r = store_image_update(sv->store, img, now, err)) == 0)
		r = svc_image_show(sv, field_or(img, "id", ""), ret, err);
	json_decref(img);
	return r;
}

void
svc_image_abort(struct svc *sv, const char *image, int64_t now)
{
	json_t *img = NULL;
	if (!sv->images || image_find(sv, image, "args.image", &img, NULL) < 0)
		return;
	if (uploading(img)) {
		imgdata_discard(sv->images, field_or(img, "id", ""));
		json_object_set_new(img, "status", json_string("queued"));
		store_image_update(sv->store, img, now, NULL);
	}
	json_decref(img);
}

int
svc_image_delete(struct svc *sv, const char *image, struct hv_error *err)
{
	json_t *img = NULL;
	int r = image_find(sv, image, "args.image", &img, err);
	if (r < 0)
		return r;
	if (json_is_true(json_object_get(img, "protected")))
		r = hv_error_set(err, -EPERM, "args.image",
				 "args.image: image %s is protected: unset protected first",
				 field_or(img, "id", ""));
	else if ((r = store_image_delete(sv->store, field_or(img, "id", ""), err)) == 0 &&
		 sv->images)
		imgdata_remove(sv->images, field_or(img, "id", ""));
	json_decref(img);
	return r;
}

int
svc_image_for(struct svc *sv, const char *ref, const char *project, json_t **ret,
	      struct hv_error *err)
{
	json_t *img = NULL;
	int r = image_find(sv, ref, "args.image", &img, err);
	if (r == -ENOENT) {
		hv_error_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	const char *vis = field_or(img, "visibility", "");
	if (strcmp(vis, "public") != 0 && strcmp(vis, "community") != 0 &&
	    strcmp(field_or(img, "owner", ""), project) != 0) {
		/* hidden from the project, as Glance hides it: the ref is left to the host's
		 * own store, as before the catalog */
		r = 0;
		goto out;
	}
	if (strcmp(field_or(img, "status", ""), "active") != 0) {
		r = hv_error_set(err, -EINVAL, "args.image",
				 "args.image: image %s is %s, not active: finish its upload first",
				 field_or(img, "id", ""), field_or(img, "status", ""));
		goto out;
	}
	*ret = json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:O}", "id", field_or(img, "id", ""),
			 "format", field_or(img, "disk_format", ""), "properties",
			 json_object_get(img, "properties"), "size", json_object_get(img, "size"),
			 "sha256", field_or(img, "os_hash_value", ""), "min_disk",
			 json_object_get(img, "min_disk"), "min_ram",
			 json_object_get(img, "min_ram"));
	r = *ret ? 1 : hv_error_set(err, -ENOMEM, "", "out of memory");
out:
	json_decref(img);
	return r;
}

int
svc_image_snapshot(struct svc *sv, json_t *inst, json_t *snap, int64_t now, struct hv_error *err)
{
	if (!sv->images)
		return 0;
	json_t *img = json_pack(
		"{s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:s, s:s, s:s, s:i, s:i, s:b,"
		" s:{s:s, s:s, s:s, s:s}}",
		"id", field_or(snap, "id", ""), "name", field_or(snap, "name", ""), "disk_format",
		field_or(snap, "format", "qcow2"), "container_format", "bare", "size", "checksum",
		"os_hash_algo", "os_hash_value", "status", "queued", "visibility", "private",
		"owner", field_or(inst, "project_id", ""), "min_disk", 0, "min_ram", 0, "protected",
		0, "properties", "image_type", "snapshot", "instance_uuid",
		field_or(inst, "uuid", ""), "base_image_ref", field_or(inst, "image", ""),
		"image_location", "snapshot");
	if (!img)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	int r = store_image_insert(sv->store, img, now, err);
	json_decref(img);
	return r;
}

int
svc_image_download(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"image", "offset", NULL};
	int64_t offset;
	json_t *img = NULL;
	unsigned char *buf = NULL;
	char *text = NULL;
	size_t n = 0;
	int r;
	if (!sv->images)
		return no_images(err);
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_int(args, "args", "offset", HJ_REQUIRED, 0, INT64_MAX, &offset, err)) < 0 ||
	    (r = image_arg(sv, args, &img, err)) < 0)
		return r;
	const char *id = field_or(img, "id", "");
	if (strcmp(field_or(img, "status", ""), "active") != 0) {
		r = hv_error_set(err, -EINVAL, "args.image",
				 "args.image: image %s is %s, not active", id,
				 field_or(img, "status", ""));
		goto out;
	}
	if (!(buf = malloc(PROTO_IMAGE_CHUNK))) {
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
		goto out;
	}
	if ((r = imgdata_read(sv->images, id, offset, buf, PROTO_IMAGE_CHUNK, &n, err)) < 0)
		goto out;
	if (!(text = hv_base64_encode(buf, n))) {
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
		goto out;
	}
	*ret = json_pack("{s:s, s:I, s:s, s:b, s:O, s:O}", "id", id, "offset", (json_int_t)offset,
			 "data", text, "eof", n < PROTO_IMAGE_CHUNK, "size",
			 json_object_get(img, "size"), "sha256",
			 json_object_get(img, "os_hash_value"));
out:
	free(text);
	free(buf);
	json_decref(img);
	return r;
}
