/* libvirt_bench.c - figures for the libvirt driver, each beside a peer measured in the same run.
 *
 *   libvirt_bench reconcile [N [URI]]
 *       N (1000) defined-not-running domains on URI (test:///default); times one reconciliation
 *       pass through the driver (list_instances + get_instance for each), beside the same
 *       pass done with the bare libvirt API. Target: < 2 s.
 *   libvirt_bench spawn URI KERNEL INITRD [RUNS]
 *       time from spawn to running through the driver (disk overlay, validation, define,
 *       start) beside `virsh create` of the same XML on the same daemon, medians of RUNS
 *       (5). Target ratio <= 1.10.
 * Prints figures; exits 0 unless something failed outright. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "lvtest.h"

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

static size_t seen;
static void
on_instance(void *ctx, const struct hvd_instance_info *info)
{
	struct lvt *t = ctx;
	struct hvd_instance_info again = {.struct_size = sizeof again};
	struct hv_error err = {0};

	if (t->ops->get_instance(t->host, info->uuid, &again, &err) == 0)
		seen++;
}

static int
reconcile(int n, const char *uri)
{
	const struct hvd_kv cfg[] = {{"uri", uri}, {"virt_type", "qemu"}};
	struct lvt t;
	struct hv_error err = {0};
	virConnectPtr vc = virConnectOpen(uri);
	double t_drv[5], t_raw[5];

	if (!vc || lvt_open(&t, cfg, 2, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.message);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char xml[1024];
		virDomainPtr d;
		snprintf(xml, sizeof xml,
			 "<domain "
			 "type='qemu'><name>instance-bbbbbbbb-0000-4000-8000-%012d</"
			 "name><uuid>bbbbbbbb-0000-4000-8000-%012d</uuid>"
			 "<memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type "
			 "arch='x86_64'>hvm</type></os>"
			 "</domain>",
			 i, i);
		if (!(d = virDomainDefineXML(vc, xml))) {
			fprintf(stderr, "define %d failed\n", i);
			return 1;
		}
		virDomainFree(d);
	}
	for (int r = 0; r < 5; r++) {
		double a = lvt_now();
		virDomainPtr *doms = NULL;
		int nd;

		seen = 0;
		if (t.ops->list_instances(t.host, on_instance, &t, &err) < 0) {
			fprintf(stderr, "list: %s\n", err.message);
			return 1;
		}
		t_drv[r] = lvt_now() - a;

		a = lvt_now();
		nd = virConnectListAllDomains(vc, &doms, 0);
		for (int i = 0; i < nd; i++) {
			char uuid[VIR_UUID_STRING_BUFLEN];
			virDomainInfo info;
			virDomainPtr d;
			virDomainGetUUIDString(doms[i], uuid);
			if ((d = virDomainLookupByUUIDString(vc, uuid))) {
				virDomainGetInfo(d, &info);
				virDomainFree(d);
			}
			virDomainFree(doms[i]);
		}
		free(doms);
		t_raw[r] = lvt_now() - a;
	}
	for (int i = 0; i < n; i++) {
		char uuid[64];
		virDomainPtr d;
		snprintf(uuid, sizeof uuid, "bbbbbbbb-0000-4000-8000-%012d", i);
		if ((d = virDomainLookupByUUIDString(vc, uuid))) {
			virDomainUndefine(d);
			virDomainFree(d);
		}
	}
	printf("reconcile on %s: %zu domains listed and observed one by one\n", uri, seen);
	printf("reconcile: driver %.3f s (median of 5), bare libvirt API %.3f s, ratio %.2f; "
	       "target < 2 s: %s\n",
	       median(t_drv, 5), median(t_raw, 5), median(t_drv, 5) / median(t_raw, 5),
	       median(t_drv, 5) < 2.0 ? "met" : "MISSED");
	lvt_close(&t);
	virConnectClose(vc);
	return seen >= (size_t)n ? 0 : 1;
}

static int
spawn_bench(const char *uri, const char *kernel, const char *initrd, int runs)
{
	struct hvd_kv cfg[] = {
		{"uri", uri}, {"virt_type", "qemu"}, {"serial_port_range", "43000:43100"}};
	struct hvd_kv props[] = {
		{"kernel", kernel}, {"initrd", initrd}, {"os_command_line", "console=ttyS0 quiet"}};
	static const char *const uuid = "bbbbbbbb-5555-4000-8000-000000000001";
	struct lvt t;
	struct hv_error err = {0};
	double t_drv[32], t_virsh[32], t_defstart[32];
	char disk[512], xmlfile[600];

	if (runs > 32)
		runs = 32;
	if (lvt_open(&t, cfg, 3, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.message);
		return 1;
	}
	snprintf(disk, sizeof disk, "%s/base.raw", t.dir);
	snprintf(xmlfile, sizeof xmlfile, "%s/domain.xml", t.dir);
	{
		const char *a[] = {"qemu-img", "create", "-q", "-f", "raw", disk, "16M", NULL};
		if (lvt_run(a) < 0)
			return 1;
	}
	for (int r = 0; r < runs; r++) {
		struct hvd_instance_spec s = {
			.struct_size = sizeof s,
			.uuid = uuid,
			.name = "bench",
			.power_on = true,
			.flavor = {.name = "tiny", .vcpus = 1, .ram_mb = 256, .root_gb = 1},
			.image = {.id = "tiny",
				  .path = disk,
				  .format = "raw",
				  .properties = props,
				  .n_properties = 3},
		};
		virConnectPtr vc;
		virDomainPtr d;
		char *xml = NULL;
		FILE *f;
		double a;

		a = lvt_now();
		if (t.ops->spawn(t.host, &s, &err) < 0) {
			fprintf(stderr, "spawn: %s\n", err.message);
			return 1;
		}
		t_drv[r] = lvt_now() - a;
		if (lvt_power(&t, uuid) != HVD_POWER_RUNNING)
			return 1;

		/* The peer starts the very same definition, disk and all. */
		vc = virConnectOpen(uri);
		d = vc ? virDomainLookupByUUIDString(vc, uuid) : NULL;
		xml = d ? virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE) : NULL;
		if (!xml)
			return 1;
		virDomainDestroy(d);
		virDomainUndefine(d);
		virDomainFree(d);
		f = fopen(xmlfile, "w");
		fputs(xml, f);
		fclose(f);
		free(xml);
		{
			const char *a1[] = {"virsh", "-q", "-c", uri, "create", xmlfile, NULL};
			const char *a2[] = {"virsh", "-q", "-c", uri, "destroy", uuid, NULL};
			const char *a3[] = {"virsh", "-q", "-c", uri, "define", xmlfile, NULL};
			const char *a4[] = {"virsh", "-q", "-c", uri, "start", uuid, NULL};
			const char *a5[] = {"virsh", "-q", "-c", uri, "undefine", uuid, NULL};
			a = lvt_now();
			if (lvt_run_quiet(a1) < 0)
				return 1;
			t_virsh[r] = lvt_now() - a;
			lvt_run_quiet(a2);
			/* A persistent domain, as the driver makes: define + start. */
			a = lvt_now();
			if (lvt_run_quiet(a3) < 0 || lvt_run_quiet(a4) < 0)
				return 1;
			t_defstart[r] = lvt_now() - a;
			lvt_run_quiet(a2);
			lvt_run_quiet(a5);
		}
		virConnectClose(vc);
		{
			/* the instance directory is the driver's, already without a domain */
			char dir[600];
			const char *rm[] = {"rm", "-rf", "--", dir, NULL};
			snprintf(dir, sizeof dir, "%s/%s", t.instances, uuid);
			lvt_run(rm);
		}
	}
	{
		/* Context for the ratio: the driver's one extra process, the root disk overlay. */
		double t_img[32];
		char ov[600];
		snprintf(ov, sizeof ov, "%s/overlay.qcow2", t.dir);
		for (int r = 0; r < runs; r++) {
			const char *a[] = {"qemu-img", "create", "-q",  "-f", "qcow2", "-b",
					   disk,       "-F",     "raw", ov,   "1G",    NULL};
			double a0 = lvt_now();
			lvt_run(a);
			t_img[r] = lvt_now() - a0;
			unlink(ov);
		}
		printf("spawn: of which the qemu-img overlay takes %.3f s (median)\n",
		       median(t_img, runs));
	}
	printf("spawn to running: driver %.3f s, virsh create of the same XML %.3f s (medians of "
	       "%d); "
	       "ratio %.2f; target <= 1.10: %s\n",
	       median(t_drv, runs), median(t_virsh, runs), runs,
	       median(t_drv, runs) / median(t_virsh, runs),
	       median(t_drv, runs) / median(t_virsh, runs) <= 1.10 ? "met" : "MISSED");
	printf("spawn to running: virsh define + virsh start (persistent, as the driver) %.3f s; "
	       "driver / that %.2f\n",
	       median(t_defstart, runs), median(t_drv, runs) / median(t_defstart, runs));
	lvt_close(&t);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "reconcile") == 0)
		return reconcile(argc >= 3 ? atoi(argv[2]) : 1000,
				 argc >= 4 ? argv[3] : "test:///default");
	if (argc >= 5 && strcmp(argv[1], "spawn") == 0)
		return spawn_bench(argv[2], argv[3], argv[4], argc >= 6 ? atoi(argv[5]) : 5);
	fprintf(stderr, "usage: %s reconcile [N [URI]] | spawn URI KERNEL INITRD [RUNS]\n",
		argv[0]);
	return 2;
}
