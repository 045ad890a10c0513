/* usage.c - what each project used over a time range, as nova's os-simple-tenant-usage
 * counts it: per server the hours it existed inside the range (from its creation to its
 * deletion, or to now while it lives), times its flavor's vCPUs, RAM and disk. A deleted
 * server's record keeps the time it was deleted (its last update). Must never encode a
 * reply or touch a socket. */
#include "service-priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"

#define MS_PER_HOUR 3600000.0
#define DEFAULT_RANGE_MS (28 * 24 * 3600000LL) /* openstack usage's four weeks */

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS" (a trailing "Z" allowed), UTC, in ms. */
static int
parse_time(const char *s, int64_t *ret)
{
	struct tm tm = {0};
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return -EINVAL;
	if (s[n] == 'T' || s[n] == ' ') {
		int m = 0;
		if (sscanf(s + n + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &m) !=
			    3 ||
		    m != 8)
			return -EINVAL;
		n += 1 + m;
		if (strcmp(s + n, "") != 0 && strcmp(s + n, "Z") != 0)
			return -EINVAL;
	} else if (s[n]) {
		return -EINVAL;
	}
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	int mday = tm.tm_mday, mon = tm.tm_mon;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	time_t t = timegm(&tm);
	if (tm.tm_mday != mday || tm.tm_mon != mon - 1) /* 2026-02-30 */
		return -EINVAL;
	*ret = (int64_t)t * 1000;
	return 0;
}

/* nova's timestamps: "2026-12-06T20:15:07.123000" */
static json_t *
iso(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%03d000", (int)(ms % 1000));
	return json_string(buf);
}

static int
range_arg(json_t *args, const char *key, int64_t def, int64_t *ret, struct hv_error *err)
{
	const char *s = NULL;
	int r = hj_str(args, "args", key, HJ_OPTIONAL, 64, &s, err);
	if (r < 0)
		return r;
	*ret = def;
	if (s && parse_time(s, ret) < 0)
		return hv_error_set(err, -EINVAL, key[0] == 's' ? "args.start" : "args.end",
				    "args.%s: '%s' is not a date (YYYY-MM-DD or "
				    "YYYY-MM-DDTHH:MM:SS, UTC)",
				    key, s);
	return 0;
}

struct totals {
	double hours, vcpus, ram, disk;
};

/* One server's row, or NULL when it did not exist inside [start, end). */
static json_t *
server_usage(const json_t *s, int64_t start, int64_t end, int64_t now, struct totals *t)
{
	const json_t *f = json_object_get(s, "flavor");
	bool deleted = strcmp(field_or(s, "vm_state", ""), "deleted") == 0;
	int64_t born = json_integer_value(json_object_get(s, "created_ms"));
	int64_t died = deleted ? json_integer_value(json_object_get(s, "updated_ms")) : now;
	int64_t a = born > start ? born : start, b = died < end ? died : end;
	if (born >= end || died < start)
		return NULL;
	double hours = b > a ? (double)(b - a) / MS_PER_HOUR : 0;
	json_int_t vcpus = json_integer_value(json_object_get(f, "vcpus"));
	json_int_t ram = json_integer_value(json_object_get(f, "ram_mb"));
	json_int_t disk = json_integer_value(json_object_get(f, "root_gb")) +
			  json_integer_value(json_object_get(f, "ephemeral_gb"));
	t->hours += hours;
	t->vcpus += hours * (double)vcpus;
	t->ram += hours * (double)ram;
	t->disk += hours * (double)disk;
	json_t *row = json_pack("{s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:s, s:o, s:o, s:s, s:I}",
				"instance_id", field_or(s, "uuid", ""), "name",
				field_or(s, "name", ""), "tenant_id", field_or(s, "project_id", ""),
				"hours", hours, "vcpus", vcpus, "memory_mb", ram, "local_gb", disk,
				"flavor", field_or(f, "name", ""), "started_at", iso(born),
				"ended_at", deleted ? iso(died) : json_null(), "state",
				deleted ? "terminated" : field_or(s, "vm_state", ""), "uptime",
				(json_int_t)((died - born) / 1000));
	return row;
}

