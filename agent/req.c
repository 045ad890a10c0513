/* req.c - COMMAND body validation. Must never accept a value it has not checked: whatever
 * leaves this file (ids used in paths, names put in XML by a driver, interface names) has
 * a closed alphabet or is marked as free text for the consumer to escape. */
#include "req.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

#include "base64.h"
#include "json.h"
#include "proto.h"

#define MAX_MAP 128
#define MAX_TEXT 255
#define MAX_PORTS 16
#define MAX_IPS 8
#define MAX_KEY_DATA 8192
#define MAX_USER_DATA 87384 /* base64 of 64 KiB */

static int
bad(struct hv_error *err, const char *path, const char *what)
{
	return hv_error_set(err, -EINVAL, path, "%s: %s", path, what);
}

static bool
charset(const char *s, const char *allowed_extra, bool digits, bool upper)
{
	for (; *s; s++) {
		char c = *s;

		if ((c >= 'a' && c <= 'z') || (digits && c >= '0' && c <= '9') ||
		    (upper && c >= 'A' && c <= 'Z') || (c && strchr(allowed_extra, c)))
			continue;
		return false;
	}
	return true;
}

static int
get_id(const json_t *o, const char *where, const char *key, int flags, const char **ret,
       struct hv_error *err)
{
	char path[128];
	int r = hj_str(o, where, key, flags, PROTO_MAX_ID, ret, err);

	if (r > 0 && !proto_id_valid(*ret))
		return bad(err, hj_path(path, sizeof path, where, key, 0),
			   "expected 1-64 of [A-Za-z0-9._:-]");
	return r;
}

/* A string map as the driver ABI's pairs (the same borrowed strings); the caller frees
 * *ret. */
static int
driver_map(const json_t *o, const char *where, const char *key, struct hvd_kv **ret, size_t *ret_n,
	   struct hv_error *err)
{
	struct hv_kv *kv = NULL;
	int r = hj_str_map(o, where, key, HJ_OPTIONAL, MAX_MAP, MAX_TEXT, MAX_TEXT, &kv, ret_n,
			   err);

	*ret = NULL;
	if (r <= 0)
		return r;
	*ret = calloc(*ret_n + 1, sizeof **ret);
	if (!*ret) {
		free(kv);
		return hv_error_set(err, -ENOMEM, key, "out of memory");
	}
	for (size_t i = 0; i < *ret_n; i++)
		(*ret)[i] = (struct hvd_kv){kv[i].key, kv[i].value};
	free(kv);
	return r;
}

static int
parse_map(const json_t *o, const char *where, const char *key, json_t **ret, struct hv_error *err)
{
	struct hv_kv *kv = NULL;
	size_t n = 0;
	int r = hj_str_map(o, where, key, HJ_OPTIONAL, MAX_MAP, MAX_TEXT, MAX_TEXT, &kv, &n, err);

	if (r < 0)
		return r;
	*ret = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(*ret, kv[i].key, json_string(kv[i].value));
	free(kv);
	return 0;
}

static int
parse_flavor(const json_t *body, const char *where, json_t **ret, struct hv_error *err)
{
	json_t *f, *extra = NULL;
	const char *name = NULL;
	int64_t vcpus = 0, ram = 0, root = 0, eph = 0, swap = 0;
	char w[64];
	int r;

	if ((r = hj_obj(body, where, "flavor", 0, &f, err)) < 0)
		return r;
	hj_path(w, sizeof w, where, "flavor", 0);
	if ((r = hj_str(f, w, "name", 0, MAX_TEXT, &name, err)) < 0 ||
	    (r = hj_int(f, w, "vcpus", 0, 1, 1024, &vcpus, err)) < 0 ||
	    (r = hj_int(f, w, "ram_mb", 0, 1, 16777216, &ram, err)) < 0 ||
	    (r = hj_int(f, w, "root_gb", 0, 0, 65536, &root, err)) < 0 ||
	    (r = hj_int(f, w, "ephemeral_gb", HJ_OPTIONAL, 0, 65536, &eph, err)) < 0 ||
	    (r = hj_int(f, w, "swap_mb", HJ_OPTIONAL, 0, 1048576, &swap, err)) < 0 ||
	    (r = parse_map(f, w, "extra_specs", &extra, err)) < 0)
		return r;
	*ret = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "name", name, "vcpus",
			 (json_int_t)vcpus, "ram_mb", (json_int_t)ram, "root_gb", (json_int_t)root,
			 "ephemeral_gb", (json_int_t)eph, "swap_mb", (json_int_t)swap,
			 "extra_specs", extra);
	return 0;
}

