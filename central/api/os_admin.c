/* os_admin.c - Compute 2.1's placement and accounting resources over the service layer:
 * os-hypervisors (list, detail, show, statistics, servers of a host), os-aggregates (with
 * add_host, remove_host, set_metadata), os-availability-zone, os-server-groups and
 * os-simple-tenant-usage, in nova's shapes. Admin-only where nova's default policy is. A
 * front: it decodes and encodes; the rules are the service's (aggregate.c, servergroup.c,
 * usage.c, hypervisor.c). Must never read the store. */
#include "os-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static bool
admin_only(struct os_req *q, const char *rule)
{
	return !os_admin_refused(q, rule);
}

/* ---- os-hypervisors ----------------------------------------------------------------- */

/* nova's row from the service's: the list shows id, name, state, status; detail all. */
static json_t *
hypervisor_json(const struct os_req *q, const json_t *h, bool detail)
{
	json_t *o =
		json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(h, "id"),
			  "hypervisor_hostname", json_object_get(h, "hypervisor_hostname"), "state",
			  json_object_get(h, "state"), "status", json_object_get(h, "status"));
	if (!detail)
		return o;
	static const char *const keys[] = {"hypervisor_type",
					   "vcpus",
					   "vcpus_used",
					   "memory_mb",
					   "memory_mb_used",
					   "free_ram_mb",
					   "local_gb",
					   "local_gb_used",
					   "free_disk_gb",
					   "running_vms",
					   "disk_available_least",
					   "host_ip"};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		json_object_set(o, keys[i], json_object_get(h, keys[i]));
	json_object_set_new(o, "hypervisor_version", json_integer(1000000));
	json_object_set_new(o, "current_workload", json_integer(0));
	json_object_set_new(o, "service",
			    json_pack("{s:O, s:O, s:n}", "host", json_object_get(h, "id"), "id",
				      json_object_get(h, "id"), "disabled_reason"));
	/* a JSON text before 2.28, the object from 2.28 */
	json_t *info = json_object_get(h, "cpu_info");
	if (os_mv(q, 28)) {
		json_object_set_new(o, "cpu_info", info ? json_incref(info) : json_object());
		return o;
	}
	char *cpu = info ? json_dumps(info, JSON_COMPACT) : NULL;
	json_object_set_new(o, "cpu_info", json_string(cpu ? cpu : "{}"));
	free(cpu);
	return o;
}

/* GET /os-hypervisors/{pattern}/servers and /search: hosts whose name holds pattern. */
static void
hypervisor_search(struct os_front *f, struct os_req *q, const char *pattern, bool servers)
{
	struct hv_error err = {0};
	json_t *list = NULL, *all = NULL, *out = json_array(), *h, *s;
	size_t i, k;
	int r = svc_hypervisor_list(f->svc, f->now, &list, &err);
	if (r == 0 && servers)
		r = svc_server_list(f->svc, NULL, false, &all, &err);
	if (r < 0) {
		json_decref(out);
		json_decref(list);
		return os_svc_error(q, r, &err);
	}
	json_array_foreach (list, i, h) {
		if (!strstr(os_field(h, "hypervisor_hostname"), pattern))
			continue;
		json_t *o = hypervisor_json(q, h, false);
		if (servers) {
			json_t *mine = json_array();
			json_array_foreach (all, k, s)
				if (strcmp(os_field(s, "host"), os_field(h, "id")) == 0)
					json_array_append_new(
						mine, json_pack("{s:O, s:O}", "uuid",
								json_object_get(s, "uuid"), "name",
								json_object_get(s, "name")));
			json_object_set_new(o, "servers", mine);
		}
		json_array_append_new(out, o);
	}
	json_decref(list);
	json_decref(all);
	if (!json_array_size(out)) {
		json_decref(out);
		return os_error(q, 404, "No hypervisor matching '%s' could be found.", pattern);
	}
	os_reply(q, 200, json_pack("{s:o}", "hypervisors", out));
}

