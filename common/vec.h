/* vec.h - the one growable array of the tree: a header only, so drivers and every binary can
 * use it without linking anything. A caller keeps its own pointer, count and capacity fields;
 * HV_GROW makes room for `need` elements, doubling the capacity as it grows.
 * Must never leave the caller's pointer or capacity changed when it fails. */
#ifndef HV_VEC_H
#define HV_VEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The capacity that holds need elements of elem bytes, doubling from cap (8 at first);
 * 0 when it would overflow. */
static inline size_t
hv_grow_cap(size_t cap, size_t need, size_t elem)
{
	size_t n = cap ? cap : 8;

	while (n < need) {
		if (n > SIZE_MAX / 2)
			return 0;
		n *= 2;
	}
	return elem && n > SIZE_MAX / elem ? 0 : n;
}

/* *pp is a T * (passed as void * so one function serves every T), *cap its capacity in
 * elements. Returns 0 when *cap >= need afterwards, or -ENOMEM (nothing changed). With wipe
 * the block moves by malloc + copy and the old one is wiped before it is freed, for a
 * buffer that may hold a secret: realloc would leave a copy behind in freed memory. */
static inline int
hv_grow_block(void *pp, size_t *cap, size_t need, size_t elem, int wipe)
{
	void *p, *np;
	size_t n;

	if (need <= *cap)
		return 0;
	if (!(n = hv_grow_cap(*cap, need, elem)))
		return -ENOMEM;
	memcpy(&p, pp, sizeof p);
	if (!wipe) {
		if (!(np = realloc(p, n * elem)))
			return -ENOMEM;
	} else {
		if (!(np = malloc(n * elem)))
			return -ENOMEM;
		if (p) {
			memcpy(np, p, *cap * elem);
			explicit_bzero(p, *cap * elem);
			free(p);
		}
	}
	memcpy(pp, &np, sizeof np);
	*cap = n;
	return 0;
}

/* For elements whose size is known only at run time (a table row of n cells). */
static inline int
hv_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
	return hv_grow_block(pp, cap, need, elem, 0);
}

/* HV_GROW(items, cap, count + 1): room for one more in the T *items array. */
#define HV_GROW(ptr, cap, need) hv_grow_block(&(ptr), &(cap), (need), sizeof *(ptr), 0)
/* The same for a buffer that may hold a secret (an encoded COMMAND, user data). */
#define HV_GROW_WIPE(ptr, cap, need) hv_grow_block(&(ptr), &(cap), (need), sizeof *(ptr), 1)

#endif