/* A catalog image's size and sha256 (both or neither): what a host without it fetches
 * from the controller and checks before using it. Copied into out. */
static int
parse_image_source(const json_t *im, const char *w, json_t *out, struct hv_error *err)
{
	const char *sha = NULL;
	int64_t size = 0;
	int r, has_size;
	if ((r = hj_str(im, w, "sha256", HJ_OPTIONAL, 64, &sha, err)) < 0 ||
	    (has_size = hj_int(im, w, "size", HJ_OPTIONAL, 0, INT64_MAX, &size, err)) < 0) {
		json_decref(out);
		return r < 0 ? r : has_size;
	}
	if (!sha && !has_size)
		return 1;
	if (!sha || !has_size || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
		bool size_bad = sha && !has_size;

		json_decref(out);
		return hv_error_set(err, -EINVAL,
				    size_bad ? "body.image.size" : "body.image.sha256",
				    "%s.%s: a fetched image needs size and sha256 (64 lower-case "
				    "hex digits)",
				    w, size_bad ? "size" : "sha256");
	}
	json_object_set_new(out, "sha256", json_string(sha));
	json_object_set_new(out, "size", json_integer(size));
	return 1;
}

static int
parse_image(const json_t *body, const char *where, int flags, json_t **ret, struct hv_error *err)
{
	json_t *im, *props = NULL;
	const char *id = NULL, *format = NULL;
	char w[64];
	int r;

	*ret = NULL;
	if ((r = hj_obj(body, where, "image", flags, &im, err)) <= 0)
		return r;
	hj_path(w, sizeof w, where, "image", 0);
	if ((r = get_id(im, w, "id", 0, &id, err)) < 0 ||
	    (r = hj_enum(im, w, "format", 0, "raw|qcow2", &format, err)) < 0 ||
	    (r = parse_map(im, w, "properties", &props, err)) < 0)
		return r;
	json_t *o = json_pack("{s:s, s:s, s:o}", "id", id, "format", format, "properties", props);
	r = parse_image_source(im, w, o, err);
	*ret = r < 0 ? NULL : o;
	return r;
}

