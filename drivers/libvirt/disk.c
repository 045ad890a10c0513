/* disk.c - qemu-img through fork/exec with an argv. Never a shell, never logs. */
#include <stdbool.h>

#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qcow2.h"

#ifndef QEMU_IMG
#define QEMU_IMG "qemu-img"
#endif

/* Runs argv; collects up to out_size-1 bytes of stdout into out (may be NULL) and the tail of
 * stderr into err's message. */
static int
run(const char *const *argv, char *out, size_t out_size, struct hv_error *err)
{
	int op[2], ep[2], status;
	char ebuf[384] = "";
	size_t olen = 0, elen = 0;
	pid_t pid;

	if (pipe2(op, O_CLOEXEC) < 0)
		return hv_error_set(err, -errno, "disk", "pipe: %s", strerror(errno));
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = errno;
		close(op[0]);
		close(op[1]);
		return hv_error_set(err, -e, "disk", "pipe: %s", strerror(e));
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(op[0]);
		close(op[1]);
		close(ep[0]);
		close(ep[1]);
		return hv_error_set(err, -e, "disk", "fork: %s", strerror(e));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(op[1], 1);
		dup2(ep[1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(op[1]);
	close(ep[1]);
	{
		struct pollfd fds[2] = {{op[0], POLLIN, 0}, {ep[0], POLLIN, 0}};
		int open_fds = 2;
		while (open_fds > 0) {
			if (poll(fds, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (int i = 0; i < 2; i++) {
				char buf[512];
				ssize_t n;
				if (fds[i].fd < 0 ||
				    !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				n = read(fds[i].fd, buf, sizeof buf);
				if (n <= 0) {
					close(fds[i].fd);
					fds[i].fd = -1;
					open_fds--;
					continue;
				}
				if (i == 0 && out) {
					size_t k = (size_t)n < out_size - 1 - olen
							   ? (size_t)n
							   : out_size - 1 - olen;
					memcpy(out + olen, buf, k);
					olen += k;
				} else if (i == 1) {
					size_t k = (size_t)n < sizeof ebuf - 1 - elen
							   ? (size_t)n
							   : sizeof ebuf - 1 - elen;
					memcpy(ebuf + elen, buf, k);
					elen += k;
				}
			}
		}
	}
	if (out)
		out[olen] = '\0';
	ebuf[elen] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	for (char *p = ebuf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return hv_error_set(err, -EIO, "disk", "%s %s failed (status %d): %s", argv[0],
			    argv[1] ? argv[1] : "", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			    ebuf);
}

/* The virtual size without running qemu-img: a raw file's length, or the size field of the
 * qcow2 header. */
static int
header_virtual_size(const char *path, const char *format, uint64_t *ret, struct hv_error *err)
{
	struct hv_qcow2_header h;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return hv_error_set(err, -errno, "image.path", "cannot open %s: %s", path,
				    strerror(errno));
	if (strcmp(format, "raw") == 0) {
		int r = fstat(fd, &st);
		close(fd);
		if (r < 0)
			return hv_error_set(err, -EIO, "image.path", "cannot stat %s", path);
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	if (hv_qcow2_read_header(fd, &h) < 0) {
		close(fd);
		return hv_error_set(err, -EINVAL, "image.format", "%s is not a qcow2 image", path);
	}
	close(fd);
	*ret = h.size;
	return 0;
}

int
disk_overlay(const char *path, const char *base, const char *base_format, uint64_t size_gb,
	     struct hv_error *err)
{
	char size[32];
	const char *argv[] = {QEMU_IMG,
			      "create",
			      "-q",
			      "-f",
			      "qcow2",
			      "-b",
			      base,
			      "-F",
			      base_format,
			      path,
			      size_gb ? size : NULL,
			      NULL};

	if (strcmp(base_format, "raw") != 0 && strcmp(base_format, "qcow2") != 0)
		return hv_error_set(err, -EINVAL, "image.format",
				    "image format must be raw or qcow2");
	snprintf(size, sizeof size, "%" PRIu64 "G", size_gb);
	if (size_gb) {
		uint64_t base_bytes = 0;
		int r = header_virtual_size(base, base_format, &base_bytes, err);
		if (r < 0)
			return r;
		/* A root disk smaller than its image cannot hold it. */
		if (base_bytes > size_gb << 30)
			argv[10] = NULL;
	}
	return run(argv, NULL, 0, err);
}

static int
blank(const char *path, const char *size, struct hv_error *err)
{
	const char *argv[] = {QEMU_IMG, "create", "-q", "-f", "qcow2", path, size, NULL};

	return run(argv, NULL, 0, err);
}

int
disk_blank(const char *path, uint64_t size_mb, struct hv_error *err)
{
	char size[32];

	snprintf(size, sizeof size, "%" PRIu64 "M", size_mb);
	return blank(path, size, err);
}

int
disk_blank_bytes(const char *path, uint64_t size_bytes, struct hv_error *err)
{
	char size[32];

	snprintf(size, sizeof size, "%" PRIu64, size_bytes);
	return blank(path, size, err);
}

int
disk_virtual_size(const char *path, uint64_t *ret_bytes, struct hv_error *err)
{
	char out[4096];
	const char *argv[] = {QEMU_IMG, "info", "-U", "--output=json", path, NULL};
	const char *p;
	int r = run(argv, out, sizeof out, err);

	if (r < 0)
		return r;
	p = strstr(out, "\"virtual-size\":");
	if (!p)
		return hv_error_set(err, -EIO, "disk", "qemu-img info gave no virtual-size");
	*ret_bytes = strtoull(p + strlen("\"virtual-size\":"), NULL, 10);
	return 0;
}

int
disk_grow(const char *path, uint64_t size_gb, struct hv_error *err)
{
	char size[32];
	uint64_t cur;
	const char *argv[] = {QEMU_IMG, "resize", "-q", "-f", "qcow2", path, size, NULL};
	int r = disk_virtual_size(path, &cur, err);

	if (r < 0)
		return r;
	if (size_gb << 30 == cur)
		return 0;
	if (size_gb << 30 < cur)
		return hv_error_set(err, -EINVAL, "flavor.root_gb",
				    "root_gb=%" PRIu64 " would shrink the disk (%" PRIu64 " bytes)",
				    size_gb, cur);
	snprintf(size, sizeof size, "%" PRIu64 "G", size_gb);
	return run(argv, NULL, 0, err);
}

int
disk_convert(const char *path, const char *dest, const char *dest_format, bool force_share,
	     struct hv_error *err)
{
	const char *argv[] = {QEMU_IMG, "convert", "-O", dest_format, path, dest, NULL, NULL};

	if (strcmp(dest_format, "raw") != 0 && strcmp(dest_format, "qcow2") != 0)
		return hv_error_set(err, -EINVAL, "dest_format",
				    "dest_format must be raw or qcow2");
	if (force_share) {
		argv[2] = "-U";
		argv[3] = "-O";
		argv[4] = dest_format;
		argv[5] = path;
		argv[6] = dest;
	}
	return run(argv, NULL, 0, err);
}

int
disk_copy(const char *src, const char *dest, struct hv_error *err)
{
	const char *argv[] = {"cp", "--reflink=auto", "--", src, dest, NULL};

	return run(argv, NULL, 0, err);
}
