/* test_image.c - a request's image is resolved through the image store: the recorded
 * format wins (a disagreeing request is refused naming body.image.format), recorded
 * properties are merged under the request's, an unknown id is refused when images must be
 * stored and passes with no path for a driver that needs no file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "image.h"
#include "imgstore.h"

struct fx {
	char dir[64];
	struct imgstore *s;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	struct hv_error err = {0};
	char src[128];
	FILE *fp;
	const struct hvd_kv props[] = {{"kernel", "/boot/vmlinuz"}, {"hw_video_ram", "8"}};

	snprintf(f->dir, sizeof f->dir, "/tmp/hv-image-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(src, sizeof src, "%s/src", f->dir);
	assert_non_null(fp = fopen(src, "w"));
	fputs("a disk", fp);
	fclose(fp);
	assert_int_equal(imgstore_open(f->dir, &f->s, &err), 0);
	assert_int_equal(imgstore_add(f->s, "tiny", src, "raw", props, 2, &err), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	imgstore_free(f->s);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char *
prop(const struct hvd_image *im, const char *key)
{
	for (size_t i = 0; i < im->n_properties; i++)
		if (strcmp(im->properties[i].key, key) == 0)
			return im->properties[i].value;
	return NULL;
}

static void
a_stored_image_gives_its_file_and_recorded_properties(void **state)
{
	struct fx *f = *state;
	const struct hvd_kv req_props[] = {{"hw_video_ram", "16"}, {"os_command_line", "quiet"}};
	struct hvd_image im = {
		.id = "tiny", .format = "raw", .properties = req_props, .n_properties = 2};
	struct agent_image ai;
	struct hv_error err = {0};
	char want[128];

	assert_int_equal(agent_image_resolve(f->s, true, "body.image", &im, &ai, &err), 0);
	snprintf(want, sizeof want, "%s/tiny.img", f->dir);
	assert_string_equal(im.path, want);
	assert_string_equal(im.format, "raw");
	assert_int_equal(im.n_properties, 3);
	assert_string_equal(prop(&im, "kernel"), "/boot/vmlinuz");  /* recorded */
	assert_string_equal(prop(&im, "hw_video_ram"), "16");       /* the request wins */
	assert_string_equal(prop(&im, "os_command_line"), "quiet"); /* the request adds */
	agent_image_release(&ai);
}

static void
the_recorded_format_wins_over_the_request(void **state)
{
	struct fx *f = *state;
	struct hvd_image im = {.id = "tiny", .format = "qcow2"};
	struct agent_image ai;
	struct hv_error err = {0};

	assert_int_equal(agent_image_resolve(f->s, false, "body.image", &im, &ai, &err), -EINVAL);
	assert_string_equal(err.field, "body.image.format");
	assert_non_null(strstr(err.message, "recorded as 'raw'"));
	assert_null(im.path);
	agent_image_release(&ai);
}

static void
an_unknown_image_is_refused_when_images_must_be_stored(void **state)
{
	struct fx *f = *state;
	struct hvd_image im = {.id = "cirros", .format = "qcow2"};
	struct agent_image ai;
	struct hv_error err = {0};

	assert_int_equal(agent_image_resolve(f->s, true, "body.image", &im, &ai, &err), -ENOENT);
	assert_string_equal(err.field, "body.image.id");
	assert_string_equal(err.message, "body.image.id: no image 'cirros' in the image store");
	agent_image_release(&ai);
	/* an id with a character the store refuses is simply not there */
	im.id = "a:b";
	assert_int_equal(agent_image_resolve(f->s, true, "body.image", &im, &ai, &err), -ENOENT);
	agent_image_release(&ai);
	/* no store at all */
	im.id = "tiny";
	assert_int_equal(agent_image_resolve(NULL, true, "body.image", &im, &ai, &err), -ENOENT);
	agent_image_release(&ai);
}

static void
a_driver_without_files_takes_an_unknown_image_with_no_path(void **state)
{
	struct fx *f = *state;
	struct hvd_image im = {.id = "cirros", .format = "qcow2", .path = "/stale"};
	struct agent_image ai;
	struct hv_error err = {0};

	assert_int_equal(agent_image_resolve(f->s, false, "body.image", &im, &ai, &err), 0);
	assert_null(im.path);
	assert_string_equal(im.format, "qcow2");
	assert_int_equal(err.code, 0);
	agent_image_release(&ai);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			a_stored_image_gives_its_file_and_recorded_properties, setup, teardown),
		cmocka_unit_test_setup_teardown(the_recorded_format_wins_over_the_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			an_unknown_image_is_refused_when_images_must_be_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(
			a_driver_without_files_takes_an_unknown_image_with_no_path, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
