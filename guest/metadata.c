/* metadata.c - config drive documents (see metadata.h).
 * Validation first, then encoding: a request that fails validation produces nothing. */
#include "metadata.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ids.h"

#include "base64.h"
#include "sshkey.h"

/* ------------------------------------------------------------------ validation */

static bool
printable_ascii(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return true;
}

/* UTF-8 text without control characters; jansson refuses invalid UTF-8 on encoding. */
static bool
no_controls(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

static bool
is_hostname(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return false;
		if (label == 0 && c == '-')
			return false;
		label++;
	}
	return true;
}

/* AF_INET or AF_INET6 for a literal address, 0 when it is neither. */
static int
addr_family(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, s, buf) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, buf) == 1)
		return AF_INET6;
	return 0;
}

static int
validate_nic(const struct guest_nic *nic, size_t i, struct hv_error *err)
{
	char f[48];
	int fam;

	if (!nic->mac || !hv_mac_valid(nic->mac)) {
		snprintf(f, sizeof f, "nics[%zu].mac", i);
		return hv_error_set(err, -EINVAL, f,
				    "%s: expected a lower-case MAC address like 52:54:00:12:34:56",
				    f);
	}
	if (nic->port_id && !printable_ascii(nic->port_id, 64)) {
		snprintf(f, sizeof f, "nics[%zu].port_id", i);
		return hv_error_set(err, -EINVAL, f, "%s: 1-64 printable characters", f);
	}
	if (nic->network_id && !printable_ascii(nic->network_id, 64)) {
		snprintf(f, sizeof f, "nics[%zu].network_id", i);
		return hv_error_set(err, -EINVAL, f, "%s: 1-64 printable characters", f);
	}
	fam = nic->address ? addr_family(nic->address) : 0;
	if (!fam) {
		snprintf(f, sizeof f, "nics[%zu].address", i);
		return hv_error_set(err, -EINVAL, f, "%s: expected an IPv4 or IPv6 address", f);
	}
	if (nic->prefix > (fam == AF_INET ? 32u : 128u)) {
		snprintf(f, sizeof f, "nics[%zu].prefix", i);
		return hv_error_set(err, -EINVAL, f, "%s: must be 0-%u", f,
				    fam == AF_INET ? 32u : 128u);
	}
	if (nic->gateway && addr_family(nic->gateway) != fam) {
		snprintf(f, sizeof f, "nics[%zu].gateway", i);
		return hv_error_set(err, -EINVAL, f, "%s: expected an %s address", f,
				    fam == AF_INET ? "IPv4" : "IPv6");
	}
	if (nic->mtu && (nic->mtu < 68 || nic->mtu > 65535)) {
		snprintf(f, sizeof f, "nics[%zu].mtu", i);
		return hv_error_set(err, -EINVAL, f, "%s: must be 68-65535", f);
	}
	return 0;
}

