/* imgstore.c - image id -> data file + JSON sidecar. Never logs, never runs a program. */
#include "imgstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "json.h"

#define PROP_MAX 128
#define PROP_KEY_MAX 255
#define PROP_VALUE_MAX 4096

struct imgstore {
	char dir[4000];
};

bool
imgstore_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > IMGSTORE_ID_MAX || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '.' || id[i] == '_' ||
		      id[i] == '-'))
			return false;
	return true;
}

static int
check_id(const char *id, struct hv_error *err)
{
	if (!imgstore_id_valid(id))
		return hv_error_set(
			err, -EINVAL, "image.id",
			"image id must be 1-%d of [A-Za-z0-9._-], not starting with '.'",
			IMGSTORE_ID_MAX);
	return 0;
}

static int
check_format(const char *format, struct hv_error *err)
{
	if (!format || (strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0))
		return hv_error_set(err, -EINVAL, "image.format",
				    "image format must be raw or qcow2");
	return 0;
}

static void
file_of(const struct imgstore *s, const char *id, const char *ext, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.%s", s->dir, id, ext);
}

int
imgstore_open(const char *dir, struct imgstore **ret, struct hv_error *err)
{
	struct imgstore *s;

	if (!dir || dir[0] != '/' || strlen(dir) >= sizeof s->dir)
		return hv_error_set(err, -EINVAL, "image_store",
				    "image_store must be an absolute path");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return hv_error_set(err, -errno, "image_store", "cannot create %s: %s", dir,
				    strerror(errno));
	if (!(s = calloc(1, sizeof *s)))
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	*ret = s;
	return 0;
}

void
imgstore_free(struct imgstore *s)
{
	free(s);
}

int
imgstore_data_path(const struct imgstore *s, const char *id, char *buf, size_t size,
		   struct hv_error *err)
{
	int r = check_id(id, err);

	if (r < 0)
		return r;
	if (strlen(s->dir) + strlen(id) + 6 >= size)
		return hv_error_set(err, -ENAMETOOLONG, "image.id", "image path too long");
	file_of(s, id, "img", buf, size);
	return 0;
}

