/* qcow2.h - the one reader of a qcow2 file's fixed header, for the libvirt driver
 * (virtual size without running qemu-img) and the guest module (backing-chain checks).
 * Header-only in common/ (like vec.h and ids.h) so the driver uses it without linking any
 * agent or common code; in-tree only, not installed: it is no part of the driver ABI. Reads the header and nothing else: never follows a backing file, never
 * allocates, never logs.
 *
 * The layout (qemu's docs/interop/qcow2.txt), all fields big-endian:
 *   0 magic "QFI\xfb"   4 version   8 backing_file_offset   16 backing_file_size
 *   24 size   ...   72 incompatible_features (v3)   100 header_length (v3)
 * A version 2 header is 72 bytes, a version 3 header at least 104. */
#ifndef HV_QCOW2_H
#define HV_QCOW2_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define HV_QCOW2_V2_LEN 72
#define HV_QCOW2_V3_LEN 104
/* incompatible feature bit 2: the data lives in an external file the header names */
#define HV_QCOW2_INCOMPAT_DATA_FILE 4u

struct hv_qcow2_header {
	uint32_t version;
	uint64_t backing_file_offset;   /* 0: no backing file */
	uint32_t backing_file_size;     /* length of the name at backing_file_offset */
	uint64_t size;                  /* virtual size in bytes */
	uint64_t incompatible_features; /* 0 for version 2 */
	uint32_t header_length;         /* where the header extensions start (72 for version 2) */
};

static inline uint64_t
hv_qcow2_be(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

/* Reads the header at the start of fd (with pread: fd's offset is left alone). Returns 0,
 * -EINVAL when fd does not hold a whole qcow2 header of its version (wrong magic, short
 * file), or -errno when the read fails. */
static inline int
hv_qcow2_read_header(int fd, struct hv_qcow2_header *ret)
{
	unsigned char h[HV_QCOW2_V3_LEN];
	ssize_t n;

	memset(ret, 0, sizeof *ret);
	if ((n = pread(fd, h, sizeof h, 0)) < 0)
		return errno ? -errno : -EIO;
	if (n < HV_QCOW2_V2_LEN || memcmp(h, "QFI\xfb", 4) != 0)
		return -EINVAL;
	ret->version = (uint32_t)hv_qcow2_be(h + 4, 4);
	ret->backing_file_offset = hv_qcow2_be(h + 8, 8);
	ret->backing_file_size = (uint32_t)hv_qcow2_be(h + 16, 4);
	ret->size = hv_qcow2_be(h + 24, 8);
	ret->header_length = HV_QCOW2_V2_LEN;
	if (ret->version >= 3) {
		if (n < HV_QCOW2_V3_LEN)
			return -EINVAL;
		ret->incompatible_features = hv_qcow2_be(h + 72, 8);
		ret->header_length = (uint32_t)hv_qcow2_be(h + 100, 4);
	}
	return 0;
}

#endif
