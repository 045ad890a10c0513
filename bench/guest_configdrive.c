/* guest_configdrive.c - how long building a config drive takes: our in-process path
 * (documents + libisofs + fsync + rename) against nova's way, the same tree written to a
 * directory and handed to genisoimage (fork + exec), measured in the same run.
 * Prints medians and the ratio; target: ours < 10 ms. Never a pass/fail on time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "configdrive.h"

#define ROUNDS 200
#define PEER_ROUNDS 30

static double
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* nova writes the tree into a temp dir and runs genisoimage on it. */
static int
write_tree(const struct guest_drive_tree *t, const char *root)
{
	char path[700];
	for (size_t i = 0; i < t->n; i++) {
		snprintf(path, sizeof path, "%s/%s", root, t->files[i].path);
		for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
			*s = '\0';
			mkdir(path, 0755);
			*s = '/';
		}
		FILE *f = fopen(path, "w");
		if (!f || fwrite(t->files[i].data, 1, t->files[i].len, f) != t->files[i].len)
			return -1;
		fclose(f);
	}
	return 0;
}

static int
run_genisoimage(const char *out, const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("genisoimage", "genisoimage", "-o", out, "-ldots", "-allow-lowercase",
		       "-allow-multidot", "-l", "-publisher", "hvagent", "-quiet", "-J", "-r", "-V",
		       "config-2", dir, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int
main(void)
{
	static const struct guest_pubkey keys[] = {{
		"mykey",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsN9NMU3DY54Je2XYHctrFOcK3N43SGr/eXzpYy6G1j "
		"user@example",
	}};
	static const struct guest_kv meta[] = {{"role", "web"}, {"tier", "front"}};
	static const struct guest_nic nics[] = {{
		.mac = "52:54:00:12:34:56",
		.port_id = "0a1b2c3d-1111-2222-3333-444455556666",
		.address = "10.1.2.3",
		.prefix = 32,
		.gateway = "169.254.1.1",
	}};
	static const char *const dns[] = {"10.0.0.53"};
	static const char script[] = "#!/bin/sh\necho customized > /var/tmp/customized\n";
	static double ours[ROUNDS], docs[ROUNDS], peer[PEER_ROUNDS];
	char dir[] = "/var/tmp/guest-bench-XXXXXX", path[600], tree_dir[600];
	struct hv_error err = {0};

	if (!mkdtemp(dir)) {
		fprintf(stderr, "setup failed: %s\n", strerror(errno));
		return 1;
	}
	struct guest_config c = {
		.uuid = "6f1b6c3e-2a4d-4c3b-9e0f-1a2b3c4d5e6f",
		.name = "web-1",
		.hostname = "web-1",
		.availability_zone = "nova",
		.project_id = "p-42",
		.keys = keys,
		.n_keys = 1,
		.meta = meta,
		.n_meta = 2,
		.user_data = (const unsigned char *)script,
		.user_data_len = strlen(script),
		.admin_pass = "bench-password",
		.nics = nics,
		.n_nics = 1,
		.dns = dns,
		.n_dns = 1,
	};
	snprintf(path, sizeof path, "%s/disk.config", dir);

	for (int i = 0; i < ROUNDS; i++) {
		struct guest_drive_tree *t = NULL;
		double t0 = now_ms();
		if (guest_drive_tree_build(&c, &t, &err) < 0) {
			fprintf(stderr, "%s\n", err.message);
			return 1;
		}
		docs[i] = now_ms() - t0;
		guest_drive_tree_free(t);
		t0 = now_ms();
		if (guest_configdrive_write(&c, path, &err) < 0) {
			fprintf(stderr, "%s\n", err.message);
			return 1;
		}
		ours[i] = now_ms() - t0;
	}

	struct guest_drive_tree *t = NULL;
	guest_drive_tree_build(&c, &t, &err);
	int have_peer = access("/usr/bin/genisoimage", X_OK) == 0;
	for (int i = 0; have_peer && i < PEER_ROUNDS; i++) {
		snprintf(tree_dir, sizeof tree_dir, "%s/tree%d", dir, i);
		double t0 = now_ms();
		mkdir(tree_dir, 0700);
		if (write_tree(t, tree_dir) < 0 || run_genisoimage(path, tree_dir) < 0) {
			have_peer = 0;
			break;
		}
		int fd = open(path, O_RDONLY);
		fsync(fd); /* same durability as ours */
		close(fd);
		peer[i] = now_ms() - t0;
	}
	guest_drive_tree_free(t);

	double m_ours = median(ours, ROUNDS), m_docs = median(docs, ROUNDS);
	printf("config drive documents (validate + JSON), median of %d: %.3f ms\n", ROUNDS, m_docs);
	printf("config drive build (documents + ISO + fsync + rename), median of %d: %.3f ms "
	       "(target < 10 ms)\n",
	       ROUNDS, m_ours);
	if (have_peer) {
		double m_peer = median(peer, PEER_ROUNDS);
		printf("nova's way (tree in a directory + genisoimage), median of %d: %.3f ms\n",
		       PEER_ROUNDS, m_peer);
		printf("ratio: ours is %.1fx faster\n", m_peer / m_ours);
	} else {
		printf("genisoimage not available: no peer figure\n");
	}
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
