/* lvtest.c - shared plumbing of the libvirt driver's tests and benchmarks. */
#include "lvtest.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"

extern char **environ;

static int
run(const char *const *argv, bool quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, r;

	posix_spawn_file_actions_init(&fa);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int
lvt_run(const char *const *argv)
{
	return run(argv, false);
}

int
lvt_run_quiet(const char *const *argv)
{
	return run(argv, true);
}

int
lvt_open(struct lvt *t, const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err)
{
	const char *path = getenv("HV_LIBVIRT_DRIVER");
	struct hvd_kv kv[32];
	int r;

	memset(t, 0, sizeof *t);
	if (!path) {
		fprintf(stderr, "HV_LIBVIRT_DRIVER is not set\n");
		exit(1);
	}
	snprintf(t->dir, sizeof t->dir, "/tmp/hvlv-XXXXXX");
	if (!mkdtemp(t->dir)) {
		perror("mkdtemp");
		exit(1);
	}
	chmod(t->dir, 0755);
	snprintf(t->instances, sizeof t->instances, "%s/instances", t->dir);
	if ((r = hv_driver_load_path(path, &t->drv, err)) < 0) {
		fprintf(stderr, "cannot load %s: %s\n", path, err->message);
		exit(1);
	}
	t->ops = hv_driver_ops(t->drv);
	for (size_t i = 0; i < n_cfg && i < 30; i++)
		kv[i] = cfg[i];
	kv[n_cfg] = (struct hvd_kv){"instances_path", t->instances};
	return t->ops->open(kv, n_cfg + 1, &t->host, err);
}

void
lvt_close(struct lvt *t)
{
	const char *argv[] = {"rm", "-rf", "--", t->dir, NULL};

	if (t->ops && t->host)
		t->ops->close(t->host);
	t->host = NULL;
	hv_driver_unload(&t->drv);
	if (t->dir[0] && !getenv("HV_KEEP_TMP"))
		lvt_run(argv);
}

enum hvd_power_state
lvt_power(struct lvt *t, const char *uuid)
{
	struct hvd_instance_info info = {.struct_size = sizeof info};
	struct hv_error err = {0};

	if (t->ops->get_instance(t->host, uuid, &info, &err) < 0)
		return (enum hvd_power_state) - 1;
	return info.power_state;
}

double
lvt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool
lvt_wait_power(struct lvt *t, const char *uuid, enum hvd_power_state want, unsigned timeout_s)
{
	double end = lvt_now() + timeout_s;

	while (lvt_now() < end) {
		if (lvt_power(t, uuid) == want)
			return true;
		usleep(100000);
	}
	return lvt_power(t, uuid) == want;
}

char *
lvt_read_stream(FILE *f)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *m = open_memstream(&buf, &size);

	if (!m)
		return NULL;
	for (int ch; (ch = fgetc(f)) != EOF;)
		fputc(ch, m);
	fclose(m);
	return buf;
}

char *
lvt_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text;

	if (!f)
		return NULL;
	text = lvt_read_stream(f);
	fclose(f);
	return text;
}
