/* keys.c - CURVE key files. Must never write a secret key anywhere but the 0600 secret file,
 * and never leave a half-written key file behind. */
#include "keys.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

bool
keys_z85_valid(const char *s)
{
	uint8_t raw[32];

	if (!s || strlen(s) != KEYS_Z85_LEN)
		return false;
	return zmq_z85_decode(raw, s) != NULL;
}

void
keys_pair_wipe(struct keys_pair *kp)
{
	if (kp)
		explicit_bzero(kp, sizeof *kp);
}

int
keys_generate(struct keys_pair *ret, struct hv_error *err)
{
	memset(ret, 0, sizeof *ret);
	if (!zmq_has("curve"))
		return hv_error_set(err, -ENOTSUP, NULL, "this libzmq was built without CURVE");
	if (zmq_curve_keypair(ret->public_z85, ret->secret_z85) != 0)
		return hv_error_set(err, -zmq_errno(), NULL, "generating a CURVE keypair: %s",
				    zmq_strerror(zmq_errno()));
	return 0;
}

/* Writes text to path through a temporary file. exclusive: never replace an existing path
 * (link(2) instead of rename(2)) and return -EEXIST, so two processes creating the same
 * keypair at once agree on one. */
static int
write_atomic(const char *path, mode_t mode, const char *text, bool exclusive, struct hv_error *err)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text), off = 0;
	int fd, r = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
		return hv_error_set(err, -ENAMETOOLONG, "keys_dir", "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return hv_error_set(err, -errno, "keys_dir", "creating %s: %s", tmp,
				    strerror(errno));
	if (fchmod(fd, mode) < 0)
		r = -errno;
	while (r == 0 && off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			r = -errno;
		else
			off += (size_t)w;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && (exclusive ? link(tmp, path) : rename(tmp, path)) < 0)
		r = -errno;
	if (r < 0 || exclusive)
		unlink(tmp);
	if (r == -EEXIST && exclusive)
		return r;
	if (r < 0)
		return hv_error_set(err, r, "keys_dir", "writing %s: %s", path, strerror(-r));
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	fsync(fd);
	close(fd);
	return 0;
}

/* The secret file is written first: it holds both keys and decides which keypair exists. */
static int
save_pair(const char *dir, const char *name, const struct keys_pair *kp, bool exclusive,
	  struct hv_error *err)
{
	char path[PATH_MAX], text[512], stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int r;

	if (!keys_z85_valid(kp->public_z85) || !keys_z85_valid(kp->secret_z85))
		return hv_error_set(err, -EINVAL, "key", "refusing to save a malformed keypair");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hv_error_set(err, -errno, "keys_dir", "creating %s: %s", dir,
				    strerror(errno));
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);

	snprintf(path, sizeof path, "%s/%s.key_secret", dir, name);
	snprintf(text, sizeof text,
		 "#   ****  Generated on %s by hvagent  ****\n"
		 "#   ZeroMQ CURVE **Secret** Certificate\n"
		 "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
		 "metadata\ncurve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n",
		 stamp, kp->public_z85, kp->secret_z85);
	r = write_atomic(path, 0600, text, exclusive, err);
	explicit_bzero(text, sizeof text);
	if (r < 0)
		return r;
	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	snprintf(text, sizeof text,
		 "#   ****  Generated on %s by hvagent  ****\n"
		 "#   ZeroMQ CURVE Public Certificate\n"
		 "#   Exchange securely, or use a secure mechanism to verify the contents\n"
		 "#   of this file after exchange. Store public certificates in your home\n"
		 "#   directory, in the .curve subdirectory.\n\n"
		 "metadata\ncurve\n    public-key = \"%s\"\n",
		 stamp, kp->public_z85);
	if ((r = write_atomic(path, 0644, text, false, err)) < 0)
		return r;
	fsync_dir(dir);
	return 0;
}

int
keys_save(const char *dir, const char *name, const struct keys_pair *kp, struct hv_error *err)
{
	return save_pair(dir, name, kp, false, err);
}

