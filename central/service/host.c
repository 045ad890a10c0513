/* host.c - what the fronts may ask of hosts: the list (liveness as seen here, what each
 * host last said of itself, allowed hosts that never connected, pending keys), one host,
 * and accepting a pending key. Must never talk to an agent and never logs. */
#include "service-priv.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "keys.h"

/* state: liveness as seen here (down when an operator forced it down); status and
 * disabled_reason: an operator's word, else what the host last said of itself (protocol
 * §8.3), null before its first report */
static void
decorate_host(struct svc *sv, json_t *h, int64_t now)
{
	int64_t seen = ctl_heard_ms(sv->ctl, field_or(h, "host_id", ""),
				    json_integer_value(json_object_get(h, "last_seen_ms")));
	json_t *res = json_object_get(h, "resources");
	const char *why = NULL;
	bool off = svc_host_disabled(h, &why);
	const char *status = off ? "disabled" : json_object_size(res) ? "enabled" : NULL;
	json_object_set_new(
		h, "state",
		json_string(svc_host_forced_down(h)
				    ? "down"
				    : reg_state_name(reg_state_at(seen, now, &sv->liveness))));
	json_object_set_new(h, "last_seen_ms", json_integer(seen));
	json_object_set_new(h, "seen_ago_ms", seen > 0 ? json_integer(now - seen) : json_null());
	json_object_set_new(h, "status", status ? json_string(status) : json_null());
	json_object_set_new(h, "disabled_reason", off && why ? json_string(why) : json_null());
}

/* nova's host_status (2.16) of one stored host row: DOWN when forced down or silent,
 * UNKNOWN before it was ever heard, MAINTENANCE when disabled, else UP. */
static const char *
host_status(struct svc *sv, const json_t *h, int64_t now)
{
	int64_t seen = ctl_heard_ms(sv->ctl, field_or(h, "host_id", ""),
				    json_integer_value(json_object_get(h, "last_seen_ms")));
	if (svc_host_forced_down(h))
		return "DOWN";
	if (seen <= 0)
		return "UNKNOWN";
	if (reg_state_at(seen, now, &sv->liveness) != REG_UP)
		return "DOWN";
	return svc_host_disabled(h, NULL) ? "MAINTENANCE" : "UP";
}

int
svc_host_statuses(struct svc *sv, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *hosts = NULL, *h;
	size_t i;
	int r = store_host_list(sv->store, &hosts, err);
	if (r < 0)
		return r;
	*ret = json_object();
	json_array_foreach (hosts, i, h)
		json_object_set_new(*ret, field_or(h, "host_id", ""),
				    json_string(host_status(sv, h, now)));
	json_decref(hosts);
	return 0;
}

