/* os_policy.c - nova's policy file, for the rules hvcentral enforces (flavor management and
 * access, extra specs, aggregates, hypervisors, evacuate, services): a JSON object or the
 * YAML subset nova's sample uses (`"name": "check"` lines, comments), each check one of
 * nova's few words ("" or "@" anyone, "!" nobody, rule:admin_api / role:admin /
 * is_admin:True admins, role:member / rule:project_member_api members, role:reader /
 * rule:project_reader_api readers; joined by "or"). A rule not in the file keeps nova's
 * default (admins). Never logs: names it does not enforce go back to the caller. */
#include "os-priv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Who a check lets in: the lowest role (a higher one is let in too). */
enum who {
	WHO_ANYONE, /* every role, readers too */
	WHO_MEMBER,
	WHO_ADMIN,
	WHO_NOBODY,
};

struct os_policy {
	json_t *rules; /* {name: who} of the file's enforced rules */
};

static const char *const enforced[] = {
	"os_compute_api:os-flavor-manage:create",
	"os_compute_api:os-flavor-manage:delete",
	"os_compute_api:os-flavor-manage:update",
	"os_compute_api:os-flavor-access:add_tenant_access",
	"os_compute_api:os-flavor-access:remove_tenant_access",
	"os_compute_api:os-flavor-extra-specs:create",
	"os_compute_api:os-flavor-extra-specs:update",
	"os_compute_api:os-flavor-extra-specs:delete",
	"os_compute_api:os-aggregates:index",
	"os_compute_api:os-aggregates:create",
	"os_compute_api:os-aggregates:show",
	"os_compute_api:os-aggregates:update",
	"os_compute_api:os-aggregates:delete",
	"os_compute_api:os-aggregates:add_host",
	"os_compute_api:os-aggregates:remove_host",
	"os_compute_api:os-aggregates:set_metadata",
	"os_compute_api:os-hypervisors:list",
	"os_compute_api:os-hypervisors:list-detail",
	"os_compute_api:os-hypervisors:show",
	"os_compute_api:os-hypervisors:statistics",
	"os_compute_api:os-hypervisors:search",
	"os_compute_api:os-hypervisors:servers",
	"os_compute_api:os-evacuate",
	"os_compute_api:os-services:list",
	"os_compute_api:os-services:update",
	NULL,
};

/* the guide's name for the three flavor-manage rules, from before nova's policy-in-code */
#define LEGACY_FLAVORMANAGE "compute_extension:flavormanage"

static bool
is_enforced(const char *name)
{
	for (size_t i = 0; enforced[i]; i++)
		if (strcmp(enforced[i], name) == 0)
			return true;
	return strcmp(name, LEGACY_FLAVORMANAGE) == 0;
}

/* One word of a check; -1 when it is not one of those read. */
static int
word_who(const char *w, size_t n)
{
	static const struct {
		const char *word;
		enum who who;
	} words[] = {
		{"@", WHO_ANYONE},
		{"!", WHO_NOBODY},
		{"rule:admin_api", WHO_ADMIN},
		{"role:admin", WHO_ADMIN},
		{"is_admin:True", WHO_ADMIN},
		{"rule:system_admin_api", WHO_ADMIN},
		{"rule:context_is_admin", WHO_ADMIN},
		{"role:member", WHO_MEMBER},
		{"rule:project_member_api", WHO_MEMBER},
		{"rule:admin_or_owner", WHO_MEMBER},
		{"rule:project_member_or_admin", WHO_MEMBER},
		{"role:reader", WHO_ANYONE},
		{"rule:project_reader_api", WHO_ANYONE},
		{"rule:project_reader_or_admin", WHO_ANYONE},
	};
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strlen(words[i].word) == n && strncmp(words[i].word, w, n) == 0)
			return (int)words[i].who;
	return -1;
}

/* A check's words joined by "or": the most open of them. */
static int
check_who(const char *check)
{
	int best = WHO_NOBODY + 1;
	const char *p = check;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return WHO_ANYONE;
	while (*p) {
		size_t n = strcspn(p, " \t");
		int w = word_who(p, n);
		if (w < 0)
			return -1;
		best = w < best ? w : best;
		p += n;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (strncmp(p, "or", 2) != 0 || !isspace((unsigned char)p[2]))
			return -1;
		p += 2;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return -1;
	}
	return best;
}

/* A YAML scalar at *p: "quoted", 'quoted' or bare up to stop (a bare one is trimmed);
 * written to out. -1 when a quote is not closed. */
static int
scalar(const char **p, const char *stop, char *out, size_t size)
{
	const char *s = *p;
	size_t n;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"' || *s == '\'') {
		const char *end = strchr(s + 1, *s);
		if (!end)
			return -1;
		n = (size_t)(end - s - 1);
		snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), s + 1);
		*p = end + 1;
		return 0;
	}
	n = strcspn(s, stop);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), s);
	*p = s + strcspn(s, stop);
	return 0;
}

