/* configdrive.c - config-2 ISO writer over libisofs (see configdrive.h).
 * The image is streamed from libisofs' burn source straight into a 0600 temp file next to
 * the target, fsynced and renamed; libisofs never prints (its message queue is muted). */
#include "configdrive.h"

#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

static pthread_once_t iso_once = PTHREAD_ONCE_INIT;
static int iso_init_result;

static void
iso_setup(void)
{
	/* bit0: leave the process locale alone; names here are ASCII anyway. */
	iso_init_result = iso_init_with_flag(1);
	if (iso_init_result >= 0)
		iso_set_msgs_severities("NEVER", "NEVER", "guest");
}

/* Finds or creates the directory chain of `path`'s parent under root. */
static int
ensure_dirs(IsoDir *root, const char *path, IsoDir **ret, const char **ret_base)
{
	char part[64];
	IsoDir *dir = root;
	const char *p = path, *slash;

	while ((slash = strchr(p, '/'))) {
		IsoNode *node = NULL;
		size_t n = (size_t)(slash - p);
		if (n == 0 || n >= sizeof part)
			return -EINVAL;
		memcpy(part, p, n);
		part[n] = '\0';
		if (iso_dir_get_node(dir, part, &node) == 1) {
			if (iso_node_get_type(node) != LIBISO_DIR)
				return -EINVAL;
			dir = (IsoDir *)node;
		} else {
			IsoDir *sub;
			if (iso_tree_add_new_dir(dir, part, &sub) < 0)
				return -ENOMEM;
			iso_node_set_permissions((IsoNode *)sub, 0555);
			dir = sub;
		}
		p = slash + 1;
	}
	*ret = dir;
	*ret_base = p;
	return 0;
}

static int
build_image(const struct guest_drive_tree *tree, IsoImage **ret, struct hv_error *err)
{
	IsoImage *img = NULL;

	if (iso_image_new(GUEST_CONFIGDRIVE_LABEL, &img) < 0)
		return hv_error_set(err, -ENOMEM, "", "libisofs: cannot create an image");
	iso_image_set_publisher_id(img, "hvagent");
	for (size_t i = 0; i < tree->n; i++) {
		const struct guest_drive_file *f = &tree->files[i];
		IsoDir *dir;
		const char *base;
		IsoStream *st = NULL;
		IsoFile *file = NULL;
		unsigned char *copy;

		if (ensure_dirs(iso_image_get_root(img), f->path, &dir, &base) < 0)
			goto fail;
		/* libisofs owns and frees the buffer of a memory stream. */
		copy = malloc(f->len ? f->len : 1);
		if (!copy)
			goto fail;
		memcpy(copy, f->data, f->len);
		if (iso_memory_stream_new(copy, f->len, &st) < 0) {
			free(copy);
			goto fail;
		}
		if (iso_tree_add_new_file(dir, base, st, &file) < 0) {
			iso_stream_unref(st);
			goto fail;
		}
		iso_node_set_permissions((IsoNode *)file, 0444);
	}
	*ret = img;
	return 0;
fail:
	iso_image_unref(img);
	return hv_error_set(err, -ENOMEM, "", "libisofs: cannot add the config drive files");
}

static int
write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
stream_image(IsoImage *img, int fd, struct hv_error *err, const char *path)
{
	IsoWriteOpts *opts = NULL;
	struct burn_source *bs = NULL;
	unsigned char buf[2048];
	int r = 0, n;

	/* Profile 2: Rock Ridge + Joliet, like genisoimage -r -J. */
	if (iso_write_opts_new(&opts, 2) < 0)
		return hv_error_set(err, -ENOMEM, "", "libisofs: cannot create write options");
	/* Without relaxed volume attributes the volume id is uppercased to "CONFIG_2". */
	iso_write_opts_set_relaxed_vol_atts(opts, 1);
	iso_write_opts_set_always_gmt(opts, 1);
	if (iso_image_create_burn_source(img, opts, &bs) < 0) {
		iso_write_opts_free(opts);
		return hv_error_set(err, -EIO, "", "libisofs: cannot start writing the image");
	}
	iso_write_opts_free(opts);
	while ((n = bs->read_xt(bs, buf, sizeof buf)) > 0) {
		if (r == 0) {
			r = write_all(fd, buf, (size_t)n);
			if (r < 0)
				hv_error_set(err, r, "", "%s: write: %s", path, strerror(-r));
		}
		/* Keep draining after a write error: the writer thread must reach its end. */
	}
	if (n < 0 && r == 0)
		r = hv_error_set(err, -EIO, "", "libisofs: image generation failed");
	bs->free_data(bs);
	free(bs);
	return r;
}