static int
write_sidecar(struct imgstore *s, const char *id, const char *format, uint64_t size,
	      const struct hvd_kv *props, size_t n_props, struct hv_error *err)
{
	char path[4096 + 16], tmp[4096 + 32];
	json_t *doc, *p;
	char *text;
	int fd, r = 0;
	size_t len;

	if (n_props > PROP_MAX)
		return hv_error_set(err, -EINVAL, "image.properties", "at most %d properties",
				    PROP_MAX);
	p = json_object();
	for (size_t i = 0; i < n_props; i++) {
		if (!props[i].key || !props[i].value || !*props[i].key ||
		    strlen(props[i].key) > PROP_KEY_MAX ||
		    strlen(props[i].value) > PROP_VALUE_MAX) {
			json_decref(p);
			return hv_error_set(err, -EINVAL, "image.properties",
					    "property %zu: key 1-%d bytes, value at most %d bytes",
					    i, PROP_KEY_MAX, PROP_VALUE_MAX);
		}
		json_object_set_new(p, props[i].key, json_string(props[i].value));
	}
	doc = json_pack("{s:s, s:s, s:I, s:o}", "id", id, "format", format, "size",
			(json_int_t)size, "properties", p);
	text = doc ? hj_dump(doc) : NULL;
	json_decref(doc);
	if (!text)
		return hv_error_set(err, -EINVAL, "image.properties",
				    "properties must be valid UTF-8");
	file_of(s, id, "json", path, sizeof path);
	/* per process: an image store may be shared by the hosts (shared storage) */
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	len = strlen(text);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = hv_error_set(err, -(errno ? errno : EIO), "image_store", "cannot write %s: %s",
				 tmp, strerror(errno ? errno : EIO));
	if (fd >= 0)
		close(fd);
	free(text);
	if (r == 0 && rename(tmp, path) < 0)
		r = hv_error_set(err, -errno, "image_store", "cannot rename %s: %s", tmp,
				 strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}

/* The prologue of a new image (commit, add): a valid id and format, an id not taken, and
 * where its data file goes. */
static int
new_image(const struct imgstore *s, const char *id, const char *format, char *data, size_t size,
	  struct hv_error *err)
{
	char side[4096 + 16];
	int r;

	if ((r = check_id(id, err)) < 0 || (r = check_format(format, err)) < 0)
		return r;
	file_of(s, id, "json", side, sizeof side);
	if (access(side, F_OK) == 0)
		return hv_error_set(err, -EEXIST, "image.id", "image %s already exists", id);
	file_of(s, id, "img", data, size);
	return 0;
}

int
imgstore_commit(struct imgstore *s, const char *id, const char *format, const struct hvd_kv *props,
		size_t n_props, struct hv_error *err)
{
	char data[4096 + 16];
	struct stat st;
	int r;

	if ((r = new_image(s, id, format, data, sizeof data, err)) < 0)
		return r;
	if (stat(data, &st) < 0)
		return hv_error_set(err, -ENOENT, "image.id", "image %s has no data file", id);
	return write_sidecar(s, id, format, (uint64_t)st.st_size, props, n_props, err);
}

static int
copy_file(const char *src, const char *dest, struct hv_error *err)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	struct stat st;
	int r = 0;

	if (in < 0)
		return hv_error_set(err, -errno, "path", "cannot open %s: %s", src,
				    strerror(errno));
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return hv_error_set(err, -EINVAL, "path", "%s is not a regular file", src);
	}
	out = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		r = hv_error_set(err, -errno, "image_store", "cannot create %s: %s", dest,
				 strerror(errno));
		close(in);
		return r;
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n <= 0) {
			r = hv_error_set(err, n < 0 ? -errno : -EIO, "image_store",
					 "copy to %s failed: %s", dest,
					 n < 0 ? strerror(errno) : "short copy");
			break;
		}
		left -= n;
	}
	if (r == 0 && fsync(out) < 0)
		r = hv_error_set(err, -errno, "image_store", "fsync %s: %s", dest, strerror(errno));
	close(in);
	close(out);
	if (r < 0)
		unlink(dest);
	return r;
}

int
imgstore_add(struct imgstore *s, const char *id, const char *src, const char *format,
	     const struct hvd_kv *props, size_t n_props, struct hv_error *err)
{
	char data[4096 + 16];
	int r;

	if ((r = new_image(s, id, format, data, sizeof data, err)) < 0)
		return r;
	unlink(data); /* a leftover of an import that died before its sidecar */
	if ((r = copy_file(src, data, err)) < 0)
		return r;
	if ((r = imgstore_commit(s, id, format, props, n_props, err)) < 0)
		unlink(data);
	return r;
}

void
imgstore_image_free(struct imgstore_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->n_properties; i++) {
		free((char *)img->properties[i].key);
		free((char *)img->properties[i].value);
	}
	free(img->properties);
	free(img);
}

int
imgstore_get(const struct imgstore *s, const char *id, struct imgstore_image **ret,
	     struct hv_error *err)
{
	char side[4096 + 16];
	json_t *doc = NULL, *props = NULL;
	json_error_t jerr;
	const char *format, *key;
	json_t *v;
	int64_t size = 0;
	struct imgstore_image *img;
	int r;

