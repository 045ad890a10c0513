/* route.c - host -> routing id of its authenticated connection, a sorted array searched by
 * binary search: routes change when a host connects, are read for every command. Must never
 * learn a route from anything but an authenticated host id (the caller's duty, route.h). */
#include "route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "vec.h"

struct route {
	char host[PROTO_MAX_ID + 1];
	uint8_t rid[ROUTE_MAX_RID];
	size_t rid_len;
};

struct route_table {
	struct route *v;
	size_t n, cap;
};

struct route_table *
route_new(void)
{
	return calloc(1, sizeof(struct route_table));
}

void
route_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

/* The index of host, or where it would go (*found false). */
static size_t
slot(const struct route_table *t, const char *host, bool *found)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->v[mid].host, host);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

int
route_learn(struct route_table *t, const char *host, const uint8_t *rid, size_t rid_len)
{
	bool found;
	if (rid_len == 0 || rid_len > ROUTE_MAX_RID || strlen(host) > PROTO_MAX_ID || !*host)
		return -EINVAL;
	size_t i = slot(t, host, &found);
	if (found) {
		struct route *r = &t->v[i];
		if (r->rid_len == rid_len && memcmp(r->rid, rid, rid_len) == 0)
			return 0;
		memcpy(r->rid, rid, rid_len);
		r->rid_len = rid_len;
		return 1;
	}
	if (HV_GROW(t->v, t->cap, t->n + 1) < 0)
		return -ENOMEM;
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof t->v[0]);
	t->n++;
	struct route *r = &t->v[i];
	memset(r, 0, sizeof *r);
	strcpy(r->host, host);
	memcpy(r->rid, rid, rid_len);
	r->rid_len = rid_len;
	return 1;
}

bool
route_find(const struct route_table *t, const char *host, const uint8_t **ret_rid, size_t *ret_len)
{
	bool found;
	size_t i = slot(t, host, &found);
	if (!found)
		return false;
	*ret_rid = t->v[i].rid;
	*ret_len = t->v[i].rid_len;
	return true;
}
