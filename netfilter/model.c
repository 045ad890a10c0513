/* model.c - the desired state of this host's security groups and floating IPs: ports,
 * groups with rules, floating IPs, claimed taps; their validation and JSON codec.
 *
 * Every field of a request is checked here, before anything is rendered: ids, interface
 * names, MACs, addresses, protocols, ports. Nothing else in the module accepts text from
 * outside. Pure: no syscalls beyond allocation, no logging. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

#include "json.h"
#include "vec.h"
#include "nf-internal.h"

#define FIELD_MAX 160

/* ---- field validation ---- */

int
nf_valid_id(const char *s, const char *field, struct hv_error *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > NF_ID_MAX)
		return hv_error_set(err, -EINVAL, field, "%s: must be 1-%d characters", field,
				    NF_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return hv_error_set(err, -EINVAL, field,
					    "%s: only letters, digits, '-' and '_' are allowed",
					    field);
	return 0;
}

int
nf_valid_ifname(const char *s, const char *field, struct hv_error *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > NF_IFNAME_MAX)
		return hv_error_set(err, -EINVAL, field,
				    "%s: interface name must be 1-%d characters", field,
				    NF_IFNAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return hv_error_set(
				err, -EINVAL, field,
				"%s: interface name may hold only letters, digits, '-', '_', '.'",
				field);
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return hv_error_set(err, -EINVAL, field, "%s: not an interface name", field);
	return 0;
}

static int
parse_mac(const char *s, const char *field, uint8_t mac[6], struct hv_error *err)
{
	unsigned int b[6];
	char tail;

	if (!hv_mac_valid(s) || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				       &b[4], &b[5], &tail) != 6)
		return hv_error_set(err, -EINVAL, field,
				    "%s: expected a MAC address like fa:16:3e:00:00:01", field);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return hv_error_set(err, -EINVAL, field, "%s: a port MAC must be unicast", field);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return hv_error_set(err, -EINVAL, field, "%s: the zero MAC is not a port MAC",
				    field);
	return 0;
}

int
nf_parse_cidr(const char *s, bool exact, const char *field, struct nf_cidr *ret,
	      struct hv_error *err)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct nf_cidr c = {0};
	int maxlen;

	if (alen == 0 || alen >= sizeof buf)
		return hv_error_set(err, -EINVAL, field, "%s: expected an IP address", field);
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, c.addr) == 1) {
		c.family = 4;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
		c.family = 6;
		maxlen = 128;
	} else {
		return hv_error_set(err, -EINVAL, field,
				    "%s: '%.64s' is not an IPv4 or IPv6 address", field, buf);
	}
	c.plen = (uint8_t)maxlen;
	if (slash) {
		char *end;
		long v;

		if (exact)
			return hv_error_set(err, -EINVAL, field,
					    "%s: expected an address, not a prefix", field);
		errno = 0;
		v = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno || v < 0 || v > maxlen)
			return hv_error_set(err, -EINVAL, field, "%s: prefix length must be 0-%d",
					    field, maxlen);
		c.plen = (uint8_t)v;
	}
	for (int bit = c.plen; bit < maxlen; bit++) {
		if (c.addr[bit / 8] & (0x80 >> (bit % 8)))
			return hv_error_set(err, -EINVAL, field,
					    "%s: '%.64s' has host bits set beyond /%d", field, s,
					    c.plen);
	}
	*ret = c;
	return 0;
}

void
nf_format_cidr(const struct nf_cidr *c, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof a);
	if (c->plen == (c->family == 4 ? 32 : 128))
		snprintf(buf, size, "%s", a);
	else
		snprintf(buf, size, "%s/%u", a, c->plen);
}

/* ---- objects ---- */

void
nf_port_unref(struct nf_port *p)
{
	if (p && --p->refs <= 0)
		free(p);
}

void
nf_group_unref(struct nf_group *g)
{
	if (g && --g->refs <= 0) {
		free(g->rules);
		free(g);
	}
}

void
nf_fip_unref(struct nf_fip *f)
{
	if (f && --f->refs <= 0)
		free(f);
}

bool
nf_port_eq(const struct nf_port *a, const struct nf_port *b)
{
	if (a == b)
		return true;
	if (strcmp(a->id, b->id) || strcmp(a->ifname, b->ifname) || memcmp(a->mac, b->mac, 6) ||
	    a->n_ips != b->n_ips || a->n_aaps != b->n_aaps || a->n_groups != b->n_groups)
		return false;
	return !memcmp(a->ips, b->ips, a->n_ips * sizeof a->ips[0]) &&
	       !memcmp(a->aaps, b->aaps, a->n_aaps * sizeof a->aaps[0]) &&
	       !memcmp(a->groups, b->groups, a->n_groups * sizeof a->groups[0]);
}

bool
nf_group_eq(const struct nf_group *a, const struct nf_group *b)
{
	if (a == b)
		return true;
	return !strcmp(a->id, b->id) && a->tag == b->tag && a->n_rules == b->n_rules &&
	       !memcmp(a->rules, b->rules, a->n_rules * sizeof a->rules[0]);
}

bool
nf_fip_eq(const struct nf_fip *a, const struct nf_fip *b)
{
	return a == b || !memcmp(a, b, sizeof *a) ||
	       (!strcmp(a->id, b->id) && !strcmp(a->port_id, b->port_id) &&
		!memcmp(a->fip, b->fip, 4) && !memcmp(a->fixed, b->fixed, 4));
}

