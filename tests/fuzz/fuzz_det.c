/* fuzz_det.c - deterministic entropy for the controller's fuzz targets. hvcentral draws its
 * msg_ids, cmd_ids and server uuids from getrandom(); libFuzzer needs the same input to take
 * the same path every time, and the seeds need to name the commands the fixture queued. So
 * this file replaces getrandom() in the fuzz binaries (and only there) with a counter that
 * each input restarts. Never linked into a product binary. */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fuzz_det.h"

static uint64_t det_state;

void
fuzz_det_reset(void)
{
	det_state = 0x9e3779b97f4a7c15ull;
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags);

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		/* splitmix64: a well-spread sequence from a counter */
		uint64_t z = (det_state += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		p[i] = (unsigned char)(z ^ (z >> 31));
	}
	return (ssize_t)len;
}
