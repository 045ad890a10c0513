/* wipefree.c - every block the process frees is wiped first. Linked into the daemons only
 * (hvcentral, hvagent), never into a library: it replaces free() for the whole process.
 *
 * Admin passwords and user data pass through buffers no code of ours owns: libzmq's CURVE
 * plaintext and frame buffers, jansson's strings and dump buffers, libstdc++ allocations.
 * Wiping at each owner cannot reach those, and a freed block keeps its bytes until reused,
 * where a core dump or a heap read would find them (protocol §10.3: secrets are wiped after
 * use). So free() itself wipes, then hands the block to the C library's allocator. Blocks
 * realloc moves are freed inside the C library and not seen here: buffers that may hold a
 * secret grow with HV_GROW_WIPE (vec.h), never realloc. Must never allocate or log. */
#include <malloc.h>
#include <string.h>

void __libc_free(void *p); /* glibc's own free, which this one wraps */

void free(void *p);

void
free(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	__libc_free(p);
}