/* ---- the model: sorted arrays of shared objects ---- */

struct nf_model *
nf_model_new(void)
{
	return calloc(1, sizeof(struct nf_model));
}

void
nf_model_free(struct nf_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_ports; i++)
		nf_port_unref(m->ports[i]);
	for (size_t i = 0; i < m->n_groups; i++)
		nf_group_unref(m->groups[i]);
	for (size_t i = 0; i < m->n_fips; i++)
		nf_fip_unref(m->fips[i]);
	free(m->ports);
	free(m->groups);
	free(m->fips);
	free(m->taps);
	free(m);
}

static void *
dup_array(const void *src, size_t n, size_t size)
{
	void *p = malloc((n ? n : 1) * size);

	if (p && n)
		memcpy(p, src, n * size);
	return p;
}

struct nf_model *
nf_model_clone(const struct nf_model *m)
{
	struct nf_model *c = nf_model_new();

	if (!c)
		return NULL;
	memcpy(c->ext_ifname, m->ext_ifname, sizeof c->ext_ifname);
	c->ports = dup_array(m->ports, m->n_ports, sizeof *m->ports);
	c->groups = dup_array(m->groups, m->n_groups, sizeof *m->groups);
	c->fips = dup_array(m->fips, m->n_fips, sizeof *m->fips);
	c->taps = dup_array(m->taps, m->n_taps, sizeof *m->taps);
	if (!c->ports || !c->groups || !c->fips || !c->taps) {
		nf_model_free(c);
		return NULL;
	}
	c->n_ports = m->n_ports;
	c->n_groups = m->n_groups;
	c->n_fips = m->n_fips;
	c->n_taps = m->n_taps;
	c->cap_ports = c->n_ports;
	c->cap_groups = c->n_groups;
	c->cap_fips = c->n_fips;
	c->cap_taps = c->n_taps;
	for (size_t i = 0; i < c->n_ports; i++)
		c->ports[i]->refs++;
	for (size_t i = 0; i < c->n_groups; i++)
		c->groups[i]->refs++;
	for (size_t i = 0; i < c->n_fips; i++)
		c->fips[i]->refs++;
	return c;
}