/* The known hosts, then allowed hosts that never connected, then pending keys. */
static int
merge_hosts(struct svc *sv, const json_t *allowlist, const json_t *pending, int64_t now,
	    json_t **ret, struct hv_error *err)
{
	json_t *hosts = NULL;
	int r = store_host_list(sv->store, &hosts, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *h;
	json_t *by_id = json_object();
	if (!by_id) {
		json_decref(hosts);
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	}
	json_array_foreach (hosts, i, h) {
		decorate_host(sv, h, now);
		json_object_set(by_id, field_or(h, "host_id", ""), h);
	}
	/* allowed hosts that never connected yet */
	json_array_foreach (allowlist, i, h) {
		const char *id = json_string_value(json_object_get(h, "host_id"));
		json_t *known = json_object_get(by_id, id);
		if (known) /* the allowlist holds the key the host authenticates with */
			json_object_set(known, "public_key", json_object_get(h, "public_key"));
		else
			json_array_append_new(
				hosts, json_pack("{s:s, s:O, s:s, s:n, s:{}, s:n, s:n}", "host_id",
						 id, "public_key", json_object_get(h, "public_key"),
						 "state", "down", "seen_ago_ms", "resources",
						 "status", "disabled_reason"));
	}
	json_array_foreach (pending, i, h) {
		json_t *p = json_deep_copy(h);
		json_object_set_new(p, "host_id", json_null());
		json_object_set_new(p, "state", json_string("pending"));
		json_object_set_new(
			p, "seen_ago_ms",
			json_integer(now - json_integer_value(json_object_get(h, "last_seen_ms"))));
		json_array_append_new(hosts, p);
	}
	json_decref(by_id);
	*ret = hosts;
	return 0;
}

int
svc_host_list(struct svc *sv, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *pending = NULL;
	if (sv->allow)
		allow_refresh(sv->allow, err);
	json_t *allowed = sv->allow ? allow_list(sv->allow) : json_array();
	int r = store_pending_list(sv->store, &pending, err);
	if (r == 0)
		r = merge_hosts(sv, allowed, pending, now, ret, err);
	json_decref(allowed);
	json_decref(pending);
	return r;
}

int
svc_host_show(struct svc *sv, const char *host, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *h = NULL;
	int r = store_host_get(sv->store, host, &h, err);
	if (r < 0)
		return r;
	decorate_host(sv, h, now);
	json_t *insts = NULL;
	if (store_instance_list(sv->store, host, false, &insts, err) == 0)
		json_object_set_new(h, "instances",
				    json_integer((json_int_t)json_array_size(insts)));
	json_decref(insts);
	if (sv->allow) {
		struct hv_error ignored;
		allow_refresh(sv->allow, &ignored);
		const char *key = allow_key_for(sv->allow, host);
		if (key) /* the key the host authenticates with today */
			json_object_set_new(h, "public_key", json_string(key));
	}
	*ret = h;
	return 0;
}

int
svc_host_service(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const keys[] = {"host", "disabled", "disabled_reason", "forced_down",
					   NULL};
	const char *host, *why = NULL;
	json_t *h = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", keys, err)) < 0 ||
	    (r = hj_str(args, "args", "host", HJ_REQUIRED, PROTO_MAX_ID, &host, err)) < 0 ||
	    (r = hj_str(args, "args", "disabled_reason", HJ_OPTIONAL, 255, &why, err)) < 0 ||
	    (r = store_host_get(sv->store, host, &h, err)) < 0)
		return r;
	bool disabled = json_is_true(json_object_get(h, "service_disabled")),
	     down = svc_host_forced_down(h);
	if (!why)
		why = field_or(h, "service_reason", NULL);
	if ((r = hj_bool(args, "args", "disabled", HJ_OPTIONAL, &disabled, err)) < 0 ||
	    (r = hj_bool(args, "args", "forced_down", HJ_OPTIONAL, &down, err)) < 0)
		goto out;
	if (!disabled && json_is_string(json_object_get(args, "disabled_reason"))) {
		r = hv_error_set(err, -EINVAL, "args.disabled_reason",
				 "args.disabled_reason: only when disabling the host");
		goto out;
	}
	r = store_host_set_service(sv->store, host, disabled, disabled ? why : NULL, down, err);
	if (r < 0)
		goto out;
	svc_place_dirty(sv, host); /* the scheduler reads its row again */
	r = svc_host_show(sv, host, now, ret, err);
out:
	json_decref(h);
	return r;
}

/* Finds the pending key meant by `what`: the key itself or a unique prefix of at least 8
 * characters, else the address of exactly one pending agent, else a full key that never
 * connected (allowed ahead of its agent). */
static int
find_pending(struct svc *sv, const char *what, char key[KEYS_Z85_LEN + 1], struct hv_error *err)
{
	int r = store_pending_find(sv->store, what, key, err);
	if (r == 0 || (r < 0 && r != -ENOENT && strlen(what) >= 8))
		return r; /* found, ambiguous, or a store failure */
	json_t *pending = NULL;
	if ((r = store_pending_list(sv->store, &pending, err)) < 0)
		return r;
	size_t i, n_addr = 0;
	json_t *p;
	json_array_foreach (pending, i, p) {
		const char *addr = json_string_value(json_object_get(p, "address"));
		if (addr && strcmp(addr, what) == 0 && n_addr++ == 0)
			snprintf(key, KEYS_Z85_LEN + 1, "%s",
				 json_string_value(json_object_get(p, "public_key")));
	}
	json_decref(pending);
	if (n_addr == 1)
		return 0;
	if (n_addr > 1)
		return hv_error_set(err, -EINVAL, "key",
				    "several pending agents come from %s; give their key", what);
	if (keys_z85_valid(what)) {
		snprintf(key, KEYS_Z85_LEN + 1, "%s", what);
		return 0;
	}
	return hv_error_set(err, -ENOENT, "key",
			    "no pending key or address matches '%s' (see hv host list)", what);
}

int
svc_host_accept(struct svc *sv, const char *what, const char *name, json_t **ret,
		struct hv_error *err)
{
	char key[KEYS_Z85_LEN + 1];
	int r;
	if (!allow_host_name_valid(name))
		return hv_error_set(err, -EINVAL, "name",
				    "not a host name (1-64 of A-Z a-z 0-9 . _ "
				    ": -, starting with a letter or digit)");
	if (!sv->allow)
		return hv_error_set(err, -EOPNOTSUPP, "", "no allowlist to add the host to");
	if ((r = find_pending(sv, what, key, err)) < 0 ||
	    (r = allow_add(sv->allow, name, key, err)) < 0)
		return r;
	store_pending_remove(sv->store, key, err);
	*ret = json_pack("{s:s, s:s, s:s}", "host_id", name, "public_key", key, "state",
			 "accepted");
	return 0;
}