static void
hypervisors_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	json_t *res = NULL, *out, *h;
	size_t i;
	int r;
	const char *what = n == 1                                        ? "list"
			   : n == 2 && strcmp(seg[1], "detail") == 0     ? "list-detail"
			   : n == 2 && strcmp(seg[1], "statistics") == 0 ? "statistics"
			   : n == 3 && strcmp(seg[2], "servers") == 0    ? "servers"
			   : n == 3                                      ? "search"
									 : "show";
	char rule[64];
	snprintf(rule, sizeof rule, "os_compute_api:os-hypervisors:%s", what);
	if (!admin_only(q, rule))
		return;
	if (strcmp(q->method, "GET") != 0)
		return os_error(q, 405, "The method is not allowed here.");
	if (n == 2 && strcmp(seg[1], "statistics") == 0) {
		if ((r = svc_hypervisor_stats(f->svc, f->now, &res, &err)) < 0)
			return os_svc_error(q, r, &err);
		json_object_set_new(res, "current_workload", json_integer(0));
		return os_reply(q, 200, json_pack("{s:o}", "hypervisor_statistics", res));
	}
	if (n == 3 && (strcmp(seg[2], "servers") == 0 || strcmp(seg[2], "search") == 0))
		return hypervisor_search(f, q, seg[1], strcmp(seg[2], "servers") == 0);
	if (n == 3 && strcmp(seg[2], "uptime") == 0) /* clients take 501 as "not offered" */
		return os_error(q, 501, "The hosts do not report their uptime.");
	if (n == 2 && strcmp(seg[1], "detail") != 0) {
		if ((r = svc_hypervisor_show(f->svc, seg[1], f->now, &res, &err)) < 0) {
			if (r == -ENOENT)
				return os_error(q, 404, "Hypervisor %s could not be found.",
						seg[1]);
			return os_svc_error(q, r, &err);
		}
		os_reply(q, 200, json_pack("{s:o}", "hypervisor", hypervisor_json(q, res, true)));
		json_decref(res);
		return;
	}
	if (n > 2)
		return os_error(q, 404, "The resource could not be found.");
	const char *pattern = os_query(q, "hypervisor_hostname_pattern"),
		   *with = os_query(q, "with_servers");
	if (pattern && os_mv(q, 53)) /* 2.53's search, as the list's query */
		return hypervisor_search(
			f, q, pattern,
			with && (strcasecmp(with, "true") == 0 || !strcmp(with, "1")));
	if ((r = svc_hypervisor_list(f->svc, f->now, &res, &err)) < 0)
		return os_svc_error(q, r, &err);
	out = json_array();
	json_array_foreach (res, i, h)
		json_array_append_new(out, hypervisor_json(q, h, n == 2));
	json_decref(res);
	os_reply(q, 200, json_pack("{s:o}", "hypervisors", out));
}

/* ---- os-aggregates ------------------------------------------------------------------- */

static json_t *
aggregate_json(const json_t *a)
{
	char created[32];
	os_time(json_integer_value(json_object_get(a, "created_ms")), created);
	json_t *zone = json_object_get(a, "availability_zone");
	return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:s, s:n, s:b, s:n}", "id",
			 json_object_get(a, "id"), "uuid", json_object_get(a, "uuid"), "name",
			 json_object_get(a, "name"), "availability_zone", zone ? zone : json_null(),
			 "hosts", json_object_get(a, "hosts"), "metadata",
			 json_object_get(a, "metadata"), "created_at", created, "updated_at",
			 "deleted", 0, "deleted_at");
}

static void
aggregate_reply(struct os_req *q, int r, json_t *res, const struct hv_error *err)
{
	if (r == -ENOENT)
		os_error(q, 404, "%s", err->message);
	else if (r < 0)
		os_svc_error(q, r, err);
	else
		os_reply(q, 200, json_pack("{s:o}", "aggregate", aggregate_json(res)));
	json_decref(res);
}