/* Objects start with their id, so one binary search serves the three arrays. */
static size_t
find_slot(void *const *arr, size_t n, size_t id_off, const char *id, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp((const char *)arr[mid] + id_off, id);

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

static int
put_obj(void ***arr, size_t *n, size_t *cap, size_t id_off, void *obj, void **ret_old)
{
	bool found;
	size_t i = find_slot(*arr, *n, id_off, (const char *)obj + id_off, &found);

	*ret_old = NULL;
	if (found) {
		*ret_old = (*arr)[i];
		(*arr)[i] = obj;
		return 0;
	}
	if (HV_GROW(*arr, *cap, *n + 1) < 0)
		return -ENOMEM;
	memmove(*arr + i + 1, *arr + i, (*n - i) * sizeof **arr);
	(*arr)[i] = obj;
	(*n)++;
	return 0;
}

static void *
del_obj(void **arr, size_t *n, size_t id_off, const char *id)
{
	bool found;
	size_t i = find_slot(arr, *n, id_off, id, &found);
	void *old;

	if (!found)
		return NULL;
	old = arr[i];
	memmove(arr + i, arr + i + 1, (*n - i - 1) * sizeof *arr);
	(*n)--;
	return old;
}

#define PORT_OFF offsetof(struct nf_port, id)
#define GROUP_OFF offsetof(struct nf_group, id)
#define FIP_OFF offsetof(struct nf_fip, id)

struct nf_port *
nf_model_port(const struct nf_model *m, const char *id)
{
	bool found;
	size_t i = find_slot((void *const *)m->ports, m->n_ports, PORT_OFF, id, &found);
	return found ? m->ports[i] : NULL;
}

struct nf_group *
nf_model_group(const struct nf_model *m, const char *id)
{
	bool found;
	size_t i = find_slot((void *const *)m->groups, m->n_groups, GROUP_OFF, id, &found);
	return found ? m->groups[i] : NULL;
}

struct nf_fip *
nf_model_fip(const struct nf_model *m, const char *id)
{
	bool found;
	size_t i = find_slot((void *const *)m->fips, m->n_fips, FIP_OFF, id, &found);
	return found ? m->fips[i] : NULL;
}

int
nf_model_put_port(struct nf_model *m, struct nf_port *p)
{
	void *old;
	int r = put_obj((void ***)&m->ports, &m->n_ports, &m->cap_ports, PORT_OFF, p, &old);

	if (r < 0)
		nf_port_unref(p);
	nf_port_unref(old);
	return r;
}

int
nf_model_put_group(struct nf_model *m, struct nf_group *g)
{
	void *old;
	int r = put_obj((void ***)&m->groups, &m->n_groups, &m->cap_groups, GROUP_OFF, g, &old);

	if (r < 0)
		nf_group_unref(g);
	nf_group_unref(old);
	return r;
}

int
nf_model_put_fip(struct nf_model *m, struct nf_fip *f)
{
	void *old;
	int r = put_obj((void ***)&m->fips, &m->n_fips, &m->cap_fips, FIP_OFF, f, &old);

	if (r < 0)
		nf_fip_unref(f);
	nf_fip_unref(old);
	return r;
}

bool
nf_model_del_port(struct nf_model *m, const char *id)
{
	struct nf_port *p = del_obj((void **)m->ports, &m->n_ports, PORT_OFF, id);

	nf_port_unref(p);
	return p != NULL;
}

bool
nf_model_del_group(struct nf_model *m, const char *id)
{
	struct nf_group *g = del_obj((void **)m->groups, &m->n_groups, GROUP_OFF, id);

	nf_group_unref(g);
	return g != NULL;
}

bool
nf_model_del_fip(struct nf_model *m, const char *id)
{
	struct nf_fip *f = del_obj((void **)m->fips, &m->n_fips, FIP_OFF, id);

	nf_fip_unref(f);
	return f != NULL;
}

int
nf_model_claim_tap(struct nf_model *m, const char *ifname)
{
	for (size_t i = 0; i < m->n_taps; i++)
		if (!strcmp(m->taps[i], ifname))
			return 0;
	if (HV_GROW(m->taps, m->cap_taps, m->n_taps + 1) < 0)
		return -ENOMEM;
	snprintf(m->taps[m->n_taps++], sizeof m->taps[0], "%s", ifname);
	return 0;
}

bool
nf_model_release_tap(struct nf_model *m, const char *ifname)
{
	for (size_t i = 0; i < m->n_taps; i++)
		if (!strcmp(m->taps[i], ifname)) {
			memmove(m->taps + i, m->taps + i + 1,
				(m->n_taps - i - 1) * sizeof *m->taps);
			m->n_taps--;
			return true;
		}
	return false;
}

/* ---- cross-object checks ---- */

static int
cmp_ifname(const void *a, const void *b)
{
	return strcmp((*(struct nf_port *const *)a)->ifname, (*(struct nf_port *const *)b)->ifname);
}

/* O(n log n): a full state of thousands of ports is checked in well under a millisecond. */
static int
check_ifnames(const struct nf_model *m, struct hv_error *err)
{
	struct nf_port **by_name;
	int r = 0;

	if (m->n_ports < 2)
		return 0;
	by_name = malloc(m->n_ports * sizeof *by_name);
	if (!by_name)
		return nf_oom(err, "ports");
	memcpy(by_name, m->ports, m->n_ports * sizeof *by_name);
	qsort(by_name, m->n_ports, sizeof *by_name, cmp_ifname);
	for (size_t i = 1; i < m->n_ports; i++)
		if (!strcmp(by_name[i - 1]->ifname, by_name[i]->ifname)) {
			r = hv_error_set(err, -EEXIST, "ifname",
					 "ports %s and %s both use interface %s",
					 by_name[i - 1]->id, by_name[i]->id, by_name[i]->ifname);
			break;
		}
	free(by_name);
	return r;
}

/* The ports of m that prev does not share (new or replaced objects), at most max of them;
 * returns how many there are, or max + 1 when there are more. */
static size_t
changed_ports(const struct nf_model *m, const struct nf_model *prev, struct nf_port **ret,
	      size_t max)
{
	size_t n = 0, j = 0;

	/* Both arrays are sorted by id and mostly share their objects: a merge walk that
	 * compares pointers first costs almost nothing per unchanged port. */
	for (size_t i = 0; i < m->n_ports; i++) {
		while (j < prev->n_ports && prev->ports[j] != m->ports[i] &&
		       strcmp(prev->ports[j]->id, m->ports[i]->id) < 0)
			j++;
		if (j < prev->n_ports && prev->ports[j] == m->ports[i]) {
			j++;
			continue;
		}
		if (n == max)
			return max + 1;
		ret[n++] = m->ports[i];
	}
	return n;
}

int
nf_model_check(struct nf_model *m, const struct nf_model *prev, struct hv_error *err)
{
	struct nf_port *changed[8];
	size_t n_changed = prev ? changed_ports(m, prev, changed, 8) : 9;
	uint8_t *used;
	int r = 0;

	/* A few changed ports (one API call) need comparing with the others only; unchanged
	 * ports were checked together when they were committed. */
	if (n_changed <= 8) {
		for (size_t c = 0; c < n_changed && r == 0; c++)
			for (size_t i = 0; i < m->n_ports; i++)
				if (m->ports[i] != changed[c] &&
				    !strcmp(m->ports[i]->ifname, changed[c]->ifname)) {
					r = hv_error_set(err, -EEXIST, "ifname",
							 "ports %s and %s both use interface %s",
							 changed[c]->id, m->ports[i]->id,
							 changed[c]->ifname);
					break;
				}
	} else {
		r = check_ifnames(m, err);
	}

	if (r < 0)
		return r;
	used = calloc(NF_TAG_MAX + 1, 1);
	if (!used)
		return nf_oom(err, "security_groups");
	used[0] = 1;
	for (size_t i = 0; i < m->n_groups; i++) {
		const struct nf_group *g = m->groups[i];

		for (size_t j = 0; j < g->n_rules; j++) {
			const char *rg = g->rules[j].remote_group;

			if (*rg && !nf_model_group(m, rg)) {
				r = hv_error_set(
					err, -ENOENT, "remote_group_id",
					"group %s rule %s: remote_group_id %s is not a known group",
					g->id, g->rules[j].id, rg);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < m->n_ports; i++) {
		struct nf_port *p = m->ports[i];

		for (size_t j = 0; j < p->n_groups; j++)
			if (!nf_model_group(m, p->groups[j])) {
				r = hv_error_set(err, -ENOENT, "security_groups",
						 "port %s: security group %s is not a known group",
						 p->id, p->groups[j]);
				goto out;
			}
		for (size_t j = 0; j < m->n_taps; j++)
			if (!strcmp(p->ifname, m->taps[j])) {
				r = hv_error_set(
					err, -EEXIST, "ifname",
					"port %s: interface %s is claimed as an unprogrammed tap",
					p->id, p->ifname);
				goto out;
			}
	}
	for (size_t i = 0; i < m->n_groups; i++) {
		struct nf_group *g = m->groups[i];

		if (!g->tag && prev) {
			const struct nf_group *old = nf_model_group(prev, g->id);
			if (old)
				g->tag = old->tag;
		}
		if (g->tag) {
			if (used[g->tag]) {
				r = hv_error_set(err, -EEXIST, "tag",
						 "group %s: tag %u is used by another group", g->id,
						 g->tag);
				goto out;
			}
			used[g->tag] = 1;
		}
	}
	/* Untagged groups get the lowest free tag, in id order, so the result is reproducible. */
	for (size_t i = 0, next = 1; i < m->n_groups; i++) {
		if (m->groups[i]->tag)
			continue;
		while (next <= NF_TAG_MAX && used[next])
			next++;
		if (next > NF_TAG_MAX) {
			r = hv_error_set(err, -ENOSPC, "security_groups",
					 "more than %d groups on one host", NF_TAG_MAX);
			goto out;
		}
		used[next] = 1;
		m->groups[i]->tag = (uint16_t)next;
	}
	for (size_t i = 0; i < m->n_fips; i++) {
		const struct nf_fip *f = m->fips[i];
		const struct nf_port *p = nf_model_port(m, f->port_id);
		bool owned = false;

		if (!*m->ext_ifname) {
			r = hv_error_set(err, -EINVAL, "external_ifname",
					 "floating IP %s: no external interface is configured",
					 f->id);
			goto out;
		}
		if (!p) {
			r = hv_error_set(err, -ENOENT, "port_id",
					 "floating IP %s: port %s is not plugged here", f->id,
					 f->port_id);
			goto out;
		}
		for (size_t j = 0; j < p->n_ips; j++)
			owned |= p->ips[j].family == 4 && !memcmp(p->ips[j].addr, f->fixed, 4);
		if (!owned) {
			r = hv_error_set(
				err, -EINVAL, "fixed_ip_address",
				"floating IP %s: the fixed IP is not an IPv4 address of port %s",
				f->id, p->id);
			goto out;
		}
		for (size_t j = i + 1; j < m->n_fips; j++) {
			if (!memcmp(f->fip, m->fips[j]->fip, 4)) {
				r = hv_error_set(err, -EEXIST, "floating_ip_address",
						 "floating IPs %s and %s have the same address",
						 f->id, m->fips[j]->id);
				goto out;
			}
			if (!strcmp(f->port_id, m->fips[j]->port_id) ||
			    !memcmp(f->fixed, m->fips[j]->fixed, 4)) {
				r = hv_error_set(err, -EEXIST, "port_id",
						 "floating IPs %s and %s: a port has at most one "
						 "floating IP",
						 f->id, m->fips[j]->id);
				goto out;
			}
		}
	}
out:
	free(used);
	return r;
}

/* ---- JSON in ---- */

/* "where.key[i]" */
static const char *
idx_path(char *buf, size_t size, const char *where, const char *key, size_t i)
{
	char tmp[FIELD_MAX];

	hj_path(tmp, sizeof tmp, where, key, 0);
	return hj_path(buf, size, tmp, NULL, i);
}

static int
get_id(const json_t *o, const char *where, const char *key, int flags, char *dst,
       struct hv_error *err)
{
	char field[FIELD_MAX];
	const char *s = NULL;
	int r = hj_str(o, where, key, flags, NF_ID_MAX, &s, err);

	if (r <= 0)
		return r;
	r = nf_valid_id(s, hj_path(field, sizeof field, where, key, 0), err);
	if (r < 0)
		return r;
	snprintf(dst, NF_ID_MAX + 1, "%s", s);
	return 1;
}

static int
get_ifname(const json_t *o, const char *where, const char *key, int flags, char *dst,
	   struct hv_error *err)
{
	char field[FIELD_MAX];
	const char *s = NULL;
	int r = hj_str(o, where, key, flags, 64, &s, err);

	if (r <= 0)
		return r;
	r = nf_valid_ifname(s, hj_path(field, sizeof field, where, key, 0), err);
	if (r < 0)
		return r;
	snprintf(dst, NF_IFNAME_MAX + 1, "%s", s);
	return 1;
}

static int
get_cidr(const json_t *o, const char *where, const char *key, int flags, bool exact,
	 struct nf_cidr *ret, struct hv_error *err)
{
	char field[FIELD_MAX];
	const char *s = NULL;
	int r = hj_str(o, where, key, flags, 64, &s, err);

	if (r <= 0)
		return r;
	r = nf_parse_cidr(s, exact, hj_path(field, sizeof field, where, key, 0), ret, err);
	return r < 0 ? r : 1;
}

static int
parse_proto(const json_t *v, const char *field, int family, int16_t *ret, struct hv_error *err)
{
	static const struct {
		const char *name;
		int num;
	} names[] = {
		{"any", -1},    {"tcp", 6},        {"udp", 17},      {"icmp", 1},
		{"icmpv6", 58}, {"ipv6-icmp", 58}, {"sctp", 132},    {"gre", 47},
		{"esp", 50},    {"ah", 51},        {"udplite", 136}, {"dccp", 33},
	};

	if (!v || json_is_null(v)) {
		*ret = -1;
		return 0;
	}
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n < 0 || n > 255)
			return hv_error_set(err, -EINVAL, field,
					    "%s: protocol number must be 0-255", field);
		*ret = (int16_t)n;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		long n;

		*ret = -2;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (!strcmp(s, names[i].name))
				*ret = (int16_t)names[i].num;
		if (*ret == -2) {
			errno = 0;
			n = strtol(s, &end, 10);
			if (!isdigit((unsigned char)*s) || *end || errno || n < 0 || n > 255)
				return hv_error_set(err, -EINVAL, field,
						    "%s: unknown protocol '%.32s' (a name such as "
						    "tcp, udp, icmp, "
						    "icmpv6, any, or a number 0-255)",
						    field, s);
			*ret = (int16_t)n;
		}
	} else {
		return hv_error_set(err, -EINVAL, field, "%s: expected a protocol name or number",
				    field);
	}
	/* As the Networking service does: "icmp" in an IPv6 rule means ICMPv6. */
	if (family == 6 && *ret == 1)
		*ret = 58;
	if (family == 4 && *ret == 58)
		return hv_error_set(err, -EINVAL, field, "%s: icmpv6 needs ethertype IPv6", field);
	return 0;
}

static bool
proto_has_ports(int proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 136 || proto == 33;
}

static int
rule_from_json(const json_t *o, const char *where, struct nf_rule *r, struct hv_error *err)
{
	char field[FIELD_MAX];
	const char *dir, *eth = "IPv4";
	int64_t pmin = -1, pmax = -1;
	int rc;

	memset(r, 0, sizeof *r);
	if (!json_is_object(o))
		return hv_error_set(err, -EINVAL, where, "%s: expected an object", where);
	if ((rc = get_id(o, where, "id", HJ_OPTIONAL, r->id, err)) < 0)
		return rc;
	if ((rc = hj_enum(o, where, "direction", HJ_REQUIRED, "ingress|egress", &dir, err)) < 0)
		return rc;
	r->dir = !strcmp(dir, "egress") ? NF_EGRESS : NF_INGRESS;
	if ((rc = hj_enum(o, where, "ethertype", HJ_OPTIONAL, "IPv4|IPv6", &eth, err)) < 0)
		return rc;
	r->family = !strcmp(eth, "IPv6") ? 6 : 4;
	if ((rc = parse_proto(json_object_get(o, "protocol"),
			      hj_path(field, sizeof field, where, "protocol", 0), r->family,
			      &r->proto, err)) < 0)
		return rc;
	if ((rc = hj_int(o, where, "port_range_min", HJ_OPTIONAL, 0, 65535, &pmin, err)) < 0)
		return rc;
	if ((rc = hj_int(o, where, "port_range_max", HJ_OPTIONAL, 0, 65535, &pmax, err)) < 0)
		return rc;
	if (r->proto == 1 || r->proto == 58) {
		/* ICMP: port_range_min is the type, port_range_max the code. */
		if (pmin > 255 || pmax > 255)
			return hv_error_set(
				err, -EINVAL,
				hj_path(field, sizeof field, where, "port_range_min", 0),
				"%s: ICMP type and code must be 0-255", field);
		if (pmax >= 0 && pmin < 0)
			return hv_error_set(
				err, -EINVAL,
				hj_path(field, sizeof field, where, "port_range_max", 0),
				"%s: an ICMP code needs an ICMP type (port_range_min)", field);
	} else if (pmin >= 0 || pmax >= 0) {
		if (!proto_has_ports(r->proto))
			return hv_error_set(
				err, -EINVAL,
				hj_path(field, sizeof field, where, "port_range_min", 0),
				"%s: port ranges need protocol tcp, udp, sctp, udplite or dccp",
				field);
		if (pmin < 1 || pmax < 1)
			return hv_error_set(
				err, -EINVAL,
				hj_path(field, sizeof field, where, "port_range_min", 0),
				"%s: a port range needs both port_range_min and port_range_max, "
				"1-65535",
				field);
		if (pmin > pmax)
			return hv_error_set(
				err, -EINVAL,
				hj_path(field, sizeof field, where, "port_range_min", 0),
				"%s: port_range_min is greater than port_range_max", field);
	}
	r->pmin = (int32_t)pmin;
	r->pmax = (int32_t)pmax;
	if ((rc = get_cidr(o, where, "remote_ip_prefix", HJ_OPTIONAL, false, &r->prefix, err)) < 0)
		return rc;
	r->has_prefix = rc > 0;
	if (r->has_prefix && r->prefix.family != r->family)
		return hv_error_set(err, -EINVAL,
				    hj_path(field, sizeof field, where, "remote_ip_prefix", 0),
				    "%s: address family does not match ethertype %s", field, eth);
	if ((rc = get_id(o, where, "remote_group_id", HJ_OPTIONAL, r->remote_group, err)) < 0)
		return rc;
	if (rc > 0 && r->has_prefix)
		return hv_error_set(
			err, -EINVAL, hj_path(field, sizeof field, where, "remote_group_id", 0),
			"%s: give remote_ip_prefix or remote_group_id, not both", field);
	/* A /0 prefix matches everything: keep it out of the rule. */
	if (r->has_prefix && r->prefix.plen == 0) {
		r->has_prefix = false;
		memset(&r->prefix, 0, sizeof r->prefix);
	}
	return 0;
}

int
nf_group_from_json(const json_t *o, const char *where, struct nf_group **ret, struct hv_error *err)
{
	char field[FIELD_MAX];
	struct nf_group *g;
	json_t *rules = NULL;
	int64_t tag = 0;
	int rc;

	if (!json_is_object(o))
		return hv_error_set(err, -EINVAL, where, "%s: expected an object", where);
	g = calloc(1, sizeof *g);
	if (!g)
		return nf_oom(err, where);
	g->refs = 1;
	if ((rc = get_id(o, where, "id", HJ_REQUIRED, g->id, err)) < 0 ||
	    (rc = hj_int(o, where, "tag", HJ_OPTIONAL, 1, NF_TAG_MAX, &tag, err)) < 0)
		goto fail;
	g->tag = (uint16_t)tag;
	if ((rc = hj_arr(o, where, "rules", HJ_OPTIONAL, NF_GROUP_RULES_MAX, &rules, err)) < 0)
		goto fail;
	g->n_rules = rules ? json_array_size(rules) : 0;
	g->rules = calloc(g->n_rules ? g->n_rules : 1, sizeof *g->rules);
	if (!g->rules) {
		rc = nf_oom(err, where);
		goto fail;
	}
	for (size_t i = 0; i < g->n_rules; i++) {
		char rwhere[FIELD_MAX];

		idx_path(rwhere, sizeof rwhere, where, "rules", i);
		if ((rc = rule_from_json(json_array_get(rules, i), rwhere, &g->rules[i], err)) < 0)
			goto fail;
		if (!*g->rules[i].id)
			snprintf(g->rules[i].id, sizeof g->rules[i].id, "%zu", i);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(g->rules[j].id, g->rules[i].id)) {
				rc = hv_error_set(err, -EEXIST,
						  hj_path(field, sizeof field, rwhere, "id", 0),
						  "%s: rule id %s appears twice in group %s", field,
						  g->rules[i].id, g->id);
				goto fail;
			}
	}
	*ret = g;
	return 0;
fail:
	nf_group_unref(g);
	return rc;
}

