/* test_configdrive.c - the documents a guest finds on its config drive, and the drive
 * file itself: what the guide's "server create --config-drive true" promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#if GUEST_TEST_ISO
#include "configdrive.h"
#endif
#include "metadata.h"

#define UUID "6f1b6c3e-2a4d-4c3b-9e0f-1a2b3c4d5e6f"
#define KEY                                                                                 \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsN9NMU3DY54Je2XYHctrFOcK3N43SGr/eXzpYy6G1j " \
	"user@example"
static const unsigned char seed[GUEST_RANDOM_SEED_LEN] = {1, 2, 3};
static const struct guest_pubkey keys[] = {{"mykey", KEY}};
static const struct guest_kv meta[] = {{"role", "web"}, {"tier", "front"}};
static const struct guest_nic nics[] = {{
	.mac = "52:54:00:12:34:56",
	.port_id = "0a1b2c3d-1111-2222-3333-444455556666",
	.network_id = "net-1",
	.address = "10.1.2.3",
	.prefix = 32,
	.gateway = "169.254.1.1",
	.mtu = 1450,
}};
static const char *const dns[] = {"10.0.0.53", "2001:db8::53"};

static struct guest_config
web_server(void)
{
	return (struct guest_config){
		.uuid = UUID,
		.name = "web-1",
		.hostname = "web-1.example.org",
		.availability_zone = "nova",
		.project_id = "p-42",
		.launch_index = 3,
		.keys = keys,
		.n_keys = 1,
		.meta = meta,
		.n_meta = 2,
		.nics = nics,
		.n_nics = 1,
		.dns = dns,
		.n_dns = 2,
		.random_seed = seed,
	};
}

static json_t *
doc(const struct guest_drive_tree *t, const char *path)
{
	const struct guest_drive_file *f = guest_drive_tree_find(t, path);
	json_error_t je;
	if (!f)
		fail_msg("%s missing", path);
	json_t *j = json_loadb((const char *)f->data, f->len, 0, &je);
	if (!j)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static void
meta_data_carries_the_instance_identity_and_the_key(void **state)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};

	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	for (int v = 0; v < 2; v++) {
		json_t *md = doc(t, v ? "openstack/" GUEST_OPENSTACK_VERSION "/meta_data.json"
				      : "openstack/latest/meta_data.json");
		assert_string_equal(json_string_value(json_object_get(md, "uuid")), UUID);
		assert_string_equal(json_string_value(json_object_get(md, "hostname")),
				    "web-1.example.org");
		assert_string_equal(json_string_value(json_object_get(md, "name")), "web-1");
		assert_int_equal(json_integer_value(json_object_get(md, "launch_index")), 3);
		assert_string_equal(json_string_value(json_object_get(md, "availability_zone")),
				    "nova");
		assert_string_equal(json_string_value(json_object_get(md, "project_id")), "p-42");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(md, "public_keys"), "mykey")),
				    KEY);
		json_t *k0 = json_array_get(json_object_get(md, "keys"), 0);
		assert_string_equal(json_string_value(json_object_get(k0, "data")), KEY);
		assert_string_equal(json_string_value(json_object_get(k0, "type")), "ssh");
		assert_string_equal(
			json_string_value(json_object_get(json_object_get(md, "meta"), "tier")),
			"front");
		/* 512 bytes -> 684 base64 characters, starting with bytes 1,2,3 -> "AQID" */
		const char *rs = json_string_value(json_object_get(md, "random_seed"));
		assert_int_equal(strlen(rs), 684);
		assert_true(strncmp(rs, "AQID", 4) == 0);
		assert_null(json_object_get(md, "admin_pass"));
		json_decref(md);
	}
	assert_non_null(guest_drive_tree_find(t, "openstack/latest/vendor_data.json"));
	assert_null(guest_drive_tree_find(t, "openstack/latest/user_data")); /* none given */
	assert_null(guest_drive_tree_find(t, "ec2/latest/meta-data.json"));
	guest_drive_tree_free(t);
}

