/* test_qemu_e2e.c - one real guest (QEMU/TCG under a private libvirtd) walked through every
 * action of the driver, checking power states and what the guest printed on its serial
 * console after each step; then libvirtd is killed and restarted under the open host.
 *
 * Run by e2e_qemu.sh, which builds the guest and starts the daemon and passes:
 * HV_E2E_URI, HV_E2E_KERNEL, HV_E2E_INITRD, HV_E2E_DIR, HV_E2E_PRIVD. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lvtest.h"

#define UUID "e2e0c0de-0000-4000-8000-00000000e2e0"

static struct lvt T;
static int failures;
static double t0;

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (!(cond)) {                                      \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                        \
			printf("\n");                               \
			failures++;                                 \
			goto out;                                   \
		}                                                   \
	} while (0)

static void
step(const char *what)
{
	printf("[%6.1fs] %s\n", lvt_now() - t0, what);
	fflush(stdout);
}

/* ---- events */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static int ev_count[128];

static void
on_event(void *ctx, const char *uuid, enum hvd_event_type type, enum hvd_power_state ps)
{
	(void)ctx;
	(void)ps;
	(void)uuid;
	pthread_mutex_lock(&ev_lock);
	if ((int)type < 100)
		ev_count[type]++;
	else
		ev_count[type - 100 + 64]++;
	pthread_mutex_unlock(&ev_lock);
}