/* o's "security_groups" as p's group list, sorted and unique so that equal memberships
 * compare equal. */
static int
port_groups_from_json(const json_t *o, const char *where, struct nf_port *p, struct hv_error *err)
{
	char field[FIELD_MAX];
	json_t *arr = NULL;
	int rc;

	p->n_groups = 0;
	if ((rc = hj_arr(o, where, "security_groups", HJ_OPTIONAL, NF_PORT_GROUPS_MAX, &arr, err)) <
	    0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);

		idx_path(field, sizeof field, where, "security_groups", i);
		if (!json_is_string(v))
			return hv_error_set(err, -EINVAL, field, "%s: expected a group id", field);
		if ((rc = nf_valid_id(json_string_value(v), field, err)) < 0)
			return rc;
		size_t k = 0;
		int c = 1;
		while (k < p->n_groups && (c = strcmp(p->groups[k], json_string_value(v))) < 0)
			k++;
		if (k < p->n_groups && c == 0)
			continue;
		memmove(p->groups[k + 1], p->groups[k], (p->n_groups - k) * sizeof p->groups[0]);
		snprintf(p->groups[k], sizeof p->groups[k], "%s", json_string_value(v));
		p->n_groups++;
	}
	return 0;
}

int
nf_port_from_json(const json_t *o, const char *where, struct nf_port **ret, struct hv_error *err)
{
	char field[FIELD_MAX], iwhere[FIELD_MAX];
	struct nf_port *p;
	const char *s;
	json_t *arr;
	int rc;

	if (!json_is_object(o))
		return hv_error_set(err, -EINVAL, where, "%s: expected an object", where);
	p = calloc(1, sizeof *p);
	if (!p)
		return nf_oom(err, where);
	p->refs = 1;
	if ((rc = get_id(o, where, "id", HJ_REQUIRED, p->id, err)) < 0 ||
	    (rc = get_ifname(o, where, "ifname", HJ_REQUIRED, p->ifname, err)) < 0 ||
	    (rc = hj_str(o, where, "mac_address", HJ_REQUIRED, 17, &s, err)) < 0 ||
	    (rc = parse_mac(s, hj_path(field, sizeof field, where, "mac_address", 0), p->mac,
			    err)) < 0)
		goto fail;

	arr = NULL;
	if ((rc = hj_arr(o, where, "fixed_ips", HJ_REQUIRED, NF_PORT_IPS_MAX, &arr, err)) < 0)
		goto fail;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);

		idx_path(field, sizeof field, where, "fixed_ips", i);
		/* Accept plain strings and Neutron's {"ip_address": ...} objects. */
		if (json_is_object(v))
			v = json_object_get(v, "ip_address");
		if (!json_is_string(v)) {
			rc = hv_error_set(err, -EINVAL, field, "%s: expected an IP address", field);
			goto fail;
		}
		if ((rc = nf_parse_cidr(json_string_value(v), true, field, &p->ips[p->n_ips],
					err)) < 0)
			goto fail;
		p->n_ips++;
	}
	arr = NULL;
	if ((rc = hj_arr(o, where, "allowed_address_pairs", HJ_OPTIONAL, NF_PORT_AAPS_MAX, &arr,
			 err)) < 0)
		goto fail;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		struct nf_aap *a = &p->aaps[p->n_aaps];

		idx_path(field, sizeof field, where, "allowed_address_pairs", i);
		if ((rc = get_cidr(json_array_get(arr, i), field, "ip_address", HJ_REQUIRED, false,
				   &a->ip, err)) < 0)
			goto fail;
		memcpy(a->mac, p->mac, 6);
		s = NULL;
		if ((rc = hj_str(json_array_get(arr, i), field, "mac_address", HJ_OPTIONAL, 17, &s,
				 err)) < 0)
			goto fail;
		if (s && (rc = parse_mac(s, hj_path(iwhere, sizeof iwhere, field, "mac_address", 0),
					 a->mac, err)) < 0)
			goto fail;
		p->n_aaps++;
	}
	if ((rc = port_groups_from_json(o, where, p, err)) < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	nf_port_unref(p);
	return rc;
}