static void
network_data_gives_the_routed_address_gateway_and_dns(void **state)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};

	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	json_t *nd = doc(t, "openstack/latest/network_data.json");
	json_t *link = json_array_get(json_object_get(nd, "links"), 0);
	json_t *net = json_array_get(json_object_get(nd, "networks"), 0);
	json_t *route = json_array_get(json_object_get(net, "routes"), 0);
	assert_string_equal(json_string_value(json_object_get(link, "ethernet_mac_address")),
			    "52:54:00:12:34:56");
	assert_string_equal(json_string_value(json_object_get(link, "id")), "tap0a1b2c3d-11");
	assert_int_equal(json_integer_value(json_object_get(link, "mtu")), 1450);
	assert_string_equal(json_string_value(json_object_get(net, "link")), "tap0a1b2c3d-11");
	assert_string_equal(json_string_value(json_object_get(net, "type")), "ipv4");
	assert_string_equal(json_string_value(json_object_get(net, "ip_address")), "10.1.2.3");
	assert_string_equal(json_string_value(json_object_get(net, "netmask")), "255.255.255.255");
	assert_string_equal(json_string_value(json_object_get(route, "network")), "0.0.0.0");
	assert_string_equal(json_string_value(json_object_get(route, "netmask")), "0.0.0.0");
	assert_string_equal(json_string_value(json_object_get(route, "gateway")), "169.254.1.1");
	json_t *svc = json_object_get(nd, "services");
	assert_int_equal(json_array_size(svc), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(svc, 1), "address")),
			    "2001:db8::53");
	json_decref(nd);
	guest_drive_tree_free(t);
}

/* The four kinds of user data cloud-init knows, each reaching user_data byte for byte. */
static const unsigned char gzip_payload[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
					     0x00, 0x03, 0x53, 0x56, 0xd4, 0x4f, 0xca, 0xcc};
static const char *const payloads[] = {
	"#!/bin/sh\necho hello > /tmp/hello\n",
	"#cloud-config\nruncmd: [echo hi]\n",
	"Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\n"
	"Content-Type: text/x-shellscript\n\n#!/bin/sh\necho mime\n--b--\n",
};

static void
user_data_is_byte_for_byte(const unsigned char *data, size_t len, const char *pass)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};
	static const char *const where[] = {"openstack/latest/user_data",
					    "openstack/" GUEST_OPENSTACK_VERSION "/user_data",
					    "ec2/latest/user-data"};

	c.user_data = data;
	c.user_data_len = len;
	c.admin_pass = pass;
	c.ec2 = true;
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	for (size_t i = 0; i < 3; i++) {
		const struct guest_drive_file *ud = guest_drive_tree_find(t, where[i]);
		assert_non_null(ud);
		assert_int_equal(ud->len, len);
		assert_memory_equal(ud->data, data, len);
	}
	json_t *md = doc(t, "openstack/latest/meta_data.json");
	if (pass)
		assert_string_equal(json_string_value(json_object_get(md, "admin_pass")), pass);
	else
		assert_null(json_object_get(md, "admin_pass"));
	json_decref(md);
	/* the password is in meta_data.json (both versions) and in no other document */
	for (size_t i = 0; pass && i < t->n; i++) {
		const struct guest_drive_file *f = &t->files[i];
		bool has = memmem(f->data, f->len, pass, strlen(pass)) != NULL;
		assert_int_equal(has, strstr(f->path, "/meta_data.json") != NULL);
	}
	guest_drive_tree_free(t);
}

static void
the_user_data_reaches_the_drive_as_given_with_or_without_a_password(void **state)
{
	(void)state;
	for (int pw = 0; pw < 2; pw++) {
		const char *pass = pw ? "S3cret pass \xc3\xa9" : NULL;
		for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++)
			user_data_is_byte_for_byte((const unsigned char *)payloads[i],
						   strlen(payloads[i]), pass);
		user_data_is_byte_for_byte(gzip_payload, sizeof gzip_payload, pass);
	}
}

