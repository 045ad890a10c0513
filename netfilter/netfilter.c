/* netfilter.c - the module's API (netfilter.h): keeps the committed model, turns each
 * request into a new model, commits the diff as one batch, then revokes what the change
 * no longer allows. Must never leave the committed model and the kernel out of step
 * silently: a failed batch triggers a full resync of the previous state. Never logs. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netfilter.h"
#include "nf-nl.h"
#include "vec.h"

struct nf_ctx {
	struct mnl_socket *nl;
	struct mnl_socket *ct;
	struct nl_sock *rt;
	struct nl_sock *watch; /* link changes: a tap (re)appearing */
	struct nf_model *cur;  /* what the kernel holds */
	bool synced;           /* false until one full replace succeeded (or nf_adopt) */
	char ext_ifname[NF_IFNAME_MAX + 1];
	struct nf_stats stats;
	struct hv_error host_err; /* the first host-side failure not yet fetched */
};

int
nf_open(struct nf_ctx **ret, const char *external_ifname, struct hv_error *err)
{
	struct nf_ctx *nf;
	int r;

	if (external_ifname && *external_ifname &&
	    (r = nf_valid_ifname(external_ifname, "external_ifname", err)) < 0)
		return r;
	nf = calloc(1, sizeof *nf);
	if (!nf)
		return nf_oom(err, "netfilter");
	nf->cur = nf_model_new();
	if (!nf->cur) {
		free(nf);
		return nf_oom(err, "netfilter");
	}
	if (external_ifname)
		snprintf(nf->ext_ifname, sizeof nf->ext_ifname, "%s", external_ifname);
	snprintf(nf->cur->ext_ifname, sizeof nf->cur->ext_ifname, "%s", nf->ext_ifname);
	if ((r = nf_nl_open(&nf->nl)) < 0 || (r = nf_ct_open(&nf->ct)) < 0 ||
	    (r = nf_link_open(&nf->rt)) < 0 || (r = nf_watch_open(&nf->watch)) < 0) {
		nf_close(&nf);
		return hv_error_set(err, r, "", "cannot open netlink sockets: %s", strerror(-r));
	}
	*ret = nf;
	return 0;
}

void
nf_close(struct nf_ctx **ctx)
{
	struct nf_ctx *nf = ctx ? *ctx : NULL;

	if (!nf)
		return;
	if (nf->nl)
		mnl_socket_close(nf->nl);
	if (nf->ct)
		mnl_socket_close(nf->ct);
	nf_link_close(nf->rt);
	nf_link_close(nf->watch);
	nf_model_free(nf->cur);
	free(nf);
	*ctx = NULL;
}

/* ---- commit ---- */

struct finder {
	size_t want, i;
	struct nf_op op;
	struct hv_text text;
};

static int
find_op(void *ud, const struct nf_op *op)
{
	struct finder *f = ud;

	if (f->i++ == f->want) {
		f->op = *op;
		f->op.rule = NULL;
		f->op.elem = NULL;
		nf_render_op(&f->text, op);
		return 1;
	}
	return 0;
}

struct revoked {
	uint16_t *v;
	size_t n, cap;
	const struct nf_model *from;
	uint8_t (*fips)[8];
	size_t n_fips, cap_fips;
};

static void
add_tag(void *ud, uint16_t mark)
{
	struct revoked *m = ud;

	for (size_t i = 0; i < m->n; i++)
		if (m->v[i] == mark)
			return;
	if (HV_GROW(m->v, m->cap, m->n + 1) < 0)
		return;
	m->v[m->n++] = mark;
}

static void
add_fip(void *ud, const uint8_t fip[4], const uint8_t fixed[4])
{
	struct revoked *m = ud;

	if (HV_GROW(m->fips, m->cap_fips, m->n_fips + 1) < 0)
		return;
	memcpy(m->fips[m->n_fips], fip, 4);
	memcpy(m->fips[m->n_fips] + 4, fixed, 4);
	m->n_fips++;
}

static int
send_ops(struct nf_ctx *nf, const struct nf_model *from, const struct nf_model *to,
	 struct hv_error *err)
{
	struct nf_batch *b = nf_batch_new();
	size_t bad = SIZE_MAX;
	int r;