int
nf_port_with_groups(const struct nf_port *port, const json_t *groups, const char *where,
		    struct nf_port **ret, struct hv_error *err)
{
	struct nf_port *p = malloc(sizeof *p);
	json_t *o;
	int rc;

	if (!p)
		return nf_oom(err, where);
	*p = *port;
	p->refs = 1;
	if (groups) {
		/* the parser reads a port object: give it one holding only the list */
		if (!(o = json_pack("{s:O}", "security_groups", (json_t *)groups))) {
			nf_port_unref(p);
			return nf_oom(err, where);
		}
		rc = port_groups_from_json(o, where, p, err);
		json_decref(o);
		if (rc < 0) {
			nf_port_unref(p);
			return rc;
		}
	}
	*ret = p;
	return 0;
}

int
nf_fip_from_json(const json_t *o, const char *where, struct nf_fip **ret, struct hv_error *err)
{
	struct nf_fip *f;
	struct nf_cidr c;
	int rc;

	if (!json_is_object(o))
		return hv_error_set(err, -EINVAL, where, "%s: expected an object", where);
	f = calloc(1, sizeof *f);
	if (!f)
		return nf_oom(err, where);
	f->refs = 1;
	if ((rc = get_id(o, where, "id", HJ_REQUIRED, f->id, err)) < 0 ||
	    (rc = get_id(o, where, "port_id", HJ_REQUIRED, f->port_id, err)) < 0)
		goto fail;
	if ((rc = get_cidr(o, where, "floating_ip_address", HJ_REQUIRED, true, &c, err)) < 0)
		goto fail;
	if (c.family != 4) {
		char field[FIELD_MAX];
		rc = hv_error_set(err, -EINVAL,
				  hj_path(field, sizeof field, where, "floating_ip_address", 0),
				  "%s: floating IPs are IPv4", field);
		goto fail;
	}
	memcpy(f->fip, c.addr, 4);
	if ((rc = get_cidr(o, where, "fixed_ip_address", HJ_REQUIRED, true, &c, err)) < 0)
		goto fail;
	if (c.family != 4) {
		char field[FIELD_MAX];
		rc = hv_error_set(err, -EINVAL,
				  hj_path(field, sizeof field, where, "fixed_ip_address", 0),
				  "%s: floating IPs map to an IPv4 fixed IP", field);
		goto fail;
	}
	memcpy(f->fixed, c.addr, 4);
	*ret = f;
	return 0;
fail:
	nf_fip_unref(f);
	return rc;
}