static bool
ip_valid(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
parse_ports(const json_t *body, json_t **ret, struct hv_error *err)
{
	json_t *ports = NULL, *p, *out;
	size_t i;
	int r;

	*ret = json_array();
	if ((r = hj_arr(body, "body", "ports", HJ_OPTIONAL, MAX_PORTS, &ports, err)) <= 0)
		return r;
	json_array_foreach (ports, i, p) {
		char w[32], path[64], ifname[16];
		const char *id = NULL, *mac = NULL, *ifn = NULL, *gw = NULL, *net = NULL;
		int64_t mtu = 0;
		json_t *ips = NULL, *ip, *ipo = json_array();
		size_t j;

		hj_path(w, sizeof w, "body.ports", NULL, i);
		if (!json_is_object(p)) {
			json_decref(ipo);
			return bad(err, w, "expected object");
		}
		if ((r = get_id(p, w, "id", 0, &id, err)) < 0 ||
		    (r = hj_str(p, w, "mac", 0, 17, &mac, err)) < 0 ||
		    (r = hj_str(p, w, "ifname", HJ_OPTIONAL, 15, &ifn, err)) < 0 ||
		    (r = hj_arr(p, w, "fixed_ips", HJ_OPTIONAL, MAX_IPS, &ips, err)) < 0 ||
		    (r = hj_str(p, w, "gateway", HJ_OPTIONAL, 64, &gw, err)) < 0 ||
		    (r = get_id(p, w, "network_id", HJ_OPTIONAL, &net, err)) < 0 ||
		    (r = hj_int(p, w, "mtu", HJ_OPTIONAL, 68, 65535, &mtu, err)) < 0) {
			json_decref(ipo);
			return r;
		}
		if (gw && !ip_valid(gw)) {
			json_decref(ipo);
			return bad(err, hj_path(path, sizeof path, w, "gateway", 0),
				   "expected an IPv4 or IPv6 address");
		}
		if (!hv_mac_valid(mac)) {
			json_decref(ipo);
			return bad(err, hj_path(path, sizeof path, w, "mac", 0),
				   "expected lower-case xx:xx:xx:xx:xx:xx");
		}
		if (ifn && (!*ifn || !charset(ifn, "-", true, false))) {
			json_decref(ipo);
			return bad(err, hj_path(path, sizeof path, w, "ifname", 0),
				   "expected 1-15 of [a-z0-9-]");
		}
		if (!ifn) {
			/* nova's rule: "tap" + the first 11 characters of the port id */
			snprintf(ifname, sizeof ifname, "tap%.11s", id);
			for (char *c = ifname; *c; c++)
				if (!charset((char[]){*c, 0}, "-", true, false))
					*c = '-';
			ifn = ifname;
		}
		json_array_foreach (ips, j, ip) {
			char ipw[64];

			hj_path(ipw, sizeof ipw, hj_path(path, sizeof path, w, "fixed_ips", 0),
				NULL, j);
			if (!json_is_string(ip) || !ip_valid(json_string_value(ip))) {
				json_decref(ipo);
				return bad(err, ipw, "expected an IPv4 or IPv6 address");
			}
			json_array_append_new(ipo, json_string(json_string_value(ip)));
		}
		out = json_pack("{s:s, s:s, s:s, s:o}", "id", id, "mac", mac, "ifname", ifn,
				"fixed_ips", ipo);
		if (gw)
			json_object_set_new(out, "gateway", json_string(gw));
		if (net)
			json_object_set_new(out, "network_id", json_string(net));
		if (mtu)
			json_object_set_new(out, "mtu", json_integer(mtu));
		json_array_append_new(*ret, out);
	}
	return 1;
}

static int
take_secret(const json_t *body, const char *key, size_t max, char **ret, struct hv_error *err)
{
	const char *s = NULL;
	char path[64];
	json_t *v = json_object_get(body, key);
	int r;

	/* A secret's value must never appear in an error: check the type ourselves. */
	if (v && !json_is_null(v) && !json_is_string(v))
		return bad(err, hj_path(path, sizeof path, "body", key, 0), "expected string");
	if (v && json_is_string(v) && json_string_length(v) > max)
		return bad(err, hj_path(path, sizeof path, "body", key, 0), "too long");
	if ((r = hj_str(body, "body", key, HJ_OPTIONAL, max, &s, err)) <= 0)
		return r;
	*ret = strdup(s);
	return *ret ? 1 : hv_error_set(err, -ENOMEM, key, "out of memory");
}

/* The optional base64 user_data of a spawn or rebuild, decoded into r (spawn, rebuild). */
static int
take_user_data(const json_t *body, struct req *r, struct hv_error *err)
{
	json_t *v = json_object_get(body, "user_data");
	size_t len = json_string_length(v);
	int rc;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(err, "body.user_data", "expected string");
	/* the limit is on the text: MAX_USER_DATA characters encode 64 KiB */
	if (len > MAX_USER_DATA)
		return bad(err, "body.user_data", "expected base64, at most 64 KiB decoded");
	rc = hv_base64_decode(json_string_value(v), len, &r->user_data, &r->user_data_len);
	if (rc == -ENOMEM)
		return hv_error_set(err, -ENOMEM, "body.user_data", "out of memory");
	if (rc < 0 || r->user_data_len > HV_USER_DATA_MAX)
		return bad(err, "body.user_data", "expected base64, at most 64 KiB decoded");
	return 1;
}

/* The optional limits of a spawn: the host's capacity under the controller's allocation
 * ratios, as its scheduler judged it. */
static int
parse_limits(const json_t *body, struct req_limits *l, struct hv_error *err)
{
	json_t *o;
	int r;

	if ((r = hj_obj(body, "body", "limits", HJ_OPTIONAL, &o, err)) <= 0)
		return r;
	if ((r = hj_int(o, "body.limits", "memory_mb", HJ_OPTIONAL, 0, INT64_MAX / 2, &l->memory_mb,
			err)) < 0 ||
	    (r = hj_int(o, "body.limits", "vcpus", HJ_OPTIONAL, 0, INT32_MAX, &l->vcpus, err)) <
		    0 ||
	    (r = hj_int(o, "body.limits", "disk_gb", HJ_OPTIONAL, 0, INT64_MAX / 2, &l->disk_gb,
			err)) < 0)
		return r;
	return 0;
}

static int
parse_spawn(const json_t *body, struct req *r, struct hv_error *err)
{
	const char *name = NULL, *hostname = NULL, *key_data = NULL, *key_name = NULL;
	const char *project = NULL, *zone = NULL;
	json_t *flavor = NULL, *image = NULL, *ports = NULL, *meta = NULL;
	bool config_drive = false;
	char hn[64];
	int rc;

	r->power_on = true;
	if ((rc = hj_str(body, "body", "name", 0, MAX_TEXT, &name, err)) < 0)
		return rc;
	if (!*name)
		return bad(err, "body.name", "must not be empty");
	if ((rc = hj_str(body, "body", "hostname", HJ_OPTIONAL, 63, &hostname, err)) < 0)
		return rc;
	if (hostname && (!*hostname || !charset(hostname, "-", true, true)))
		return bad(err, "body.hostname", "expected 1-63 of [A-Za-z0-9-]");
	if (!hostname) {
		snprintf(hn, sizeof hn, "host-%.8s", r->uuid);
		hostname = hn;
	}
	/* the owner: offline injection batches only disks of one project */
	if ((rc = get_id(body, "body", "project_id", HJ_OPTIONAL, &project, err)) < 0)
		return rc;
	if ((rc = hj_bool(body, "body", "config_drive", HJ_OPTIONAL, &config_drive, err)) < 0 ||
	    (rc = hj_bool(body, "body", "power_on", HJ_OPTIONAL, &r->power_on, err)) < 0 ||
	    (rc = hj_bool(body, "body", "reuse_disk", HJ_OPTIONAL, &r->reuse_disk, err)) < 0 ||
	    (rc = hj_str(body, "body", "key_data", HJ_OPTIONAL, MAX_KEY_DATA, &key_data, err)) <
		    0 ||
	    (rc = hj_str(body, "body", "key_name", HJ_OPTIONAL, 255, &key_name, err)) < 0)
		return rc;
	if (key_name && (!*key_name || !charset(key_name, " @._-", true, true)))
		return bad(err, "body.key_name", "expected 1-255 of [A-Za-z0-9 @._-]");
	/* the zone the controller placed it in, for the config drive (text: no controls) */
	if ((rc = hj_str(body, "body", "availability_zone", HJ_OPTIONAL, 255, &zone, err)) < 0)
		return rc;
	if (zone && !*zone)
		return bad(err, "body.availability_zone", "must not be empty");
	if ((rc = take_user_data(body, r, err)) < 0 ||
	    (rc = parse_limits(body, &r->limits, err)) < 0)
		return rc;
	if ((rc = parse_flavor(body, "body", &flavor, err)) < 0)
		goto fail;
	if ((rc = parse_image(body, "body", 0, &image, err)) < 0)
		goto fail;
	if ((rc = parse_ports(body, &ports, err)) < 0)
		goto fail;
	if ((rc = parse_map(body, "body", "metadata", &meta, err)) < 0)
		goto fail;
	if ((rc = take_secret(body, "admin_pass", MAX_TEXT, &r->secret, err)) < 0)
		goto fail;
	if (key_data && !(r->key_data = strdup(key_data))) {
		rc = hv_error_set(err, -ENOMEM, "body.key_data", "out of memory");
		goto fail;
	}
	r->spec = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:b}", "name", name, "hostname",
			    hostname, "flavor", flavor, "image", image, "ports", ports, "metadata",
			    meta, "config_drive", config_drive, "has_key_data", key_data != NULL);
	if (project)
		json_object_set_new(r->spec, "project_id", json_string(project));
	if (key_name)
		json_object_set_new(r->spec, "key_name", json_string(key_name));
	if (zone)
		json_object_set_new(r->spec, "availability_zone", json_string(zone));
	return 0;
