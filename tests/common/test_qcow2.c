/* test_qcow2.c - common/qcow2.h reads the fixed header of files written here: version 2
 * and 3 headers, and refuses what is not a whole qcow2 header. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qcow2.h"

static void
put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A temporary file holding len bytes of buf, opened for reading; unlinked at once. */
static int
file_with(const unsigned char *buf, size_t len)
{
	char path[] = "/tmp/hv-qcow2-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

static void
header(unsigned char *buf, uint32_t version)
{
	memset(buf, 0, 512);
	memcpy(buf, "QFI\xfb", 4);
	put_be(buf + 4, version, 4);
	put_be(buf + 8, 0x1000, 8);              /* backing_file_offset */
	put_be(buf + 16, 11, 4);                 /* backing_file_size */
	put_be(buf + 20, 16, 4);                 /* cluster_bits */
	put_be(buf + 24, (uint64_t)10 << 30, 8); /* size: 10 GiB */
	if (version >= 3) {
		put_be(buf + 72, HV_QCOW2_INCOMPAT_DATA_FILE, 8);
		put_be(buf + 96, 4, 4);    /* refcount_order */
		put_be(buf + 100, 112, 4); /* header_length */
	}
}

static void
a_version_3_header_is_read(void **state)
{
	unsigned char buf[512];
	struct hv_qcow2_header h;
	int fd;

	header(buf, 3);
	fd = file_with(buf, sizeof buf);
	assert_int_equal(hv_qcow2_read_header(fd, &h), 0);
	close(fd);
	assert_int_equal(h.version, 3);
	assert_int_equal(h.backing_file_offset, 0x1000);
	assert_int_equal(h.backing_file_size, 11);
	assert_true(h.size == (uint64_t)10 << 30);
	assert_int_equal(h.incompatible_features, HV_QCOW2_INCOMPAT_DATA_FILE);
	assert_int_equal(h.header_length, 112);
}

static void
a_version_2_header_has_no_version_3_fields(void **state)
{
	unsigned char buf[512];
	struct hv_qcow2_header h;
	int fd;

	header(buf, 2);
	put_be(buf + 72, 0xffffffffffffffffull, 8); /* past a v2 header: not a feature field */
	fd = file_with(buf, HV_QCOW2_V2_LEN + 8);
	assert_int_equal(hv_qcow2_read_header(fd, &h), 0);
	close(fd);
	assert_int_equal(h.version, 2);
	assert_true(h.size == (uint64_t)10 << 30);
	assert_int_equal(h.incompatible_features, 0);
	assert_int_equal(h.header_length, HV_QCOW2_V2_LEN);
}

static void
what_is_not_a_whole_qcow2_header_is_refused(void **state)
{
	unsigned char buf[512];
	struct hv_qcow2_header h;
	int fd;

	header(buf, 3);
	fd = file_with(buf, HV_QCOW2_V3_LEN - 1); /* a v3 header cut short */
	assert_int_equal(hv_qcow2_read_header(fd, &h), -EINVAL);
	close(fd);

	header(buf, 2);
	fd = file_with(buf, HV_QCOW2_V2_LEN - 1); /* a v2 header cut short */
	assert_int_equal(hv_qcow2_read_header(fd, &h), -EINVAL);
	close(fd);

	header(buf, 3);
	buf[3] = 0xfa; /* wrong magic */
	fd = file_with(buf, sizeof buf);
	assert_int_equal(hv_qcow2_read_header(fd, &h), -EINVAL);
	close(fd);

	fd = file_with(buf, 0); /* empty: a raw disk just created */
	assert_int_equal(hv_qcow2_read_header(fd, &h), -EINVAL);
	close(fd);

	assert_int_equal(hv_qcow2_read_header(-1, &h), -EBADF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_version_3_header_is_read),
		cmocka_unit_test(a_version_2_header_has_no_version_3_fields),
		cmocka_unit_test(what_is_not_a_whole_qcow2_header_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