	if (!b)
		return nf_oom(err, "");
	r = from ? nf_diff(from, to, nf_batch_op, b) : nf_full(to, true, nf_batch_op, b);
	if (r == 0)
		r = nf_batch_commit(nf->nl, b, &bad);
	nf->stats.messages += nf_batch_messages(b);
	nf_batch_free(b);
	if (r == 0) {
		nf->stats.commits++;
		return 0;
	}
	nf->stats.failures++;
	if (bad != SIZE_MAX) {
		struct finder f = {.want = bad};

		if (from)
			nf_diff(from, to, find_op, &f);
		else
			nf_full(to, true, find_op, &f);
		if (f.text.len && f.text.buf[f.text.len - 1] == '\n')
			f.text.buf[--f.text.len] = '\0';
		hv_error_set(err, r, f.op.owner, "%s: nf_tables rejected '%s': %s", f.op.owner,
			     f.text.buf ? f.text.buf : "?", strerror(-r));
		hv_text_release(&f.text);
	} else {
		hv_error_set(err, r, "", "nf_tables transaction failed: %s", strerror(-r));
	}
	return r;
}

/* Commits `to` (checked) and makes it current; takes ownership of `to`. */
static int
commit(struct nf_ctx *nf, struct nf_model *to, struct hv_error *err)
{
	struct revoked mk = {0};
	struct nf_revoke rv = {add_tag, add_fip, &mk};
	struct nf_model *from = nf->synced ? nf->cur : NULL;
	int r = 0;

	/* Addresses first, so the NAT never points at an address the host does not answer for. */
	for (size_t i = 0; i < to->n_fips; i++) {
		const struct nf_fip *f = to->fips[i];
		const struct nf_fip *old = nf_model_fip(nf->cur, f->id);

		if (nf->synced && old && !memcmp(old->fip, f->fip, 4))
			continue;
		if ((r = nf_link_addr(nf->rt, to->ext_ifname, f->fip, true, err)) < 0)
			break;
	}
	bool sent = r == 0;

	if (sent)
		r = send_ops(nf, from, to, err);
	if (r < 0) {
		struct hv_error ignored;

		/* Addresses this change added go again; those of the current state stay. */
		for (size_t i = 0; i < to->n_fips; i++) {
			bool kept = false;

			for (size_t j = 0; j < nf->cur->n_fips; j++)
				kept |= !memcmp(nf->cur->fips[j]->fip, to->fips[i]->fip, 4);
			if (!kept)
				nf_link_addr(nf->rt, to->ext_ifname, to->fips[i]->fip, false,
					     &ignored);
		}

		/* The kernel still holds the previous ruleset (the batch was atomic), but a
		 * failure may come from tampering: rewrite the previous state in full. */
		if (sent && from && send_ops(nf, NULL, nf->cur, &ignored) == 0)
			nf->stats.resyncs++;
		else if (sent && from)
			nf->synced = false;
		nf_model_free(to);
		return r;
	}
	nf_revocations(from, to, &rv);
	for (size_t i = 0; i < mk.n; i++) {
		nf_ct_flush_mark(nf->ct, mk.v[i], 0xffff);
		nf_ct_flush_mark(nf->ct, (uint32_t)mk.v[i] << 16, 0xffff0000u);
		nf->stats.ct_flushes += 2;
	}
	for (size_t i = 0; i < mk.n_fips; i++) {
		bool still = false;
		struct hv_error ignored;

		for (size_t j = 0; j < to->n_fips; j++)
			still |= !memcmp(to->fips[j]->fip, mk.fips[i], 4);
		/* The address goes first: a packet arriving in between finds no local address. */
		if (!still && *nf->cur->ext_ifname)
			nf_link_addr(nf->rt, nf->cur->ext_ifname, mk.fips[i], false, &ignored);
		nf_ct_flush_fip(mk.fips[i]);
		nf->stats.ct_flushes++;
	}
	free(mk.v);
	free(mk.fips);
	nf_model_free(nf->cur);
	nf->cur = to;
	nf->synced = true;
	return 0;
}

static struct nf_model *
clone_cur(struct nf_ctx *nf)
{
	return nf_model_clone(nf->cur);
}

static int
check_and_commit(struct nf_ctx *nf, struct nf_model *to, struct hv_error *err)
{
	int r = nf_model_check(to, nf->cur, err);

	if (r < 0) {
		nf_model_free(to);
		return r;
	}
	return commit(nf, to, err);
}

