/* match.c - the small languages the filters speak: nova's extra_specs_ops (what a flavor's
 * extra spec asks of a capability or aggregate value), JsonFilter queries, and CIDRs. */
#include "sched-priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ extra_specs_ops */

static bool
num(const char *s, double *ret)
{
	char *end;
	errno = 0;
	*ret = strtod(s, &end);
	return end != s && *end == '\0' && errno == 0;
}

/* Next whitespace-separated word of *p into w; false at the end. */
static bool
word(const char **p, char *w, size_t size)
{
	const char *s = *p;
	size_t n = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return false;
	while (*s && *s != ' ' && *s != '\t') {
		if (n + 1 < size)
			w[n++] = *s;
		s++;
	}
	w[n] = '\0';
	*p = s;
	return true;
}

static const char *const num_ops[] = {"=", "==", "!=", ">=", "<="};
static const char *const str_ops[] = {"s==", "s!=", "s<", "s<=", "s>", "s>="};

static int
op_index(const char *op, const char *const *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(op, ops[i]) == 0)
			return (int)i;
	return -1;
}

bool
sched_spec_match(const char *value, const char *req)
{
	char op[16], w[256];
	const char *p = req;
	int ni, si;

	if (!word(&p, op, sizeof op))
		return value && strcmp(value, req) == 0;
	ni = op_index(op, num_ops, sizeof num_ops / sizeof *num_ops);
	si = op_index(op, str_ops, sizeof str_ops / sizeof *str_ops);
	bool in = strcmp(op, "<in>") == 0, all_in = strcmp(op, "<all-in>") == 0,
	     or = strcmp(op, "<or>") == 0;
	if (ni < 0 && si < 0 && !in && !all_in && ! or)
		return value && strcmp(value, req) == 0; /* no operator: the whole text */
	if (!value)
		return false;
	if (or) { /* <or> v1 <or> v2 ... */
		while (word(&p, w, sizeof w)) {
			if (strcmp(w, value) == 0)
				return true;
			if (!word(&p, w, sizeof w)) /* the next <or> */
				break;
		}
		return false;
	}
	if (all_in) {
		bool any = false;
		while (word(&p, w, sizeof w)) {
			any = true;
			if (!strstr(value, w))
				return false;
		}
		return any;
	}
	if (!word(&p, w, sizeof w))
		return false;
	if (in)
		return strstr(value, w) != NULL;
	if (si >= 0) {
		int c = strcmp(value, w);
		switch (si) {
		case 0: return c == 0;
		case 1: return c != 0;
		case 2: return c < 0;
		case 3: return c <= 0;
		case 4: return c > 0;
		default: return c >= 0;
		}
	}
	double x, y;
	if (!num(value, &x) || !num(w, &y))
		return false;
	switch (ni) {
	case 0: return x >= y; /* nova: "=" means at least */
	case 1: return x == y;
	case 2: return x != y;
	case 3: return x >= y;
	default: return x <= y;
	}
}

/* ------------------------------------------------------------------ JsonFilter */

static const char *const json_ops[] = {"=", "<", ">", "in", "<=", ">=", "not", "or", "and"};
static const char *const json_vars[] = {"$free_ram_mb", "$free_disk_mb", "$total_usable_ram_mb",
					"$vcpus_total", "$vcpus_used"};
#define N_JSON_OPS (sizeof json_ops / sizeof *json_ops)
#define N_JSON_VARS (sizeof json_vars / sizeof *json_vars)

static int
query_check(const json_t *q, int depth, struct hv_error *err)
{
	size_t i;
	json_t *v;

	if (depth > 32)
		return hv_error_set(err, -EINVAL, "hints.query", "hints.query: nested too deep");
	if (!json_is_array(q) || json_array_size(q) == 0 || !json_is_string(json_array_get(q, 0)) ||
	    op_index(json_string_value(json_array_get(q, 0)), json_ops, N_JSON_OPS) < 0)
		return hv_error_set(err, -EINVAL, "hints.query",
				    "hints.query: each term must be [OP, ARG, ...] with OP one of "
				    "= < > in <= >= not or and");
	json_array_foreach (q, i, v) {
		if (i == 0)
			continue;
		if (json_is_array(v) && query_check(v, depth + 1, err) < 0)
			return err->code;
		const char *s = json_string_value(v);
		if (s && s[0] == '$' && op_index(s, json_vars, N_JSON_VARS) < 0)
			return hv_error_set(err, -EINVAL, "hints.query",
					    "hints.query: unknown variable %.64s (known: "
					    "$free_ram_mb $free_disk_mb $total_usable_ram_mb "
					    "$vcpus_total $vcpus_used)",
					    s);
		if (!json_is_array(v) && !json_is_number(v) && !json_is_string(v) &&
		    !json_is_boolean(v))
			return hv_error_set(err, -EINVAL, "hints.query",
					    "hints.query: arguments are numbers, strings, "
					    "booleans, variables or terms");
	}
	return 0;
}

