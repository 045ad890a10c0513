/* mkdrive.c - writes the config drive of a typical web server (key, metadata, routed
 * network, user data, admin password) to argv[1], so that independent tools (blkid,
 * xorriso, cloud-init) can read it back. The admin password is argv[2] ("" for none), the
 * user data the bytes of the file argv[3] (default: a small shell script). */
#include <stdio.h>
#include <string.h>

#include "configdrive.h"

int
main(int argc, char **argv)
{
	static const struct guest_pubkey keys[] = {{
		"mykey",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGsN9NMU3DY54Je2XYHctrFOcK3N43SGr/eXzpYy6G1j "
		"user@example",
	}};
	static const struct guest_kv meta[] = {{"role", "web"}};
	static const struct guest_nic nics[] = {{
		.mac = "52:54:00:12:34:56",
		.port_id = "0a1b2c3d-1111-2222-3333-444455556666",
		.address = "10.1.2.3",
		.prefix = 32,
		.gateway = "169.254.1.1",
		.mtu = 1450,
	}};
	static const char *const dns[] = {"10.0.0.53"};
	static unsigned char data[GUEST_USER_DATA_MAX + 1] =
		"#!/bin/sh\necho customized > /var/tmp/customized\n";
	size_t len = strlen((const char *)data);
	struct hv_error err = {0};

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: %s OUTPUT.iso ADMIN_PASSWORD [USER_DATA_FILE]\n", argv[0]);
		return 2;
	}
	if (argc == 4) {
		FILE *f = fopen(argv[3], "rb");
		if (!f) {
			perror(argv[3]);
			return 1;
		}
		len = fread(data, 1, sizeof data, f);
		fclose(f);
	}
	struct guest_config c = {
		.uuid = "6f1b6c3e-2a4d-4c3b-9e0f-1a2b3c4d5e6f",
		.name = "web-1",
		.hostname = "web-1",
		.availability_zone = "nova",
		.project_id = "p-42",
		.keys = keys,
		.n_keys = 1,
		.meta = meta,
		.n_meta = 1,
		.user_data = data,
		.user_data_len = len,
		.admin_pass = argv[2][0] ? argv[2] : NULL,
		.nics = nics,
		.n_nics = 1,
		.dns = dns,
		.n_dns = 1,
		.ec2 = true,
	};
	if (guest_configdrive_write(&c, argv[1], &err) < 0) {
		fprintf(stderr, "%s: %s\n", err.field, err.message);
		return 1;
	}
	return 0;
}