int
nf_model_from_json(const json_t *o, const char *where, struct nf_model **ret, struct hv_error *err)
{
	char field[FIELD_MAX];
	struct nf_model *m;
	json_t *arr;
	int rc;

	if (!json_is_object(o))
		return hv_error_set(err, -EINVAL, where, "%s: expected an object", where);
	m = nf_model_new();
	if (!m)
		return nf_oom(err, where);
	if ((rc = get_ifname(o, where, "external_ifname", HJ_OPTIONAL, m->ext_ifname, err)) < 0)
		goto fail;
	arr = NULL;
	if ((rc = hj_arr(o, where, "security_groups", HJ_OPTIONAL, 100000, &arr, err)) < 0)
		goto fail;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		struct nf_group *g;

		idx_path(field, sizeof field, where, "security_groups", i);
		if ((rc = nf_group_from_json(json_array_get(arr, i), field, &g, err)) < 0)
			goto fail;
		if (nf_model_group(m, g->id)) {
			rc = hv_error_set(err, -EEXIST, field, "%s: group %s appears twice", field,
					  g->id);
			nf_group_unref(g);
			goto fail;
		}
		if ((rc = nf_model_put_group(m, g)) < 0) {
			rc = nf_oom(err, field);
			goto fail;
		}
	}
	arr = NULL;
	if ((rc = hj_arr(o, where, "ports", HJ_OPTIONAL, NF_PORTS_MAX, &arr, err)) < 0)
		goto fail;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		struct nf_port *p;

		idx_path(field, sizeof field, where, "ports", i);
		if ((rc = nf_port_from_json(json_array_get(arr, i), field, &p, err)) < 0)
			goto fail;
		if (nf_model_port(m, p->id)) {
			rc = hv_error_set(err, -EEXIST, field, "%s: port %s appears twice", field,
					  p->id);
			nf_port_unref(p);
			goto fail;
		}
		if ((rc = nf_model_put_port(m, p)) < 0) {
			rc = nf_oom(err, field);
			goto fail;
		}
	}
	arr = NULL;
	if ((rc = hj_arr(o, where, "floating_ips", HJ_OPTIONAL, NF_PORTS_MAX, &arr, err)) < 0)
		goto fail;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		struct nf_fip *f;

		idx_path(field, sizeof field, where, "floating_ips", i);
		if ((rc = nf_fip_from_json(json_array_get(arr, i), field, &f, err)) < 0)
			goto fail;
		if (nf_model_fip(m, f->id)) {
			rc = hv_error_set(err, -EEXIST, field, "%s: floating IP %s appears twice",
					  field, f->id);
			nf_fip_unref(f);
			goto fail;
		}
		if ((rc = nf_model_put_fip(m, f)) < 0) {
			rc = nf_oom(err, field);
			goto fail;
		}
	}
	arr = NULL;
	if ((rc = hj_arr(o, where, "taps", HJ_OPTIONAL, NF_PORTS_MAX, &arr, err)) < 0)
		goto fail;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);

		idx_path(field, sizeof field, where, "taps", i);
		if (!json_is_string(v)) {
			rc = hv_error_set(err, -EINVAL, field, "%s: expected an interface name",
					  field);
			goto fail;
		}
		if ((rc = nf_valid_ifname(json_string_value(v), field, err)) < 0)
			goto fail;
		if ((rc = nf_model_claim_tap(m, json_string_value(v))) < 0) {
			rc = nf_oom(err, field);
			goto fail;
		}
	}
	*ret = m;
	return 0;
