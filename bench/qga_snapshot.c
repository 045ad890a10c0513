/* qga_snapshot.c - what a snapshot costs the guest: one guest running qemu-ga, its image
 * os_require_quiesce=yes, on a disk of DISK_MB with most of it written; snapshots taken in
 * turn the driver's way (live: the disk mirrored while the guest runs, frozen only around
 * the cut) and the pause-for-the-whole-copy way (live_snapshot = false: frozen and paused
 * while qemu-img reads the chain). Prints, per way, the medians of RUNS of how long the
 * guest's file systems were frozen, how long the guest was paused, and the snapshot's wall
 * time, from the driver's own record (snapshot.log). Figures only; no verdict.
 *
 *   qga_snapshot URI KERNEL INITRD DISK RUNS */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lvtest.h"

#define UUID "b0b0c0de-0000-4000-8000-00000000b0b0"

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool
wait_console(struct lvt *t, const char *marker, unsigned timeout_s)
{
	char path[700];
	double end = lvt_now() + timeout_s;

	snprintf(path, sizeof path, "%s/%s/console.log", t->instances, UUID);
	while (lvt_now() < end) {
		char *text = lvt_read(path);
		bool seen = text && strstr(text, marker);
		free(text);
		if (seen)
			return true;
		usleep(250000);
	}
	return false;
}

/* One snapshot through host; its frozen and paused ms from snapshot.log, its wall time. */
static int
one(struct lvt *t, struct hvd_host *host, const char *method, double *frozen, double *paused,
    double *wall)
{
	struct hv_error err = {0};
	char dest[600], path[700], want[64], *log;
	double a = lvt_now();
	int r;

	snprintf(dest, sizeof dest, "%s/snap.qcow2", t->dir);
	r = t->ops->snapshot(host, UUID, dest, "qcow2", &err);
	*wall = lvt_now() - a;
	unlink(dest);
	if (r < 0) {
		fprintf(stderr, "snapshot (%s): %s\n", method, err.message);
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s/snapshot.log", t->instances, UUID);
	snprintf(want, sizeof want, "method=%s result=ok", method);
	log = lvt_read(path);
	if (!log || !strstr(log, want) ||
	    sscanf(strstr(log, "frozen_ms="), "frozen_ms=%lf paused_ms=%lf", frozen, paused) != 2) {
		fprintf(stderr, "snapshot.log of the %s snapshot:\n%s\n", method, log ? log : "");
		free(log);
		return -1;
	}
	free(log);
	return 0;
}

int
main(int argc, char **argv)
{
	struct lvt t;
	struct hv_error err = {0};
	struct hvd_host *paused_host = NULL;
	int runs = argc > 5 ? atoi(argv[5]) : 3, rc = 1;
	double fr[2][16], pa[2][16], wa[2][16];
	const char *names[2] = {"live", "paused"};

	if (argc < 5 || runs < 1 || runs > 16) {
		fprintf(stderr, "usage: %s URI KERNEL INITRD DISK [RUNS<=16]\n", argv[0]);
		return 2;
	}
	const struct hvd_kv cfg[] = {{"uri", argv[1]},
				     {"virt_type", "qemu"},
				     {"serial_port_range", ""},
				     {"shutdown_timeout", "5"}};
	struct hvd_kv props[] = {
		{"kernel", argv[2]},
		{"initrd", argv[3]},
		{"os_command_line", "console=ttyS0 quiet panic=-1 printk.devkmsg=on hvqga=1"},
		{"hw_qemu_guest_agent", "yes"},
		{"os_require_quiesce", "yes"}};
	struct hvd_instance_spec s = {
		.struct_size = sizeof s,
		.uuid = UUID,
		.name = "bench",
		.hostname = "bench",
		.flavor = {.name = "tiny", .vcpus = 1, .ram_mb = 256},
		.image = {.id = "qga",
			  .format = "raw",
			  .path = argv[4],
			  .properties = props,
			  .n_properties = 5},
		.power_on = true,
	};

	if (lvt_open(&t, cfg, 4, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.message);
		goto out;
	}
	{
		/* The same daemon and instance directory; only the way of copying differs. */
		const struct hvd_kv pcfg[] = {cfg[0],
					      cfg[1],
					      cfg[2],
					      cfg[3],
					      {"instances_path", t.instances},
					      {"live_snapshot", "false"}};
		if (t.ops->open(pcfg, 6, &paused_host, &err) < 0) {
			fprintf(stderr, "open: %s\n", err.message);
			goto out;
		}
	}
	if (t.ops->spawn(t.host, &s, &err) < 0) {
		fprintf(stderr, "spawn: %s\n", err.message);
		goto out;
	}
	if (!wait_console(&t, "HVGUEST-TICK", 300)) {
		fprintf(stderr, "the guest did not come up with its disk\n");
		goto out;
	}
	sleep(3); /* qemu-ga is up a moment after the disk */
	for (int i = 0; i < runs; i++)
		for (int m = 0; m < 2; m++)
			if (one(&t, m ? paused_host : t.host, names[m], &fr[m][i], &pa[m][i],
				&wa[m][i]) < 0)
				goto out;
	printf("snapshot of a running guest (qemu-ga, os_require_quiesce=yes), %s, medians of "
	       "%d:\n",
	       argv[4], runs);
	printf("  %-34s %12s %12s %12s\n", "", "frozen ms", "paused ms", "wall s");
	for (int m = 0; m < 2; m++)
		printf("  %-34s %12.1f %12.1f %12.2f\n",
		       m ? "paused for the copy (live=false)" : "live (mirror, freeze at the cut)",
		       median(fr[m], runs), median(pa[m], runs), median(wa[m], runs));
	rc = 0;
out:
	if (t.host)
		t.ops->destroy(t.host, UUID, true, &err);
	if (paused_host)
		t.ops->close(paused_host);
	lvt_close(&t);
	return rc;
}