	if ((r = check_id(id, err)) < 0)
		return r;
	file_of(s, id, "json", side, sizeof side);
	if (access(side, F_OK) != 0)
		return hv_error_set(err, -ENOENT, "image.id", "no image %s in the store", id);
	if (!(doc = json_load_file(side, JSON_REJECT_DUPLICATES, &jerr)))
		return hv_error_set(err, -EIO, "image.id", "%s: %s (line %d)", side, jerr.text,
				    jerr.line);
	if ((r = hj_enum(doc, "sidecar", "format", HJ_REQUIRED, "raw|qcow2", &format, err)) < 0 ||
	    (r = hj_int(doc, "sidecar", "size", HJ_OPTIONAL, 0, INT64_MAX, &size, err)) < 0 ||
	    (r = hj_obj(doc, "sidecar", "properties", HJ_OPTIONAL, &props, err)) < 0) {
		json_decref(doc);
		return r;
	}
	if (!(img = calloc(1, sizeof *img))) {
		json_decref(doc);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	snprintf(img->id, sizeof img->id, "%s", id);
	file_of(s, id, "img", img->path, sizeof img->path);
	snprintf(img->format, sizeof img->format, "%s", format);
	img->size = (uint64_t)size;
	if (props && json_object_size(props)) {
		img->properties = calloc(json_object_size(props), sizeof *img->properties);
		json_object_foreach (props, key, v) {
			if (!json_is_string(v) || !img->properties)
				continue;
			img->properties[img->n_properties].key = strdup(key);
			img->properties[img->n_properties].value = strdup(json_string_value(v));
			img->n_properties++;
		}
	}
	json_decref(doc);
	*ret = img;
	return 0;
}

void
imgstore_image_hvd(const struct imgstore_image *img, struct hvd_image *ret)
{
	*ret = (struct hvd_image){
		.id = img->id,
		.path = img->path,
		.format = img->format,
		.properties = img->properties,
		.n_properties = img->n_properties,
	};
}

int
imgstore_remove(struct imgstore *s, const char *id, struct hv_error *err)
{
	char data[4096 + 16], side[4096 + 16];
	int r;

	if ((r = check_id(id, err)) < 0)
		return r;
	file_of(s, id, "json", side, sizeof side);
	file_of(s, id, "img", data, sizeof data);
	/* The sidecar goes first: from then on the image does not exist. */
	if (unlink(side) < 0)
		return hv_error_set(err, errno == ENOENT ? -ENOENT : -errno, "image.id",
				    "cannot remove image %s: %s", id, strerror(errno));
	unlink(data);
	return 0;
}

int
imgstore_list(const struct imgstore *s, void (*fn)(void *ctx, const char *id), void *ctx,
	      struct hv_error *err)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;

	if (!d)
		return hv_error_set(err, -errno, "image_store", "cannot list %s: %s", s->dir,
				    strerror(errno));
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char id[IMGSTORE_ID_MAX + 1];

		if (n <= 5 || n - 5 > IMGSTORE_ID_MAX || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		memcpy(id, e->d_name, n - 5);
		id[n - 5] = '\0';
		if (imgstore_id_valid(id))
			fn(ctx, id);
	}
	closedir(d);
	return 0;
}

/* The data file of a stored image, opened for reading. */
static int
open_data(const struct imgstore *s, const char *id, struct hv_error *err)
{
	char side[4096 + 16], data[4096 + 16];
	int r, fd;

	if ((r = check_id(id, err)) < 0)
		return r;
	file_of(s, id, "json", side, sizeof side);
	file_of(s, id, "img", data, sizeof data);
	if (access(side, F_OK) != 0 || (fd = open(data, O_RDONLY | O_CLOEXEC)) < 0)
		return hv_error_set(err, -ENOENT, "image.id", "no image %s in the store", id);
	return fd;
}

int
imgstore_hash(const struct imgstore *s, const char *id, char ret[65], uint64_t *ret_size,
	      struct hv_error *err)
{
	enum {
		BLOCK = 256 * 1024
	};
	unsigned char *buf, digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	uint64_t size = 0;
	ssize_t n;
	int fd = open_data(s, id, err);

	if (fd < 0)
		return fd;
	if (!(buf = malloc(BLOCK))) {
		close(fd);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	crypto_hash_sha256_init(&st);
	while ((n = read(fd, buf, BLOCK)) > 0) {
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		size += (uint64_t)n;
	}
	free(buf);
	close(fd);
	if (n < 0)
		return hv_error_set(err, -EIO, "image.id", "cannot read image %s", id);
	crypto_hash_sha256_final(&st, digest);
	for (size_t i = 0; i < sizeof digest; i++)
		snprintf(ret + 2 * i, 3, "%02x", digest[i]);
	*ret_size = size;
	return 0;
}

int
imgstore_read(const struct imgstore *s, const char *id, uint64_t offset, void *buf, size_t len,
	      size_t *ret_n, struct hv_error *err)
{
	size_t got = 0;
	int fd = open_data(s, id, err);

	if (fd < 0)
		return fd;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(offset + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*ret_n = got;
	return 0;
}
