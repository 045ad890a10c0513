/* floatip.c - the rules of floating IPs: allocated to a project from an external network
 * (the floating_ips quota), associated 1:1 with a fixed IPv4 address of a server's port
 * whatever the server's state (an instance has at most one, as the guide says), the host
 * told through the journal (fip_associate / fip_disassociate). Must never encode a reply or
 * touch a socket, never logs. */
#include "service-priv.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

static int
txn_end(struct svc *sv, int r, struct hv_error *err)
{
	if (r < 0) {
		store_rollback(sv->store);
		return r;
	}
	return store_commit(sv->store, err);
}

/* args.network, else the first external network. */
static int
pool_network(struct svc *sv, json_t *args, const char *project, json_t **ret, struct hv_error *err)
{
	const char *ref = NULL;
	json_t *all = NULL;
	int r = hj_str(args, "args", "network", HJ_OPTIONAL, 255, &ref, err);
	if (r < 0)
		return r;
	if (ref) {
		if ((r = svc_net_find(sv, "network", project, ref, "args.network", ret, err)) < 0)
			return r;
		if (!json_is_true(json_object_get(*ret, "router:external"))) {
			json_decref(*ret);
			return hv_error_set(err, -EINVAL, "args.network",
					    "args.network: %s is not an external network", ref);
		}
		return 0;
	}
	if ((r = store_net_list(sv->store, "network", NULL, NULL, &all, err)) < 0)
		return r;
	r = hv_error_set(err, -ENOENT, "args.network",
			 "args.network: no external network (hvcentral's [network] "
			 "external_cidr, or hv network create --external)");
	size_t i;
	json_t *n;
	json_array_foreach (all, i, n)
		if (json_is_true(json_object_get(n, "router:external"))) {
			*ret = json_incref(n);
			r = 0;
			break;
		}
	json_decref(all);
	return r;
}

static const char *const create_args[] = {"network", "project", "description", NULL};

