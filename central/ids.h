/* ids.h - identifiers and clocks for hvcentral: random UUIDs for instances and commands,
 * wall and monotonic milliseconds. Never derives an id from request text. */
#ifndef HVC_IDS_H
#define HVC_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define IDS_UUID_LEN 36

/* Fills out (37 bytes) with a random version-4 UUID in lower case. 0 or -errno. */
int ids_uuid4(char out[IDS_UUID_LEN + 1]);
/* True when s is a canonical lower/upper-case UUID (8-4-4-4-12 hex). */
bool ids_is_uuid(const char *s);
int64_t ids_wall_ms(void);
int64_t ids_mono_ms(void);

#endif
