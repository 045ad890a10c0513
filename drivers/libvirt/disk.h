/* disk.h - instance disk files through qemu-img, run with fork/exec and an argv (never a
 * shell), so no path is ever interpreted. Never logs; qemu-img's stderr goes into err. */
#ifndef HV_LIBVIRT_DISK_H
#define HV_LIBVIRT_DISK_H

#include <stdint.h>

#include <hvagent/error.h>

/* qcow2 overlay at path on base (base_format recorded, never probed); size_gb 0 keeps the
 * base's virtual size. */
int disk_overlay(const char *path, const char *base, const char *base_format, uint64_t size_gb,
		 struct hv_error *err);
/* An empty qcow2 of size_mb. */
int disk_blank(const char *path, uint64_t size_mb, struct hv_error *err);
/* An empty qcow2 of exactly size_bytes (a copy target must match its source). */
int disk_blank_bytes(const char *path, uint64_t size_bytes, struct hv_error *err);
/* Grows a qcow2 to size_gb; -EINVAL when that would shrink it. */
int disk_grow(const char *path, uint64_t size_gb, struct hv_error *err);
/* Flattens path's whole backing chain into dest in dest_format ("qcow2" or "raw").
 * force_share reads an image a running guest holds open. */
int disk_convert(const char *path, const char *dest, const char *dest_format, bool force_share,
		 struct hv_error *err);
/* Virtual size in bytes. */
int disk_virtual_size(const char *path, uint64_t *ret_bytes, struct hv_error *err);
/* cp --reflink=auto without the shell: copies src to dest (dest created 0600). */
int disk_copy(const char *src, const char *dest, struct hv_error *err);

#endif