int
svc_fip_create(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33], id[37];
	json_t *net = NULL, *fixed = NULL, *fip = NULL;
	const char *desc = "";
	int r;
	if ((r = hj_known_keys(args, "args", create_args, err)) < 0 ||
	    (r = hj_str(args, "args", "description", HJ_OPTIONAL, 255, &desc, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0 ||
	    (r = pool_network(sv, args, project, &net, err)) < 0 ||
	    (r = store_begin(sv->store, err)) < 0)
		goto out;
	svc_new_id(id);
	r = svc_quota_check(sv, project, &(struct svc_quota_ask){.floating_ips = 1}, err);
	if (r == 0)
		r = svc_net_claim_ip(sv, net, id, "args.network", &fixed, err);
	if (r == 0) {
		fip = json_pack("{s:s, s:O, s:O, s:n, s:n, s:s, s:s, s:s, s:n}", "id", id,
				"floating_ip_address", json_object_get(fixed, "ip_address"),
				"floating_network_id", json_object_get(net, "id"), "port_id",
				"fixed_ip_address", "status", "DOWN", "project_id", project,
				"description", desc, "router_id");
		r = store_net_insert(sv->store, "floatingip", fip, now, err);
	}
	if ((r = txn_end(sv, r, err)) == 0) {
		*ret = fip;
		fip = NULL;
	}
out:
	json_decref(fip);
	json_decref(fixed);
	json_decref(net);
	return r;
}

int
svc_fip_list(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	char project[33];
	(void)now;
	int r = svc_net_project(sv, args, project, err);
	return r < 0 ? r : store_net_list(sv->store, "floatingip", "project_id", project, ret, err);
}

/* args.floating_ip: an id or an address of the project's. */
static int
fip_arg(struct svc *sv, json_t *args, json_t **ret, struct hv_error *err)
{
	const char *ref;
	char project[33];
	json_t *all = NULL;
	int r;
	if ((r = hj_str(args, "args", "floating_ip", HJ_REQUIRED, 64, &ref, err)) < 0 ||
	    (r = svc_net_project(sv, args, project, err)) < 0 ||
	    (r = store_net_list(sv->store, "floatingip", "project_id", project, &all, err)) < 0)
		return r;
	r = hv_error_set(err, -ENOENT, "args.floating_ip",
			 "args.floating_ip: the project has no floating IP '%s'", ref);
	size_t i;
	json_t *f;
	json_array_foreach (all, i, f)
		if (strcmp(field_or(f, "id", ""), ref) == 0 ||
		    strcmp(field_or(f, "floating_ip_address", ""), ref) == 0) {
			*ret = json_incref(f);
			r = 0;
			break;
		}
	json_decref(all);
	return r;
}

int
svc_fip_show(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	(void)now;
	return fip_arg(sv, args, ret, err);
}

/* Clears fip's association and tells the port's host (fip stays the caller's). */
static int
fip_unbind(struct svc *sv, json_t *fip, int64_t now, struct hv_error *err)
{
	json_t *port = NULL;
	const char *pid = field_or(fip, "port_id", NULL);
	if (!pid)
		return 0;
	int r = store_net_get(sv->store, "port", pid, &port, err);
	const char *host = r == 0 ? field_or(port, "binding:host_id", "") : "";
	json_object_set_new(fip, "port_id", json_null());
	json_object_set_new(fip, "fixed_ip_address", json_null());
	json_object_set_new(fip, "status", json_string("DOWN"));
	r = store_net_update(sv->store, "floatingip", fip, err);
	if (r == 0 && *host) {
		json_t *body = json_pack("{s:O}", "fip_id", json_object_get(fip, "id"));
		r = svc_net_journal(sv, host, "fip_disassociate", body, now, err);
		json_decref(body);
	}
	json_decref(port);
	return r;
}

/* The server's first port with an IPv4 address, checked to hold no floating IP yet. */
static int
server_port(struct svc *sv, const char *server, json_t **ret, struct hv_error *err)
{
	json_t *inst = NULL, *ports = NULL;
	int r = store_instance_get(sv->store, server, &inst, err);
	if (r == -ENOENT || (r == 0 && strcmp(field_or(inst, "vm_state", ""), "deleted") == 0))
		r = hv_error_set(err, -ENOENT, "args.server", "args.server: no server named '%s'",
				 server);
	if (r == 0)
		r = store_net_list(sv->store, "port", "device_id", field_or(inst, "uuid", ""),
				   &ports, err);
	if (r == 0 && !json_array_size(ports))
		r = hv_error_set(err, -EINVAL, "args.server",
				 "args.server: server %s has no port (create it with --network)",
				 server);
	size_t i;
	json_t *p;
	json_array_foreach (ports, i, p) {
		json_t *f = NULL;
		if (r == 0 &&
		    store_net_list(sv->store, "floatingip", "port_id", field_or(p, "id", ""), &f,
				   err) == 0 &&
		    json_array_size(f))
			r = hv_error_set(err, -EEXIST, "args.server",
					 "args.server: server %s already has floating IP %s (an "
					 "instance can have only one)",
					 server,
					 field_or(json_array_get(f, 0), "floating_ip_address", ""));
		json_decref(f);
	}
	if (r == 0)
		*ret = json_incref(json_array_get(ports, 0));
	json_decref(inst);
	json_decref(ports);
	return r;
}

int
svc_fip_associate(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"floating_ip", "server", "project", NULL};
	const char *server;
	json_t *fip = NULL, *port = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "server", HJ_REQUIRED, 255, &server, err)) < 0 ||
	    (r = fip_arg(sv, args, &fip, err)) < 0)
		return r;
	if (field_or(fip, "port_id", NULL))
		r = hv_error_set(err, -EBUSY, "args.floating_ip",
				 "args.floating_ip: %s is associated with port %s; remove it "
				 "from its server first",
				 field_or(fip, "floating_ip_address", ""),
				 field_or(fip, "port_id", ""));
	if (r == 0)
		r = server_port(sv, server, &port, err);
	if (r < 0)
		goto out;
	json_t *fixed = json_object_get(json_array_get(json_object_get(port, "fixed_ips"), 0),
					"ip_address");
	json_object_set(fip, "port_id", json_object_get(port, "id"));
	json_object_set(fip, "fixed_ip_address", fixed);
	json_object_set_new(fip, "status", json_string("ACTIVE"));
	if ((r = store_begin(sv->store, err)) < 0)
		goto out;
	r = store_net_update(sv->store, "floatingip", fip, err);
	if (r == 0) {
		json_t *body = json_pack(
			"{s:{s:O, s:O, s:O, s:O}}", "fip", "id", json_object_get(fip, "id"),
			"port_id", json_object_get(port, "id"), "floating_ip_address",
			json_object_get(fip, "floating_ip_address"), "fixed_ip_address", fixed);
		r = svc_net_journal(sv, field_or(port, "binding:host_id", ""), "fip_associate",
				    body, now, err);
		json_decref(body);
	}
	if ((r = txn_end(sv, r, err)) == 0) {
		*ret = fip;
		fip = NULL;
	}