/* POST /os-aggregates/{id}/action: add_host, remove_host, set_metadata (null unsets). */
static void
aggregate_action(struct os_front *f, struct os_req *q, const char *id)
{
	struct hv_error err = {0};
	json_t *doc = NULL, *body = NULL, *res = NULL, *set = NULL, *unset = NULL, *v;
	const char *key, *k;
	int r;
	if (os_body(q, NULL, &doc, &body) < 0)
		return;
	key = json_object_size(doc) == 1 ? json_object_iter_key(json_object_iter(doc)) : NULL;
	if (!key)
		key = "";
	body = json_object_get(doc, key);
	char rule[80];
	bool known = !strcmp(key, "add_host") || !strcmp(key, "remove_host") ||
		     !strcmp(key, "set_metadata");
	snprintf(rule, sizeof rule, "os_compute_api:os-aggregates:%s", known ? key : "update");
	if (!admin_only(q, rule))
		goto out;
	if (strcmp(key, "add_host") == 0 || strcmp(key, "remove_host") == 0) {
		if (!json_is_string(json_object_get(body, "host"))) {
			os_error(q, 400, "Invalid input for field/attribute %s.host.", key);
			goto out;
		}
		r = svc_aggregate_host(f->svc, id, os_field(body, "host"), key[0] == 'a', &res,
				       &err);
		if (r == -EEXIST || r == -EINVAL)
			os_error(q, 409, "%s", err.message);
		else
			aggregate_reply(q, r, json_incref(res), &err);
	} else if (strcmp(key, "set_metadata") == 0 &&
		   json_is_object(json_object_get(body, "metadata"))) {
		set = json_object();
		unset = json_array();
		json_object_foreach (json_object_get(body, "metadata"), k, v)
			json_is_null(v) ? json_array_append_new(unset, json_string(k))
					: (void)json_object_set(set, k, v);
		json_t *args = json_pack("{s:s, s:O}", "aggregate", id, "properties", set);
		r = svc_aggregate_update(f->svc, args, true, &res, &err);
		json_decref(args);
		if (r == 0 && json_array_size(unset)) {
			json_decref(res);
			res = NULL;
			args = json_pack("{s:s, s:O}", "aggregate", id, "properties", unset);
			r = svc_aggregate_update(f->svc, args, false, &res, &err);
			json_decref(args);
		}
		aggregate_reply(q, r, json_incref(res), &err);
	} else {
		os_error(q, 400, "There is no such action: %s", *key ? key : "(none)");
	}
out:
	json_decref(res);
	json_decref(set);
	json_decref(unset);
	json_decref(doc);
}

/* nova's rule name of an os-aggregates request (NULL for POST .../action: its own). */
static const char *
aggregate_rule(const struct os_req *q, int n)
{
	bool get = strcmp(q->method, "GET") == 0;
	if (n == 3 && strcmp(q->method, "POST") == 0)
		return NULL; /* the action's, once its body is read (aggregate_action) */
	if (n == 1)
		return get ? "os_compute_api:os-aggregates:index"
			   : "os_compute_api:os-aggregates:create";
	return get                                ? "os_compute_api:os-aggregates:show"
	       : strcmp(q->method, "DELETE") == 0 ? "os_compute_api:os-aggregates:delete"
						  : "os_compute_api:os-aggregates:update";
}

