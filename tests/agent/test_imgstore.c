/* test_imgstore.c - the image store: import, read back format and properties, snapshot-style
 * commit, removal, and ids that could escape the directory. */
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

#include "imgstore.h"

static char dir[64];
static struct imgstore *store;

static int
setup(void **state)
{
	struct hv_error err = {0};
	char sdir[128];

	(void)state;
	snprintf(dir, sizeof dir, "/tmp/hvimg-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sdir, sizeof sdir, "%s/store", dir);
	return imgstore_open(sdir, &store, &err);
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	imgstore_free(store);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
write_src(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
an_imported_image_keeps_format_and_properties(void **state)
{
	static const struct hvd_kv props[] = {{"hw_qemu_guest_agent", "yes"},
					      {"kernel", "/boot/vmlinuz"},
					      {"note", "quotes \" and <xml> & unicode \xc3\xa9"}};
	struct hv_error err = {0};
	struct imgstore_image *img = NULL;
	struct hvd_image h;
	char src[128];
	struct stat st;

	(void)state;
	snprintf(src, sizeof src, "%s/src.raw", dir);
	write_src(src, "0123456789");
	assert_int_equal(imgstore_add(store, "cirros-0.6", src, "raw", props, 3, &err), 0);
	assert_int_equal(stat(src, &st), 0); /* the source is left alone */
	assert_int_equal(imgstore_get(store, "cirros-0.6", &img, &err), 0);
	assert_string_equal(img->format, "raw");
	assert_int_equal(img->size, 10);
	assert_int_equal(img->n_properties, 3);
	assert_string_equal(img->properties[2].value, props[2].value);
	assert_int_equal(stat(img->path, &st), 0);
	imgstore_image_hvd(img, &h);
	assert_string_equal(h.id, "cirros-0.6");
	assert_string_equal(h.format, "raw");
	imgstore_image_free(img);
	assert_int_equal(imgstore_add(store, "cirros-0.6", src, "raw", NULL, 0, &err), -EEXIST);
}

static void
a_snapshot_is_committed_after_its_data(void **state)
{
	static const struct hvd_kv props[] = {
		{"image_type", "snapshot"},
		{"instance_uuid", "5f0c3b6e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"},
		{"base_image_ref", "cirros-0.6"}};
	struct hv_error err = {0};
	struct imgstore_image *img = NULL;
	char path[4096];

	(void)state;
	assert_int_equal(imgstore_data_path(store, "snap-1", path, sizeof path, &err), 0);
	assert_int_equal(imgstore_get(store, "snap-1", &img, &err), -ENOENT);
	assert_int_equal(imgstore_commit(store, "snap-1", "qcow2", props, 3, &err), -ENOENT);
	write_src(path, "QFI\xfb");
	assert_int_equal(imgstore_commit(store, "snap-1", "qcow2", props, 3, &err), 0);
	assert_int_equal(imgstore_get(store, "snap-1", &img, &err), 0);
	assert_string_equal(img->format, "qcow2");
	assert_string_equal(img->properties[0].key, "image_type");
	assert_string_equal(img->properties[0].value, "snapshot");
	imgstore_image_free(img);
}

static int n_listed;
static void
count(void *ctx, const char *id)
{
	(void)ctx;
	(void)id;
	n_listed++;
}

static void
list_and_remove(void **state)
{
	struct hv_error err = {0};
	struct imgstore_image *img = NULL;

	(void)state;
	n_listed = 0;
	assert_int_equal(imgstore_list(store, count, NULL, &err), 0);
	assert_int_equal(n_listed, 2);
	assert_int_equal(imgstore_remove(store, "snap-1", &err), 0);
	assert_int_equal(imgstore_get(store, "snap-1", &img, &err), -ENOENT);
	assert_int_equal(imgstore_remove(store, "snap-1", &err), -ENOENT);
}

static void
ids_that_could_escape_are_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"../etc/passwd",
		".hidden",
		"a/b",
		"a b",
		"x;rm",
		"0123456789012345678901234567890123456789012345678901234567890123456789"};
	struct hv_error err = {0};
	struct imgstore_image *img = NULL;
	char src[128];

	(void)state;
	snprintf(src, sizeof src, "%s/src.raw", dir);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(imgstore_add(store, bad[i], src, "raw", NULL, 0, &err), -EINVAL);
		assert_string_equal(err.field, "image.id");
		assert_int_equal(imgstore_get(store, bad[i], &img, &err), -EINVAL);
	}
	assert_int_equal(imgstore_add(store, "ok", src, "vmdk", NULL, 0, &err), -EINVAL);
	assert_string_equal(err.field, "image.format");
	assert_int_equal(imgstore_add(store, "ok", "/nonexistent", "raw", NULL, 0, &err), -ENOENT);
	assert_int_equal(imgstore_get(store, "ok", &img, &err), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_imported_image_keeps_format_and_properties),
		cmocka_unit_test(a_snapshot_is_committed_after_its_data),
		cmocka_unit_test(list_and_remove),
		cmocka_unit_test(ids_that_could_escape_are_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
