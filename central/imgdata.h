/* imgdata.h - the data files of the image catalog under hvcentral's images dir: an upload
 * grows <dir>/<id>.part chunk by chunk (never whole in memory), is fsynced and hashed, and
 * only then renamed to <dir>/<id>; a file named <id> is always a complete, verified image.
 * Ids are checked here too: an id can only ever name a file inside the dir. Never logs,
 * holds no rule of who may upload or fetch (service/image.c and link.c decide that). */
#ifndef HVC_IMGDATA_H
#define HVC_IMGDATA_H

#include <stddef.h>
#include <stdint.h>

#include <hvagent/error.h>

struct imgdata;

/* Creates dir (mode 0700) when absent. */
int imgdata_open(const char *dir, struct imgdata **ret, struct hv_error *err);
void imgdata_free(struct imgdata *d);

/* Bytes of id's upload received so far (0 when none). */
int64_t imgdata_received(const struct imgdata *d, const char *id);
/* Appends len bytes at offset, which must be what was received so far (a retried chunk
 * at an offset already written is refused naming args.offset, nothing changes). */
int imgdata_append(struct imgdata *d, const char *id, int64_t offset, const void *buf, size_t len,
		   struct hv_error *err);
/* fsyncs the upload and hashes it: SHA-256 as 64 lower-case hex digits, MD5 (Glance's
 * "checksum") as 32, and its size. */
int imgdata_hash(struct imgdata *d, const char *id, char ret_sha256[65], char ret_md5[33],
		 int64_t *ret_size, struct hv_error *err);
/* The upload becomes the image's file (renamed, the directory fsynced). */
int imgdata_commit(struct imgdata *d, const char *id, struct hv_error *err);
/* Removes the upload (a refused one: a partial upload never becomes an image). */
void imgdata_discard(struct imgdata *d, const char *id);
/* Removes the image's file and any upload. */
void imgdata_remove(struct imgdata *d, const char *id);
/* Reads up to len bytes of the complete image at offset into buf; *ret_n 0 at the end. */
int imgdata_read(const struct imgdata *d, const char *id, int64_t offset, void *buf, size_t len,
		 size_t *ret_n, struct hv_error *err);
/* Where a new image's complete file goes (a snapshot received from a host). */
int imgdata_path(const struct imgdata *d, const char *id, char *buf, size_t size);

#endif