static void
aggregates_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	json_t *res = NULL, *doc = NULL, *body = NULL, *out, *a;
	size_t i;
	int r;
	bool get = strcmp(q->method, "GET") == 0;
	const char *rule = aggregate_rule(q, n);
	if (rule && !admin_only(q, rule))
		return;
	if (n == 1 && get) {
		if ((r = svc_aggregate_list(f->svc, &res, &err)) < 0)
			return os_svc_error(q, r, &err);
		out = json_array();
		json_array_foreach (res, i, a)
			json_array_append_new(out, aggregate_json(a));
		json_decref(res);
		return os_reply(q, 200, json_pack("{s:o}", "aggregates", out));
	}
	if (n == 1 && strcmp(q->method, "POST") == 0) {
		if (os_body(q, "aggregate", &doc, &body) < 0)
			return;
		json_t *args = json_pack("{s:O}", "name", json_object_get(body, "name"));
		if (json_is_string(json_object_get(body, "availability_zone")))
			json_object_set(args, "availability_zone",
					json_object_get(body, "availability_zone"));
		r = svc_aggregate_create(f->svc, args, f->now, &res, &err);
		json_decref(args);
		json_decref(doc);
		if (r == -EEXIST)
			return os_error(q, 409, "%s", err.message);
		return aggregate_reply(q, r, res, &err);
	}
	if (n == 3 && strcmp(seg[2], "action") == 0 && strcmp(q->method, "POST") == 0)
		return aggregate_action(f, q, seg[1]);
	if (n != 2)
		return os_error(q, 404, "The resource could not be found.");
	if (get) {
		r = svc_aggregate_show(f->svc, seg[1], &res, &err);
		return aggregate_reply(q, r, res, &err);
	}
	if (strcmp(q->method, "DELETE") == 0) {
		r = svc_aggregate_delete(f->svc, seg[1], &err);
		if (r == -EEXIST)
			return os_error(q, 400, "%s", err.message);
		return r < 0 ? aggregate_reply(q, r, NULL, &err) : os_reply(q, 200, NULL);
	}
	if (strcmp(q->method, "PUT") == 0) {
		if (os_body(q, "aggregate", &doc, &body) < 0)
			return;
		json_t *args = json_pack("{s:s}", "aggregate", seg[1]);
		if (json_object_get(body, "name"))
			json_object_set(args, "name", json_object_get(body, "name"));
		if (json_object_get(body, "availability_zone"))
			json_object_set(args, "availability_zone",
					json_object_get(body, "availability_zone"));
		r = svc_aggregate_update(f->svc, args, true, &res, &err);
		json_decref(args);
		json_decref(doc);
		return aggregate_reply(q, r, res, &err);
	}
	os_error(q, 405, "The method is not allowed here.");
}

/* ---- os-availability-zone -------------------------------------------------------------- */

static void
zones(struct os_front *f, struct os_req *q, bool detail)
{
	struct hv_error err = {0};
	json_t *list = NULL, *out = json_array(), *z, *h;
	size_t i, k;
	int r = svc_availability_zone_list(f->svc, f->now, &list, &err);
	if (r < 0) {
		json_decref(out);
		return os_svc_error(q, r, &err);
	}
	json_array_foreach (list, i, z) {
		bool up = strcmp(os_field(z, "zone_state"), "available") == 0;
		json_t *hosts = json_null();
		if (detail && os_is_admin(q)) {
			hosts = json_object();
			json_array_foreach (json_object_get(z, "hosts"), k, h)
				json_object_set_new(hosts,
						    json_is_string(h) ? json_string_value(h)
								      : os_field(h, "host"),
						    json_pack("{s:{s:b, s:b, s:n}}", "nova-compute",
							      "available", up, "active", 1,
							      "updated_at"));
		}
		json_array_append_new(out, json_pack("{s:O, s:{s:b}, s:o}", "zoneName",
						     json_object_get(z, "zone_name"), "zoneState",
						     "available", up, "hosts", hosts));
	}
	json_decref(list);
	os_reply(q, 200, json_pack("{s:o}", "availabilityZoneInfo", out));
}

/* ---- os-services ---------------------------------------------------------------------- */