static json_t *
project_usage(const char *project, int64_t start, int64_t end, const struct totals *t, json_t *rows)
{
	json_t *u = json_pack("{s:s, s:f, s:f, s:f, s:f, s:o, s:o}", "tenant_id", project,
			      "total_hours", t->hours, "total_vcpus_usage", t->vcpus,
			      "total_memory_mb_usage", t->ram, "total_local_gb_usage", t->disk,
			      "start", iso(start), "stop", iso(end));
	if (rows)
		json_object_set_new(u, "server_usages", rows);
	return u;
}

static const char *const usage_args[] = {"project", "start",         "end", "marker",
					 "limit",   "server_usages", NULL};

int
svc_usage(struct svc *sv, json_t *args, bool detailed, int64_t now, json_t **ret,
	  struct hv_error *err)
{
	const char *project = NULL, *marker = NULL;
	json_t *p = NULL, *servers = NULL, *by = json_object(), *s;
	int64_t start, end, limit = INT64_MAX, seen = 0;
	bool past = true, with_rows = detailed;
	size_t i;
	int r;
	if ((r = hj_known_keys(args, "args", usage_args, err)) < 0 ||
	    (r = hj_str(args, "args", "project", HJ_OPTIONAL, 64, &project, err)) < 0 ||
	    (r = hj_str(args, "args", "marker", HJ_OPTIONAL, 64, &marker, err)) < 0 ||
	    (r = hj_int(args, "args", "limit", HJ_OPTIONAL, 0, INT64_MAX, &limit, err)) < 0 ||
	    (r = hj_bool(args, "args", "server_usages", HJ_OPTIONAL, &with_rows, err)) < 0 ||
	    (r = range_arg(args, "end", now, &end, err)) < 0 ||
	    (r = range_arg(args, "start", end - DEFAULT_RANGE_MS, &start, err)) < 0)
		goto out;
	if (end <= start) {
		r = hv_error_set(err, -EINVAL, "args.end", "args.end: not after args.start");
		goto out;
	}
	if ((detailed || project) &&
	    (r = svc_project_find(sv, project, "args.project", &p, err)) < 0)
		goto out;
	if ((r = store_instance_list(sv->store, NULL, true, &servers, err)) < 0)
		goto out;
	struct totals *t = calloc(json_array_size(servers) + 1, sizeof *t);
	if (!t) {
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
		goto out;
	}
	/* one totals slot per project, in the order projects first appear */
	json_t *rows = json_object();
	past = !marker;
	json_array_foreach (servers, i, s) {
		const char *pid = field_or(s, "project_id", "");
		if (p && strcmp(pid, field_or(p, "id", "")) != 0)
			continue;
		if (!past) { /* a page starts after its marker, in the list's order */
			past = strcmp(field_or(s, "uuid", ""), marker) == 0;
			continue;
		}
		if (seen >= limit)
			break;
		if (!json_object_get(by, pid)) {
			json_object_set_new(by, pid,
					    json_integer((json_int_t)json_object_size(by)));
			json_object_set_new(rows, pid, json_array());
		}
		size_t k = (size_t)json_integer_value(json_object_get(by, pid));
		json_t *row = server_usage(s, start, end, now, &t[k]);
		if (row)
			json_array_append_new(json_object_get(rows, pid), row);
		seen += row != NULL;
	}
	if (!past) {
		free(t);
		json_decref(rows);
		r = hv_error_set(err, -EINVAL, "args.marker", "marker [%s] not found", marker);
		goto out;
	}
	*ret = json_array();
	const char *pid;
	json_t *v;
	json_object_foreach (by, pid, v) {
		json_t *list = json_object_get(rows, pid);
		if (!json_array_size(list))
			continue;
		json_array_append_new(*ret,
				      project_usage(pid, start, end, &t[json_integer_value(v)],
						    with_rows ? json_incref(list) : NULL));
	}
	if (detailed && !json_array_size(*ret)) /* a project that used nothing: zeros */
		json_array_append_new(*ret, project_usage(field_or(p, "id", ""), start, end,
							  &(struct totals){0}, json_array()));
	if (detailed) {
		json_t *one = json_incref(json_array_get(*ret, 0));
		json_decref(*ret);
		*ret = one;
	}
	json_decref(rows);
	free(t);
out:
	json_decref(p);
	json_decref(servers);
	json_decref(by);
	return r;
}
