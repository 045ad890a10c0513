/* imgdata.c - the catalog's image files (see imgdata.h). Must never follow an id out of the
 * images dir, never hold a whole image in memory, never call a file complete before it
 * is fsynced and renamed. */
#include "imgdata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "md5.h"
#include "proto.h"

#define HASH_BUF (256 * 1024)

struct imgdata {
	char dir[3800];
};

/* An id names a file of the dir: the protocol's id alphabet without ':' and no leading '.'. */
static bool
id_ok(const char *id)
{
	return proto_id_valid(id) && id[0] != '.' && !strchr(id, ':');
}

static int
file_of(const struct imgdata *d, const char *id, const char *ext, char *buf, size_t size)
{
	if (!id_ok(id))
		return -EINVAL;
	int n = snprintf(buf, size, "%s/%s%s", d->dir, id, ext);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int
imgdata_open(const char *dir, struct imgdata **ret, struct hv_error *err)
{
	struct imgdata *d;
	if (!dir || dir[0] != '/' || strlen(dir) >= sizeof d->dir)
		return hv_error_set(err, -EINVAL, "images.dir", "images.dir: not an absolute path");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hv_error_set(err, -errno, "images.dir", "images.dir: cannot create %s: %s",
				    dir, strerror(errno));
	if (!(d = calloc(1, sizeof *d)))
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	snprintf(d->dir, sizeof d->dir, "%s", dir);
	*ret = d;
	return 0;
}

void
imgdata_free(struct imgdata *d)
{
	free(d);
}

int64_t
imgdata_received(const struct imgdata *d, const char *id)
{
	char path[4096];
	struct stat st;
	if (file_of(d, id, ".part", path, sizeof path) < 0 || stat(path, &st) < 0)
		return 0;
	return (int64_t)st.st_size;
}

int
imgdata_append(struct imgdata *d, const char *id, int64_t offset, const void *buf, size_t len,
	       struct hv_error *err)
{
	char path[4096];
	struct stat st;
	if (file_of(d, id, ".part", path, sizeof path) < 0)
		return hv_error_set(err, -EINVAL, "args.image", "args.image: not an image id");
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return hv_error_set(err, -e, "", "cannot open %s: %s", path, strerror(e));
	}
	if ((int64_t)st.st_size != offset) {
		close(fd);
		return hv_error_set(err, -EINVAL, "args.offset",
				    "args.offset: %lld, but %lld bytes were received: send the "
				    "chunk at offset %lld",
				    (long long)offset, (long long)st.st_size,
				    (long long)st.st_size);
	}
	for (size_t done = 0; done < len;) {
		ssize_t w = pwrite(fd, (const char *)buf + done, len - done, offset + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : EIO;
			/* nothing half-written stays: the next chunk starts where this one did */
			if (ftruncate(fd, offset) < 0)
				e = errno;
			close(fd);
			return hv_error_set(err, -e, "", "cannot write %s: %s", path, strerror(e));
		}
		done += (size_t)w;
	}
	close(fd);
	return 0;
}

static void
hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[in[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
imgdata_hash(struct imgdata *d, const char *id, char ret_sha256[65], char ret_md5[33],
	     int64_t *ret_size, struct hv_error *err)
{
	char path[4096];
	if (file_of(d, id, ".part", path, sizeof path) < 0)
		return hv_error_set(err, -EINVAL, "args.image", "args.image: not an image id");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_error_set(err, -ENOENT, "args.image",
				    "args.image: no data was uploaded for image %s", id);
	unsigned char *buf = malloc(HASH_BUF), digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	struct md5 md5;
	int64_t size = 0;
	ssize_t n = 0;
	int r = 0;
	crypto_hash_sha256_init(&st);
	md5_init(&md5);
	while (buf && (n = read(fd, buf, HASH_BUF)) > 0) {
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		md5_update(&md5, buf, (size_t)n);
		size += n;
	}
	if (!buf || n < 0 || fsync(fd) < 0)
		r = hv_error_set(err, buf ? -errno : -ENOMEM, "", "cannot read %s: %s", path,
				 buf ? strerror(errno) : "out of memory");
	free(buf);
	close(fd);
	if (r < 0)
		return r;
	crypto_hash_sha256_final(&st, digest);
	hex(digest, sizeof digest, ret_sha256);
	md5_final(&md5, ret_md5);
	*ret_size = size;
	return 0;
}

int
imgdata_commit(struct imgdata *d, const char *id, struct hv_error *err)
{
	char part[4096], path[4096];
	if (file_of(d, id, ".part", part, sizeof part) < 0 ||
	    file_of(d, id, "", path, sizeof path) < 0)
		return hv_error_set(err, -EINVAL, "args.image", "args.image: not an image id");
	if (rename(part, path) < 0)
		return hv_error_set(err, -errno, "", "cannot rename %s: %s", part, strerror(errno));
	int dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

void
imgdata_discard(struct imgdata *d, const char *id)
{
	char part[4096];
	if (file_of(d, id, ".part", part, sizeof part) == 0)
		unlink(part);
}

void
imgdata_remove(struct imgdata *d, const char *id)
{
	char path[4096];
	imgdata_discard(d, id);
	if (file_of(d, id, "", path, sizeof path) == 0)
		unlink(path);
}

int
imgdata_path(const struct imgdata *d, const char *id, char *buf, size_t size)
{
	return file_of(d, id, "", buf, size);
}

int
imgdata_read(const struct imgdata *d, const char *id, int64_t offset, void *buf, size_t len,
	     size_t *ret_n, struct hv_error *err)
{
	char path[4096];
	if (offset < 0 || file_of(d, id, "", path, sizeof path) < 0)
		return hv_error_set(err, -EINVAL, "body.offset", "body.offset: out of range");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_error_set(err, -ENOENT, "body.image_id",
				    "body.image_id: image %s has no data", id);
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, offset + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return hv_error_set(err, -e, "", "cannot read %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*ret_n = got;
	return 0;
}