/* A host's zone from svc_availability_zone_list's answer ("nova" when in none). */
static const char *
zone_of(const json_t *zones, const char *host)
{
	size_t i, k;
	json_t *z, *h;
	json_array_foreach (zones, i, z)
		json_array_foreach (json_object_get(z, "hosts"), k, h)
			if (strcmp(json_is_string(h) ? json_string_value(h) : os_field(h, "host"),
				   host) == 0)
				return os_field(z, "zone_name");
	return "nova";
}

/* One nova-compute service of host h (svc_host_list's record), the list's index-th. */
static void
service_jw(struct os_jw *w, const char *member, const struct os_req *q, const json_t *h,
	   const json_t *zones, size_t index)
{
	const char *id = os_field(h, "host_id");
	char seen[32];
	int64_t at = json_integer_value(json_object_get(h, "last_seen_ms"));
	os_time(at, seen);
	os_jw_open(w, member, '{');
	if (os_mv(q, 53)) /* ids are not numbers from 2.53: the host's own */
		os_jw_str(w, "id", id);
	else
		os_jw_int(w, "id", (long long)index + 1);
	os_jw_str(w, "binary", "nova-compute");
	os_jw_str(w, "host", id);
	os_jw_str(w, "zone", zone_of(zones, id));
	os_jw_str(w, "status",
		  strcmp(os_field(h, "status"), "disabled") == 0 ? "disabled" : "enabled");
	os_jw_str(w, "state", strcmp(os_field(h, "state"), "up") == 0 ? "up" : "down");
	os_jw_str(w, "updated_at", at > 0 ? seen : NULL);
	os_jw_json(w, "disabled_reason", json_object_get(h, "disabled_reason"));
	if (os_mv(q, 11))
		os_jw_raw(w, "forced_down",
			  json_is_true(json_object_get(h, "forced_down")) ? "true" : "false");
	os_jw_close(w, '}');
}

/* The services (one per host that ever connected) as {"services": [...]}, or the one of
 * host `one` as {"service": {...}}. */
static void
services_reply(struct os_front *f, struct os_req *q, const char *one)
{
	struct hv_error err = {0};
	json_t *hosts = NULL, *zones = NULL, *h;
	const char *binary = os_query(q, "binary"), *only = one ? one : os_query(q, "host");
	size_t i;
	int r = svc_host_list(f->svc, f->now, &hosts, &err);
	if (r == 0)
		r = svc_availability_zone_list(f->svc, f->now, &zones, &err);
	if (r < 0) {
		json_decref(hosts);
		return os_svc_error(q, r, &err);
	}
	struct os_jw w = {0};
	os_jw_open(&w, NULL, '{');
	if (!one)
		os_jw_open(&w, "services", '[');
	json_array_foreach (hosts, i, h) {
		const char *id = os_field(h, "host_id");
		if (!*id || (binary && strcmp(binary, "nova-compute") != 0) ||
		    (only && strcmp(only, id) != 0))
			continue;
		service_jw(&w, one ? "service" : NULL, q, h, zones, i);
	}
	if (!one)
		os_jw_close(&w, ']');
	os_jw_close(&w, '}');
	json_decref(hosts);
	json_decref(zones);
	os_reply_jw(q, 200, &w);
}

/* An operator's change of host's service (args for svc_host_service); NULL host: 404. */
static int
service_change(struct os_front *f, struct os_req *q, const char *host, json_t *args)
{
	struct hv_error err = {0};
	json_t *res = NULL;
	int r = -ENOENT;
	if (host && *host) {
		json_object_set_new(args, "host", json_string(host));
		r = svc_host_service(f->svc, args, f->now, &res, &err);
	}
	json_decref(args);
	json_decref(res);
	if (r == -ENOENT)
		os_error(q, 404, "Compute host %s could not be found.", host ? host : "");
	else if (r < 0)
		os_svc_error(q, r, &err);
	return r;
}

/* Before 2.53: PUT /os-services/{enable,disable,disable-log-reason,force-down} {host,
 * binary, disabled_reason?, forced_down?}, answered with what changed. */
