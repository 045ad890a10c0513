/* net.c - command bodies -> netfilter calls. Must never pass an unchecked string to the
 * netfilter module as an id (they name chains), and never call it from two threads. */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "proto.h"

#ifndef AGENT_WITH_NETFILTER
#define AGENT_WITH_NETFILTER 0 /* built outside meson (the fuzzer): names only, no kernel */
#endif
#if AGENT_WITH_NETFILTER
#include "netfilter.h"
#endif

/* What a command does, named: net_run switches on this, never on a row's position, so
 * reordering the table cannot swap two commands. */
enum net_op {
	NET_PORT_PLUG,
	NET_PORT_UNPLUG,
	NET_PORT_SET_GROUPS,
	NET_SG_UPDATE,
	NET_SG_DELETE,
	NET_FIP_ASSOCIATE,
	NET_FIP_DISASSOCIATE,
	NET_FIREWALL_RESYNC,
};

/* The firewall command names of the protocol (6.6): the one list in the tree. */
static const struct {
	const char *command;
	enum net_op op;
	const char *object; /* the object field, or NULL */
	const char *id;     /* the id field, or NULL */
} net_cmds[] = {
	{"port_plug", NET_PORT_PLUG, "port", NULL},
	{"port_unplug", NET_PORT_UNPLUG, NULL, "port_id"},
	{"port_set_groups", NET_PORT_SET_GROUPS, NULL, "port_id"},
	{"sg_update", NET_SG_UPDATE, "group", NULL},
	{"sg_delete", NET_SG_DELETE, NULL, "group_id"},
	{"fip_associate", NET_FIP_ASSOCIATE, "fip", NULL},
	{"fip_disassociate", NET_FIP_DISASSOCIATE, NULL, "fip_id"},
	{"firewall_resync", NET_FIREWALL_RESYNC, NULL, NULL},
};

#define N_NET_CMDS (sizeof net_cmds / sizeof net_cmds[0])

struct net {
#if AGENT_WITH_NETFILTER
	struct nf_ctx *nf;
#else
	int unused;
#endif
};

bool
net_supported(void)
{
	return AGENT_WITH_NETFILTER;
}

static int
find(const char *command)
{
	for (size_t i = 0; command && i < N_NET_CMDS; i++)
		if (strcmp(command, net_cmds[i].command) == 0)
			return (int)i;
	return -1;
}

bool
net_is_command(const char *command)
{
	return find(command) >= 0;
}

const char *
net_command_name(size_t i)
{
	return i < N_NET_CMDS ? net_cmds[i].command : NULL;
}

int
net_check(const json_t *body, struct hv_error *err)
{
	const char *command = NULL, *id = NULL;
	json_t *obj = NULL, *groups = NULL;
	int i, r;

	if ((r = hj_str(body, "body", "command", 0, 32, &command, err)) < 0)
		return r;
	if ((i = find(command)) < 0)
		return hv_error_set(err, -EPROTONOSUPPORT, "body.command",
				    "body.command: \"%s\" is not a firewall command", command);
	if (net_cmds[i].object && (r = hj_obj(body, "body", net_cmds[i].object, 0, &obj, err)) < 0)
		return r;
	if (net_cmds[i].id) {
		char path[64];

		if ((r = hj_str(body, "body", net_cmds[i].id, 0, PROTO_MAX_ID, &id, err)) < 0)
			return r;
		if (!proto_id_valid(id))
			return hv_error_set(
				err, -EINVAL, hj_path(path, sizeof path, "body", net_cmds[i].id, 0),
				"body.%s: expected 1-64 of [A-Za-z0-9._:-]", net_cmds[i].id);
	}
	if (net_cmds[i].op == NET_PORT_SET_GROUPS &&
	    (r = hj_arr(body, "body", "security_groups", 0, 64, &groups, err)) < 0)
		return r;
	return 0;
}

#if AGENT_WITH_NETFILTER
/* A host-side failure after a success becomes the message of a still successful call. */
static int
host_warning(struct net *n, int r, struct hv_error *err)
{
	struct hv_error e;

	if (!nf_host_error(n->nf, &e) || r < 0)
		return r;
	if (err) {
		memset(err, 0, sizeof *err);
		snprintf(err->field, sizeof err->field, "%s", e.field);
		snprintf(err->message, sizeof err->message, "%s", e.message);
	}
	return r;
}

#define TCP_LOOSE_SYSCTL "/proc/sys/net/netfilter/nf_conntrack_tcp_loose"