fail:
	json_decref(flavor);
	json_decref(image);
	json_decref(ports);
	json_decref(meta);
	return rc;
}

int
req_parse(const json_t *body, struct req *ret, const char **ret_code, struct hv_error *err)
{
	const char *command = NULL, *uuid = NULL, *s = NULL;
	int64_t v = 0;
	json_t *part = NULL;
	int cmd, r;

	memset(ret, 0, sizeof *ret);
	*ret_code = PROTO_E_INVALID;
	if ((r = hj_str(body, "body", "command", 0, 32, &command, err)) < 0)
		return r;
	cmd = inst_cmd_parse(command);
	if (cmd < 0) {
		*ret_code = PROTO_E_UNSUPPORTED;
		return hv_error_set(
			err, -EPROTONOSUPPORT, "body.command", "body.command: %s command \"%s\"",
			inst_cmd_reserved(command) ? "not yet supported" : "unknown", command);
	}
	ret->cmd = (enum inst_cmd)cmd;
	if ((r = hj_uuid(body, "body", "uuid", 0, &uuid, err)) < 0)
		return r;
	snprintf(ret->uuid, sizeof ret->uuid, "%s", uuid);
	ret->delete_disks = true;
	ret->timeout_s = 60;
	ret->max_bytes = 65536;
	switch (ret->cmd) {
	case CMD_SPAWN: r = parse_spawn(body, ret, err); break;
	case CMD_DESTROY:
		r = hj_bool(body, "body", "delete_disks", HJ_OPTIONAL, &ret->delete_disks, err);
		break;
	case CMD_REBOOT:
		r = hj_enum(body, "body", "type", 0, "soft|hard", &s, err);
		ret->hard = r > 0 && strcmp(s, "hard") == 0;
		break;
	case CMD_STOP:
		v = 60;
		r = hj_int(body, "body", "timeout_s", HJ_OPTIONAL, 0, 3600, &v, err);
		ret->timeout_s = (uint32_t)v;
		ret->timeout_given = r > 0;
		break;
	case CMD_RESIZE:
		if ((r = parse_flavor(body, "body", &part, err)) >= 0)
			ret->spec = json_pack("{s:o}", "flavor", part);
		break;
	case CMD_REBUILD:
	case CMD_RESCUE:
		r = parse_image(body, "body", ret->cmd == CMD_RESCUE ? HJ_OPTIONAL : 0, &part, err);
		if (r > 0)
			ret->spec = json_pack("{s:o}", "image", part);
		if (r >= 0 && ret->cmd == CMD_REBUILD)
			r = take_secret(body, "admin_pass", MAX_TEXT, &ret->secret, err);
		s = NULL;
		if (r >= 0 && ret->cmd == CMD_REBUILD)
			r = hj_str(body, "body", "key_data", HJ_OPTIONAL, MAX_KEY_DATA, &s, err);
		if (r > 0 && s && !(ret->key_data = strdup(s)))
			r = hv_error_set(err, -ENOMEM, "body.key_data", "out of memory");
		if (r >= 0 && ret->cmd == CMD_REBUILD)
			r = take_user_data(body, ret, err);
		break;
	case CMD_SNAPSHOT:
		s = NULL;
		if ((r = get_id(body, "body", "image_id", 0, &s, err)) < 0)
			break;
		snprintf(ret->image_id, sizeof ret->image_id, "%s", s);
		s = "qcow2";
		r = hj_enum(body, "body", "format", HJ_OPTIONAL, "qcow2|raw", &s, err);
		snprintf(ret->format, sizeof ret->format, "%s", s);
		break;
	case CMD_CONSOLE_LOG:
		v = 65536;
		r = hj_int(body, "body", "max_bytes", HJ_OPTIONAL, 1, 1000000, &v, err);
		ret->max_bytes = (size_t)v;
		break;
	case CMD_GET_CONSOLE:
		r = hj_enum(body, "body", "type", 0, "vnc|serial", &s, err);
		ret->console =
			r > 0 && strcmp(s, "serial") == 0 ? HVD_CONSOLE_SERIAL : HVD_CONSOLE_VNC;
		break;
	case CMD_SET_ADMIN_PASSWORD:
		s = "root";
		if ((r = hj_str(body, "body", "user", HJ_OPTIONAL, 32, &s, err)) < 0)
			break;
		if (!*s || !charset(s, "_-", true, false) || s[0] == '-' ||
		    (s[0] >= '0' && s[0] <= '9')) {
			r = bad(err, "body.user", "expected 1-32 of [a-z_][a-z0-9_-]");
			break;
		}
		snprintf(ret->user, sizeof ret->user, "%s", s);
		if ((r = take_secret(body, "password", MAX_TEXT, &ret->secret, err)) == 0)
			r = bad(err, "body.password", "required field missing");
		break;
	case CMD_START:
	case CMD_PAUSE:
	case CMD_UNPAUSE:
	case CMD_SUSPEND:
	case CMD_RESUME:
	case CMD_CONFIRM_RESIZE:
	case CMD_REVERT_RESIZE:
	case CMD_UNRESCUE:
	case CMD_N: r = 0; break;
	}
	if (r < 0) {
		req_release(ret);
		return r;
	}
	return 0;
}