static void
service_put_old(struct os_front *f, struct os_req *q, const char *what, const json_t *body)
{
	const char *host = os_field(body, "host"), *binary = os_field(body, "binary");
	json_t *reason = json_object_get(body, "disabled_reason"),
	       *down = json_object_get(body, "forced_down"), *args;
	bool log = strcmp(what, "disable-log-reason") == 0;
	if (strcmp(binary, "nova-compute") != 0)
		return os_error(q, 400,
				"Invalid input for field/attribute binary: "
				"only nova-compute is served");
	if (strcmp(what, "enable") == 0 || strcmp(what, "disable") == 0)
		args = json_pack("{s:b}", "disabled", what[0] == 'd');
	else if (log && json_is_string(reason))
		args = json_pack("{s:b, s:O}", "disabled", 1, "disabled_reason", reason);
	else if (strcmp(what, "force-down") == 0 && os_mv(q, 11) && json_is_boolean(down))
		args = json_pack("{s:O}", "forced_down", down);
	else if (log || strcmp(what, "force-down") == 0)
		return os_error(q, 400, "Invalid input for field/attribute %s",
				log ? "disabled_reason" : "forced_down");
	else
		return os_error(q, 404, "The resource could not be found.");
	if (service_change(f, q, host, args) < 0)
		return;
	json_t *out = json_pack("{s:s, s:s}", "host", host, "binary", binary);
	if (strcmp(what, "force-down") == 0)
		json_object_set(out, "forced_down", down);
	else
		json_object_set_new(out, "status",
				    json_string(what[0] == 'e' ? "enabled" : "disabled"));
	if (log)
		json_object_set(out, "disabled_reason", reason);
	os_reply(q, 200, json_pack("{s:o}", "service", out));
}

/* From 2.53: PUT /os-services/{host id} {status?, disabled_reason?, forced_down?}. */
static void
service_put(struct os_front *f, struct os_req *q, const char *id, const json_t *body)
{
	json_t *status = json_object_get(body, "status"),
	       *reason = json_object_get(body, "disabled_reason"),
	       *down = json_object_get(body, "forced_down"), *args = json_object();
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)body, k, v)
		if (strcmp(k, "status") && strcmp(k, "disabled_reason") &&
		    strcmp(k, "forced_down")) {
			json_decref(args);
			return os_error(q, 400,
					"Invalid input for field/attribute %.64s: not "
					"one of status, disabled_reason, forced_down",
					k);
		}
	const char *st = json_string_value(status);
	if ((status && (!st || (strcmp(st, "enabled") && strcmp(st, "disabled")))) ||
	    (down && !json_is_boolean(down)) || (reason && !json_is_string(reason)) ||
	    (reason && !(st && strcmp(st, "disabled") == 0))) {
		json_decref(args);
		return os_error(
			q, 400, "Invalid input for field/attribute %s",
			status && !(st && (!strcmp(st, "enabled") || !strcmp(st, "disabled")))
				? "status"
			: down && !json_is_boolean(down) ? "forced_down"
							 : "disabled_reason");
	}
	if (!json_object_size(body)) {
		json_decref(args);
		return os_error(q, 400,
				"Invalid input for field/attribute service: one of "
				"status, forced_down is required");
	}
	if (st)
		json_object_set_new(args, "disabled", json_boolean(strcmp(st, "disabled") == 0));
	if (reason)
		json_object_set(args, "disabled_reason", reason);
	if (down)
		json_object_set(args, "forced_down", down);
	if (service_change(f, q, id, args) == 0)
		services_reply(f, q, id);
}

/* /os-services (admins): GET lists one nova-compute per host that ever connected, its
 * status an operator's word (PUT) or else what the host said of itself, its state
 * hvcentral's liveness; PUT changes one as nova does at the request's microversion. */