int
guest_configdrive_write_tree(const struct guest_drive_tree *tree, const char *path,
			     struct hv_error *err)
{
	IsoImage *img = NULL;
	char *tmp = NULL, *dir_copy = NULL;
	int fd = -1, dfd = -1, r;

	if (!tree || !path || !*path)
		return hv_error_set(err, -EINVAL, "", "config drive: no tree or path");
	pthread_once(&iso_once, iso_setup);
	if (iso_init_result < 0)
		return hv_error_set(err, -EIO, "", "libisofs: initialisation failed");

	r = build_image(tree, &img, err);
	if (r < 0)
		return r;
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0) {
		r = -errno;
		hv_error_set(err, r, "", "%s: cannot create: %s", tmp, strerror(-r));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	r = stream_image(img, fd, err, tmp);
	if (r == 0 && fsync(fd) < 0) {
		r = -errno;
		hv_error_set(err, r, "", "%s: fsync: %s", tmp, strerror(-r));
	}
	if (close(fd) < 0 && r == 0) {
		r = -errno;
		hv_error_set(err, r, "", "%s: close: %s", tmp, strerror(-r));
	}
	fd = -1;
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
		hv_error_set(err, r, "", "%s: rename: %s", path, strerror(-r));
	}
	if (r < 0) {
		unlink(tmp);
		goto out;
	}
	/* The rename itself is durable only once the directory is synced. */
	dir_copy = strdup(path);
	if (dir_copy) {
		dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
out:
	free(dir_copy);
	free(tmp);
	iso_image_unref(img);
	return r;
}

int
guest_configdrive_write(const struct guest_config *cfg, const char *path, struct hv_error *err)
{
	struct guest_drive_tree *tree = NULL;
	int r = guest_drive_tree_build(cfg, &tree, err);
	if (r < 0)
		return r;
	r = guest_configdrive_write_tree(tree, path, err);
	guest_drive_tree_free(tree);
	return r;
}

int
guest_configdrive_read_file(const char *iso, const char *path, unsigned char **ret, size_t *ret_len,
			    struct hv_error *err)
{
	IsoDataSource *src = NULL;
	IsoReadOpts *opts = NULL;
	IsoImage *img = NULL;
	IsoNode *node = NULL;
	IsoStream *st;
	unsigned char *buf = NULL;
	size_t len = 0;
	char abs[128];
	int r;

	*ret = NULL;
	*ret_len = 0;
	pthread_once(&iso_once, iso_setup);
	if (iso_init_result < 0)
		return hv_error_set(err, -EIO, "", "libisofs: initialisation failed");
	if (access(iso, R_OK) < 0)
		return hv_error_set(err, -errno, "", "%s: %s", iso, strerror(errno));
	snprintf(abs, sizeof abs, "/%s", path);
	r = -EIO;
	if (iso_data_source_new_from_file(iso, &src) < 0 || iso_read_opts_new(&opts, 0) < 0 ||
	    iso_image_new(GUEST_CONFIGDRIVE_LABEL, &img) < 0 ||
	    iso_image_import(img, src, opts, NULL) < 0) {
		hv_error_set(err, r, "", "%s: not a readable ISO image", iso);
		goto out;
	}
	if (iso_tree_path_to_node(img, abs, &node) != 1 || iso_node_get_type(node) != LIBISO_FILE) {
		r = hv_error_set(err, -ENOENT, "", "%s: no %s", iso, path);
		goto out;
	}
	st = iso_file_get_stream((IsoFile *)node);
	if (!st || iso_stream_open(st) < 0) {
		hv_error_set(err, r, "", "%s: cannot open %s", iso, path);
		goto out;
	}
	/* the drive's documents are small: user_data is at most GUEST_USER_DATA_MAX */
	buf = malloc(GUEST_USER_DATA_MAX + 1);
	while (buf && len <= GUEST_USER_DATA_MAX) {
		int n = iso_stream_read(st, buf + len, GUEST_USER_DATA_MAX + 1 - len);
		if (n <= 0) {
			r = n < 0 ? -EIO : 0;
			break;
		}
		len += (size_t)n;
	}
	iso_stream_close(st);
	if (!buf)
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
	else if (r < 0 || len > GUEST_USER_DATA_MAX)
		r = hv_error_set(err, -EIO, "", "%s: cannot read %s", iso, path);
	if (r == 0) {
		*ret = buf;
		*ret_len = len;
		buf = NULL;
	}
out:
	if (buf) {
		explicit_bzero(buf, GUEST_USER_DATA_MAX + 1);
		free(buf);
	}
	iso_image_unref(img);
	iso_read_opts_free(opts);
	iso_data_source_unref(src);
	return r;
}