fail:
	nf_model_free(m);
	return rc;
}

/* ---- JSON out (the same shape the parser reads, tags included) ---- */

static json_t *
cidr_json(const struct nf_cidr *c)
{
	char buf[64];

	nf_format_cidr(c, buf, sizeof buf);
	return json_string(buf);
}

static json_t *
mac_json(const uint8_t m[6])
{
	char buf[18];

	snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
		 m[5]);
	return json_string(buf);
}

static json_t *
rule_json(const struct nf_rule *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "direction",
			    json_string(r->dir == NF_EGRESS ? "egress" : "ingress"));
	json_object_set_new(o, "ethertype", json_string(r->family == 6 ? "IPv6" : "IPv4"));
	json_object_set_new(o, "protocol", r->proto < 0 ? json_null() : json_integer(r->proto));
	if (r->pmin >= 0)
		json_object_set_new(o, "port_range_min", json_integer(r->pmin));
	if (r->pmax >= 0)
		json_object_set_new(o, "port_range_max", json_integer(r->pmax));
	if (r->has_prefix)
		json_object_set_new(o, "remote_ip_prefix", cidr_json(&r->prefix));
	if (*r->remote_group)
		json_object_set_new(o, "remote_group_id", json_string(r->remote_group));
	return o;
}

json_t *
nf_model_to_json(const struct nf_model *m)
{
	json_t *o = json_object(), *gs = json_array(), *ps = json_array(), *fs = json_array(),
	       *ts = json_array();
	char buf[16];

	if (*m->ext_ifname)
		json_object_set_new(o, "external_ifname", json_string(m->ext_ifname));
	for (size_t i = 0; i < m->n_groups; i++) {
		const struct nf_group *g = m->groups[i];
		json_t *go = json_object(), *rs = json_array();

		json_object_set_new(go, "id", json_string(g->id));
		json_object_set_new(go, "tag", json_integer(g->tag));
		for (size_t j = 0; j < g->n_rules; j++)
			json_array_append_new(rs, rule_json(&g->rules[j]));
		json_object_set_new(go, "rules", rs);
		json_array_append_new(gs, go);
	}
	for (size_t i = 0; i < m->n_ports; i++) {
		const struct nf_port *p = m->ports[i];
		json_t *po = json_object(), *ips = json_array(), *aaps = json_array(),
		       *grs = json_array();

		json_object_set_new(po, "id", json_string(p->id));
		json_object_set_new(po, "ifname", json_string(p->ifname));
		json_object_set_new(po, "mac_address", mac_json(p->mac));
		for (size_t j = 0; j < p->n_ips; j++)
			json_array_append_new(ips, cidr_json(&p->ips[j]));
		for (size_t j = 0; j < p->n_aaps; j++)
			json_array_append_new(aaps,
					      json_pack("{s:o,s:o}", "ip_address",
							cidr_json(&p->aaps[j].ip), "mac_address",
							mac_json(p->aaps[j].mac)));
		for (size_t j = 0; j < p->n_groups; j++)
			json_array_append_new(grs, json_string(p->groups[j]));
		json_object_set_new(po, "fixed_ips", ips);
		json_object_set_new(po, "allowed_address_pairs", aaps);
		json_object_set_new(po, "security_groups", grs);
		json_array_append_new(ps, po);
	}
	for (size_t i = 0; i < m->n_fips; i++) {
		const struct nf_fip *f = m->fips[i];
		char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, f->fip, a, sizeof a);
		inet_ntop(AF_INET, f->fixed, b, sizeof b);
		json_array_append_new(fs, json_pack("{s:s,s:s,s:s,s:s}", "id", f->id, "port_id",
						    f->port_id, "floating_ip_address", a,
						    "fixed_ip_address", b));
	}
	for (size_t i = 0; i < m->n_taps; i++) {
		snprintf(buf, sizeof buf, "%s", m->taps[i]);
		json_array_append_new(ts, json_string(buf));
	}
	json_object_set_new(o, "security_groups", gs);
	json_object_set_new(o, "ports", ps);
	json_object_set_new(o, "floating_ips", fs);
	json_object_set_new(o, "taps", ts);
	return o;
}