int
sched_query_parse(const char *text, json_t **ret, struct hv_error *err)
{
	json_error_t je;
	json_t *q = json_loads(text, 0, &je);

	*ret = NULL;
	if (!q)
		return hv_error_set(err, -EINVAL, "hints.query", "hints.query: not JSON: %s",
				    je.text);
	if (query_check(q, 0, err) < 0) {
		json_decref(q);
		return err->code;
	}
	*ret = q;
	return 0;
}

/* A value: a number (true), or a string/boolean (false, kept in *s / *b). */
struct val {
	enum {
		V_NUM,
		V_STR,
		V_BOOL
	} kind;
	double n;
	const char *s;
};

static struct val arg(const json_t *v, const double vars[N_JSON_VARS]);

static bool eval(const json_t *q, const double vars[N_JSON_VARS]);

static struct val
arg(const json_t *v, const double vars[N_JSON_VARS])
{
	if (json_is_array(v))
		return (struct val){V_BOOL, eval(v, vars), NULL};
	if (json_is_boolean(v))
		return (struct val){V_BOOL, json_is_true(v), NULL};
	if (json_is_number(v))
		return (struct val){V_NUM, json_number_value(v), NULL};
	const char *s = json_string_value(v);
	if (s && s[0] == '$')
		return (struct val){V_NUM, vars[op_index(s, json_vars, N_JSON_VARS)], NULL};
	return (struct val){V_STR, 0, s};
}

static int
cmp(struct val a, struct val b)
{
	if (a.kind == V_STR && b.kind == V_STR)
		return strcmp(a.s, b.s);
	if (a.kind == V_STR || b.kind == V_STR)
		return 2; /* not comparable: every comparison fails */
	return a.n < b.n ? -1 : a.n > b.n;
}

static bool
eval(const json_t *q, const double vars[N_JSON_VARS])
{
	int op = op_index(json_string_value(json_array_get(q, 0)), json_ops, N_JSON_OPS);
	size_t n = json_array_size(q);

	if (op >= 6) { /* not, or, and */
		bool all = true, any = false;
		for (size_t i = 1; i < n; i++) {
			struct val v = arg(json_array_get(q, i), vars);
			bool t = v.kind == V_STR ? v.s[0] != '\0' : v.n != 0;
			all &= t;
			any |= t;
		}
		return op == 6 ? !any : op == 7 ? any : all;
	}
	if (n < 3)
		return false;
	struct val lhs = arg(json_array_get(q, 1), vars);
	if (op == 3) { /* in */
		for (size_t i = 2; i < n; i++)
			if (cmp(lhs, arg(json_array_get(q, i), vars)) == 0)
				return true;
		return false;
	}
	for (size_t i = 2; i < n; i++) {
		int c = cmp(lhs, arg(json_array_get(q, i), vars));
		bool ok = c != 2 && (op == 0   ? c == 0
				     : op == 1 ? c < 0
				     : op == 2 ? c > 0
				     : op == 4 ? c <= 0
					       : c >= 0);
		if (!ok)
			return false;
	}
	return true;
}

bool
sched_query_eval(const json_t *q, double free_ram_mb, double free_disk_mb,
		 double total_usable_ram_mb, double vcpus_total, double vcpus_used)
{
	const double vars[N_JSON_VARS] = {free_ram_mb, free_disk_mb, total_usable_ram_mb,
					  vcpus_total, vcpus_used};
	return eval(q, vars);
}

/* ------------------------------------------------------------------ CIDR */

int
sched_cidr_parse(const char *ip, const char *cidr, struct sched_net *ret, struct hv_error *err)
{
	char *end;
	long bits;

	if (!ip || inet_pton(AF_INET, ip, &ret->addr) != 1)
		return hv_error_set(err, -EINVAL, "hints.build_near_host_ip",
				    "hints.build_near_host_ip: %.64s is not an IPv4 address",
				    ip ? ip : "(missing)");
	const char *c = cidr ? cidr : "/0";
	if (*c == '/')
		c++;
	errno = 0;
	bits = strtol(c, &end, 10);
	if (end == c || *end || errno || bits < 0 || bits > 32)
		return hv_error_set(err, -EINVAL, "hints.cidr",
				    "hints.cidr: %.64s is not a prefix length like /24", cidr);
	ret->mask = bits ? htonl(~(uint32_t)0 << (32 - bits)) : 0;
	ret->addr.s_addr &= ret->mask;
	return 0;
}

bool
sched_cidr_has(const struct sched_net *net, const char *ip)
{
	struct in_addr a;
	return ip && inet_pton(AF_INET, ip, &a) == 1 && (a.s_addr & net->mask) == net->addr.s_addr;
}
