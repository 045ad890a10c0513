/* imgstore.h - the image store: a directory holding one data file per image id plus a small
 * JSON sidecar recording its format and properties (a format is recorded, never probed).
 *
 *   <dir>/<id>.img   the image data
 *   <dir>/<id>.json  {"id", "format", "size", "properties": {...}}; written last, atomically,
 *                    so an image exists exactly when its sidecar does.
 *
 * Ids are [A-Za-z0-9._-]{1,64} not starting with '.': an id can only ever name a file inside
 * the store. Never logs; never runs a program. */
#ifndef HV_IMGSTORE_H
#define HV_IMGSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvagent/driver.h>
#include <hvagent/error.h>

#define IMGSTORE_ID_MAX 64

struct imgstore;

struct imgstore_image {
	char id[IMGSTORE_ID_MAX + 1];
	char path[4096];
	char format[8];            /* "raw" or "qcow2" */
	uint64_t size;             /* bytes of the data file */
	struct hvd_kv *properties; /* owned by the image, n_properties entries */
	size_t n_properties;
};

bool imgstore_id_valid(const char *id);

/* Opens (creating when missing) the store directory. */
int imgstore_open(const char *dir, struct imgstore **ret, struct hv_error *err);
void imgstore_free(struct imgstore *s);

/* Imports the file src as id (copied; src is left alone). -EEXIST when id exists. */
int imgstore_add(struct imgstore *s, const char *id, const char *src, const char *format,
		 const struct hvd_kv *props, size_t n_props, struct hv_error *err);

/* Where a producer (a snapshot) writes the data of a new image id before imgstore_commit. */
int imgstore_data_path(const struct imgstore *s, const char *id, char *buf, size_t size,
		       struct hv_error *err);
/* Records the data file already at imgstore_data_path(id) as an image. */
int imgstore_commit(struct imgstore *s, const char *id, const char *format,
		    const struct hvd_kv *props, size_t n_props, struct hv_error *err);

/* -ENOENT when id is not in the store. *ret is released with imgstore_image_free. */
int imgstore_get(const struct imgstore *s, const char *id, struct imgstore_image **ret,
		 struct hv_error *err);
void imgstore_image_free(struct imgstore_image *img);

/* The driver's view of an image (pointers borrowed from img). */
void imgstore_image_hvd(const struct imgstore_image *img, struct hvd_image *ret);

int imgstore_remove(struct imgstore *s, const char *id, struct hv_error *err);

/* The SHA-256 (64 lower-case hex digits) and size of image id's data, read in blocks. */
int imgstore_hash(const struct imgstore *s, const char *id, char ret[65], uint64_t *ret_size,
		  struct hv_error *err);
/* Reads up to len bytes of image id's data at offset; *ret_n 0 at the end. */
int imgstore_read(const struct imgstore *s, const char *id, uint64_t offset, void *buf, size_t len,
		  size_t *ret_n, struct hv_error *err);

/* Calls fn for every image id, in no particular order. */
int imgstore_list(const struct imgstore *s, void (*fn)(void *ctx, const char *id), void *ctx,
		  struct hv_error *err);

#endif
