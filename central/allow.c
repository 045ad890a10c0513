/* allow.c - the allowlist directory. Host names are validated before they become file
 * names; keys are validated before they are trusted; writes go through a temp file and
 * rename so the ZAP handler never reads half a key. */
#include "allow.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys.h"
#include "proto.h"
#include "vec.h"

struct allow_entry {
	char host_id[PROTO_MAX_ID + 1];
	char key[KEYS_Z85_LEN + 1];
};

struct allow {
	char *dir;
	struct timespec mtime;
	/* a .pub file held no key when last read: it may have been read between its creation
	 * and its write, which changes the file's mtime and not the folder's, so the folder is
	 * read again at the next refresh until every file holds one */
	bool unreadable;
	struct allow_entry *entries;
	size_t n, cap;
	json_t *by_key, *by_host; /* -> index into entries; the first file naming one wins */
};

bool
allow_host_name_valid(const char *name)
{
	return proto_id_valid(name) && isalnum((unsigned char)name[0]);
}

/* Reads one <host>.pub file: the first line, trimmed, must be a Z85 key. */
static bool
read_key_file(int dirfd, const char *fname, char key[KEYS_Z85_LEN + 1])
{
	int fd = openat(dirfd, fname, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	char buf[128];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = buf;
	while (isspace((unsigned char)*p))
		p++;
	size_t len = strcspn(p, " \t\r\n");
	p[len] = '\0';
	if (!keys_z85_valid(p))
		return false;
	memcpy(key, p, KEYS_Z85_LEN + 1);
	return true;
}

static int
load(struct allow *al, struct hv_error *err)
{
	DIR *d = opendir(al->dir);
	if (!d)
		return hv_error_set(err, -errno, "allowlist_dir", "cannot read %s: %s", al->dir,
				    strerror(errno));
	al->n = 0;
	al->unreadable = false;
	json_object_clear(al->by_key);
	json_object_clear(al->by_host);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".pub") != 0)
			continue;
		struct allow_entry e = {0};
		if (len - 4 > PROTO_MAX_ID)
			continue;
		memcpy(e.host_id, de->d_name, len - 4);
		if (!allow_host_name_valid(e.host_id))
			continue;
		if (!read_key_file(dirfd(d), de->d_name, e.key)) {
			al->unreadable = true;
			continue;
		}
		if (HV_GROW(al->entries, al->cap, al->n + 1) < 0) {
			closedir(d);
			return hv_error_set(err, -ENOMEM, "", "allowlist: out of memory");
		}
		if (!json_object_get(al->by_key, e.key))
			json_object_set_new(al->by_key, e.key, json_integer((json_int_t)al->n));
		if (!json_object_get(al->by_host, e.host_id))
			json_object_set_new(al->by_host, e.host_id,
					    json_integer((json_int_t)al->n));
		al->entries[al->n++] = e;
	}
	closedir(d);
	return 0;
}

int
allow_refresh(struct allow *al, struct hv_error *err)
{
	struct stat st;
	if (stat(al->dir, &st) < 0)
		return hv_error_set(err, -errno, "allowlist_dir", "cannot stat %s: %s", al->dir,
				    strerror(errno));
	if (st.st_mtim.tv_sec == al->mtime.tv_sec && st.st_mtim.tv_nsec == al->mtime.tv_nsec)
		return 0;
	int r = load(al, err);
	if (r == 0)
		al->mtime = al->unreadable ? (struct timespec){0} : st.st_mtim;
	return r;
}

int
allow_reload(struct allow *al, struct hv_error *err)
{
	al->mtime = (struct timespec){0};
	return allow_refresh(al, err);
}

int
allow_open(const char *dir, struct allow **ret, struct hv_error *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return hv_error_set(err, -errno, "allowlist_dir", "cannot create %s: %s", dir,
				    strerror(errno));
	struct allow *al = calloc(1, sizeof *al);
	if (!al || !(al->dir = strdup(dir)) || !(al->by_key = json_object()) ||
	    !(al->by_host = json_object())) {
		allow_free(al);
		return hv_error_set(err, -ENOMEM, "", "allowlist: out of memory");
	}
	int r = allow_refresh(al, err);
	if (r < 0) {
		allow_free(al);
		return r;
	}
	*ret = al;
	return 0;
}

void
allow_free(struct allow *al)
{
	if (!al)
		return;
	free(al->entries);
	free(al->dir);
	json_decref(al->by_key);
	json_decref(al->by_host);
	free(al);
}

const char *
allow_host_for(const struct allow *al, const char *public_z85)
{
	json_t *at = json_object_get(al->by_key, public_z85);
	return at ? al->entries[json_integer_value(at)].host_id : NULL;
}

const char *
allow_key_for(const struct allow *al, const char *host_id)
{
	json_t *at = json_object_get(al->by_host, host_id);
	return at ? al->entries[json_integer_value(at)].key : NULL;
}

int
allow_add(struct allow *al, const char *host_id, const char *public_z85, struct hv_error *err)
{
	if (!allow_host_name_valid(host_id))
		return hv_error_set(
			err, -EINVAL, "name",
			"'%s' is not a host name (1-%d of A-Z a-z 0-9 . _ : -, starting "
			"with a letter or digit)",
			host_id, PROTO_MAX_ID);
	if (!keys_z85_valid(public_z85))
		return hv_error_set(err, -EINVAL, "key",
				    "not a CURVE public key (40 Z85 characters)");
	int r = allow_refresh(al, err);
	if (r < 0)
		return r;
	const char *owner = allow_host_for(al, public_z85);
	if (owner && strcmp(owner, host_id) != 0)
		return hv_error_set(err, -EEXIST, "key", "key already allowed as host '%s'", owner);
	const char *have = allow_key_for(al, host_id);
	if (have && strcmp(have, public_z85) != 0)
		return hv_error_set(
			err, -EEXIST, "name",
			"host '%s' already has another key (remove %s/%s.pub to rotate)", host_id,
			al->dir, host_id);
	if (have)
		return 0;

	char tmp[4096], path[4096];
	snprintf(path, sizeof path, "%s/%s.pub", al->dir, host_id);
	snprintf(tmp, sizeof tmp, "%s/.%s.pub.tmp", al->dir, host_id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return hv_error_set(err, -errno, "allowlist_dir", "cannot write %s: %s", tmp,
				    strerror(errno));
	char line[KEYS_Z85_LEN + 2];
	snprintf(line, sizeof line, "%s\n", public_z85);
	ssize_t n = write(fd, line, strlen(line));
	int werr = n == (ssize_t)strlen(line) ? 0 : errno ? errno : EIO;
	if (!werr && fsync(fd) < 0)
		werr = errno;
	close(fd);
	if (!werr && rename(tmp, path) < 0)
		werr = errno;
	if (werr) {
		unlink(tmp);
		return hv_error_set(err, -werr, "allowlist_dir", "cannot write %s: %s", path,
				    strerror(werr));
	}
	al->mtime.tv_sec = 0; /* force a re-read even within one mtime tick */
	al->mtime.tv_nsec = 0;
	return allow_refresh(al, err);
}

json_t *
allow_list(const struct allow *al)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < al->n; i++)
		json_array_append_new(arr,
				      json_pack("{s:s, s:s}", "host_id", al->entries[i].host_id,
						"public_key", al->entries[i].key));
	return arr;
}