out:
	json_decref(fip);
	json_decref(port);
	return r;
}

int
svc_fip_disassociate(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	static const char *const known[] = {"floating_ip", "server", "project", NULL};
	const char *server = NULL;
	json_t *fip = NULL, *port = NULL;
	int r;
	if ((r = hj_known_keys(args, "args", known, err)) < 0 ||
	    (r = hj_str(args, "args", "server", HJ_OPTIONAL, 255, &server, err)) < 0 ||
	    (r = fip_arg(sv, args, &fip, err)) < 0)
		return r;
	const char *pid = field_or(fip, "port_id", NULL);
	if (!pid)
		r = hv_error_set(err, -EINVAL, "args.floating_ip",
				 "args.floating_ip: %s is not associated",
				 field_or(fip, "floating_ip_address", ""));
	if (r == 0 && server && store_net_get(sv->store, "port", pid, &port, err) == 0) {
		json_t *inst = NULL;
		if (store_instance_get(sv->store, server, &inst, err) < 0 ||
		    strcmp(field_or(inst, "uuid", ""), field_or(port, "device_id", "")) != 0)
			r = hv_error_set(err, -EINVAL, "args.server",
					 "args.server: %s is not associated with server %s",
					 field_or(fip, "floating_ip_address", ""), server);
		json_decref(inst);
	}
	if (r == 0 && (r = store_begin(sv->store, err)) == 0)
		r = txn_end(sv, fip_unbind(sv, fip, now, err), err);
	if (r == 0) {
		*ret = fip;
		fip = NULL;
	}
	json_decref(fip);
	json_decref(port);
	return r;
}

int
svc_fip_delete(struct svc *sv, json_t *args, int64_t now, json_t **ret, struct hv_error *err)
{
	json_t *fip = NULL;
	int r = fip_arg(sv, args, &fip, err);
	if (r < 0 || (r = store_begin(sv->store, err)) < 0)
		goto out;
	const char *id = field_or(fip, "id", "");
	r = fip_unbind(sv, fip, now, err);
	if (r == 0)
		r = store_net_ip_release(sv->store, id, err);
	if (r == 0)
		r = store_net_delete(sv->store, "floatingip", id, err);
	if ((r = txn_end(sv, r, err)) == 0)
		*ret = json_object();
out:
	json_decref(fip);
	return r;
}

int
svc_fip_release_port(struct svc *sv, const char *port_id, int64_t now, struct hv_error *err)
{
	json_t *fips = NULL;
	int r = store_net_list(sv->store, "floatingip", "port_id", port_id, &fips, err);
	size_t i;
	json_t *f;
	json_array_foreach (fips, i, f)
		if (r == 0)
			r = fip_unbind(sv, f, now, err);
	json_decref(fips);
	return r;
}
