/* kv.h - the key/value pair common/ hands out (a config section, a JSON string map).
 * Neutral on purpose: common/ must not depend on the driver ABI, so the agent, which knows
 * both, converts to struct hvd_kv where it talks to a driver. Both strings are borrowed
 * from whatever produced the pair. */
#ifndef HV_KV_H
#define HV_KV_H

struct hv_kv {
	const char *key;
	const char *value;
};

#endif