static int
validate(const struct guest_config *c, struct hv_error *err)
{
	char f[48];
	int r;

	if (!c->uuid || !hv_uuid_valid(c->uuid))
		return hv_error_set(err, -EINVAL, "uuid",
				    "uuid: required, 8-4-4-4-12 lower-case hex digits");
	if (c->name && !no_controls(c->name, 255))
		return hv_error_set(err, -EINVAL, "name",
				    "name: at most 255 bytes, no control characters");
	if (c->hostname && !is_hostname(c->hostname))
		return hv_error_set(
			err, -EINVAL, "hostname",
			"hostname: letters, digits, '-' and '.' (labels of 1-63, at most 253)");
	if (c->availability_zone &&
	    (!*c->availability_zone || !no_controls(c->availability_zone, 255)))
		return hv_error_set(err, -EINVAL, "availability_zone",
				    "availability_zone: 1-255 bytes, no control characters");
	if (c->project_id && !printable_ascii(c->project_id, 255))
		return hv_error_set(err, -EINVAL, "project_id",
				    "project_id: 1-255 printable characters");

	if (c->n_keys > GUEST_KEYS_MAX)
		return hv_error_set(err, -EINVAL, "keys", "keys: at most %d", GUEST_KEYS_MAX);
	for (size_t i = 0; i < c->n_keys; i++) {
		if (!c->keys[i].name || !printable_ascii(c->keys[i].name, 255)) {
			snprintf(f, sizeof f, "keys[%zu].name", i);
			return hv_error_set(err, -EINVAL, f, "%s: 1-255 printable characters", f);
		}
		snprintf(f, sizeof f, "keys[%zu].key", i);
		r = hv_sshkey_validate(c->keys[i].key, f, err);
		if (r < 0)
			return r;
	}

	if (c->n_meta > GUEST_META_MAX)
		return hv_error_set(err, -EINVAL, "meta", "meta: at most %d items", GUEST_META_MAX);
	for (size_t i = 0; i < c->n_meta; i++) {
		if (!c->meta[i].key || !*c->meta[i].key || !no_controls(c->meta[i].key, 255)) {
			snprintf(f, sizeof f, "meta[%zu].key", i);
			return hv_error_set(err, -EINVAL, f,
					    "%s: 1-255 bytes, no control characters", f);
		}
		if (!c->meta[i].value || !no_controls(c->meta[i].value, 255)) {
			snprintf(f, sizeof f, "meta[%zu].value", i);
			return hv_error_set(err, -EINVAL, f,
					    "%s: at most 255 bytes, no control characters", f);
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->meta[i].key, c->meta[j].key) == 0) {
				snprintf(f, sizeof f, "meta[%zu].key", i);
				return hv_error_set(err, -EINVAL, f, "%s: duplicate key", f);
			}
		}
	}

	if (c->user_data_len > GUEST_USER_DATA_MAX)
		return hv_error_set(err, -EINVAL, "user_data",
				    "user_data: %zu bytes, the limit is %d", c->user_data_len,
				    GUEST_USER_DATA_MAX);
	if (c->user_data_len && !c->user_data)
		return hv_error_set(err, -EINVAL, "user_data", "user_data: length without data");

	/* Any UTF-8 text: the JSON encoder refuses the rest (named admin_pass there). */
	if (c->admin_pass && (!*c->admin_pass || strlen(c->admin_pass) > GUEST_ADMIN_PASS_MAX))
		return hv_error_set(err, -EINVAL, "admin_pass", "admin_pass: 1-%d bytes",
				    GUEST_ADMIN_PASS_MAX);

	if (c->n_nics > GUEST_NICS_MAX)
		return hv_error_set(err, -EINVAL, "nics", "nics: at most %d", GUEST_NICS_MAX);
	for (size_t i = 0; i < c->n_nics; i++) {
		r = validate_nic(&c->nics[i], i, err);
		if (r < 0)
			return r;
	}
	if (c->n_dns > GUEST_DNS_MAX)
		return hv_error_set(err, -EINVAL, "dns", "dns: at most %d", GUEST_DNS_MAX);
	for (size_t i = 0; i < c->n_dns; i++) {
		if (!c->dns[i] || !addr_family(c->dns[i])) {
			snprintf(f, sizeof f, "dns[%zu]", i);
			return hv_error_set(err, -EINVAL, f, "%s: expected an IPv4 or IPv6 address",
					    f);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ encoding */

/* jansson returns NULL for invalid UTF-8; the caller turns that into a field error. */
static int
set_str(json_t *obj, const char *key, const char *val)
{
	return json_object_set_new(obj, key, json_string(val));
}

static char *
netmask_text(int fam, unsigned prefix, char *buf, size_t size)
{
	unsigned char m[16] = {0};
	unsigned bits = prefix ? prefix : (fam == AF_INET ? 32u : 128u);
	for (unsigned i = 0; i < bits; i++)
		m[i / 8] |= (unsigned char)(0x80 >> (i % 8));
	return inet_ntop(fam, m, buf, (socklen_t)size) ? buf : NULL;
}

static json_t *
build_meta_data(const struct guest_config *c, const unsigned char *seed, struct hv_error *err)
{
	json_t *md = json_object(), *pk = json_object(), *keys = json_array(),
	       *meta = json_object();
	char *seed64 = hv_base64_encode(seed, GUEST_RANDOM_SEED_LEN);
	const char *bad = NULL;

	if (!md || !pk || !keys || !meta || !seed64) {
		bad = "";
		goto out;
	}
	if (set_str(md, "uuid", c->uuid) < 0)
		bad = "uuid";
	if (!bad && c->name && set_str(md, "name", c->name) < 0)
		bad = "name";
	if (!bad && c->hostname && set_str(md, "hostname", c->hostname) < 0)
		bad = "hostname";
	if (!bad && json_object_set_new(md, "launch_index", json_integer(c->launch_index)) < 0)
		bad = "launch_index";
	if (!bad && c->availability_zone &&
	    set_str(md, "availability_zone", c->availability_zone) < 0)
		bad = "availability_zone";
	if (!bad && c->project_id && set_str(md, "project_id", c->project_id) < 0)
		bad = "project_id";
	for (size_t i = 0; !bad && i < c->n_keys; i++) {
		json_t *k = json_object();
		if (set_str(pk, c->keys[i].name, c->keys[i].key) < 0 || !k ||
		    set_str(k, "name", c->keys[i].name) < 0 || set_str(k, "type", "ssh") < 0 ||
		    set_str(k, "data", c->keys[i].key) < 0 || json_array_append_new(keys, k) < 0)
			bad = "keys";
	}
	for (size_t i = 0; !bad && i < c->n_meta; i++) {
		/* Both refuse invalid UTF-8 (the key inside json_object_set_new). */
		if (json_object_set_new(meta, c->meta[i].key, json_string(c->meta[i].value)) < 0)
			bad = "meta";
	}
	if (!bad && c->n_keys) {
		json_object_set(md, "public_keys", pk);
		json_object_set(md, "keys", keys);
	}
	if (!bad && c->n_meta)
		json_object_set(md, "meta", meta);
	if (!bad && set_str(md, "random_seed", seed64) < 0)
		bad = "random_seed";
	if (!bad && c->admin_pass && set_str(md, "admin_pass", c->admin_pass) < 0)
		bad = "admin_pass";
out:
	json_decref(pk);
	json_decref(keys);
	json_decref(meta);
	free(seed64);
	if (bad) {
		json_decref(md);
		if (*bad)
			hv_error_set(err, -EINVAL, bad, "%s: not valid UTF-8", bad);
		else
			hv_error_set(err, -ENOMEM, "", "out of memory building meta_data.json");
		return NULL;
	}
	return md;
}

static json_t *
build_network_data(const struct guest_config *c)
{
	json_t *nd = json_object(), *links = json_array(), *nets = json_array(),
	       *svcs = json_array();
	bool ok = nd && links && nets && svcs;

	for (size_t i = 0; ok && i < c->n_nics; i++) {
		const struct guest_nic *n = &c->nics[i];
		int fam = addr_family(n->address);
		char id[32], net_id[32], mask[INET6_ADDRSTRLEN];
		json_t *link = json_object(), *net = json_object(), *routes = json_array();

		if (n->port_id)
			snprintf(id, sizeof id, "tap%.11s", n->port_id); /* nova's link naming */
		else
			snprintf(id, sizeof id, "interface%zu", i);
		snprintf(net_id, sizeof net_id, "network%zu", i);
		ok = link && net && routes && set_str(link, "id", id) == 0 &&
		     set_str(link, "type", "phy") == 0 &&
		     set_str(link, "ethernet_mac_address", n->mac) == 0 &&
		     (!n->port_id || set_str(link, "vif_id", n->port_id) == 0) &&
		     (!n->mtu || json_object_set_new(link, "mtu", json_integer(n->mtu)) == 0) &&
		     set_str(net, "id", net_id) == 0 &&
		     set_str(net, "type", fam == AF_INET ? "ipv4" : "ipv6") == 0 &&
		     set_str(net, "link", id) == 0 && set_str(net, "ip_address", n->address) == 0 &&
		     netmask_text(fam, n->prefix, mask, sizeof mask) &&
		     set_str(net, "netmask", mask) == 0 &&
		     (!n->network_id || set_str(net, "network_id", n->network_id) == 0);
		if (ok && n->gateway) {
			json_t *rt = json_object();
			ok = rt && set_str(rt, "network", fam == AF_INET ? "0.0.0.0" : "::") == 0 &&
			     set_str(rt, "netmask", fam == AF_INET ? "0.0.0.0" : "::") == 0 &&
			     set_str(rt, "gateway", n->gateway) == 0 &&
			     json_array_append_new(routes, rt) == 0;
		}
		ok = ok && json_object_set(net, "routes", routes) == 0 &&
		     json_object_set_new(net, "services", json_array()) == 0 &&
		     json_array_append(links, link) == 0 && json_array_append(nets, net) == 0;
		json_decref(link);
		json_decref(net);
		json_decref(routes);
	}
	for (size_t i = 0; ok && i < c->n_dns; i++) {
		json_t *s = json_object();
		ok = s && set_str(s, "type", "dns") == 0 && set_str(s, "address", c->dns[i]) == 0 &&
		     json_array_append_new(svcs, s) == 0;
	}
	ok = ok && json_object_set(nd, "links", links) == 0 &&
	     json_object_set(nd, "networks", nets) == 0 &&
	     json_object_set(nd, "services", svcs) == 0;
	json_decref(links);
	json_decref(nets);
	json_decref(svcs);
	if (!ok) {
		json_decref(nd);
		return NULL;
	}
	return nd;
}

static json_t *
build_ec2_meta_data(const struct guest_config *c)
{
	json_t *md = json_object();
	bool ok = md && set_str(md, "instance-id", c->uuid) == 0 &&
		  json_object_set_new(md, "ami-launch-index", json_integer(c->launch_index)) == 0;

	if (ok && c->hostname)
		ok = set_str(md, "hostname", c->hostname) == 0 &&
		     set_str(md, "local-hostname", c->hostname) == 0;
	if (ok && c->availability_zone) {
		json_t *pl = json_object();
		ok = pl && set_str(pl, "availability-zone", c->availability_zone) == 0 &&
		     json_object_set_new(md, "placement", pl) == 0;
	}
	if (ok && c->n_keys) {
		json_t *keys = json_object(), *k0 = json_object();
		ok = keys && k0 && set_str(k0, "openssh-key", c->keys[0].key) == 0 &&
		     json_object_set_new(keys, "0", k0) == 0 &&
		     json_object_set_new(md, "public-keys", keys) == 0;
	}
	if (!ok) {
		json_decref(md);
		return NULL;
	}
	return md;
}

/* ------------------------------------------------------------------ the tree */

static int
tree_add(struct guest_drive_tree *t, const char *path, const void *data, size_t len)
{
	if (t->n >= sizeof t->files / sizeof t->files[0])
		return -ENOSPC;
	struct guest_drive_file *f = &t->files[t->n];
	f->data = malloc(len ? len : 1);
	if (!f->data)
		return -ENOMEM;
	memcpy(f->data, data, len);
	f->len = len;
	snprintf(f->path, sizeof f->path, "%s", path);
	t->n++;
	return 0;
}

static int
tree_add_json(struct guest_drive_tree *t, const char *path, const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	int r = tree_add(t, path, s, strlen(s));
	free(s);
	return r;
}

void
guest_drive_tree_free(struct guest_drive_tree *tree)
{
	if (!tree)
		return;
	for (size_t i = 0; i < tree->n; i++) {
		explicit_bzero(tree->files[i].data, tree->files[i].len);
		free(tree->files[i].data);
	}
	free(tree);
}

const struct guest_drive_file *
guest_drive_tree_find(const struct guest_drive_tree *tree, const char *path)
{
	for (size_t i = 0; tree && i < tree->n; i++) {
		if (strcmp(tree->files[i].path, path) == 0)
			return &tree->files[i];
	}
	return NULL;
}

int
guest_drive_tree_build(const struct guest_config *c, struct guest_drive_tree **ret,
		       struct hv_error *err)
{
	static const char *const versions[] = {"latest", GUEST_OPENSTACK_VERSION};
	unsigned char seed[GUEST_RANDOM_SEED_LEN];
	struct guest_drive_tree *t = NULL;
	json_t *md = NULL, *nd = NULL, *vd = NULL, *ec2 = NULL;
	const unsigned char *ud;
	size_t ud_len;
	char path[64];
	int r;

	if (!c || !ret)
		return hv_error_set(err, -EINVAL, "", "no config");
	ud = c->user_data;
	ud_len = c->user_data_len;
	r = validate(c, err);
	if (r < 0)
		return r;

	if (c->random_seed) {
		memcpy(seed, c->random_seed, sizeof seed);
	} else if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
		return hv_error_set(err, -EIO, "random_seed", "getrandom failed");
	}

	r = -ENOMEM;
	t = calloc(1, sizeof *t);
	md = build_meta_data(c, seed, err);
	if (!md) {
		r = err ? err->code : -EINVAL;
		goto out;
	}
	/* nova writes "{}" when the instance has no port (its network metadata is None) */
	nd = c->n_nics ? build_network_data(c) : json_object();
	vd = json_object();
	ec2 = c->ec2 ? build_ec2_meta_data(c) : NULL;
	if (!t || !nd || !vd || (c->ec2 && !ec2))
		goto fail_nomem;

	for (size_t v = 0; v < 2; v++) {
		snprintf(path, sizeof path, "openstack/%s/meta_data.json", versions[v]);
		if (tree_add_json(t, path, md) < 0)
			goto fail_nomem;
		/* nova writes "{}" when it has no vendor data, and vendor_data2.json from
		 * 2016-10-06 (newton) on: only "latest" is that recent here. */
		snprintf(path, sizeof path, "openstack/%s/vendor_data.json", versions[v]);
		if (tree_add_json(t, path, vd) < 0)
			goto fail_nomem;
		if (v == 0 && tree_add_json(t, "openstack/latest/vendor_data2.json", vd) < 0)
			goto fail_nomem;
		snprintf(path, sizeof path, "openstack/%s/network_data.json", versions[v]);
		if (tree_add_json(t, path, nd) < 0)
			goto fail_nomem;
		snprintf(path, sizeof path, "openstack/%s/user_data", versions[v]);
		if (ud_len && tree_add(t, path, ud, ud_len) < 0)
			goto fail_nomem;
	}
	if (ec2) {
		if (tree_add_json(t, "ec2/latest/meta-data.json", ec2) < 0)
			goto fail_nomem;
		if (ud_len && tree_add(t, "ec2/latest/user-data", ud, ud_len) < 0)
			goto fail_nomem;
	}
	*ret = t;
	t = NULL;
	r = 0;
	goto out;

fail_nomem:
	r = hv_error_set(err, -ENOMEM, "", "out of memory building the config drive documents");
out:
	explicit_bzero(seed, sizeof seed);
	json_decref(md);
	json_decref(nd);
	json_decref(vd);
	json_decref(ec2);
	guest_drive_tree_free(t);
	return r;
}