static int
events(enum hvd_event_type type)
{
	int n;

	pthread_mutex_lock(&ev_lock);
	n = (int)type < 100 ? ev_count[type] : ev_count[type - 100 + 64];
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static bool
wait_events(enum hvd_event_type type, int n, unsigned timeout_s)
{
	double end = lvt_now() + timeout_s;

	while (lvt_now() < end) {
		if (events(type) >= n)
			return true;
		usleep(100000);
	}
	return false;
}

static int
count_in_log(const char *marker)
{
	char *text = NULL;
	struct hv_error err = {0};
	int n = 0;

	if (T.ops->console_log(T.host, UUID, 1 << 20, &text, &err) < 0)
		return -1;
	for (const char *p = text; (p = strstr(p, marker)); p += strlen(marker))
		n++;
	free(text);
	return n;
}

static bool
wait_log(const char *marker, int n, unsigned timeout_s)
{
	double end = lvt_now() + timeout_s;

	while (lvt_now() < end) {
		if (count_in_log(marker) >= n)
			return true;
		usleep(250000);
	}
	return false;
}

static void
spec_for(struct hvd_instance_spec *s, struct hvd_image *img, uint32_t vcpus, uint64_t ram_mb,
	 uint64_t root_gb)
{
	static const struct hvd_kv specs[] = {{"hw:watchdog_action", "reset"}};

	memset(s, 0, sizeof *s);
	s->struct_size = sizeof *s;
	s->uuid = UUID;
	s->name = "e2e <guest> & \"friends\"";
	s->hostname = "e2e";
	s->flavor = (struct hvd_flavor){.name = "tiny",
					.vcpus = vcpus,
					.ram_mb = ram_mb,
					.root_gb = root_gb,
					.extra_specs = specs,
					.n_extra_specs = 1};
	s->image = *img;
	s->power_on = true;
}

static int
run_privd(const char *cmd)
{
	const char *argv[] = {getenv("HV_E2E_PRIVD"), cmd, getenv("HV_E2E_DIR"), NULL};

	return lvt_run(argv);
}

int
main(void)
{
	const char *uri = getenv("HV_E2E_URI"), *kernel = getenv("HV_E2E_KERNEL");
	const char *initrd = getenv("HV_E2E_INITRD");
	struct hv_error err = {0};
	struct hvd_instance_spec s;
	struct hvd_instance_info info = {.struct_size = sizeof info};
	struct hvd_console con = {.struct_size = sizeof con};
	char disk1[512], disk2[512], snap[512];
	int boots = 0, buttons = 0, r;

	if (!uri || !kernel || !initrd || !getenv("HV_E2E_DIR") || !getenv("HV_E2E_PRIVD")) {
		printf("run through e2e_qemu.sh\n");
		return 77;
	}
	struct hvd_kv cfg[] = {
		{"uri", uri},
		{"virt_type", "qemu"},
		{"reboot_timeout", "90"},
		{"shutdown_timeout", "90"},
		{"serial_port_range", "42000:42100"},
		{"event_debounce_ms", "5000"},
	};
	struct hvd_kv props[] = {{"kernel", kernel},
				 {"initrd", initrd},
				 {"os_command_line", "console=ttyS0 quiet panic=-1"}};
	struct hvd_kv rprops[] = {{"kernel", kernel},
				  {"initrd", initrd},
				  {"os_command_line", "console=ttyS0 quiet panic=-1 hvrescue=1"}};
	struct hvd_kv props2[] = {
		{"kernel", kernel},
		{"initrd", initrd},
		{"os_command_line", "console=ttyS0 quiet panic=-1 hvrebuilt=1 hvdeaf=1"}};
	struct hvd_image img = {
		.id = "tiny", .format = "raw", .properties = props, .n_properties = 3};
	struct hvd_image rescue = {
		.id = "rescue", .format = "raw", .properties = rprops, .n_properties = 3};
	struct hvd_image img2 = {
		.id = "tiny2", .format = "raw", .properties = props2, .n_properties = 3};

	t0 = lvt_now();
	if (lvt_open(&T, cfg, sizeof cfg / sizeof cfg[0], &err) < 0) {
		printf("FAIL open %s: %s\n", uri, err.message);
		lvt_close(&T);
		return 1;
	}
	T.ops->set_event_callback(T.host, on_event, NULL, &err);
	snprintf(disk1, sizeof disk1, "%s/tiny.raw", T.dir);
	snprintf(disk2, sizeof disk2, "%s/tiny2.raw", T.dir);
	snprintf(snap, sizeof snap, "%s/snapshot.qcow2", T.dir);
	{
		const char *a[] = {"qemu-img", "create", "-q", "-f", "raw", disk1, "16M", NULL};
		const char *b[] = {"qemu-img", "create", "-q", "-f", "raw", disk2, "16M", NULL};
		CHECK(lvt_run(a) == 0 && lvt_run(b) == 0, "qemu-img create");
	}
	img.path = disk1;
	rescue.path = disk1;
	img2.path = disk2;

	step("host info and stats from the real QEMU driver");
	{
		struct hvd_host_info hi = {.struct_size = sizeof hi};
		struct hvd_host_stats hs = {.struct_size = sizeof hs};
		CHECK(T.ops->host_info(T.host, &hi, &err) == 0, "host_info: %s", err.message);
		CHECK(strcmp(hi.hypervisor_type, "QEMU") == 0 && hi.vcpus > 0 && hi.memory_mb > 0 &&
			      hi.n_cells >= 1 && hi.cells[0].cpuset[0],
		      "host info: %s %u vCPUs %u cells", hi.hypervisor_type, hi.vcpus, hi.n_cells);
		CHECK(T.ops->host_stats(T.host, &hs, &err) == 0, "host_stats: %s", err.message);
		CHECK(hs.cpu_user_ns > 0 && hs.cpu_idle_ns > 0 && hs.memory_free_mb > 0,
		      "host stats: user %llu idle %llu free %llu MB",
		      (unsigned long long)hs.cpu_user_ns, (unsigned long long)hs.cpu_idle_ns,
		      (unsigned long long)hs.memory_free_mb);
		printf("         %s %llu, %u vCPUs, %llu MB, cell 0 cpus %s\n", hi.hypervisor_type,
		       (unsigned long long)hi.hypervisor_version, hi.vcpus,
		       (unsigned long long)hi.memory_mb, hi.cells[0].cpuset);
	}

	step("spawn");
	spec_for(&s, &img, 1, 256, 1);
	r = T.ops->spawn(T.host, &s, &err);
	CHECK(r == 0, "spawn: %s", err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING, "running after spawn");
	CHECK(wait_log("HVGUEST-READY", ++boots, 180), "console log shows the guest's boot line");
	step("the console log shows the guest's boot line");

	step("pause keeps the guest in memory");
	CHECK(T.ops->pause(T.host, UUID, &err) == 0, "pause: %s", err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_PAUSED, "paused");
	CHECK(T.ops->unpause(T.host, UUID, &err) == 0, "unpause: %s", err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING, "running after unpause");
	CHECK(count_in_log("HVGUEST-BOOTED") == boots, "unpause did not reboot the guest");

	step("suspend saves the memory to disk and resume restores it (no new boot)");
	CHECK(T.ops->suspend(T.host, UUID, &err) == 0, "suspend: %s", err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_SUSPENDED, "suspended");
	CHECK(T.ops->resume(T.host, UUID, &err) == 0, "resume: %s", err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING, "running after resume");
	sleep(2);
	CHECK(count_in_log("HVGUEST-BOOTED") == boots,
	      "resume restored the guest instead of booting it");

	step("soft reboot presses the ACPI button and the guest powers off by itself");
	{
		double t = lvt_now();
		int restarted = events(HVD_EVENT_RESTARTED), stopped = events(HVD_EVENT_STOPPED);
		CHECK(T.ops->reboot(T.host, UUID, HVD_REBOOT_SOFT, 90, &err) == 0,
		      "soft reboot: %s", err.message);
		CHECK(count_in_log("HVGUEST-POWERBUTTON") == ++buttons,
		      "the guest saw the power button");
		CHECK(wait_log("HVGUEST-READY", ++boots, 180),
		      "booted again after the soft reboot");
		printf("         soft reboot took %.1fs\n", lvt_now() - t);
		CHECK(wait_events(HVD_EVENT_RESTARTED, restarted + 1, 10), "one RESTARTED event");
		sleep(6);
		CHECK(events(HVD_EVENT_STOPPED) == stopped, "no STOPPED event for a reboot");
	}

	step("hard reboot");
	CHECK(T.ops->reboot(T.host, UUID, HVD_REBOOT_HARD, 0, &err) == 0, "hard reboot: %s",
	      err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING, "running after the hard reboot");
	CHECK(count_in_log("HVGUEST-POWERBUTTON") == buttons,
	      "a hard reboot does not ask the guest");
	CHECK(wait_log("HVGUEST-READY", ++boots, 180), "booted again after the hard reboot");

	step("stop is graceful, start boots");
	CHECK(T.ops->power_off(T.host, UUID, 90, &err) == 0, "power off: %s", err.message);
	CHECK(lvt_power(&T, UUID) == HVD_POWER_SHUTDOWN, "shut down");
	CHECK(count_in_log("HVGUEST-POWERBUTTON") == ++buttons,
	      "the guest shut down on the button");
	CHECK(T.ops->power_on(T.host, UUID, &err) == 0, "power on: %s", err.message);
	CHECK(wait_log("HVGUEST-READY", ++boots, 180), "booted after start");

	step("snapshot writes a new image");
	CHECK(T.ops->snapshot(T.host, UUID, snap, "qcow2", &err) == 0, "snapshot: %s", err.message);
	{
		const char *a[] = {"qemu-img", "check", "-q", snap, NULL};
		CHECK(access(snap, F_OK) == 0 && lvt_run(a) == 0,
		      "snapshot image exists and checks clean");
	}
	CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING, "still running after the snapshot");

	step("rescue boots the rescue image; unrescue the original");
	CHECK(T.ops->rescue(T.host, UUID, &rescue, &err) == 0, "rescue: %s", err.message);
	CHECK(T.ops->get_instance(T.host, UUID, &info, &err) == 0 && info.rescued, "rescued");
	CHECK(wait_log("hvrescue=1", 1, 180), "the rescue kernel command line booted");
	boots++;
	CHECK(wait_log("HVGUEST-READY", boots, 180), "rescue guest ready");
	CHECK(T.ops->unrescue(T.host, UUID, &err) == 0, "unrescue: %s", err.message);
	CHECK(T.ops->get_instance(T.host, UUID, &info, &err) == 0 && !info.rescued &&
		      info.power_state == HVD_POWER_RUNNING,
	      "unrescued and running");
	CHECK(wait_log("HVGUEST-READY", ++boots, 180), "booted the original after unrescue");

	step("resize to 2 vCPUs, 320 MB, 2 GB root; confirm");
	spec_for(&s, &img, 2, 320, 2);
	CHECK(T.ops->resize(T.host, &s, &err) == 0, "resize: %s", err.message);
	CHECK(T.ops->get_instance(T.host, UUID, &info, &err) == 0, "get");
	CHECK(info.resize_pending && info.vcpus == 2 && info.memory_mb == 320 &&
		      info.power_state == HVD_POWER_RUNNING,
	      "resized, running, pending confirm");
	CHECK(wait_log("HVGUEST-READY", ++boots, 180), "booted with the new flavor");
	CHECK(T.ops->confirm_resize(T.host, UUID, &err) == 0, "confirm: %s", err.message);

	step("rebuild boots the new image with the same identity");
	spec_for(&s, &img2, 2, 320, 2);
	CHECK(T.ops->rebuild(T.host, &s, &err) == 0, "rebuild: %s", err.message);
	CHECK(wait_log("hvrebuilt=1", 1, 180), "the rebuilt image booted");
	CHECK(wait_log("HVGUEST-READY", ++boots, 180), "rebuilt guest ready");

	step("a soft reboot the guest ignores falls back to a hard reboot after the timeout");
	{
		double t = lvt_now();
		int pressed = count_in_log("HVGUEST-POWERBUTTON");
		CHECK(count_in_log("buttons=0") == 1, "the rebuilt guest ignores the button");
		CHECK(T.ops->reboot(T.host, UUID, HVD_REBOOT_SOFT, 8, &err) == 0, "soft reboot: %s",
		      err.message);
		CHECK(lvt_now() - t >= 8, "the button was given its 8 s (%.1fs)", lvt_now() - t);
		CHECK(count_in_log("HVGUEST-POWERBUTTON") == pressed, "the guest saw no button");
		CHECK(wait_log("HVGUEST-READY", ++boots, 180), "booted again by the hard reboot");
		CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING, "running after the fallback");
		printf("         soft reboot with fallback took %.1fs\n", lvt_now() - t);
	}

	step("consoles");
	CHECK(T.ops->get_console(T.host, UUID, HVD_CONSOLE_VNC, &con, &err) == 0 &&
		      con.port >= 5900,
	      "vnc console: %s", err.message);
	CHECK(T.ops->get_console(T.host, UUID, HVD_CONSOLE_SERIAL, &con, &err) == 0 &&
		      con.port >= 42000 && con.port <= 42100,
	      "serial console: %s", err.message);

	step("libvirtd is killed under the open host and comes back");
	{
		int downs = events(HVD_EVENT_HOST_DOWN), ups = events(HVD_EVENT_HOST_UP);
		double t;
		CHECK(run_privd("kill") == 0, "kill libvirtd");
		CHECK(wait_events(HVD_EVENT_HOST_DOWN, downs + 1, 30),
		      "HOST_DOWN after libvirtd died");
		r = T.ops->get_instance(T.host, UUID, &info, &err);
		CHECK(r == -ENOTCONN, "ops answer -ENOTCONN while disconnected (got %d)", r);
		CHECK(run_privd("daemon") == 0, "start libvirtd again");
		t = lvt_now();
		CHECK(wait_events(HVD_EVENT_HOST_UP, ups + 1, 60),
		      "HOST_UP after libvirtd came back");
		printf("         reconnected %.1fs after libvirtd was up\n", lvt_now() - t);
		CHECK(lvt_power(&T, UUID) == HVD_POWER_RUNNING,
		      "the guest kept running through the restart");
		/* only a PAUSED event after the restart shows the callbacks came back: count from here */
		int paused = events(HVD_EVENT_PAUSED);
		CHECK(T.ops->pause(T.host, UUID, &err) == 0 &&
			      lvt_power(&T, UUID) == HVD_POWER_PAUSED,
		      "actions work on the new connection");
		CHECK(wait_events(HVD_EVENT_PAUSED, paused + 1, 10), "events re-registered");
		CHECK(T.ops->unpause(T.host, UUID, &err) == 0, "unpause: %s", err.message);
	}

	step("delete leaves no domain and no disk");
	CHECK(T.ops->destroy(T.host, UUID, true, &err) == 0, "destroy: %s", err.message);
	CHECK(T.ops->get_instance(T.host, UUID, &info, &err) == -ENOENT, "no domain");
	{
		char dir[600];
		snprintf(dir, sizeof dir, "%s/%s", T.instances, UUID);
		CHECK(access(dir, F_OK) != 0, "no instance directory");
	}
	step("done");
out:
	if (failures) {
		char *text = NULL;
		if (T.ops->console_log(T.host, UUID, 4096, &text, &err) == 0)
			printf("--- console log tail ---\n%s\n---\n", text);
		free(text);
		T.ops->destroy(T.host, UUID, true, &err);
	}
	lvt_close(&T);
	return failures ? 1 : 0;
}