static void
a_password_alone_writes_no_user_data(void **state)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};

	(void)state;
	c.admin_pass = "only-a-password";
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	assert_null(guest_drive_tree_find(t, "openstack/latest/user_data"));
	json_t *md = doc(t, "openstack/" GUEST_OPENSTACK_VERSION "/meta_data.json");
	assert_string_equal(json_string_value(json_object_get(md, "admin_pass")),
			    "only-a-password");
	json_decref(md);
	guest_drive_tree_free(t);
}

/* What nova writes without vendor data: "{}" in vendor_data.json, and in vendor_data2.json
 * for versions since newton (2016-10-06): here only "latest". */
static void
vendor_data_is_an_empty_object_as_nova_writes_it(void **state)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};
	const struct guest_drive_file *f;

	(void)state;
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	f = guest_drive_tree_find(t, "openstack/latest/vendor_data.json");
	assert_non_null(f);
	assert_int_equal(f->len, 2);
	assert_memory_equal(f->data, "{}", 2);
	f = guest_drive_tree_find(t, "openstack/latest/vendor_data2.json");
	assert_non_null(f);
	assert_memory_equal(f->data, "{}", 2);
	assert_null(guest_drive_tree_find(t, "openstack/" GUEST_OPENSTACK_VERSION
					     "/vendor_data2.json"));
	guest_drive_tree_free(t);
}

/* Without ports nova still writes network_data.json, as "{}" (its network metadata is
 * None); cloud-init reads that as "no network configuration", as it does empty lists. */
static void
network_data_is_written_without_ports_as_nova_writes_it(void **state)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};
	static const char *const versions[] = {"latest", GUEST_OPENSTACK_VERSION};

	(void)state;
	c.nics = NULL;
	c.n_nics = 0;
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	for (size_t v = 0; v < 2; v++) {
		char path[64];
		snprintf(path, sizeof path, "openstack/%s/network_data.json", versions[v]);
		const struct guest_drive_file *f = guest_drive_tree_find(t, path);
		if (!f)
			fail_msg("%s missing without ports", path);
		assert_int_equal(f->len, 2);
		assert_memory_equal(f->data, "{}", 2);
	}
	guest_drive_tree_free(t);
}

static void
assert_bad(struct guest_config c, const char *field)
{
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};
	int r = guest_drive_tree_build(&c, &t, &err);
	if (r != -EINVAL)
		fail_msg("accepted a bad %s (r=%d)", field, r);
	assert_null(t);
	assert_string_equal(err.field, field);
	assert_non_null(strstr(err.message, field));
}

