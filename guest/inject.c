/* inject.c - offline key and password injection with libguestfs (see inject.h).
 *
 * Layout: the parent validates every job, checks qcow2 backing chains and hashes the
 * passwords, then forks a worker in a new process group. The worker creates one libguestfs
 * handle, adds every valid disk, launches once, edits each disk in turn, shuts the
 * appliance down and writes the results back through a pipe. The parent waits for them
 * until the deadline and then kills the group (libguestfs' own launch timeout is 20 min).
 *
 * Never logs; every libguestfs message is redacted before it reaches a result. */
#include "inject.h"

#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <guestfs.h>

#include "qcow2.h"

#include "password.h"
#include "sshkey.h"

#define DEFAULT_TIMEOUT_S 600
#define DEFAULT_MEMSIZE_MB 512
#define AUTHORIZED_KEYS_MAX (1024 * 1024)
#define SELINUX_CONFIG_MAX (64 * 1024)
#define QCOW2_CHAIN_MAX 8
/* Augeas' AUG_NO_MODL_AUTOLOAD: load only the lenses we name, not every lens (~6 s). */
#define AUG_NO_MODL_AUTOLOAD 64

/* Per-job state the worker needs besides the job itself. */
struct prepared {
	bool valid; /* passed validation: gets a drive in the appliance */
	char hash[GUEST_HASH_MAX];
	const char *key_user;
	const char *password_user;
};

/* ------------------------------------------------------------------ validation (parent) */

/* Checks that a file recorded as qcow2 really is one, and that its backing chain (if any)
 * stays inside the image store with every backing format recorded in the header: qemu
 * would otherwise open whatever the header names (a host file, "json:", "nbd:") and probe
 * its format. */
static int
check_qcow2(const char *path, const char *store, const char *field, int depth, struct hv_error *err)
{
	struct hv_qcow2_header h;
	char name[PATH_MAX], resolved[PATH_MAX], store_real[PATH_MAX], fmt[32] = "";
	int fd, r = 0;

	if (depth > QCOW2_CHAIN_MAX)
		return hv_error_set(err, -ELOOP, field, "%s: backing chain deeper than %d", field,
				    QCOW2_CHAIN_MAX);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_error_set(err, -errno, field, "%s: %s: %s", field, path, strerror(errno));
	if (hv_qcow2_read_header(fd, &h) < 0) {
		r = hv_error_set(err, -EINVAL, field, "%s: %s is not a qcow2 image", field, path);
		goto out;
	}
	uint64_t bf_off = h.backing_file_offset;
	uint32_t bf_len = h.backing_file_size;
	if (h.incompatible_features & HV_QCOW2_INCOMPAT_DATA_FILE) {
		r = hv_error_set(err, -EPERM, field, "%s: %s uses an external data file", field,
				 path);
		goto out;
	}
	if (bf_off == 0)
		goto out; /* no backing file */
	if (bf_len == 0 || bf_len >= sizeof name ||
	    pread(fd, name, bf_len, (off_t)bf_off) != (ssize_t)bf_len) {
		r = hv_error_set(err, -EINVAL, field, "%s: %s has an unreadable backing file name",
				 field, path);
		goto out;
	}
	name[bf_len] = '\0';
	if (strchr(name, ':') || memchr(name, '\0', bf_len)) {
		r = hv_error_set(err, -EPERM, field,
				 "%s: %s names a backing file that is not a plain path", field,
				 path);
		goto out;
	}

	/* Header extensions follow the header: the backing format is type 0xE2792ACA. */
	uint64_t off = h.header_length;
	for (int i = 0; i < 64 && off + 8 <= bf_off; i++) {
		unsigned char e[8];
		if (pread(fd, e, 8, (off_t)off) != 8)
			break;
		uint32_t type = (uint32_t)hv_qcow2_be(e, 4), len = (uint32_t)hv_qcow2_be(e + 4, 4);
		if (type == 0)
			break;
		if (type == 0xE2792ACAu && len > 0 && len < sizeof fmt) {
			if (pread(fd, fmt, len, (off_t)off + 8) != (ssize_t)len)
				break;
			fmt[len] = '\0';
		}
		off += 8 + ((uint64_t)len + 7) / 8 * 8;
	}
	if (strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0) {
		r = hv_error_set(
			err, -EPERM, field,
			"%s: %s has a backing file whose format is not recorded as raw or qcow2",
			field, path);
		goto out;
	}
	if (!store || !realpath(store, store_real)) {
		r = hv_error_set(err, -EPERM, field,
				 "%s: %s has a backing file and no image store is set", field,
				 path);
		goto out;
	}
	if (name[0] != '/') {
		char dir[PATH_MAX], joined[PATH_MAX * 2];
		snprintf(dir, sizeof dir, "%s", path);
		snprintf(joined, sizeof joined, "%s/%s", dirname(dir), name);
		snprintf(name, sizeof name, "%.*s", (int)sizeof name - 1, joined);
	}
	size_t sl = strlen(store_real);
	if (!realpath(name, resolved) || strncmp(resolved, store_real, sl) != 0 ||
	    resolved[sl] != '/') {
		r = hv_error_set(err, -EPERM, field,
				 "%s: %s has a backing file outside the image store", field, path);
		goto out;
	}
	if (strcmp(fmt, "qcow2") == 0)
		r = check_qcow2(resolved, store, field, depth + 1, err);
out:
	close(fd);
	return r;
}

