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
#define HASH                   \
	"$6$Jq0YbZ2dQe3Yv5Xk$" \
	"Kk9x3o7o0vYh6m8mYQvJQm2w4y8T7mQ0fW6c8uH1pR5sN2dE9gA4bC7eD1fG3hJ5kL7mN9pQ1rS3tU5vW7xY9z."

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

static void
the_admin_password_travels_only_as_a_hashed_chpasswd(void **state)
{
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};

	c.admin_password_hash = HASH;
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	const struct guest_drive_file *ud = guest_drive_tree_find(t, "openstack/latest/user_data");
	assert_non_null(ud);
	char *text = strndup((const char *)ud->data, ud->len);
	assert_true(strncmp(text, "#cloud-config\n", 14) == 0);
	json_t *cfg = json_loads(text + 14, 0, NULL);
	assert_non_null(cfg);
	json_t *chp = json_object_get(cfg, "chpasswd");
	assert_true(json_is_false(json_object_get(chp, "expire")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(chp, "list"), 0)),
			    "root:" HASH);
	json_decref(cfg);
	free(text);
	guest_drive_tree_free(t);
}

static void
a_customization_script_and_a_password_become_one_multipart_message(void **state)
{
	static const char script[] = "#!/bin/sh\necho hello > /tmp/hello\n";
	struct guest_config c = web_server();
	struct guest_drive_tree *t = NULL;
	struct hv_error err = {0};

	c.user_data = (const unsigned char *)script;
	c.user_data_len = strlen(script);
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	const struct guest_drive_file *ud = guest_drive_tree_find(t, "openstack/latest/user_data");
	assert_int_equal(ud->len, strlen(script)); /* alone, it is passed through untouched */
	assert_memory_equal(ud->data, script, ud->len);
	guest_drive_tree_free(t);

	c.admin_password_hash = HASH;
	c.admin_user = "admin";
	c.ec2 = true;
	assert_int_equal(guest_drive_tree_build(&c, &t, &err), 0);
	ud = guest_drive_tree_find(t, "openstack/latest/user_data");
	char *text = strndup((const char *)ud->data, ud->len);
	assert_true(strncmp(text, "Content-Type: multipart/mixed;", 30) == 0);
	assert_non_null(strstr(text, "admin:" HASH));
	assert_non_null(strstr(text, "Content-Type: text/x-not-multipart"));
	free(text);
	assert_non_null(guest_drive_tree_find(t, "ec2/latest/user-data"));
	json_t *ec2 = doc(t, "ec2/latest/meta-data.json");
	assert_string_equal(json_string_value(json_object_get(ec2, "instance-id")), UUID);
	json_decref(ec2);
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
	c = web_server(), c.admin_password_hash = "plaintext-password";
	assert_bad(c, "admin_password");
	c = web_server(),
	c.admin_password_hash = "$y$j9T$abcdefghijklmnop$0123456789abcdefghijklmnopqrstuvwxyzABCDE";
	assert_bad(c, "admin_password");
	c = web_server(), c.admin_password_hash = HASH, c.admin_user = "root:0:0";
	assert_bad(c, "admin_user");
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
		cmocka_unit_test(the_admin_password_travels_only_as_a_hashed_chpasswd),
		cmocka_unit_test(
			a_customization_script_and_a_password_become_one_multipart_message),
		cmocka_unit_test(bad_requests_are_refused_naming_the_field),
#if GUEST_TEST_ISO
		cmocka_unit_test_setup_teardown(
			the_drive_file_is_private_labelled_config_2_and_replaced_atomically,
			make_scratch, remove_scratch),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