static void
services_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	json_t *doc = NULL, *body = NULL;
	if (strcmp(q->method, "GET") == 0) {
		if (!admin_only(q, "os_compute_api:os-services:list"))
			return;
		if (n != 1)
			return os_error(q, 404, "The resource could not be found.");
		return services_reply(f, q, NULL);
	}
	if (!admin_only(q, "os_compute_api:os-services:update"))
		return;
	if (strcmp(q->method, "PUT") != 0 || n != 2)
		return os_error(q, n == 2 ? 405 : 404, "The resource could not be found.");
	if (os_body(q, NULL, &doc, &body) < 0)
		return;
	if (os_mv(q, 53))
		service_put(f, q, seg[1], doc);
	else
		service_put_old(f, q, seg[1], doc);
	json_decref(doc);
}

/* ---- os-server-groups ----------------------------------------------------------------- */

static json_t *
group_json(const json_t *g)
{
	return json_pack("{s:O, s:O, s:[O], s:O, s:O, s:{}, s:O, s:s}", "id",
			 json_object_get(g, "id"), "name", json_object_get(g, "name"), "policies",
			 json_object_get(g, "policy"), "policy", json_object_get(g, "policy"),
			 "members", json_object_get(g, "members"), "metadata", "project_id",
			 json_object_get(g, "project_id"), "user_id", "");
}

static void
groups_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	json_t *res = NULL, *doc = NULL, *body = NULL, *out, *g;
	const char *own = os_field(q->auth, "project_id");
	size_t i;
	int r;
	if (n == 1 && strcmp(q->method, "GET") == 0) {
		const char *all = os_query(q, "all_projects");
		bool every = os_is_admin(q) && all && strcmp(all, "0") != 0 &&
			     strcasecmp(all, "false") != 0;
		if ((r = svc_server_group_list(f->svc, every ? NULL : own, &res, &err)) < 0)
			return os_svc_error(q, r, &err);
		out = json_array();
		json_array_foreach (res, i, g)
			json_array_append_new(out, group_json(g));
		json_decref(res);
		return os_reply(q, 200, json_pack("{s:o}", "server_groups", out));
	}
	if (n == 1 && strcmp(q->method, "POST") == 0) {
		if (os_body(q, "server_group", &doc, &body) < 0)
			return;
		json_t *pol = json_object_get(body, "policy");
		if (!pol && json_array_size(json_object_get(body, "policies")) == 1)
			pol = json_array_get(json_object_get(body, "policies"), 0);
		json_t *args = json_pack(
			"{s:O, s:O, s:s}", "name",
			json_object_get(body, "name") ? json_object_get(body, "name") : json_null(),
			"policy", pol ? pol : json_null(), "project", own);
		r = args ? svc_server_group_create(f->svc, args, f->now, &res, &err) : -ENOMEM;
		json_decref(args);
		json_decref(doc);
		if (r == -EINVAL)
			return os_error(q, 400, "%s", err.message);
		if (r < 0)
			return os_svc_error(q, r, &err);
		os_reply(q, 200, json_pack("{s:o}", "server_group", group_json(res)));
		json_decref(res);
		return;
	}
	if (n != 2)
		return os_error(q, 404, "The resource could not be found.");
	r = svc_server_group_show(f->svc, seg[1], &res, &err);
	if (r == 0 && !os_is_admin(q) && strcmp(os_field(res, "project_id"), own) != 0)
		r = -ENOENT;
	if (r == -ENOENT) {
		json_decref(res);
		return os_error(q, 404, "Instance group %s could not be found.", seg[1]);
	}
	if (r == 0 && strcmp(q->method, "GET") == 0)
		os_reply(q, 200, json_pack("{s:o}", "server_group", group_json(res)));
	else if (r == 0 && strcmp(q->method, "DELETE") == 0)
		(r = svc_server_group_delete(f->svc, seg[1], &err)) < 0 ? os_svc_error(q, r, &err)
									: os_reply(q, 204, NULL);
	else if (r == 0)
		os_error(q, 405, "The method is not allowed here.");
	else
		os_svc_error(q, r, &err);
	json_decref(res);
}

