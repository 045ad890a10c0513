/* test_imgdata.c - the catalog's image files: an upload grows only at the offset received
 * so far, is hashed (SHA-256, and MD5 as md5sum prints it) and becomes the image's file
 * only when committed; an id never names a file outside the dir. */
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

#include "imgdata.h"
#include "md5.h"

static void
md5_of(const char *text, size_t repeat, char ret[33])
{
	struct md5 m;

	md5_init(&m);
	for (size_t i = 0; i < repeat; i++)
		md5_update(&m, text, strlen(text));
	md5_final(&m, ret);
}

/* RFC 1321's test suite, and a text over several blocks fed in uneven pieces */
static void
md5_matches_the_rfc_vectors(void **state)
{
	char h[33];

	md5_of("", 1, h);
	assert_string_equal(h, "d41d8cd98f00b204e9800998ecf8427e");
	md5_of("abc", 1, h);
	assert_string_equal(h, "900150983cd24fb0d6963f7d28e17f72");
	md5_of("message digest", 1, h);
	assert_string_equal(h, "f96b697d7cb7938d525a2f31aaf161d0");
	md5_of("abcdefghijklmnopqrstuvwxyz", 1, h);
	assert_string_equal(h, "c3fcd3d76192e4007dfb496cca67e13b");
	md5_of("1234567890", 8, h);
	assert_string_equal(h, "57edf4a22be3c955ac49da2e2107b67a");
}

static char dir[64];

static int
setup(void **state)
{
	struct imgdata *d = NULL;
	struct hv_error err = {0};

	snprintf(dir, sizeof dir, "/tmp/hv-imgdata-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(imgdata_open(dir, &d, &err), 0);
	*state = d;
	return 0;
}

static int
teardown(void **state)
{
	imgdata_free(*state);
	return rmdir(dir); /* every test leaves it empty */
}

static void
an_upload_grows_only_where_it_stopped(void **state)
{
	struct imgdata *d = *state;
	struct hv_error err = {0};
	char sha[65], md5[33], path[256];
	int64_t size = 0;
	struct stat st;

	assert_int_equal(imgdata_append(d, "img-1", 0, "abc", 3, &err), 0);
	assert_int_equal(imgdata_received(d, "img-1"), 3);
	assert_int_equal(imgdata_append(d, "img-1", 0, "abc", 3, &err), -EINVAL);
	assert_string_equal(err.field, "args.offset");
	assert_non_null(strstr(err.message, "offset 3"));
	assert_int_equal(imgdata_received(d, "img-1"), 3); /* refused: nothing changed */
	snprintf(path, sizeof path, "%s/img-1", dir);
	assert_int_equal(stat(path, &st), -1); /* not an image before commit */
	assert_int_equal(imgdata_hash(d, "img-1", sha, md5, &size, &err), 0);
	assert_int_equal(size, 3);
	assert_string_equal(sha,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(md5, "900150983cd24fb0d6963f7d28e17f72");
	assert_int_equal(imgdata_commit(d, "img-1", &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(imgdata_received(d, "img-1"), 0);
	char buf[8];
	size_t n = 0;
	assert_int_equal(imgdata_read(d, "img-1", 1, buf, sizeof buf, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "bc", 2);
	imgdata_remove(d, "img-1");
	assert_int_equal(stat(path, &st), -1);
}

static void
an_id_never_leaves_the_dir(void **state)
{
	struct imgdata *d = *state;
	struct hv_error err = {0};
	char buf[4];
	size_t n;

	assert_int_equal(imgdata_append(d, "../escape", 0, "x", 1, &err), -EINVAL);
	assert_int_equal(imgdata_append(d, ".hidden", 0, "x", 1, &err), -EINVAL);
	assert_int_equal(imgdata_append(d, "a/b", 0, "x", 1, &err), -EINVAL);
	assert_int_equal(imgdata_read(d, "..", 0, buf, sizeof buf, &n, &err), -EINVAL);
	assert_int_equal(imgdata_received(d, "../escape"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(md5_matches_the_rfc_vectors),
		cmocka_unit_test_setup_teardown(an_upload_grows_only_where_it_stopped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(an_id_never_leaves_the_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