/* The YAML subset: one `key: value` a line, '#' comments, blank lines. */
static int
parse_yaml(const char *text, const char *path, json_t *out, struct hv_error *err)
{
	char key[256], val[1024];
	int line = 0;
	for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n')) {
		char buf[1400];
		size_t n = strcspn(l, "\n");
		line++;
		snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), l);
		const char *p = buf;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#' || strcmp(p, "---") == 0)
			continue;
		if (scalar(&p, ":", key, sizeof key) < 0 || *p != ':' || !*key)
			return hv_error_set(err, -EINVAL, "policy_file",
					    "%s line %d: not a `\"rule\": \"check\"` line", path,
					    line);
		p++;
		if (scalar(&p, "#", val, sizeof val) < 0)
			return hv_error_set(err, -EINVAL, "policy_file",
					    "%s line %d (%s): a quote is not closed", path, line,
					    key);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != '#')
			return hv_error_set(err, -EINVAL, "policy_file",
					    "%s line %d (%s): text after the check", path, line,
					    key);
		json_object_set_new(out, key, json_string(val));
	}
	return 0;
}

/* Reads path's {name: check} (JSON when it starts with '{', else the YAML subset). */
static int
read_rules(const char *path, json_t **ret, struct hv_error *err)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return hv_error_set(err, -errno, "policy_file", "%s: %s", path, strerror(errno));
	char *text = calloc(1, 1 << 20);
	size_t len = text ? fread(text, 1, (1 << 20) - 1, fp) : 0;
	bool full = len == (1 << 20) - 1;
	fclose(fp);
	if (!text || full) {
		free(text);
		return hv_error_set(err, text ? -EFBIG : -ENOMEM, "policy_file", "%s: %s", path,
				    text ? "larger than 1 MiB" : "out of memory");
	}
	const char *start = text + strspn(text, " \t\r\n");
	int r = 0;
	if (*start == '{') {
		json_error_t je;
		*ret = json_loads(text, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(*ret)) {
			json_decref(*ret);
			*ret = NULL;
			r = hv_error_set(err, -EINVAL, "policy_file", "%s line %d: %s", path,
					 je.line, je.text);
		}
	} else {
		*ret = json_object();
		if ((r = parse_yaml(text, path, *ret, err)) < 0) {
			json_decref(*ret);
			*ret = NULL;
		}
	}
	free(text);
	return r;
}

int
os_policy_load(const char *path, struct os_policy **ret, json_t **ret_ignored, struct hv_error *err)
{
	json_t *file = NULL, *v;
	const char *k;
	int r = read_rules(path, &file, err);
	if (r < 0)
		return r;
	struct os_policy *p = calloc(1, sizeof *p);
	json_t *ignored = json_array();
	if (!p || !(p->rules = json_object())) {
		free(p);
		json_decref(file);
		json_decref(ignored);
		return hv_error_set(err, -ENOMEM, "policy_file", "out of memory");
	}
	json_object_foreach (file, k, v) {
		int who = json_is_string(v) ? check_who(json_string_value(v)) : -1;
		if (!is_enforced(k)) {
			json_array_append_new(ignored, json_string(k));
			continue;
		}
		if (who < 0) {
			r = hv_error_set(err, -EINVAL, "policy_file",
					 "%s: rule %s: the check is not one hvcentral reads "
					 "(\"\", @, !, rule:admin_api, role:admin, role:member, "
					 "role:reader, joined by or)",
					 path, k);
			break;
		}
		json_object_set_new(p->rules, k, json_integer(who));
	}
	json_decref(file);
	if (r < 0) {
		os_policy_free(p);
		json_decref(ignored);
		return r;
	}
	*ret = p;
	*ret_ignored = ignored;
	return 0;
}

int
os_set_policy(struct os_front *f, const char *path, json_t **ret_ignored, struct hv_error *err)
{
	struct os_policy *p = NULL;
	*ret_ignored = NULL;
	int r = *path ? os_policy_load(path, &p, ret_ignored, err) : 0;
	if (r < 0)
		return r;
	os_policy_free(f->policy);
	f->policy = p;
	return 0;
}

void
os_policy_free(struct os_policy *p)
{
	if (!p)
		return;
	json_decref(p->rules);
	free(p);
}

bool
os_policy_allows(const struct os_policy *p, const char *rule, const char *role)
{
	json_t *v = p ? json_object_get(p->rules, rule) : NULL;
	if (!v && p && strncmp(rule, "os_compute_api:os-flavor-manage:", 32) == 0)
		v = json_object_get(p->rules, LEGACY_FLAVORMANAGE);
	enum who who = v ? (enum who)json_integer_value(v) : WHO_ADMIN;
	enum who have = strcmp(role, "admin") == 0    ? WHO_ADMIN
			: strcmp(role, "member") == 0 ? WHO_MEMBER
						      : WHO_ANYONE;
	return who != WHO_NOBODY && have >= who;
}