void
req_wipe_secrets(struct req *r)
{
	if (r->secret) {
		explicit_bzero(r->secret, strlen(r->secret));
		free(r->secret);
		r->secret = NULL;
	}
	if (r->user_data) {
		explicit_bzero(r->user_data, r->user_data_len);
		free(r->user_data);
		r->user_data = NULL;
		r->user_data_len = 0;
	}
}

void
req_release(struct req *r)
{
	if (!r)
		return;
	json_decref(r->spec);
	r->spec = NULL;
	req_wipe_secrets(r);
	free(r->key_data);
	r->key_data = NULL;
}

static const char *const secret_fields[] = {"admin_pass", "user_data", "password", NULL};

json_t *
req_redacted(const json_t *body)
{
	json_t *copy = json_deep_copy(body);

	for (int i = 0; copy && secret_fields[i]; i++) {
		if (json_object_get(copy, secret_fields[i])) {
			char k[64];

			json_object_del(copy, secret_fields[i]);
			snprintf(k, sizeof k, "%s_redacted", secret_fields[i]);
			json_object_set_new(copy, k, json_true());
		}
	}
	return copy;
}

void
req_wipe(json_t *body)
{
	for (int i = 0; secret_fields[i]; i++)
		hj_wipe_string(json_object_get(body, secret_fields[i]));
}