/* Revoking a rule deletes every conntrack entry of the group (docs/protocol-netfilter.md
 * section 4): the sessions still allowed are re-admitted on their next packet only when
 * conntrack may pick up established TCP connections. Read in the agent's own network
 * namespace; absent (nf_conntrack not loaded yet) means the default, 1. */
static int
check_tcp_loose(struct hv_error *err)
{
	FILE *f = fopen(TCP_LOOSE_SYSCTL, "re");
	int v = 1;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &v) != 1)
		v = 1;
	fclose(f);
	if (v != 0)
		return 0;
	return hv_error_set(
		err, -EINVAL, "net.netfilter.nf_conntrack_tcp_loose",
		"net.netfilter.nf_conntrack_tcp_loose is 0 in this network namespace: "
		"revoking a security-group rule would cut the sessions it still allows; "
		"set it to 1 (sysctl -w net.netfilter.nf_conntrack_tcp_loose=1, and a "
		"file in /etc/sysctl.d to keep it) or set [netfilter] enabled = false");
}

int
net_open(const char *external_ifname, const json_t *saved, struct net **ret, struct hv_error *err)
{
	struct net *n;
	int r;

	*ret = NULL;
	if ((r = check_tcp_loose(err)) < 0)
		return r;
	n = calloc(1, sizeof *n);
	if (!n)
		return hv_error_set(err, -ENOMEM, NULL, "out of memory");
	r = nf_open(&n->nf, external_ifname && *external_ifname ? external_ifname : NULL, err);
	if (r >= 0 && saved)
		r = nf_adopt(n->nf, saved, err);
	if (r >= 0)
		r = host_warning(n, nf_resync(n->nf, err), err);
	if (r < 0) {
		net_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

void
net_free(struct net *n)
{
	if (!n)
		return;
	nf_close(&n->nf); /* rules stay in place: a restart must not open a gap */
	free(n);
}

int
net_run(struct net *n, const json_t *body, struct hv_error *err)
{
	const char *command = json_string_value(json_object_get(body, "command"));
	int i = find(command), r;

	if ((r = net_check(body, err)) < 0)
		return r;
#define OBJ(k) json_object_get(body, k)
#define ID(k) json_string_value(json_object_get(body, k))
	switch (net_cmds[i].op) {
	case NET_PORT_PLUG: return host_warning(n, nf_port_plug(n->nf, OBJ("port"), err), err);
	case NET_PORT_UNPLUG:
		return host_warning(n, nf_port_unplug(n->nf, ID("port_id"), err), err);
	case NET_PORT_SET_GROUPS:
		return nf_port_set_groups(n->nf, ID("port_id"), OBJ("security_groups"), err);
	case NET_SG_UPDATE: return nf_group_put(n->nf, OBJ("group"), err);
	case NET_SG_DELETE: return nf_group_delete(n->nf, ID("group_id"), err);
	case NET_FIP_ASSOCIATE: return nf_fip_associate(n->nf, OBJ("fip"), err);
	case NET_FIP_DISASSOCIATE: return nf_fip_disassociate(n->nf, ID("fip_id"), err);
	case NET_FIREWALL_RESYNC: return host_warning(n, nf_resync(n->nf, err), err);
	}
#undef OBJ
#undef ID
	return hv_error_set(err, -EPROTONOSUPPORT, "body.command", "unknown firewall command");
}

int
net_resync(struct net *n, struct hv_error *err)
{
	return host_warning(n, nf_resync(n->nf, err), err);
}

int
net_watch_fd(const struct net *n)
{
	return nf_watch_fd(n->nf);
}

int
net_taps(struct net *n, struct hv_error *err)
{
	return host_warning(n, nf_watch_dispatch(n->nf), err);
}

json_t *
net_state(const struct net *n)
{
	return nf_state_json(n->nf);
}
#else
int
net_open(const char *external_ifname, const json_t *saved, struct net **ret, struct hv_error *err)
{
	*ret = NULL;
	return hv_error_set(err, -EOPNOTSUPP, "netfilter", "built without the netfilter module");
}

void
net_free(struct net *n)
{
	free(n);
}

int
net_run(struct net *n, const json_t *body, struct hv_error *err)
{
	return hv_error_set(err, -EOPNOTSUPP, "body.command", "built without the netfilter module");
}

int
net_resync(struct net *n, struct hv_error *err)
{
	return hv_error_set(err, -EOPNOTSUPP, NULL, "built without the netfilter module");
}

int
net_watch_fd(const struct net *n)
{
	return -1;
}

int
net_taps(struct net *n, struct hv_error *err)
{
	return 0;
}

json_t *
net_state(const struct net *n)
{
	return json_object();
}
#endif
