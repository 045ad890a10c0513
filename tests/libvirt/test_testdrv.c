/* test_testdrv.c - every driver action against libvirt's in-process test driver
 * (test:///default): real libvirt API calls, real qemu-img disks, no daemon.
 *
 * The test driver changes states instantly and its guests never write a console, so what
 * is checked here is the driver's side: states, files, errors, events. The real guest walk
 * is test_qemu_e2e. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lvtest.h"

static struct lvt T;
static char base_img[512], base_img2[512];

#define U1 "11111111-0000-4000-8000-000000000001"
#define U2 "11111111-0000-4000-8000-000000000002"
#define U3 "11111111-0000-4000-8000-000000000003"
#define U4 "11111111-0000-4000-8000-000000000004"

static struct hvd_kv specs_none[1];

static void
make_spec(struct hvd_instance_spec *s, const char *uuid, const char *img, uint64_t root_gb)
{
	memset(s, 0, sizeof *s);
	s->struct_size = sizeof *s;
	s->uuid = uuid;
	s->name = "web <1> & \"friends\"";
	s->hostname = "web1";
	s->flavor = (struct hvd_flavor){.name = "m1.small",
					.vcpus = 2,
					.ram_mb = 512,
					.root_gb = root_gb,
					.ephemeral_gb = 1,
					.swap_mb = 64,
					.extra_specs = specs_none,
					.n_extra_specs = 0};
	s->image = (struct hvd_image){.id = "cirros", .path = img, .format = "qcow2"};
	s->power_on = true;
}

static bool
exists_in(const char *uuid, const char *file)
{
	char p[1024];

	snprintf(p, sizeof p, "%s/%s%s%s", T.instances, uuid, file ? "/" : "", file ? file : "");
	return access(p, F_OK) == 0;
}

/* ---- events */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char uuid[40];
	enum hvd_event_type type;
} evs[256];
static size_t n_evs;

static void
on_event(void *ctx, const char *uuid, enum hvd_event_type type, enum hvd_power_state ps)
{
	(void)ctx;
	(void)ps;
	pthread_mutex_lock(&ev_lock);
	if (n_evs < 256) {
		snprintf(evs[n_evs].uuid, sizeof evs[n_evs].uuid, "%s", uuid ? uuid : "");
		evs[n_evs].type = type;
		n_evs++;
	}
	pthread_mutex_unlock(&ev_lock);
}

static void
events_clear(void)
{
	pthread_mutex_lock(&ev_lock);
	n_evs = 0;
	pthread_mutex_unlock(&ev_lock);
}

static int
events_count(const char *uuid, enum hvd_event_type type)
{
	int n = 0;

	pthread_mutex_lock(&ev_lock);
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].uuid, uuid) == 0 && evs[i].type == type)
			n++;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static bool
wait_event(const char *uuid, enum hvd_event_type type, int count)
{
	for (int i = 0; i < 100; i++) {
		if (events_count(uuid, type) >= count)
			return true;
		usleep(50000);
	}
	return false;
}

static int
setup(void **state)
{
	struct hv_error err = {0};
	static const struct hvd_kv cfg[] = {
		{"uri", "test:///default"},
		{"virt_type", "qemu"},
		{"serial_port_range", "41000:41100"},
		{"reboot_timeout", "2"},
		{"shutdown_timeout", "2"},
		{"event_debounce_ms", "400"},
		{"some_future_key", "ignored"},
	};

	(void)state;
	if (lvt_open(&T, cfg, sizeof cfg / sizeof cfg[0], &err) < 0) {
		fprintf(stderr, "open: %s\n", err.message);
		return -1;
	}
	snprintf(base_img, sizeof base_img, "%s/base.qcow2", T.dir);
	snprintf(base_img2, sizeof base_img2, "%s/base2.qcow2", T.dir);
	{
		const char *a1[] = {"qemu-img", "create", "-q",  "-f",
				    "qcow2",    base_img, "64M", NULL};
		const char *a2[] = {"qemu-img", "create",  "-q",  "-f",
				    "qcow2",    base_img2, "64M", NULL};
		if (lvt_run(a1) < 0 || lvt_run(a2) < 0)
			return -1;
	}
	return T.ops->set_event_callback(T.host, on_event, NULL, &err);
}

static int
teardown(void **state)
{
	(void)state;
	lvt_close(&T);
	return 0;
}

