/* json.h - the one JSON helper layer (jansson underneath): parsing bytes with position
 * errors, and typed getters that report the full field path when a value is missing or
 * has the wrong type ("body.flavor.vcpus: expected integer").
 *
 * Every getter takes `where`, the path of the object being read ("body", "body.flavor"),
 * and `key`; on failure it fills err->field with "where.key" and err->message with
 * "where.key: <problem>", and returns -EINVAL. Returned strings and objects are borrowed
 * from the JSON tree. This module never logs and never allocates on success except where
 * stated. */
#ifndef HV_JSON_H
#define HV_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <hvagent/error.h>

#include "kv.h"

enum hj_flags {
	HJ_REQUIRED = 0,
	HJ_OPTIONAL = 1, /* absent or null: return 0 and leave *ret untouched */
};

/* Parses exactly len bytes as one JSON value; rejects NUL bytes and duplicate keys. `what` names the input in errors ("frame 2 (header)").
 * Returns 0 and a new reference, or -EINVAL ("frame 2 (header): invalid JSON at line 1
 * column 7: ..."). When must_be_object, anything but an object is -EINVAL too. */
int hj_parse(const void *buf, size_t len, const char *what, bool must_be_object, json_t **ret,
	     struct hv_error *err);

/* Compact, key-order-preserving serialization; malloc'd, caller frees. NULL on ENOMEM. */
char *hj_dump(const json_t *v);

/* Appends the JSON string literal of the n bytes at s (quoted, escaped as hj_dump does) to
 * t: the escaping of the encoders that write JSON text directly. */
struct hv_text;
void hj_text_string(struct hv_text *t, const char *s, size_t n);

/* The getters return 1 when the value was present and stored, 0 when it was optional and
 * absent (*ret untouched), or -EINVAL. */

/* A string of at most max_len bytes (0 = no limit) with no control characters. */
int hj_str(const json_t *obj, const char *where, const char *key, int flags, size_t max_len,
	   const char **ret, struct hv_error *err);
/* An integer within [min, max]. */
int hj_int(const json_t *obj, const char *where, const char *key, int flags, int64_t min,
	   int64_t max, int64_t *ret, struct hv_error *err);
int hj_bool(const json_t *obj, const char *where, const char *key, int flags, bool *ret,
	    struct hv_error *err);
/* Borrowed object / array. */
int hj_obj(const json_t *obj, const char *where, const char *key, int flags, json_t **ret,
	   struct hv_error *err);
int hj_arr(const json_t *obj, const char *where, const char *key, int flags, size_t max_items,
	   json_t **ret, struct hv_error *err);
/* One of the '|'-separated words in `allowed` ("soft|hard"). */
int hj_enum(const json_t *obj, const char *where, const char *key, int flags, const char *allowed,
	    const char **ret, struct hv_error *err);
/* A canonical lower-case UUID "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
int hj_uuid(const json_t *obj, const char *where, const char *key, int flags, const char **ret,
	    struct hv_error *err);
/* An object of string values, as a malloc'd array of borrowed key/value pointers (caller
 * frees the array only). Keys at most key_max bytes, values at most value_max bytes, at
 * most max_items entries. Absent optional -> *ret NULL, *ret_n 0. */
int hj_str_map(const json_t *obj, const char *where, const char *key, int flags, size_t max_items,
	       size_t key_max, size_t value_max, struct hv_kv **ret, size_t *ret_n,
	       struct hv_error *err);

/* Refuses the first key of obj that is not in `known` (NULL-terminated), as nova's schemas
 * refuse additional properties: "where.key: unknown field (allowed: a, b)". A request
 * field that is ignored would do something else than asked. 0 or -EINVAL. */
int
hj_known_keys(const json_t *obj, const char *where, const char *const *known, struct hv_error *err);

/* True when s is a canonical lower-case UUID. */
bool hj_is_uuid(const char *s);
/* Writes "where.key" (or "where[index]" when key is NULL) into buf. */
const char *hj_path(char *buf, size_t size, const char *where, const char *key, size_t index);

/* Overwrites a string value's bytes in place (secrets in a request, before the tree is
 * released). No-op for anything but a string. */
void hj_wipe_string(json_t *v);

#endif
