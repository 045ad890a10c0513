/* test_stock.c - the libvirt driver on the distribution's libvirtd as shipped (Debian: qemu
 * runs as libvirt-qemu, dynamic_ownership = 1), run by stock_qemu.sh: the start-up
 * self-check refuses an instances path qemu's user cannot search and names it; a guest boots
 * from the default instances path under /var/lib; rescue shows the rescue disk first.
 * Environment: HV_LIBVIRT_DRIVER, HV_STOCK_DIR (scratch under /var/lib, 0711, holding
 * kernel, initrd.img, root.qcow2, rescue.raw). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"

#define UUID "5f0c3b6e-1a2b-4c3d-8e9f-0a1b2c3d4e99"

#define CHECK(cond, ...)                     \
	do {                                 \
		if (!(cond)) {               \
			printf("FAIL: ");    \
			printf(__VA_ARGS__); \
			printf("\n");        \
			rc = 1;              \
			goto out;            \
		}                            \
		printf("ok: ");              \
		printf(__VA_ARGS__);         \
		printf("\n");                \
	} while (0)

static const struct hvd_driver *ops;
static struct hvd_host *host;

/* The last console line holding marker, waiting up to timeout_s for the n-th one. */
static char *
wait_line(const char *marker, int n, unsigned timeout_s)
{
	time_t end = time(NULL) + timeout_s;

	while (time(NULL) < end) {
		char *text = NULL, *last = NULL;
		struct hv_error err = {0};
		int seen = 0;

		if (ops->console_log(host, UUID, 1 << 20, &text, &err) == 0) {
			for (char *p = text; (p = strstr(p, marker)); p += strlen(marker)) {
				seen++;
				last = p;
			}
			if (seen >= n) {
				char *eol = strchr(last, '\n');
				char *line =
					strndup(last, eol ? (size_t)(eol - last) : strlen(last));
				free(text);
				return line;
			}
		}
		free(text);
		usleep(250000);
	}
	return NULL;
}

int
main(void)
{
	const char *path = getenv("HV_LIBVIRT_DRIVER"), *dir = getenv("HV_STOCK_DIR");
	struct hv_driver *drv = NULL;
	struct hv_error err = {0};
	char kernel[512], initrd[512], root[512], rescue_disk[512], closed[512], inst[600];
	char *line = NULL;
	int rc = 0, r;

	if (!path || !dir) {
		printf("run through stock_qemu.sh\n");
		return 77;
	}
	snprintf(kernel, sizeof kernel, "%s/kernel", dir);
	snprintf(initrd, sizeof initrd, "%s/initrd.img", dir);
	snprintf(root, sizeof root, "%s/root.qcow2", dir);
	snprintf(rescue_disk, sizeof rescue_disk, "%s/rescue.raw", dir);
	snprintf(closed, sizeof closed, "%s/closed", dir);
	snprintf(inst, sizeof inst, "%s/instances", closed);
	if (hv_driver_load_path(path, &drv, &err) < 0) {
		printf("FAIL: cannot load %s: %s\n", path, err.message);
		return 1;
	}
	ops = hv_driver_ops(drv);

	/* the self-check: an instances path under a 0700 directory */
	{
		struct hvd_kv cfg[] = {
			{"uri", "qemu:///system"}, {"virt_type", "qemu"}, {"instances_path", inst}};
		struct hvd_host *h = NULL;

		mkdir(closed, 0700);
		chmod(closed, 0700);
		r = ops->open(cfg, 3, &h, &err);
		if (h)
			ops->close(h);
		CHECK(r == -EACCES && strcmp(err.field, "instances_path") == 0 &&
			      strstr(err.message, closed) && strstr(err.message, "0700"),
		      "the self-check refuses a 0700 instances path naming %s: %s", closed,
		      err.message);
	}

	/* the default instances path, /var/lib/hvagent/instances */
	{
		/* the packaged default (a /usr/local build defaults to /var/local/lib) */
		struct hvd_kv cfg[] = {{"uri", "qemu:///system"},
				       {"virt_type", "qemu"},
				       {"image_store", dir},
				       {"shutdown_timeout", "60"},
				       {"instances_path", "/var/lib/hvagent/instances"}};
		struct hvd_kv props[] = {{"kernel", kernel},
					 {"initrd", initrd},
					 {"os_command_line", "console=ttyS0 quiet panic=-1"}};
		struct hvd_kv rprops[] = {
			{"kernel", kernel},
			{"initrd", initrd},
			{"os_command_line", "console=ttyS0 quiet panic=-1 hvrescue=1"}};
		struct hvd_image img = {.id = "tiny",
					.path = root,
					.format = "qcow2",
					.properties = props,
					.n_properties = 3};
		struct hvd_image rescue = {.id = "rescue",
					   .path = rescue_disk,
					   .format = "raw",
					   .properties = rprops,
					   .n_properties = 3};
		struct hvd_instance_spec s = {
			.struct_size = sizeof s,
			.uuid = UUID,
			.name = "stock",
			.hostname = "stock",
			.flavor = {.name = "tiny", .vcpus = 1, .ram_mb = 256, .root_gb = 1},
			.image = img,
			.power_on = true};

		hv_error_clear(&err);
		r = ops->open(cfg, 5, &host, &err);
		CHECK(r == 0, "the driver opens qemu:///system with the default paths: %s",
		      err.message);
		/* what the agent asks at start for its config-drive directory (check_reach) */
		{
			char drives[700];
			const char *paths[] = {"/var/lib/hvagent/instances", drives};
			const char *const fields[] = {"instances_path", "guest.config_drive_dir"};
			snprintf(drives, sizeof drives, "%s/config-drives", closed);
			hv_error_clear(&err);
			r = ops->check_reach(host, paths, fields, 2, &err);
			CHECK(r == -EACCES && strcmp(err.field, "guest.config_drive_dir") == 0 &&
				      strstr(err.message, closed),
			      "the self-check refuses a config drive directory under a 0700 one, "
			      "naming it: %s",
			      err.message);
		}
		ops->destroy(host, UUID, true, NULL); /* a leftover of an interrupted run */
		r = ops->spawn(host, &s, &err);
		CHECK(r == 0, "spawn under /var/lib/hvagent/instances: %s", err.message);
		line = wait_line("HVGUEST-READY", 1, 240);
		CHECK(line, "the guest boots as libvirt-qemu and prints HVGUEST-READY");
		free(line);
		line = wait_line("HVGUEST-DISK-WROTE", 1, 10);
		CHECK(line, "it writes its only disk (%s)", line ? line : "");
		free(line);
		r = ops->rescue(host, UUID, &rescue, &err);
		CHECK(r == 0, "rescue: %s", err.message);
		line = wait_line("HVGUEST-DISKS", 2, 240);
		CHECK(line && strstr(line, " vda=rescue ") && strstr(line, " vdb="),
		      "rescued, the guest's first disk is the rescue image, the second the "
		      "original: %s",
		      line ? line : "(no line)");
		free(line);
		r = ops->unrescue(host, UUID, &err);
		CHECK(r == 0, "unrescue: %s", err.message);
		line = wait_line("HVGUEST-DISK-WROTE", 2, 240);
		CHECK(line, "unrescued, the guest has one disk again and writes it");
		free(line);
		r = ops->destroy(host, UUID, true, &err);
		CHECK(r == 0, "destroy: %s", err.message);
	}
out:
	if (host) {
		ops->destroy(host, UUID, true, NULL);
		ops->close(host);
	}
	hv_driver_unload(&drv);
	return rc;
}