static void
bad_config_names_the_key(void **state)
{
	struct hvd_host *h = NULL;
	struct hv_error err = {0};
	const struct hvd_kv bad1[] = {{"uri", "test:///default"}, {"virt_type", "xen"}};
	const struct hvd_kv bad2[] = {{"uri", "test:///default"},
				      {"serial_port_range", "20000:10000"}};
	const struct hvd_kv bad3[] = {{"uri", "test:///default"}, {"reboot_timeout", "soon"}};

	(void)state;
	assert_int_equal(T.ops->open(bad1, 2, &h, &err), -EINVAL);
	assert_string_equal(err.field, "virt_type");
	assert_int_equal(T.ops->open(bad2, 2, &h, &err), -EINVAL);
	assert_string_equal(err.field, "serial_port_range");
	assert_int_equal(T.ops->open(bad3, 2, &h, &err), -EINVAL);
	assert_string_equal(err.field, "reboot_timeout");
	assert_null(h);
}

static void
host_info_reports_numa_cells(void **state)
{
	struct hvd_host_info info = {.struct_size = sizeof info};
	struct hvd_host_stats st = {.struct_size = sizeof st};
	struct hv_error err = {0};

	(void)state;
	assert_int_equal(T.ops->host_info(T.host, &info, &err), 0);
	assert_string_equal(info.hypervisor_type, "TEST");
	assert_int_equal(info.vcpus, 16);
	assert_int_equal(info.n_cells, 2);
	assert_string_equal(info.cells[1].cpuset, "8-15");
	assert_true(info.local_gb > 0);
	assert_int_equal(T.ops->host_stats(T.host, &st, &err), 0);
	assert_true(st.disk_free_gb > 0);
}

static void
spawn_runs_the_instance_with_its_disks(void **state)
{
	struct hvd_instance_spec s;
	struct hv_error err = {0};
	struct hvd_instance_info info = {.struct_size = sizeof info};

	(void)state;
	make_spec(&s, U1, base_img, 1);
	assert_int_equal(T.ops->spawn(T.host, &s, &err), 0);
	assert_int_equal(T.ops->get_instance(T.host, U1, &info, &err), 0);
	assert_int_equal(info.power_state, HVD_POWER_RUNNING);
	assert_int_equal(info.vcpus, 2);
	assert_int_equal(info.memory_mb, 512);
	assert_true(exists_in(U1, "disk"));
	assert_true(exists_in(U1, "disk.eph0"));
	assert_true(exists_in(U1, "disk.swap"));
	assert_int_equal(T.ops->spawn(T.host, &s, &err), -EEXIST);
	assert_true(wait_event(U1, HVD_EVENT_STARTED, 1));
}

static void
spawn_without_power_on_leaves_it_shut_down(void **state)
{
	struct hvd_instance_spec s;
	struct hv_error err = {0};

	(void)state;
	make_spec(&s, U3, base_img, 1);
	s.power_on = false;
	assert_int_equal(T.ops->spawn(T.host, &s, &err), 0);
	assert_int_equal(lvt_power(&T, U3), HVD_POWER_SHUTDOWN);
	assert_int_equal(T.ops->power_on(T.host, U3, &err), 0);
	assert_int_equal(lvt_power(&T, U3), HVD_POWER_RUNNING);
}

static void
a_bad_extra_spec_leaves_nothing_behind(void **state)
{
	struct hvd_instance_spec s;
	struct hv_error err = {0};
	static const struct hvd_kv bad[] = {{"hw:cpu_sockets", "3"}};

	(void)state;
	make_spec(&s, U2, base_img, 1);
	s.flavor.extra_specs = bad;
	s.flavor.n_extra_specs = 1;
	assert_int_equal(T.ops->spawn(T.host, &s, &err), -EINVAL);
	assert_string_equal(err.field, "hw:cpu_sockets");
	assert_int_equal((int)lvt_power(&T, U2), -1);
	assert_false(exists_in(U2, NULL));

	make_spec(&s, U2, "/nonexistent/base.qcow2", 1);
	assert_true(T.ops->spawn(T.host, &s, &err) < 0);
	assert_false(exists_in(U2, NULL));
	assert_int_equal((int)lvt_power(&T, U2), -1);
}