static void
bad_requests_are_refused_naming_the_field(void **state)
{
	static unsigned char big[GUEST_USER_DATA_MAX + 1];
	static const struct guest_pubkey bad_key[] = {{"k", "ssh-rsa not-base64!"}};
	static const struct guest_kv bad_meta[] = {{"a", "x"}, {"a", "y"}};
	static const char *const bad_dns[] = {"8.8.8.8", "dns.example"};
	struct guest_nic bad_nic = nics[0];
	struct guest_config c;

	c = web_server(), c.uuid = NULL;
	assert_bad(c, "uuid");
	c = web_server(), c.uuid = "not-a-uuid";
	assert_bad(c, "uuid");
	c = web_server(), c.hostname = "bad_host";
	assert_bad(c, "hostname");
	c = web_server(), c.hostname = "-lead.example";
	assert_bad(c, "hostname");
	c = web_server(), c.name = "two\nlines";
	assert_bad(c, "name");
	c = web_server(), c.keys = bad_key;
	assert_bad(c, "keys[0].key");
	c = web_server(), c.meta = bad_meta;
	assert_bad(c, "meta[1].key");
	c = web_server(), c.user_data = big, c.user_data_len = sizeof big;
	assert_bad(c, "user_data");
	c = web_server(), c.admin_pass = "";
	assert_bad(c, "admin_pass");
	c = web_server(), c.admin_pass = "\xff\xfe not UTF-8";
	assert_bad(c, "admin_pass");
	c = web_server(), c.dns = bad_dns;
	assert_bad(c, "dns[1]");
	bad_nic.mac = "52:54:00:12:34";
	c = web_server(), c.nics = &bad_nic;
	assert_bad(c, "nics[0].mac");
	bad_nic = nics[0], bad_nic.address = "10.1.2.300";
	c = web_server(), c.nics = &bad_nic;
	assert_bad(c, "nics[0].address");
	bad_nic = nics[0], bad_nic.gateway = "fe80::1";
	c = web_server(), c.nics = &bad_nic;
	assert_bad(c, "nics[0].gateway");
	bad_nic = nics[0], bad_nic.prefix = 33;
	c = web_server(), c.nics = &bad_nic;
	assert_bad(c, "nics[0].prefix");

	/* exactly at the limit is fine */
	struct guest_drive_tree *t = NULL;
	c = web_server(), c.user_data = big, c.user_data_len = GUEST_USER_DATA_MAX;
	assert_int_equal(guest_drive_tree_build(&c, &t, NULL), 0);
	guest_drive_tree_free(t);
}

#if GUEST_TEST_ISO
/* A scratch directory per test run, removed at the end. */
static char scratch[64];

static int
make_scratch(void **state)
{
	snprintf(scratch, sizeof scratch, "/tmp/guest-cd-XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int
remove_scratch(void **state)
{
	DIR *d = opendir(scratch);
	struct dirent *e;
	char p[320];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	return rmdir(scratch);
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void
the_drive_file_is_private_labelled_config_2_and_replaced_atomically(void **state)
{
	struct guest_config c = web_server();
	struct hv_error err = {0};
	char path[128], label[9] = {0};
	struct stat st;

	snprintf(path, sizeof path, "%s/disk.config", scratch);
	assert_int_equal(guest_configdrive_write(&c, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(st.st_size >= 32 * 2048 && st.st_size % 2048 == 0);
	/* Primary volume descriptor: sector 16, volume id at offset 40. */
	int fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, label, 8, 16 * 2048 + 40), 8);
	close(fd);
	assert_string_equal(label, "config-2");

	ino_t first = st.st_ino;
	c.hostname = "web-2";
	assert_int_equal(guest_configdrive_write(&c, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_ino != first); /* a new file renamed over, never rewritten in place */
	assert_int_equal(count_entries(scratch), 1); /* no temp file left behind */

	c.uuid = "nope";
	assert_int_equal(guest_configdrive_write(&c, path, &err), -EINVAL);
	assert_int_equal(stat(path, &st), 0); /* the previous drive is still there */
	assert_int_equal(count_entries(scratch), 1);

	snprintf(path, sizeof path, "%s/missing-dir/disk.config", scratch);
	c = web_server();
	assert_int_equal(guest_configdrive_write(&c, path, &err), -ENOENT);
	assert_non_null(strstr(err.message, "missing-dir"));
}

#endif

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(meta_data_carries_the_instance_identity_and_the_key),
		cmocka_unit_test(network_data_gives_the_routed_address_gateway_and_dns),
		cmocka_unit_test(
			the_user_data_reaches_the_drive_as_given_with_or_without_a_password),
		cmocka_unit_test(a_password_alone_writes_no_user_data),
		cmocka_unit_test(vendor_data_is_an_empty_object_as_nova_writes_it),
		cmocka_unit_test(network_data_is_written_without_ports_as_nova_writes_it),
		cmocka_unit_test(bad_requests_are_refused_naming_the_field),
#if GUEST_TEST_ISO
		cmocka_unit_test_setup_teardown(
			the_drive_file_is_private_labelled_config_2_and_replaced_atomically,
			make_scratch, remove_scratch),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
