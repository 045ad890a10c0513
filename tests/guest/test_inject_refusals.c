/* test_inject_refusals.c - injection requests that must be refused before any appliance
 * starts: wrong or unknown formats, qcow2 headers that point outside the image store,
 * bad keys and user names. None of these cases launches libguestfs (they take
 * milliseconds), and each names the job and the field at fault. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inject.h"

#define KEY                                                                                 \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsN9NMU3DY54Je2XYHctrFOcK3N43SGr/eXzpYy6G1j " \
	"user@example"

static char dir[64], store[128], raw[160];

static void
put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A qcow2 v3 header as qemu-img writes it, with an optional backing file, an optional
 * backing-format extension and optional incompatible feature bits. */
static void
write_qcow2(const char *path, const char *backing, const char *backing_fmt, uint64_t incompat)
{
	unsigned char buf[4096] = {0};
	size_t off = 104;

	memcpy(buf, "QFI\xfb", 4);
	put_be(buf + 4, 3, 4);         /* version */
	put_be(buf + 20, 16, 4);       /* cluster_bits */
	put_be(buf + 24, 1 << 20, 8);  /* size */
	put_be(buf + 72, incompat, 8); /* incompatible_features */
	put_be(buf + 96, 4, 4);        /* refcount_order */
	put_be(buf + 100, 104, 4);     /* header_length */
	if (backing_fmt) {
		size_t n = strlen(backing_fmt);
		put_be(buf + off, 0xE2792ACA, 4);
		put_be(buf + off + 4, n, 4);
		memcpy(buf + off + 8, backing_fmt, n);
		off += 8 + (n + 7) / 8 * 8;
	}
	off += 8; /* end-of-extensions marker: type 0 */
	if (backing) {
		put_be(buf + 8, off, 8);
		put_be(buf + 16, strlen(backing), 4);
		memcpy(buf + off, backing, strlen(backing));
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, sizeof buf), (int)sizeof buf);
	close(fd);
}

static int
setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/guest-refuse-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(store, sizeof store, "%s/store", dir);
	mkdir(store, 0700);
	snprintf(raw, sizeof raw, "%s/disk.raw", dir);
	int fd = open(raw, O_WRONLY | O_CREAT, 0600);
	close(fd);
	return truncate(raw, 1 << 20);
}

static int
teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

/* Runs one job that must be refused; checks the code and the field, and that nothing ran. */
static void
assert_refused(struct guest_job job, int code, const char *field, const char *words)
{
	struct guest_result res;
	struct guest_inject_opts opts = {.image_store = store};

	assert_int_equal(guest_inject_batch(&job, 1, &opts, &res), code);
	assert_int_equal(res.code, code);
	assert_string_equal(res.err.field, field);
	if (!strstr(res.err.message, words))
		fail_msg("message \"%s\" lacks \"%s\"", res.err.message, words);
	assert_false(res.key_added || res.password_set);
}

static void
the_format_must_be_the_recorded_raw_or_qcow2(void **state)
{
	struct guest_job job = {.disk_path = raw, .ssh_key = KEY};
	assert_refused(job, -EINVAL, "jobs[0].format", "raw or qcow2");
	job.format = "vmdk";
	assert_refused(job, -EINVAL, "jobs[0].format", "raw or qcow2");
	job.format = "qcow2"; /* a raw file recorded as qcow2 */
	assert_refused(job, -EINVAL, "jobs[0].format", "not a qcow2 image");
}

static void
disk_paths_must_be_absolute_and_exist(void **state)
{
	struct guest_job job = {.disk_path = "disk.raw", .format = "raw", .ssh_key = KEY};
	assert_refused(job, -EINVAL, "jobs[0].disk_path", "absolute");
	job.disk_path = "/nonexistent/disk.raw";
	assert_refused(job, -ENOENT, "jobs[0].disk_path", "/nonexistent/disk.raw");
	job.disk_path = dir;
	assert_refused(job, -EINVAL, "jobs[0].disk_path", "not a file");
}

