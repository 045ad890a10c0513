/* route.h - where hvcentral sends a host's messages: the routing id of the connection that
 * last spoke authenticated as that host (ZAP User-Id == header host_id). A peer chooses its
 * routing id, so a routing id is never taken as an identity: only an authenticated message
 * moves a host's route, and a connection that claims another host's name moves nothing.
 * Pure: no sockets, no store; never logs. */
#ifndef HVC_ROUTE_H
#define HVC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_MAX_RID 255 /* ZeroMQ's limit on a routing id */

struct route_table;

struct route_table *route_new(void);
void route_free(struct route_table *t);

/* A message authenticated as host arrived from routing id rid (1-255 bytes): host's messages
 * go there from now on. 1 when the route changed (a new connection), 0 when it was already
 * so, -EINVAL for a bad length, -ENOMEM. */
int route_learn(struct route_table *t, const char *host, const uint8_t *rid, size_t rid_len);
/* The routing id of host's authenticated connection (borrowed until the next route_learn);
 * false when host has not spoken since hvcentral started. */
bool
route_find(const struct route_table *t, const char *host, const uint8_t **ret_rid, size_t *ret_len);

#endif