static int
prepare(const struct guest_job *job, size_t i, const struct guest_inject_opts *opts,
	struct prepared *p, struct hv_error *err)
{
	char f[48];
	struct stat st;
	int r;

	p->key_user = job->key_user ? job->key_user : "root";
	p->password_user = job->password_user ? job->password_user : "root";

	snprintf(f, sizeof f, "jobs[%zu].disk_path", i);
	if (!job->disk_path || job->disk_path[0] != '/')
		return hv_error_set(err, -EINVAL, f, "%s: an absolute path is required", f);
	if (stat(job->disk_path, &st) < 0)
		return hv_error_set(err, -errno, f, "%s: %s: %s", f, job->disk_path,
				    strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return hv_error_set(err, -EINVAL, f, "%s: %s is not a file or block device", f,
				    job->disk_path);

	snprintf(f, sizeof f, "jobs[%zu].format", i);
	if (!job->format || (strcmp(job->format, "raw") != 0 && strcmp(job->format, "qcow2") != 0))
		return hv_error_set(err, -EINVAL, f,
				    "%s: must be raw or qcow2 (the recorded format)", f);
	if (strcmp(job->format, "qcow2") == 0) {
		r = check_qcow2(job->disk_path, opts->image_store, f, 0, err);
		if (r < 0)
			return r;
	}

	snprintf(f, sizeof f, "jobs[%zu].partition", i);
	if (job->partition < GUEST_PARTITION_INSPECT || job->partition > 128)
		return hv_error_set(err, -EINVAL, f,
				    "%s: 0 (find the root), -1 (whole disk), -2 (inspect) or 1-128",
				    f);

	if (!job->ssh_key && !job->password) {
		snprintf(f, sizeof f, "jobs[%zu]", i);
		return hv_error_set(err, -EINVAL, f, "%s: nothing to inject (no key, no password)",
				    f);
	}
	if (job->ssh_key) {
		snprintf(f, sizeof f, "jobs[%zu].key_user", i);
		if (!guest_user_name_valid(p->key_user))
			return hv_error_set(err, -EINVAL, f,
					    "%s: a login name ([a-z_][a-z0-9_-]*, at most 32)", f);
		snprintf(f, sizeof f, "jobs[%zu].ssh_key", i);
		r = hv_sshkey_validate(job->ssh_key, f, err);
		if (r < 0)
			return r;
	}
	if (job->password) {
		snprintf(f, sizeof f, "jobs[%zu].password_user", i);
		if (!guest_user_name_valid(p->password_user))
			return hv_error_set(err, -EINVAL, f,
					    "%s: a login name ([a-z_][a-z0-9_-]*, at most 32)", f);
		r = guest_password_hash(job->password, GUEST_HASH_SHA512, p->hash, sizeof p->hash,
					err);
		if (r < 0) {
			snprintf(f, sizeof f, "jobs[%zu].password", i);
			snprintf(err->field, sizeof err->field, "%s", f);
			return r;
		}
	}
	p->valid = true;
	return 0;
}

/* ------------------------------------------------------------------ worker (child) */

struct disk {
	guestfs_h *g;
	const struct guest_job *job;
	const struct prepared *prep;
	struct guest_result *res;
	size_t index;
	const char *device; /* "/dev/sdb" */
};

/* Replaces every occurrence of each secret in msg by "<redacted>". */
static void
redact(char *msg, size_t size, const char *const *secrets, size_t n)
{
	for (size_t s = 0; s < n; s++) {
		size_t sl = secrets[s] ? strlen(secrets[s]) : 0;
		char *hit;
		if (sl < 4)
			continue;
		while ((hit = strstr(msg, secrets[s]))) {
			char rest[sizeof((struct hv_error *)0)->message];
			snprintf(rest, sizeof rest, "%s", hit + sl);
			snprintf(hit, size - (size_t)(hit - msg), "<redacted>%s", rest);
		}
	}
}

/* Fails the disk's job with libguestfs' last error, redacted. */
static int
fail_g(struct disk *d, const char *what)
{
	const char *msg = guestfs_last_error(d->g);
	int e = guestfs_last_errno(d->g);
	const char *key_body = NULL;
	char f[32];

	if (d->job->ssh_key)
		key_body = strchr(d->job->ssh_key, ' ');
	const char *secrets[] = {d->prep->hash, d->job->ssh_key, key_body ? key_body + 1 : NULL};
	snprintf(f, sizeof f, "jobs[%zu]", d->index);
	hv_error_set(&d->res->err, e > 0 ? -e : -EIO, f, "%s: %s: %s", f, what,
		     msg ? msg : "failed");
	redact(d->res->err.message, sizeof d->res->err.message, secrets, 3);
	d->res->code = d->res->err.code;
	return d->res->code;
}

static int
fail(struct disk *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(struct disk *d, int code, const char *fmt, ...)
{
	char f[32], text[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	snprintf(f, sizeof f, "jobs[%zu]", d->index);
	d->res->code = hv_error_set(&d->res->err, code, f, "%s: %s", f, text);
	return code;
}

/* True when device is this disk or one of its partitions ("/dev/sdb", "/dev/sdb2"). */
static bool
on_disk(const char *device, const char *disk)
{
	size_t n = strlen(disk);
	if (strncmp(device, disk, n) != 0)
		return false;
	for (const char *p = device + n; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
	}
	return true;
}

static int
cmp_mountpoint_len(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	size_t lx = strlen(x[0]), ly = strlen(y[0]);
	return lx < ly ? -1 : lx > ly;
}

static void
free_strings(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static bool
type_allowed(const char *type)
{
	static const char *const allowed[] = {"ext2", "ext3", "ext4", "xfs", "btrfs"};
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
		if (strcmp(type, allowed[i]) == 0)
			return true;
	}
	return false;
}

static bool
has_passwd(struct disk *d)
{
	struct guestfs_statns *st = guestfs_lstatns(d->g, "/etc/passwd");
	bool ok = st && S_ISREG((unsigned)st->st_mode);
	if (st)
		guestfs_free_statns(st);
	return ok;
}

static bool
fs_type_allowed(struct disk *d, const char *dev, char *type, size_t size)
{
	char *t = guestfs_vfs_type(d->g, dev);
	snprintf(type, size, "%s", t ? t : "");
	free(t);
	return type_allowed(type);
}

static int
mount_by_hint(struct disk *d)
{
	char dev[64], type[32];

	if (d->job->partition == GUEST_PARTITION_WHOLE)
		snprintf(dev, sizeof dev, "%s", d->device);
	else
		snprintf(dev, sizeof dev, "%s%d", d->device, d->job->partition);
	if (!fs_type_allowed(d, dev, type, sizeof type))
		return fail(d, -EMEDIUMTYPE,
			    "%s holds '%.31s', not ext2/3/4, xfs or btrfs (is the recorded format "
			    "right?)",
			    dev + 5, type);
	if (guestfs_mount(d->g, dev, "/") < 0)
		return fail_g(d, "mount");
	return 0;
}

/* Cheap stand-in for inspection: the root is the one allowed filesystem of this disk (the
 * whole device, or its partitions from the appliance-wide list) that has a regular
 * /etc/passwd. A single candidate (the usual cloud image) is mounted read-write at once;
 * several are first looked at read-only. */
static int
mount_by_probe(struct disk *d, char **parts)
{
	const char *cand[16], *found = NULL;
	size_t n_cand = 0, n_found = 0, n_parts = 0;
	char type[32];

	for (size_t i = 0; parts && parts[i]; i++) {
		if (!on_disk(parts[i], d->device))
			continue;
		n_parts++;
		if (n_cand < sizeof cand / sizeof cand[0] &&
		    fs_type_allowed(d, parts[i], type, sizeof type))
			cand[n_cand++] = parts[i];
	}
	if (n_parts == 0 && fs_type_allowed(d, d->device, type, sizeof type))
		cand[n_cand++] = d->device;
	if (n_cand == 1) {
		if (guestfs_mount(d->g, cand[0], "/") < 0)
			return fail_g(d, "mount /");
		if (has_passwd(d))
			return 0;
		return fail(d, -ENOENT, "no operating system found on the disk (no /etc/passwd)");
	}
	for (size_t i = 0; i < n_cand; i++) {
		if (guestfs_mount_ro(d->g, cand[i], "/") < 0)
			continue;
		if (has_passwd(d)) {
			found = cand[i];
			n_found++;
		}
		if (guestfs_umount(d->g, "/") < 0)
			return fail_g(d, "umount");
	}
	if (n_found == 0)
		return fail(
			d, -ENOENT,
			"no operating system found on the disk (is the recorded format right?)");
	if (n_found > 1)
		return fail(d, -EINVAL, "%zu root filesystems found on the disk (multi-boot)",
			    n_found);
	if (guestfs_mount(d->g, found, "/") < 0)
		return fail_g(d, "mount /");
	return 0;
}

static int
mount_by_inspection(struct disk *d, char **roots)
{
	const char *root = NULL;
	size_t n_roots = 0;
	char **mps;
	size_t n_mps = 0;
	int r = 0;

	for (size_t i = 0; roots && roots[i]; i++) {
		if (on_disk(roots[i], d->device)) {
			root = roots[i];
			n_roots++;
		}
	}
	if (n_roots == 0)
		return fail(
			d, -ENOENT,
			"no operating system found on the disk (is the recorded format right?)");
	if (n_roots > 1)
		return fail(d, -EINVAL, "%zu operating systems found on the disk (multi-boot)",
			    n_roots);
	char *type = guestfs_inspect_get_type(d->g, root);
	if (!type || strcmp(type, "linux") != 0) {
		free(type);
		return fail(d, -EMEDIUMTYPE, "the operating system on the disk is not Linux");
	}
	free(type);

	/* The root is "/" by definition. The guest's fstab may name it by LABEL or UUID,
	 * which clones of one image in the same batch share, so it is not looked up. */
	if (guestfs_mount(d->g, root, "/") < 0)
		return fail_g(d, "mount /");
	mps = guestfs_inspect_get_mountpoints(d->g, root);
	if (!mps)
		return fail_g(d, "inspect mountpoints");
	while (mps[n_mps * 2])
		n_mps++;
	/* Shortest mountpoint first, so "/var" is mounted before "/var/lib". */
	qsort(mps, n_mps, 2 * sizeof mps[0], cmp_mountpoint_len);
	for (size_t i = 0; i < n_mps && r == 0; i++) {
		const char *mp = mps[2 * i], *dev = mps[2 * i + 1];
		/* For the same reason, mount only what lives on this disk. */
		if (strcmp(mp, "/") == 0 || !on_disk(dev, d->device))
			continue;
		if (guestfs_mount(d->g, dev, mp) < 0)
			r = fail_g(d, "mount");
	}
	free_strings(mps);
	return r;
}

/* lstat that reports "absent" as 0 with *ret NULL; symlinks are never followed. */
static int
lstat_opt(struct disk *d, const char *path, struct guestfs_statns **ret)
{
	*ret = guestfs_lstatns(d->g, path);
	if (*ret)
		return 1;
	if (guestfs_last_errno(d->g) == ENOENT)
		return 0;
	return fail_g(d, "lstat");
}

/* Requires path to exist with the given type (S_IFREG/S_IFDIR), never a symlink. */
static int
require_type(struct disk *d, const char *path, unsigned type, bool may_be_absent)
{
	struct guestfs_statns *st;
	int r = lstat_opt(d, path, &st);
	if (r < 0)
		return r;
	if (r == 0)
		return may_be_absent ? 0 : fail(d, -ENOENT, "%s does not exist", path);
	unsigned mode = (unsigned)st->st_mode;
	guestfs_free_statns(st);
	if (S_ISLNK(mode))
		return fail(d, -ELOOP, "%s is a symlink; refusing to write through it", path);
	if ((mode & S_IFMT) != type)
		return fail(d, -EINVAL, "%s is not a %s", path,
			    type == S_IFDIR ? "directory" : "regular file");
	return 1;
}

static int
aug_load_accounts(struct disk *d, bool shadow)
{
	if (require_type(d, "/etc/passwd", S_IFREG, false) < 0)
		return d->res->code;
	if (shadow && require_type(d, "/etc/shadow", S_IFREG, false) < 0)
		return d->res->code;
	if (guestfs_aug_init(d->g, "/", AUG_NO_MODL_AUTOLOAD) < 0)
		return fail_g(d, "augeas init");
	if (guestfs_aug_transform(d->g, "Passwd.lns", "/etc/passwd", -1) < 0 ||
	    (shadow && guestfs_aug_transform(d->g, "Shadow.lns", "/etc/shadow", -1) < 0) ||
	    guestfs_aug_load(d->g) < 0)
		return fail_g(d, "augeas load");
	char **errs = guestfs_aug_match(d->g, "/augeas/files/etc/*/error");
	bool bad = errs && errs[0];
	free_strings(errs);
	if (bad)
		return fail(d, -EINVAL, "cannot parse /etc/passwd or /etc/shadow");
	return 0;
}

static char *
aug_user_field(struct disk *d, const char *file, const char *user, const char *field)
{
	char path[160];
	snprintf(path, sizeof path, "/files/etc/%s/%s/%s", file, user, field);
	return guestfs_aug_get(d->g, path);
}

static int
parse_id(const char *s, int *ret)
{
	char *end;
	long v;
	if (!s)
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > INT32_MAX)
		return -1;
	*ret = (int)v;
	return 0;
}

static bool
has_line(const char *content, size_t size, const char *line)
{
	size_t n = strlen(line);
	for (size_t pos = 0; pos < size;) {
		const char *nl = memchr(content + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - (content + pos)) : size - pos;
		if (len == n && memcmp(content + pos, line, n) == 0)
			return true;
		pos += len + 1;
	}
	return false;
}

static int
inject_key(struct disk *d, char *touched[], size_t *n_touched)
{
	const char *user = d->prep->key_user;
	char *home = NULL, *uid_s = NULL, *gid_s = NULL, *real = NULL, *content = NULL;
	char ssh[PATH_MAX], ak[PATH_MAX + 32];
	struct guestfs_statns *st = NULL;
	int uid, gid, r;

	home = aug_user_field(d, "passwd", user, "home");
	uid_s = aug_user_field(d, "passwd", user, "uid");
	gid_s = aug_user_field(d, "passwd", user, "gid");
	if (!home || parse_id(uid_s, &uid) < 0 || parse_id(gid_s, &gid) < 0) {
		r = fail(d, -ENOENT, "user %s does not exist in /etc/passwd", user);
		goto out;
	}
	if (home[0] != '/') {
		r = fail(d, -EINVAL, "home of user %s is not an absolute path", user);
		goto out;
	}
	/* The home itself may be a symlink (/home -> /var/home); resolve it once, in the
	 * guest, then refuse symlinks below it. */
	real = guestfs_realpath(d->g, home);
	if (!real) {
		r = fail_g(d, "home directory");
		goto out;
	}
	if ((r = require_type(d, real, S_IFDIR, false)) < 0)
		goto out;
	if (strlen(real) > PATH_MAX - 64) {
		r = fail(d, -ENAMETOOLONG, "home of user %s is too long a path", user);
		goto out;
	}
	snprintf(ssh, sizeof ssh, "%s/.ssh", strcmp(real, "/") == 0 ? "" : real);
	snprintf(ak, sizeof ak, "%s/authorized_keys", ssh);

	if ((r = require_type(d, ssh, S_IFDIR, true)) < 0)
		goto out;
	if (r == 0 && guestfs_mkdir_mode(d->g, ssh, 0700) < 0) {
		r = fail_g(d, "mkdir .ssh");
		goto out;
	}
	if (guestfs_chown(d->g, uid, gid, ssh) < 0 || guestfs_chmod(d->g, 0700, ssh) < 0) {
		r = fail_g(d, "chown/chmod .ssh");
		goto out;
	}

	if ((r = lstat_opt(d, ak, &st)) < 0)
		goto out;
	if (r == 0) {
		char line[HV_SSHKEY_MAX + 2];
		int n = snprintf(line, sizeof line, "%s\n", d->job->ssh_key);
		if (guestfs_write(d->g, ak, line, (size_t)n) < 0) {
			r = fail_g(d, "write authorized_keys");
			goto out;
		}
		d->res->key_added = true;
	} else {
		unsigned mode = (unsigned)st->st_mode;
		int64_t size = st->st_size;
		size_t got = 0;
		if (S_ISLNK(mode)) {
			r = fail(d, -ELOOP, "%s is a symlink; refusing to write through it", ak);
			goto out;
		}
		if (!S_ISREG(mode)) {
			r = fail(d, -EINVAL, "%s is not a regular file", ak);
			goto out;
		}
		if (size > AUTHORIZED_KEYS_MAX) {
			r = fail(d, -EFBIG, "%s is larger than %d bytes", ak, AUTHORIZED_KEYS_MAX);
			goto out;
		}
		content = size > 0 ? guestfs_read_file(d->g, ak, &got) : NULL;
		if (size > 0 && !content) {
			r = fail_g(d, "read authorized_keys");
			goto out;
		}
		if (!has_line(content ? content : "", got, d->job->ssh_key)) {
			char buf[HV_SSHKEY_MAX + 3];
			bool need_nl = got > 0 && content[got - 1] != '\n';
			int n = snprintf(buf, sizeof buf, "%s%s\n", need_nl ? "\n" : "",
					 d->job->ssh_key);
			if (guestfs_write_append(d->g, ak, buf, (size_t)n) < 0) {
				r = fail_g(d, "append authorized_keys");
				goto out;
			}
			d->res->key_added = true;
		}
	}
	if (guestfs_chmod(d->g, 0600, ak) < 0 || guestfs_chown(d->g, uid, gid, ak) < 0) {
		r = fail_g(d, "chown/chmod authorized_keys");
		goto out;
	}
	touched[(*n_touched)++] = strdup(ssh);
	r = 0;
out:
	if (st)
		guestfs_free_statns(st);
	free(home);
	free(uid_s);
	free(gid_s);
	free(real);
	free(content);
	return r;
}

static int
set_password(struct disk *d, char *touched[], size_t *n_touched)
{
	const char *user = d->prep->password_user;
	char path[160], days[24];
	char *old = aug_user_field(d, "shadow", user, "password");
	char *tmp = NULL;
	int r = 0;

	if (!old)
		return fail(d, -ENOENT, "user %s has no entry in /etc/shadow", user);
	free(old);
	/* Augeas saves through a new file; keep mode, owner and SELinux label by copying the
	 * attributes to a placeholder and back (virt-customize does the same). */
	tmp = guestfs_mktemp(d->g, "/etc/shadow.hvXXXXXX", -1);
	if (!tmp)
		return fail_g(d, "mktemp");
	if (guestfs_copy_attributes(d->g, "/etc/shadow", tmp, GUESTFS_COPY_ATTRIBUTES_ALL, 1, -1) <
	    0) {
		r = fail_g(d, "copy shadow attributes");
		goto out;
	}
	snprintf(path, sizeof path, "/files/etc/shadow/%s/password", user);
	if (guestfs_aug_set(d->g, path, d->prep->hash) < 0) {
		r = fail_g(d, "set password");
		goto out;
	}
	/* Today as the last change, so an old "0" does not force a change at first login. */
	snprintf(days, sizeof days, "%lld", (long long)(time(NULL) / 86400));
	snprintf(path, sizeof path, "/files/etc/shadow/%s/lastchange_date", user);
	if (guestfs_aug_set(d->g, path, days) < 0) {
		r = fail_g(d, "set lastchange");
		goto out;
	}
	if (guestfs_aug_save(d->g) < 0) {
		r = fail_g(d, "save /etc/shadow");
		goto out;
	}
	if (guestfs_copy_attributes(d->g, tmp, "/etc/shadow", GUESTFS_COPY_ATTRIBUTES_ALL, 1, -1) <
	    0) {
		r = fail_g(d, "restore shadow attributes");
		goto out;
	}
	d->res->password_set = true;
	touched[(*n_touched)++] = strdup("/etc/shadow");
out:
	if (guestfs_rm_f(d->g, tmp) < 0 && r == 0)
		r = fail_g(d, "remove placeholder");
	free(tmp);
	return r;
}

/* SELINUX=enforcing|permissive in /etc/selinux/config; the policy type in *type. */
static bool
selinux_enabled(struct disk *d, char *type, size_t type_size)
{
	struct guestfs_statns *st = guestfs_lstatns(d->g, "/etc/selinux/config");
	bool enabled = false;
	size_t n = 0;

	snprintf(type, type_size, "targeted");
	if (!st)
		return false;
	bool regular = S_ISREG((unsigned)st->st_mode) && st->st_size <= SELINUX_CONFIG_MAX;
	guestfs_free_statns(st);
	char *text = regular ? guestfs_read_file(d->g, "/etc/selinux/config", &n) : NULL;
	for (char *line = text, *next; line && line < text + n; line = next) {
		next = memchr(line, '\n', (size_t)(text + n - line));
		if (next)
			*next++ = '\0';
		else
			next = text + n;
		if (strncmp(line, "SELINUX=", 8) == 0)
			enabled = strncmp(line + 8, "enforcing", 9) == 0 ||
				  strncmp(line + 8, "permissive", 10) == 0;
		if (strncmp(line, "SELINUXTYPE=", 12) == 0 && line[12] &&
		    strspn(line + 12, "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
			    strlen(line + 12))
			snprintf(type, type_size, "%s", line + 12);
	}
	free(text);
	return enabled;
}

static int
relabel(struct disk *d, bool can_relabel, char *touched[], size_t n_touched)
{
	char type[64], spec[160];

	if (!selinux_enabled(d, type, sizeof type))
		return 0;
	snprintf(spec, sizeof spec, "/etc/selinux/%s/contexts/files/file_contexts", type);
	if (can_relabel && guestfs_is_file(d->g, spec) == 1) {
		bool ok = true;
		for (size_t i = 0; i < n_touched && ok; i++)
			ok = touched[i] &&
			     guestfs_selinux_relabel(d->g, spec, touched[i],
						     GUESTFS_SELINUX_RELABEL_FORCE, 1, -1) == 0;
		if (ok) {
			d->res->relabel = GUEST_RELABEL_PATHS;
			return 0;
		}
	}
	/* No setfiles in the appliance (Debian's has none): the guest relabels at first boot. */
	int r = require_type(d, "/.autorelabel", S_IFREG, true);
	if (r < 0)
		return r;
	if (guestfs_touch(d->g, "/.autorelabel") < 0)
		return fail_g(d, "create /.autorelabel");
	d->res->relabel = GUEST_RELABEL_AUTORELABEL;
	return 0;
}

static int
run_disk(struct disk *d, char **roots, char **parts, bool can_relabel)
{
	char *touched[2] = {NULL, NULL};
	size_t n_touched = 0;
	int r;

	if (d->job->partition == GUEST_PARTITION_INSPECT)
		r = mount_by_inspection(d, roots);
	else if (d->job->partition == GUEST_PARTITION_AUTO)
		r = mount_by_probe(d, parts);
	else
		r = mount_by_hint(d);
	if (r == 0)
		r = aug_load_accounts(d, d->job->password != NULL);
	if (r == 0 && d->job->ssh_key)
		r = inject_key(d, touched, &n_touched);
	if (r == 0 && d->job->password)
		r = set_password(d, touched, &n_touched);
	if (r == 0)
		r = relabel(d, can_relabel, touched, n_touched);
	guestfs_aug_close(d->g); /* harmless when augeas was never opened */
	if (guestfs_umount_all(d->g) < 0 && r == 0)
		r = fail_g(d, "umount");
	for (size_t i = 0; i < n_touched; i++)
		free(touched[i]);
	return r;
}

static void
fail_all(struct guest_result *res, const struct prepared *prep, size_t n, int code,
	 const char *what, guestfs_h *g)
{
	const char *msg = g ? guestfs_last_error(g) : NULL;
	for (size_t i = 0; i < n; i++) {
		if (!prep[i].valid || res[i].code < 0)
			continue;
		char f[32];
		snprintf(f, sizeof f, "jobs[%zu]", i);
		res[i].code = hv_error_set(&res[i].err, code, f, "%s: %s%s%s", f, what,
					   msg ? ": " : "", msg ? msg : "");
		/* A launch error names no secret, but keep the rule: only hashes could leak here. */
		const char *secrets[] = {prep[i].hash};
		redact(res[i].err.message, sizeof res[i].err.message, secrets, 1);
		res[i].key_added = res[i].password_set = false;
	}
}

static void
worker(const struct guest_job *jobs, const struct prepared *prep, size_t n,
       const struct guest_inject_opts *opts, struct guest_result *res)
{
	guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
	size_t *dev_of = calloc(n, sizeof *dev_of);
	char **devices = NULL, **roots = NULL, **parts = NULL;
	size_t added = 0;
	bool need_inspect = false, need_probe = false;

	if (!g || !dev_of) {
		fail_all(res, prep, n, -ENOMEM, "cannot create a libguestfs handle", NULL);
		goto out;
	}
	/* Errors come back through guestfs_last_error, never printed; no trace (it would print
	 * written content) because the environment is not read. */
	guestfs_set_error_handler(g, NULL, NULL);
	guestfs_set_backend(g, "direct");
	if (opts->force_tcg) {
		char *settings[] = {(char *)"force_tcg", NULL};
		guestfs_set_backend_settings(g, settings);
	}
	guestfs_set_memsize(g, opts->memsize_mb ? (int)opts->memsize_mb : DEFAULT_MEMSIZE_MB);
	guestfs_set_network(g, 0);

	for (size_t i = 0; i < n; i++) {
		if (!prep[i].valid)
			continue;
		if (guestfs_add_drive_opts(g, jobs[i].disk_path, GUESTFS_ADD_DRIVE_OPTS_FORMAT,
					   jobs[i].format, GUESTFS_ADD_DRIVE_OPTS_READONLY, 0,
					   -1) < 0) {
			struct disk d = {.g = g,
					 .job = &jobs[i],
					 .prep = &prep[i],
					 .res = &res[i],
					 .index = i};
			fail_g(&d, "add drive");
			continue;
		}
		dev_of[i] = added++;
		need_inspect |= jobs[i].partition == GUEST_PARTITION_INSPECT;
		need_probe |= jobs[i].partition == GUEST_PARTITION_AUTO;
	}
	if (added == 0)
		goto out;
	if (guestfs_launch(g) < 0) {
		fail_all(res, prep, n, -EIO, "appliance launch failed", g);
		goto out;
	}
	devices = guestfs_list_devices(g);
	if (!devices) {
		fail_all(res, prep, n, -EIO, "cannot list the appliance's disks", g);
		goto out;
	}
	if (need_inspect)
		roots = guestfs_inspect_os(g); /* NULL: no root anywhere, reported per disk */
	/* One partition listing for all disks: it costs as much as a per-disk one (~1 s under
	 * TCG). list_filesystems would also probe LVM and md, several seconds more. */
	if (need_probe)
		parts = guestfs_list_partitions(g);
	char *groups[] = {(char *)"selinuxrelabel", NULL};
	bool can_relabel = guestfs_feature_available(g, groups) == 1;
	guestfs_umask(g, 077);

	for (size_t i = 0; i < n; i++) {
		if (!prep[i].valid || res[i].code < 0)
			continue;
		struct disk d = {.g = g,
				 .job = &jobs[i],
				 .prep = &prep[i],
				 .res = &res[i],
				 .index = i,
				 .device = devices[dev_of[i]]};
		run_disk(&d, roots, parts, can_relabel);
	}
	/* Late write errors surface only here, and they cannot be pinned on one disk. */
	if (guestfs_shutdown(g) < 0)
		fail_all(res, prep, n, -EIO,
			 "appliance shutdown failed; changes may not have reached the disk", g);
out:
	free_strings(devices);
	free_strings(roots);
	free_strings(parts);
	free(dev_of);
	if (g)
		guestfs_close(g);
}

/* ------------------------------------------------------------------ deadline (parent) */

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
worker_main(int fd, const struct guest_job *jobs, const struct prepared *prep, size_t n,
	    const struct guest_inject_opts *opts, struct guest_result *res)
{
	sigset_t all;
	size_t len = n * sizeof *res, off = 0;

	setpgid(0, 0);
	/* The worker must wait for qemu itself: undo what the agent may have set. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	worker(jobs, prep, n, opts, res);
	while (off < len) {
		ssize_t w = write(fd, (const char *)res + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1);
		off += (size_t)w;
	}
	_exit(0);
}

/* Reads the worker's results until EOF or the deadline. Returns 0, -ETIMEDOUT or -EIO. */
static int
collect(int fd, pid_t pid, unsigned timeout_s, struct guest_result *res, size_t n)
{
	size_t len = n * sizeof *res, off = 0;
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	int r = 0, status;

	while (off < len) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int p = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (p < 0 && errno == EINTR)
			continue;
		if (p <= 0)
			continue; /* timeout: re-check the deadline */
		ssize_t got = read(fd, (char *)res + off, len - off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			r = -EIO; /* the worker died before reporting */
			break;
		}
		off += (size_t)got;
	}
	/* qemu and libguestfs' helpers share the worker's group: one kill ends them all. */
	if (r < 0)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		r = -EIO;
	return r;
}

int
guest_inject_batch(const struct guest_job *jobs, size_t n, const struct guest_inject_opts *opts,
		   struct guest_result *ret_results)
{
	static const struct guest_inject_opts defaults = {0};
	struct prepared *prep = NULL;
	struct guest_result *res = NULL;
	size_t valid = 0;
	int fds[2] = {-1, -1}, r = 0;

	if (!jobs || !ret_results || n == 0)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	unsigned timeout_s = opts->timeout_s ? opts->timeout_s : DEFAULT_TIMEOUT_S;

	prep = calloc(n, sizeof *prep);
	/* Shared with the worker only through the pipe; sized for the exact copy back. */
	res = calloc(n, sizeof *res);
	if (!prep || !res) {
		r = -ENOMEM;
		for (size_t i = 0; i < n; i++)
			ret_results[i] = (struct guest_result){.code = -ENOMEM};
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		res[i].code = prepare(&jobs[i], i, opts, &prep[i], &res[i].err);
		valid += prep[i].valid;
	}

	if (valid > 0) {
		if (pipe2(fds, O_CLOEXEC) < 0) {
			fail_all(res, prep, n, -errno, "pipe", NULL);
			goto copy;
		}
		pid_t pid = fork();
		if (pid < 0) {
			fail_all(res, prep, n, -errno, "fork", NULL);
			goto copy;
		}
		if (pid == 0) {
			close(fds[0]);
			worker_main(fds[1], jobs, prep, n, opts, res);
		}
		setpgid(pid, pid); /* also here, so a kill before the child ran it still works */
		close(fds[1]);
		fds[1] = -1;
		struct guest_result *got = calloc(n, sizeof *got);
		int c = got ? collect(fds[0], pid, timeout_s, got, n) : -ENOMEM;
		if (c == 0) {
			memcpy(res, got, n * sizeof *res);
		} else if (c == -ETIMEDOUT) {
			char msg[64];
			snprintf(msg, sizeof msg,
				 "deadline of %u s passed; the appliance was killed", timeout_s);
			fail_all(res, prep, n, -ETIMEDOUT, msg, NULL);
		} else {
			fail_all(res, prep, n, c, "the injection worker died", NULL);
		}
		free(got);
	}
copy:
	for (size_t i = 0; i < n; i++) {
		ret_results[i] = res[i];
		if (r == 0 && res[i].code < 0)
			r = res[i].code;
	}
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (prep)
		explicit_bzero(prep, n * sizeof *prep);
	free(prep);
	free(res);
	return r;
}

int
guest_inject(const struct guest_job *job, const struct guest_inject_opts *opts,
	     struct guest_result *ret_result)
{
	return guest_inject_batch(job, 1, opts, ret_result);
}