/* ---- the host side of the taps ---- */

/* The rules are what isolates guests, so they never wait for, nor fail with, the host
 * side: a failure here is kept for nf_host_error() and the next tap event or resync tries
 * again. */
static void
host_failed(struct nf_ctx *nf, const struct hv_error *e)
{
	nf->stats.host_failures++;
	if (!nf->host_err.code)
		nf->host_err = *e;
}

static void
plumb(struct nf_ctx *nf, const struct nf_port *p)
{
	struct hv_error e = {0};
	int r = nf_tap_plumb(nf->rt, p, &e);

	if (r < 0 && r != -ENODEV) /* no tap yet: done when it appears */
		host_failed(nf, &e);
}

static void
unplumb(struct nf_ctx *nf, const struct nf_port *p, const struct nf_port *keep)
{
	struct hv_error e = {0};

	if (nf_tap_unplumb(nf->rt, p, keep, &e) < 0)
		host_failed(nf, &e);
}

/* Every port's tap plumbed, and our routes nobody wants gone (a restart converges). */
static void
host_sync(struct nf_ctx *nf)
{
	struct hv_error e = {0};

	for (size_t i = 0; i < nf->cur->n_ports; i++)
		plumb(nf, nf->cur->ports[i]);
	if (nf_route_prune(nf->rt, nf->cur, &e) < 0)
		host_failed(nf, &e);
}

static void
on_link_up(void *ud, const char *ifname)
{
	struct nf_ctx *nf = ud;

	for (size_t i = 0; i < nf->cur->n_ports; i++)
		if (!strcmp(nf->cur->ports[i]->ifname, ifname))
			plumb(nf, nf->cur->ports[i]);
}

int
nf_watch_fd(const struct nf_ctx *nf)
{
	return nf->watch ? nl_socket_get_fd(nf->watch) : -1;
}

int
nf_watch_dispatch(struct nf_ctx *nf)
{
	if (nf_watch_drain(nf->watch, on_link_up, nf) == -ENOBUFS)
		host_sync(nf);
	return 0;
}

bool
nf_host_error(struct nf_ctx *nf, struct hv_error *err)
{
	if (!nf->host_err.code)
		return false;
	if (err)
		*err = nf->host_err;
	memset(&nf->host_err, 0, sizeof nf->host_err);
	return true;
}

/* ---- API ---- */

static int
load_state(struct nf_ctx *nf, const json_t *state, struct nf_model **ret, struct hv_error *err)
{
	struct nf_model *m;
	int r = nf_model_from_json(state, "state", &m, err);

	if (r < 0)
		return r;
	if (!*m->ext_ifname)
		snprintf(m->ext_ifname, sizeof m->ext_ifname, "%s", nf->ext_ifname);
	*ret = m;
	return 0;
}

int
nf_apply(struct nf_ctx *nf, const json_t *state, struct hv_error *err)
{
	struct nf_model *m;
	int r = load_state(nf, state, &m, err);

	if (r < 0 || (r = check_and_commit(nf, m, err)) < 0)
		return r;
	host_sync(nf);
	return 0;
}

int
nf_adopt(struct nf_ctx *nf, const json_t *state, struct hv_error *err)
{
	struct nf_model *m;
	int r = load_state(nf, state, &m, err);

	if (r < 0)
		return r;
	if ((r = nf_model_check(m, NULL, err)) < 0) {
		nf_model_free(m);
		return r;
	}
	nf_model_free(nf->cur);
	nf->cur = m;
	nf->synced = true;
	return 0;
}

/* Floating addresses on the external interface that the state does not hold go. */
static int
prune_addrs(struct nf_ctx *nf, struct hv_error *err)
{
	uint8_t(*keep)[4] = calloc(nf->cur->n_fips + 1, sizeof *keep);
	int r;

	if (!keep)
		return nf_oom(err, "external_ifname");
	for (size_t i = 0; i < nf->cur->n_fips; i++)
		memcpy(keep[i], nf->cur->fips[i]->fip, 4);
	r = nf_link_prune(nf->rt, nf->cur->ext_ifname, (const uint8_t(*)[4])keep, nf->cur->n_fips,
			  err);
	free(keep);
	return r;
}

