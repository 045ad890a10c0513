/* access.c - whether the guests' user can search each directory of a path (see access.h).
 * Only reads: stat(2) and the user database. */
#include "access.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define ACCESS_MAX_GROUPS 64

static bool
in_groups(gid_t g, const gid_t *groups, int n)
{
	for (int i = 0; i < n; i++)
		if (groups[i] == g)
			return true;
	return false;
}

/* The kernel's rule: owner bits if uid owns it, else group bits if one of the groups does,
 * else the other bits. uid 0 is checked the same way: libvirt drops qemu's capabilities,
 * CAP_DAC_OVERRIDE included. */
static bool
searchable(const struct stat *st, uid_t uid, const gid_t *groups, int n)
{
	if (st->st_uid == uid)
		return st->st_mode & S_IXUSR;
	if (in_groups(st->st_gid, groups, n))
		return st->st_mode & S_IXGRP;
	return st->st_mode & S_IXOTH;
}

int
access_traversable(const char *dir, uid_t uid, gid_t gid, const char *field, struct hv_error *err)
{
	gid_t groups[ACCESS_MAX_GROUPS];
	int n = ACCESS_MAX_GROUPS;
	struct passwd *pw = getpwuid(uid);
	char path[PATH_MAX];
	size_t len;

	if (!dir || dir[0] != '/' || (len = strlen(dir)) >= sizeof path)
		return hv_error_set(err, -EINVAL, field, "%s: an absolute path", field);
	groups[0] = gid;
	if (!pw || getgrouplist(pw->pw_name, gid, groups, &n) < 0)
		n = 1; /* the primary group only: what the baselabel names */
	memcpy(path, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		struct stat st;
		char keep;

		if (path[i] != '/' && path[i] != '\0')
			continue;
		keep = path[i];
		path[i] = '\0';
		if (stat(i == 1 && keep == '\0' ? "/" : path, &st) < 0) {
			path[i] = keep;
			return 0; /* made later, with a mode the guests' user can search */
		}
		if (S_ISDIR(st.st_mode) && !searchable(&st, uid, groups, n))
			return hv_error_set(
				err, -EACCES, field,
				"%s: %s (mode %04o, owner %u:%u) cannot be searched by %s (uid %u, "
				"gid %u), the user libvirtd runs guests as: give it o+x (0711) or "
				"that user's group g+x",
				field, path, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid,
				(unsigned)st.st_gid, pw ? pw->pw_name : "?", (unsigned)uid,
				(unsigned)gid);
		path[i] = keep;
	}
	return 0;
}
