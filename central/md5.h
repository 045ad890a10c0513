/* md5.h - MD5 (RFC 1321), only for Glance's "checksum" field of catalog images, which
 * clients compare against md5sum: never a security check (SHA-256 is the one the catalog
 * and the hosts verify). Pure, incremental, no allocation. */
#ifndef HVC_MD5_H
#define HVC_MD5_H

#include <stddef.h>
#include <stdint.h>

struct md5 {
	uint32_t h[4];
	uint64_t len; /* bytes fed */
	unsigned char buf[64];
	size_t n; /* bytes waiting in buf */
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *data, size_t len);
/* 32 lower-case hex digits and a NUL. */
void md5_final(struct md5 *m, char ret[33]);

#endif