/* Reads "public-key" and "secret-key" values from a ZPL certificate. */
static int
read_cert(const char *path, char pub[KEYS_Z85_LEN + 1], char sec[KEYS_Z85_LEN + 1],
	  struct hv_error *err)
{
	char line[512];
	FILE *f = fopen(path, "re");

	pub[0] = '\0';
	if (sec)
		sec[0] = '\0';
	if (!f)
		return hv_error_set(err, -errno, "key", "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f)) {
		char *p = line, *v, *end;
		char *dst;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "public-key", 10) == 0)
			dst = pub;
		else if (sec && strncmp(p, "secret-key", 10) == 0)
			dst = sec;
		else
			continue;
		v = strchr(p, '=');
		if (!v)
			continue;
		v++;
		while (*v == ' ' || *v == '\t' || *v == '"' || *v == '\'')
			v++;
		end = v;
		while (*end && *end != '"' && *end != '\'' && *end != '\n' && *end != ' ')
			end++;
		if (end - v == KEYS_Z85_LEN) {
			memcpy(dst, v, KEYS_Z85_LEN);
			dst[KEYS_Z85_LEN] = '\0';
		}
	}
	explicit_bzero(line, sizeof line);
	fclose(f);
	if (!keys_z85_valid(pub))
		return hv_error_set(err, -EINVAL, "key", "%s: no valid public-key", path);
	if (sec && !keys_z85_valid(sec))
		return hv_error_set(err, -EINVAL, "key", "%s: no valid secret-key", path);
	return 0;
}

int
keys_load(const char *dir, const char *name, struct keys_pair *ret, struct hv_error *err)
{
	char path[PATH_MAX], derived[KEYS_Z85_LEN + 1];
	struct stat st;
	int r;

	memset(ret, 0, sizeof *ret);
	snprintf(path, sizeof path, "%s/%s.key_secret", dir, name);
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		return hv_error_set(err, -EPERM, "key",
				    "%s: mode %03o lets others read the secret key (want 0600)",
				    path, st.st_mode & 0777);
	r = read_cert(path, ret->public_z85, ret->secret_z85, err);
	if (r < 0) {
		keys_pair_wipe(ret);
		return r;
	}
	if (zmq_curve_public(derived, ret->secret_z85) != 0 ||
	    strcmp(derived, ret->public_z85) != 0) {
		keys_pair_wipe(ret);
		return hv_error_set(err, -EINVAL, "key", "%s: public-key does not match secret-key",
				    path);
	}
	return 0;
}

int
keys_load_or_create(const char *dir, const char *name, struct keys_pair *ret, bool *ret_created,
		    struct hv_error *err)
{
	char path[PATH_MAX];
	int r;

	if (ret_created)
		*ret_created = false;
	snprintf(path, sizeof path, "%s/%s.key_secret", dir, name);
	if (access(path, F_OK) == 0)
		return keys_load(dir, name, ret, err);
	if (errno != ENOENT)
		return hv_error_set(err, -errno, "keys_dir", "%s: %s", path, strerror(errno));
	if ((r = keys_generate(ret, err)) < 0)
		return r;
	r = save_pair(dir, name, ret, true, err);
	if (r == -EEXIST) { /* another process created it first: use that one */
		keys_pair_wipe(ret);
		return keys_load(dir, name, ret, err);
	}
	if (r < 0) {
		keys_pair_wipe(ret);
		return r;
	}
	if (ret_created)
		*ret_created = true;
	return 0;
}

int
keys_public_from(const char *text_or_path, char ret[KEYS_Z85_LEN + 1], struct hv_error *err)
{
	ret[0] = '\0';
	if (!text_or_path || !*text_or_path)
		return hv_error_set(err, -EINVAL, "server_public_key", "no key given");
	if (keys_z85_valid(text_or_path)) {
		memcpy(ret, text_or_path, KEYS_Z85_LEN + 1);
		return 0;
	}
	if (text_or_path[0] != '/')
		return hv_error_set(err, -EINVAL, "server_public_key",
				    "expected 40 Z85 characters or an absolute certificate path");
	return read_cert(text_or_path, ret, NULL, err);
}