static void
pause_and_unpause(void **state)
{
	struct hv_error err = {0};

	(void)state;
	events_clear();
	assert_int_equal(T.ops->pause(T.host, U1, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_PAUSED);
	assert_int_equal(T.ops->unpause(T.host, U1, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
	assert_true(wait_event(U1, HVD_EVENT_PAUSED, 1));
	assert_true(wait_event(U1, HVD_EVENT_RESUMED, 1));
}

static void
suspend_is_a_managed_save(void **state)
{
	struct hv_error err = {0};

	(void)state;
	assert_int_equal(T.ops->resume(T.host, U1, &err), -EBUSY);
	events_clear();
	assert_int_equal(T.ops->suspend(T.host, U1, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_SUSPENDED);
	assert_true(wait_event(U1, HVD_EVENT_SUSPENDED, 1));
	assert_int_equal(T.ops->resume(T.host, U1, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
}

static void
a_reboot_is_one_restarted_event(void **state)
{
	struct hv_error err = {0};

	(void)state;
	events_clear();
	assert_int_equal(T.ops->reboot(T.host, U1, HVD_REBOOT_HARD, 0, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
	assert_true(wait_event(U1, HVD_EVENT_RESTARTED, 1));
	assert_int_equal(T.ops->reboot(T.host, U1, HVD_REBOOT_SOFT, 0, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
	assert_true(wait_event(U1, HVD_EVENT_RESTARTED, 2));
	usleep(800000); /* past the debounce window */
	assert_int_equal(events_count(U1, HVD_EVENT_STOPPED), 0);
}

static void
power_off_then_on(void **state)
{
	struct hv_error err = {0};

	(void)state;
	events_clear();
	assert_int_equal(T.ops->power_off(T.host, U1, 1, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_SHUTDOWN);
	assert_true(wait_event(U1, HVD_EVENT_STOPPED, 1));
	assert_int_equal(T.ops->reboot(T.host, U1, HVD_REBOOT_SOFT, 0, &err), -EBUSY);
	assert_int_equal(T.ops->power_on(T.host, U1, &err), 0);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
}

static void
resize_grows_and_revert_restores(void **state)
{
	struct hvd_instance_spec s;
	struct hv_error err = {0};
	struct hvd_instance_info info = {.struct_size = sizeof info};

	(void)state;
	make_spec(&s, U1, base_img, 2);
	s.flavor.vcpus = 4;
	s.flavor.ram_mb = 1024;
	assert_int_equal(T.ops->resize(T.host, &s, &err), 0);
	assert_int_equal(T.ops->get_instance(T.host, U1, &info, &err), 0);
	assert_true(info.resize_pending);
	assert_int_equal(info.vcpus, 4);
	assert_int_equal(info.power_state, HVD_POWER_RUNNING);
	assert_int_equal(T.ops->resize(T.host, &s, &err), -EBUSY);
	assert_int_equal(T.ops->revert_resize(T.host, U1, &err), 0);
	assert_int_equal(T.ops->get_instance(T.host, U1, &info, &err), 0);
	assert_false(info.resize_pending);
	assert_int_equal(info.vcpus, 2);

	assert_int_equal(T.ops->resize(T.host, &s, &err), 0);
	assert_int_equal(T.ops->confirm_resize(T.host, U1, &err), 0);
	assert_int_equal(T.ops->get_instance(T.host, U1, &info, &err), 0);
	assert_false(info.resize_pending);
	assert_int_equal(info.vcpus, 4);
	assert_false(exists_in(U1, "disk.resize"));

	s.flavor.root_gb = 1; /* disks never shrink */
	assert_int_equal(T.ops->resize(T.host, &s, &err), -EINVAL);
	assert_string_equal(err.field, "flavor.root_gb");
}

static void
rebuild_replaces_the_root_disk(void **state)
{
	struct hvd_instance_spec s;
	struct hv_error err = {0};
	struct stat before, after;
	char root[1024];

	(void)state;
	snprintf(root, sizeof root, "%s/%s/disk", T.instances, U1);
	assert_int_equal(stat(root, &before), 0);
	make_spec(&s, U1, base_img2, 2);
	s.flavor.vcpus = 4;
	s.flavor.ram_mb = 1024;
	assert_int_equal(T.ops->rebuild(T.host, &s, &err), 0);
	assert_int_equal(stat(root, &after), 0);
	assert_true(before.st_ino != after.st_ino);
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
}

static void
rescue_and_unrescue(void **state)
{
	struct hvd_image rescue = {.id = "rescue", .path = base_img2, .format = "qcow2"};
	struct hv_error err = {0};
	struct hvd_instance_info info = {.struct_size = sizeof info};

	(void)state;
	assert_int_equal(T.ops->rescue(T.host, U1, &rescue, &err), 0);
	assert_int_equal(T.ops->get_instance(T.host, U1, &info, &err), 0);
	assert_true(info.rescued);
	assert_int_equal(info.power_state, HVD_POWER_RUNNING);
	assert_true(exists_in(U1, "disk.rescue"));
	assert_int_equal(T.ops->rescue(T.host, U1, &rescue, &err), -EBUSY);
	assert_int_equal(T.ops->unrescue(T.host, U1, &err), 0);
	assert_int_equal(T.ops->get_instance(T.host, U1, &info, &err), 0);
	assert_false(info.rescued);
	assert_false(exists_in(U1, "disk.rescue"));
	assert_int_equal(T.ops->unrescue(T.host, U1, &err), -EBUSY);
}

static void
snapshot_writes_a_new_image(void **state)
{
	struct hv_error err = {0};
	char dest[512];
	struct stat st;

	(void)state;
	snprintf(dest, sizeof dest, "%s/snap.qcow2", T.dir);
	assert_int_equal(T.ops->snapshot(T.host, U1, dest, "qcow2", &err), 0);
	assert_int_equal(stat(dest, &st), 0);
	assert_true(st.st_size > 0);
	{
		/* the chain is flattened: the new image stands alone */
		char cmd[700], out[4096] = "";
		FILE *p;
		snprintf(cmd, sizeof cmd, "qemu-img info --output=json '%s'", dest);
		p = popen(cmd, "r");
		assert_non_null(p);
		fread(out, 1, sizeof out - 1, p);
		assert_int_equal(pclose(p), 0);
		assert_non_null(strstr(out, "\"format\": \"qcow2\""));
		assert_null(strstr(out, "backing-filename"));
	}
	assert_int_equal(lvt_power(&T, U1), HVD_POWER_RUNNING);
	assert_int_equal(T.ops->snapshot(T.host, U1, "relative/snap", "qcow2", &err), -EINVAL);
	assert_string_equal(err.field, "dest_path");
	assert_int_equal(T.ops->snapshot(T.host, U1, dest, "vmdk", &err), -EINVAL);
	assert_string_equal(err.field, "dest_format");
}

static void
console_log_returns_the_tail(void **state)
{
	struct hv_error err = {0};
	char path[1024], *text = NULL;
	FILE *f;

	(void)state;
	snprintf(path, sizeof path, "%s/%s/console.log", T.instances, U1);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("early boot line\nlogin: ", f);
	fclose(f);
	assert_int_equal(T.ops->console_log(T.host, U1, 7, &text, &err), 0);
	assert_string_equal(text, "login: ");
	free(text);
	assert_int_equal(T.ops->console_log(T.host, U1, 0, &text, &err), 0);
	assert_string_equal(text, "early boot line\nlogin: ");
	free(text);
}

static void
serial_console_port_comes_from_the_range(void **state)
{
	struct hvd_console c = {.struct_size = sizeof c};
	struct hvd_console c3 = {.struct_size = sizeof c3};
	struct hv_error err = {0};

	(void)state;
	assert_int_equal(T.ops->get_console(T.host, U1, HVD_CONSOLE_SERIAL, &c, &err), 0);
	assert_true(c.port >= 41000 && c.port <= 41100);
	assert_string_equal(c.host, "127.0.0.1");
	assert_int_equal(T.ops->get_console(T.host, U3, HVD_CONSOLE_SERIAL, &c3, &err), 0);
	assert_true(c3.port != c.port);
}

static void
set_admin_password_needs_a_guest_agent(void **state)
{
	struct hv_error err = {0};
	int r;

	(void)state;
	/* U1's image does not ask for a guest agent: nothing could take the password. */
	r = T.ops->set_admin_password(T.host, U1, "root", "s3cr3t-Pa55", &err);
	assert_int_equal(r, -EOPNOTSUPP);
	assert_string_equal(err.field, "image.hw_qemu_guest_agent");
	assert_null(strstr(err.message, "s3cr3t-Pa55"));
	assert_int_equal(T.ops->set_admin_password(T.host, U1, "ro:ot", "x", &err), -EINVAL);
	assert_string_equal(err.field, "user");
}

static size_t listed, listed_ours;
static void
count_one(void *ctx, const struct hvd_instance_info *info)
{
	(void)ctx;
	listed++;
	if (strcmp(info->uuid, U1) == 0 || strcmp(info->uuid, U3) == 0)
		listed_ours++;
}

static void
list_sees_every_instance_and_nothing_else(void **state)
{
	struct hv_error err = {0};

	(void)state;
	listed = listed_ours = 0;
	/* test:///default also holds its own domain "test": not an instance of ours. */
	assert_int_equal(T.ops->list_instances(T.host, count_one, NULL, &err), 0);
	assert_int_equal(listed_ours, 2);
	assert_int_equal(listed, 2);
}

static void
unknown_and_malformed_uuids(void **state)
{
	struct hv_error err = {0};
	struct hvd_instance_info info = {.struct_size = sizeof info};

	(void)state;
	assert_int_equal(T.ops->get_instance(T.host, U4, &info, &err), -ENOENT);
	assert_int_equal(T.ops->pause(T.host, U4, &err), -ENOENT);
	assert_int_equal(T.ops->get_instance(T.host, "../../etc/passwd", &info, &err), -EINVAL);
	assert_string_equal(err.field, "uuid");
}

static void
destroy_removes_domain_and_disks(void **state)
{
	struct hv_error err = {0};

	(void)state;
	events_clear();
	assert_int_equal(T.ops->destroy(T.host, U1, true, &err), 0);
	assert_int_equal((int)lvt_power(&T, U1), -1);
	assert_false(exists_in(U1, NULL));
	assert_true(wait_event(U1, HVD_EVENT_DELETED, 1));
	assert_int_equal(T.ops->destroy(T.host, U1, true, &err), -ENOENT);
	assert_int_equal(T.ops->destroy(T.host, U3, false, &err), 0);
	assert_true(exists_in(U3, "disk"));
}

static void
evacuate_boots_the_disk_left_on_shared_storage(void **state)
{
	struct hvd_instance_spec s;
	struct hv_error err = {0};

	(void)state;
	/* no disk of U2 under instances_path: nothing to boot, nothing defined */
	make_spec(&s, U2, NULL, 1);
	s.reuse_disk = true;
	assert_int_equal(T.ops->spawn(T.host, &s, &err), -ENOENT);
	assert_string_equal(err.field, "reuse_disk");
	assert_int_equal((int)lvt_power(&T, U2), -1);
	assert_false(exists_in(U2, NULL));
	/* U3's disk, left by destroy without delete_disks, as an old host leaves it */
	make_spec(&s, U3, NULL, 1);
	s.reuse_disk = true;
	assert_int_equal(T.ops->spawn(T.host, &s, &err), 0);
	assert_int_equal(lvt_power(&T, U3), HVD_POWER_RUNNING);
	assert_true(exists_in(U3, "disk"));
	/* a failed evacuation never removes the disk it was given */
	assert_int_equal(T.ops->destroy(T.host, U3, false, &err), 0);
	s.flavor.vcpus = 0;
	assert_int_equal(T.ops->spawn(T.host, &s, &err), -EINVAL);
	assert_true(exists_in(U3, "disk"));
	s.flavor.vcpus = 2;
	assert_int_equal(T.ops->spawn(T.host, &s, &err), 0);
	assert_int_equal(T.ops->destroy(T.host, U3, true, &err), 0);
	assert_false(exists_in(U3, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_config_names_the_key),
		cmocka_unit_test(host_info_reports_numa_cells),
		cmocka_unit_test(spawn_runs_the_instance_with_its_disks),
		cmocka_unit_test(spawn_without_power_on_leaves_it_shut_down),
		cmocka_unit_test(a_bad_extra_spec_leaves_nothing_behind),
		cmocka_unit_test(pause_and_unpause),
		cmocka_unit_test(suspend_is_a_managed_save),
		cmocka_unit_test(a_reboot_is_one_restarted_event),
		cmocka_unit_test(power_off_then_on),
		cmocka_unit_test(resize_grows_and_revert_restores),
		cmocka_unit_test(rebuild_replaces_the_root_disk),
		cmocka_unit_test(rescue_and_unrescue),
		cmocka_unit_test(snapshot_writes_a_new_image),
		cmocka_unit_test(console_log_returns_the_tail),
		cmocka_unit_test(serial_console_port_comes_from_the_range),
		cmocka_unit_test(set_admin_password_needs_a_guest_agent),
		cmocka_unit_test(list_sees_every_instance_and_nothing_else),
		cmocka_unit_test(unknown_and_malformed_uuids),
		cmocka_unit_test(destroy_removes_domain_and_disks),
		cmocka_unit_test(evacuate_boots_the_disk_left_on_shared_storage),
	};

	if (access("/usr/bin/qemu-img", X_OK) != 0) {
		printf("qemu-img is not installed\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