int
req_spec_view(const json_t *spec, const char *uuid, const char *image_store,
	      struct req_spec_view *ret, struct hv_error *err)
{
	json_t *flavor = json_object_get(spec, "flavor"), *image = json_object_get(spec, "image");
	json_t *ports = json_object_get(spec, "ports"), *p;
	size_t n_ips = 0, i;
	const char **ipp;
	int r;

	memset(ret, 0, sizeof *ret);
	ret->spec.struct_size = sizeof ret->spec;
	ret->spec.uuid = uuid;
	ret->spec.name = json_string_value(json_object_get(spec, "name"));
	ret->spec.hostname = json_string_value(json_object_get(spec, "hostname"));
	ret->spec.power_on = true;
	if (flavor) {
		ret->spec.flavor.name = json_string_value(json_object_get(flavor, "name"));
		ret->spec.flavor.vcpus =
			(uint32_t)json_integer_value(json_object_get(flavor, "vcpus"));
		ret->spec.flavor.ram_mb =
			(uint64_t)json_integer_value(json_object_get(flavor, "ram_mb"));
		ret->spec.flavor.root_gb =
			(uint64_t)json_integer_value(json_object_get(flavor, "root_gb"));
		ret->spec.flavor.ephemeral_gb =
			(uint64_t)json_integer_value(json_object_get(flavor, "ephemeral_gb"));
		ret->spec.flavor.swap_mb =
			(uint64_t)json_integer_value(json_object_get(flavor, "swap_mb"));
		if ((r = driver_map(flavor, "flavor", "extra_specs", &ret->extra_specs,
				    &ret->spec.flavor.n_extra_specs, err)) < 0)
			goto fail;
		ret->spec.flavor.extra_specs = ret->extra_specs;
	}
	if (image) {
		ret->spec.image.id = json_string_value(json_object_get(image, "id"));
		ret->spec.image.format = json_string_value(json_object_get(image, "format"));
		if (image_store && ret->spec.image.id) {
			snprintf(ret->image_path, sizeof ret->image_path, "%s/%s", image_store,
				 ret->spec.image.id);
			ret->spec.image.path = ret->image_path;
		}
		if ((r = driver_map(image, "image", "properties", &ret->properties,
				    &ret->spec.image.n_properties, err)) < 0)
			goto fail;
		ret->spec.image.properties = ret->properties;
	}
	if ((r = driver_map(spec, "spec", "metadata", &ret->metadata, &ret->spec.n_metadata, err)) <
	    0)
		goto fail;
	ret->spec.metadata = ret->metadata;
	json_array_foreach (ports, i, p)
		n_ips += json_array_size(json_object_get(p, "fixed_ips"));
	ret->ports = calloc(json_array_size(ports) + 1, sizeof *ret->ports);
	ret->ips = calloc(n_ips + 1, sizeof *ret->ips);
	if (!ret->ports || !ret->ips) {
		r = hv_error_set(err, -ENOMEM, NULL, "out of memory");
		goto fail;
	}
	ipp = ret->ips;
	json_array_foreach (ports, i, p) {
		json_t *ips = json_object_get(p, "fixed_ips"), *ip;
		size_t j;

		ret->ports[i].id = json_string_value(json_object_get(p, "id"));
		ret->ports[i].mac = json_string_value(json_object_get(p, "mac"));
		ret->ports[i].ifname = json_string_value(json_object_get(p, "ifname"));
		ret->ports[i].fixed_ips = ipp;
		json_array_foreach (ips, j, ip)
			*ipp++ = json_string_value(ip);
		ret->ports[i].n_fixed_ips = json_array_size(ips);
	}
	ret->spec.ports = ret->ports;
	ret->spec.n_ports = json_array_size(ports);
	return 0;
fail:
	req_spec_view_release(ret);
	return r;
}

void
req_spec_view_release(struct req_spec_view *v)
{
	if (!v)
		return;
	free(v->extra_specs);
	free(v->properties);
	free(v->metadata);
	free(v->ports);
	free(v->ips);
	memset(v, 0, sizeof *v);
}