static void
qcow2_backing_files_stay_inside_the_image_store(void **state)
{
	char q[200], base[200];
	struct guest_job job = {.disk_path = q, .format = "qcow2", .ssh_key = KEY};

	snprintf(q, sizeof q, "%s/overlay.qcow2", dir);
	snprintf(base, sizeof base, "%s/base.raw", store);
	assert_int_equal(link(raw, base), 0);

	write_qcow2(q, base, "raw", 0);
	struct guest_result res;
	struct guest_inject_opts opts = {.image_store = store, .timeout_s = 1};
	/* Valid: it passes every check and reaches the appliance, where it fails (the header
	 * here is not a complete image) or meets the 1 s deadline: a job error, not a field's. */
	assert_true(guest_inject_batch(&job, 1, &opts, &res) < 0);
	assert_string_equal(res.err.field, "jobs[0]");
	print_message("reached the appliance: %s\n", res.err.message);

	write_qcow2(q, raw, "raw", 0); /* outside the store */
	assert_refused(job, -EPERM, "jobs[0].format", "outside the image store");
	write_qcow2(q, "disk.raw", "raw", 0); /* relative: resolved next to the overlay */
	assert_refused(job, -EPERM, "jobs[0].format", "outside the image store");
	write_qcow2(q, "json:{\"file.filename\":\"/etc/shadow\"}", "raw", 0);
	assert_refused(job, -EPERM, "jobs[0].format", "not a plain path");
	write_qcow2(q, base, NULL, 0); /* qemu would probe the backing file's format */
	assert_refused(job, -EPERM, "jobs[0].format", "format is not recorded");
	write_qcow2(q, base, "vmdk", 0);
	assert_refused(job, -EPERM, "jobs[0].format", "format is not recorded");
	write_qcow2(q, NULL, NULL, 4); /* external data file */
	assert_refused(job, -EPERM, "jobs[0].format", "external data file");
	unlink(base);
}

static void
keys_users_and_empty_jobs_are_refused(void **state)
{
	struct guest_job job = {.disk_path = raw, .format = "raw"};
	assert_refused(job, -EINVAL, "jobs[0]", "nothing to inject");
	job.ssh_key = "ssh-ed25519 AAAA\nssh-rsa BBBB";
	assert_refused(job, -EINVAL, "jobs[0].ssh_key", "one line");
	job.ssh_key = KEY;
	job.key_user = "root/../etc";
	assert_refused(job, -EINVAL, "jobs[0].key_user", "login name");
	job = (struct guest_job){.disk_path = raw, .format = "raw", .password = ""};
	assert_refused(job, -EINVAL, "jobs[0].password", "empty");
	job.password = "long enough";
	job.password_user = "Root";
	assert_refused(job, -EINVAL, "jobs[0].password_user", "login name");
	job = (struct guest_job){
		.disk_path = raw, .format = "raw", .ssh_key = KEY, .partition = -3};
	assert_refused(job, -EINVAL, "jobs[0].partition", "inspect");
}

static void
one_bad_job_does_not_stop_the_others_being_judged(void **state)
{
	struct guest_job jobs[3] = {
		{.disk_path = raw, .format = "vmdk", .ssh_key = KEY},
		{.disk_path = raw, .format = "raw", .ssh_key = "nonsense"},
		{.disk_path = "/nonexistent", .format = "raw", .ssh_key = KEY},
	};
	struct guest_result res[3];
	assert_int_equal(guest_inject_batch(jobs, 3, NULL, res), -EINVAL);
	assert_string_equal(res[0].err.field, "jobs[0].format");
	assert_string_equal(res[1].err.field, "jobs[1].ssh_key");
	assert_string_equal(res[2].err.field, "jobs[2].disk_path");
	assert_int_equal(guest_inject_batch(jobs, 0, NULL, res), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_format_must_be_the_recorded_raw_or_qcow2),
		cmocka_unit_test(disk_paths_must_be_absolute_and_exist),
		cmocka_unit_test(qcow2_backing_files_stay_inside_the_image_store),
		cmocka_unit_test(keys_users_and_empty_jobs_are_refused),
		cmocka_unit_test(one_bad_job_does_not_stop_the_others_being_judged),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