/* ---- os-simple-tenant-usage ------------------------------------------------------------ */

/* A start or end query value as the service reads it: nova's clients send microseconds
 * ("2026-12-01T00:00:00.000000"), which the service's format leaves out. */
static void
usage_date(const struct os_req *q, const char *name, json_t *args)
{
	const char *v = os_query(q, name);
	char d[32];
	if (!v)
		return;
	snprintf(d, sizeof d, "%.19s", v);
	json_object_set_new(args, name, json_string(d));
}

/* 2.40's paging: limit and marker (an instance id); -1 after replying 400. Before 2.40
 * both are ignored, as nova does. */
static int
usage_page(struct os_req *q, json_t *args)
{
	const char *limit = os_query(q, "limit"), *marker = os_query(q, "marker");
	char *end;
	if (!os_mv(q, 40))
		return 0;
	if (limit) {
		long long n = strtoll(limit, &end, 10);
		if (!*limit || *end || n < 0) {
			os_error(q, 400, "limit param must be an integer (got %.32s)", limit);
			return -1;
		}
		json_object_set_new(args, "limit", json_integer(n));
	}
	if (marker)
		json_object_set_new(args, "marker", json_string(marker));
	return 0;
}

static void
usage_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	struct hv_error err = {0};
	json_t *args = json_object(), *res = NULL;
	const char *own = os_field(q->auth, "project_id");
	const char *detailed = os_query(q, "detailed");
	int r;
	usage_date(q, "start", args);
	usage_date(q, "end", args);
	if (usage_page(q, args) < 0) {
		json_decref(args);
		return;
	}
	if (strcmp(q->method, "GET") != 0 || n > 2) {
		json_decref(args);
		return os_error(q, n > 2 ? 404 : 405, "The resource could not be found.");
	}
	if (n == 2) {
		if (!os_is_admin(q) && strcmp(seg[1], own) != 0) {
			json_decref(args);
			return os_error(q, 403,
					"Policy doesn't allow "
					"os_compute_api:os-simple-tenant-usage:show to be "
					"performed.");
		}
		json_object_set_new(args, "project", json_string(seg[1]));
		r = svc_usage(f->svc, args, true, f->now, &res, &err);
		json_decref(args);
		if (r < 0)
			return os_svc_error(q, r, &err);
		return os_reply(q, 200, json_pack("{s:o}", "tenant_usage", res));
	}
	if (!admin_only(q, "os_compute_api:os-simple-tenant-usage:list")) {
		json_decref(args);
		return;
	}
	if (detailed && strcmp(detailed, "0") != 0)
		json_object_set_new(args, "server_usages", json_true());
	r = svc_usage(f->svc, args, false, f->now, &res, &err);
	json_decref(args);
	if (r < 0)
		return os_svc_error(q, r, &err);
	os_reply(q, 200, json_pack("{s:o}", "tenant_usages", res));
}

bool
os_admin_route(struct os_front *f, struct os_req *q, char **seg, int n)
{
	if (strcmp(seg[0], "os-hypervisors") == 0)
		hypervisors_route(f, q, seg, n);
	else if (strcmp(seg[0], "os-aggregates") == 0)
		aggregates_route(f, q, seg, n);
	else if (strcmp(seg[0], "os-availability-zone") == 0 && n <= 2)
		zones(f, q, n == 2 && strcmp(seg[1], "detail") == 0);
	else if (strcmp(seg[0], "os-server-groups") == 0)
		groups_route(f, q, seg, n);
	else if (strcmp(seg[0], "os-simple-tenant-usage") == 0)
		usage_route(f, q, seg, n);
	else if (strcmp(seg[0], "os-services") == 0)
		services_route(f, q, seg, n);
	else
		return false;
	return true;
}