int
nf_resync(struct nf_ctx *nf, struct hv_error *err)
{
	int r = send_ops(nf, NULL, nf->cur, err);

	if (r == 0) {
		nf->synced = true;
		nf->stats.resyncs++;
		r = prune_addrs(nf, err);
		for (size_t i = 0; r == 0 && i < nf->cur->n_fips; i++)
			if ((r = nf_link_addr(nf->rt, nf->cur->ext_ifname, nf->cur->fips[i]->fip,
					      true, err)) < 0)
				break;
	}
	host_sync(nf); /* independent of the rules: done even when they failed */
	return r;
}

/* Ports, groups and floating IPs change one object at a time; these two commit such a
 * change on a copy of the current state, so a refused change leaves the state untouched. */
enum obj_kind {
	OBJ_PORT,
	OBJ_GROUP,
	OBJ_FIP
};

static const char *const obj_field[] = {"port", "group", "floating_ip"};

static void
obj_unref(enum obj_kind kind, void *obj)
{
	if (kind == OBJ_PORT)
		nf_port_unref(obj);
	else if (kind == OBJ_GROUP)
		nf_group_unref(obj);
	else
		nf_fip_unref(obj);
}

/* Puts obj (taking its one reference) in place of any object of its kind and id. */
static int
put_one(struct nf_ctx *nf, enum obj_kind kind, void *obj, struct hv_error *err)
{
	struct nf_model *to = clone_cur(nf);
	int r;

	if (!to) {
		obj_unref(kind, obj);
		return nf_oom(err, obj_field[kind]);
	}
	r = kind == OBJ_PORT    ? nf_model_put_port(to, obj)
	    : kind == OBJ_GROUP ? nf_model_put_group(to, obj)
				: nf_model_put_fip(to, obj);
	if (r < 0) {
		nf_model_free(to);
		return nf_oom(err, obj_field[kind]);
	}
	return check_and_commit(nf, to, err);
}

/* Removes the object of that kind and id (the caller checked that it exists and is free). */
static int
del_one(struct nf_ctx *nf, enum obj_kind kind, const char *id, struct hv_error *err)
{
	struct nf_model *to = clone_cur(nf);

	if (!to)
		return nf_oom(err, obj_field[kind]);
	if (kind == OBJ_PORT)
		nf_model_del_port(to, id);
	else if (kind == OBJ_GROUP)
		nf_model_del_group(to, id);
	else
		nf_model_del_fip(to, id);
	return check_and_commit(nf, to, err);
}

int
nf_port_plug(struct nf_ctx *nf, const json_t *port, struct hv_error *err)
{
	struct nf_port *p, old = {0};
	const struct nf_port *o;
	char id[NF_ID_MAX + 1];
	int r = nf_port_from_json(port, "port", &p, err);

	if (r < 0)
		return r;
	snprintf(id, sizeof id, "%s", p->id);
	if ((o = nf_model_port(nf->cur, id)))
		old = *o; /* plain data: the copy outlives the model it came from */
	if ((r = put_one(nf, OBJ_PORT, p, err)) < 0)
		return r;
	o = nf_model_port(nf->cur, id);
	if (*old.id)
		unplumb(nf, &old, o);
	plumb(nf, o);
	return 0;
}

int
nf_port_unplug(struct nf_ctx *nf, const char *port_id, struct hv_error *err)
{
	const struct nf_port *o = nf_model_port(nf->cur, port_id);
	struct nf_port old;
	int r;

	if (!o)
		return hv_error_set(err, -ENOENT, "port_id", "port %.64s is not plugged", port_id);
	old = *o;
	for (size_t i = 0; i < nf->cur->n_fips; i++)
		if (!strcmp(nf->cur->fips[i]->port_id, port_id))
			return hv_error_set(err, -EBUSY, "port_id",
					    "port %s still has floating IP %s", port_id,
					    nf->cur->fips[i]->id);
	if ((r = del_one(nf, OBJ_PORT, port_id, err)) < 0)
		return r;
	unplumb(nf, &old, NULL);
	return 0;
}

int
nf_port_set_groups(struct nf_ctx *nf, const char *port_id, const json_t *groups,
		   struct hv_error *err)
{
	const struct nf_port *old = nf_model_port(nf->cur, port_id);
	struct nf_port *p;
	int r;

