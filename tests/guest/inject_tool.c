/* inject_tool.c - runs guest_inject_batch() (or one appliance per job with --one-by-one)
 * on jobs given on the command line and prints one result line per job, so that tests
 * can check the disks afterwards with tools that do not share our code (debugfs).
 *
 * usage: guest-inject [--timeout S] [--store DIR] [--one-by-one] JOB...
 *   JOB = disk=PATH,format=raw|qcow2[,part=N][,key=FILE][,user=NAME][,pw=FILE][,pwuser=NAME]
 * key= and pw= name files (first line), so that no password shows up in `ps`.
 * force_tcg comes from LIBGUESTFS_BACKEND_SETTINGS, as for every libguestfs tool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject.h"

#define MAX_JOBS 32

static char *
first_line(const char *path)
{
	char buf[9000];
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f)) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(2);
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

static void
parse_job(char *spec, struct guest_job *job)
{
	for (char *save = NULL, *kv = strtok_r(spec, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (!v) {
			fprintf(stderr, "bad job item: %s\n", kv);
			exit(2);
		}
		*v++ = '\0';
		if (!strcmp(kv, "disk"))
			job->disk_path = v;
		else if (!strcmp(kv, "format"))
			job->format = v;
		else if (!strcmp(kv, "part"))
			job->partition = atoi(v);
		else if (!strcmp(kv, "key"))
			job->ssh_key = first_line(v);
		else if (!strcmp(kv, "user"))
			job->key_user = v;
		else if (!strcmp(kv, "pw"))
			job->password = first_line(v);
		else if (!strcmp(kv, "pwuser"))
			job->password_user = v;
		else {
			fprintf(stderr, "unknown job item: %s\n", kv);
			exit(2);
		}
	}
}

static const char *
relabel_name(enum guest_relabel r)
{
	return r == GUEST_RELABEL_PATHS         ? "paths"
	       : r == GUEST_RELABEL_AUTORELABEL ? "autorelabel"
						: "none";
}

int
main(int argc, char **argv)
{
	struct guest_job jobs[MAX_JOBS] = {{0}};
	struct guest_result res[MAX_JOBS];
	struct guest_inject_opts opts = {0};
	const char *settings = getenv("LIBGUESTFS_BACKEND_SETTINGS");
	bool one_by_one = false;
	size_t n = 0;

	opts.force_tcg = settings && strstr(settings, "force_tcg");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			opts.timeout_s = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--store") && i + 1 < argc)
			opts.image_store = argv[++i];
		else if (!strcmp(argv[i], "--one-by-one"))
			one_by_one = true;
		else if (n < MAX_JOBS)
			parse_job(argv[i], &jobs[n++]);
	}
	if (n == 0) {
		fprintf(stderr, "usage: %s [--timeout S] [--store DIR] [--one-by-one] JOB...\n",
			argv[0]);
		return 2;
	}
	if (one_by_one) {
		for (size_t i = 0; i < n; i++)
			guest_inject(&jobs[i], &opts, &res[i]);
	} else {
		guest_inject_batch(jobs, n, &opts, res);
	}
	for (size_t i = 0; i < n; i++) {
		if (res[i].code == 0)
			printf("job %zu: ok key_added=%d password_set=%d relabel=%s\n", i,
			       res[i].key_added, res[i].password_set, relabel_name(res[i].relabel));
		else
			printf("job %zu: error %d %s: %s\n", i, res[i].code, res[i].err.field,
			       res[i].err.message);
	}
	return 0;
}