	if (!old)
		return hv_error_set(err, -ENOENT, "port_id", "port %.64s is not plugged", port_id);
	/* A copy of the port with the new list, checked by the parser a plug uses. No list
	 * keeps the port's groups (a NULL is no value to set). */
	if ((r = nf_port_with_groups(old, groups, "port", &p, err)) < 0)
		return r;
	return put_one(nf, OBJ_PORT, p, err);
}

int
nf_group_put(struct nf_ctx *nf, const json_t *group, struct hv_error *err)
{
	struct nf_group *g;
	int r = nf_group_from_json(group, "group", &g, err);

	return r < 0 ? r : put_one(nf, OBJ_GROUP, g, err);
}

int
nf_group_delete(struct nf_ctx *nf, const char *group_id, struct hv_error *err)
{
	if (!nf_model_group(nf->cur, group_id))
		return hv_error_set(err, -ENOENT, "group_id", "group %.64s does not exist",
				    group_id);
	for (size_t i = 0; i < nf->cur->n_ports; i++)
		for (size_t j = 0; j < nf->cur->ports[i]->n_groups; j++)
			if (!strcmp(nf->cur->ports[i]->groups[j], group_id))
				return hv_error_set(err, -EBUSY, "group_id",
						    "group %s still has port %s as member",
						    group_id, nf->cur->ports[i]->id);
	for (size_t i = 0; i < nf->cur->n_groups; i++)
		for (size_t j = 0; j < nf->cur->groups[i]->n_rules; j++)
			if (!strcmp(nf->cur->groups[i]->rules[j].remote_group, group_id) &&
			    strcmp(nf->cur->groups[i]->id, group_id))
				return hv_error_set(
					err, -EBUSY, "group_id",
					"group %s is the remote group of group %s rule %s",
					group_id, nf->cur->groups[i]->id,
					nf->cur->groups[i]->rules[j].id);
	return del_one(nf, OBJ_GROUP, group_id, err);
}

int
nf_fip_associate(struct nf_ctx *nf, const json_t *fip, struct hv_error *err)
{
	struct nf_fip *f;
	int r = nf_fip_from_json(fip, "floating_ip", &f, err);

	return r < 0 ? r : put_one(nf, OBJ_FIP, f, err);
}

int
nf_fip_disassociate(struct nf_ctx *nf, const char *fip_id, struct hv_error *err)
{
	if (!nf_model_fip(nf->cur, fip_id))
		return hv_error_set(err, -ENOENT, "floating_ip_id",
				    "floating IP %.64s is not associated", fip_id);
	return del_one(nf, OBJ_FIP, fip_id, err);
}

int
nf_tap_claim(struct nf_ctx *nf, const char *ifname, struct hv_error *err)
{
	struct nf_model *to;
	int r;

	if ((r = nf_valid_ifname(ifname, "ifname", err)) < 0)
		return r;
	if (!(to = clone_cur(nf)))
		return nf_oom(err, "ifname");
	if ((r = nf_model_claim_tap(to, ifname)) < 0) {
		nf_model_free(to);
		return nf_oom(err, "ifname");
	}
	return check_and_commit(nf, to, err);
}

int
nf_tap_release(struct nf_ctx *nf, const char *ifname, struct hv_error *err)
{
	struct nf_model *to;

	if (!(to = clone_cur(nf)))
		return nf_oom(err, "ifname");
	if (!nf_model_release_tap(to, ifname)) {
		nf_model_free(to);
		return hv_error_set(err, -ENOENT, "ifname", "tap %.16s is not claimed", ifname);
	}
	return check_and_commit(nf, to, err);
}

json_t *
nf_state_json(const struct nf_ctx *nf)
{
	return nf_model_to_json(nf->cur);
}

int
nf_state_text(const struct nf_ctx *nf, char **ret)
{
	struct hv_text t = {0};
	int r = nf_full(nf->cur, false, nf_render_op, &t);

	if (r < 0 || t.oom) {
		hv_text_release(&t);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = t.buf ? t.buf : strdup("");
	return *ret ? 0 : -ENOMEM;
}

void
nf_get_stats(const struct nf_ctx *nf, struct nf_stats *ret)
{
	*ret = nf->stats;
}
