/* fuzz_extraspecs.c - libFuzzer target for the libvirt driver's validation of flavor extra
 * specs and image properties and the domain XML built from them (drivers/libvirt/domxml.c,
 * called as tests/libvirt/test_domxml.c calls it). Input: text lines,
 *   s:KEY=VALUE   a flavor extra spec ("s:hw:numa_nodes=2")
 *   p:KEY=VALUE   an image property ("p:hw_video_ram=32")
 *   f:KEY=VALUE   the flavor and instance: vcpus, ram_mb, ephemeral_gb, swap_mb, name,
 *                 ports (0-2), config_drive (0/1), serial_port, numa (0: the host reports
 *                 no NUMA cells)
 * Beyond never crashing, leaking or reading out of bounds: a refusal names the key at fault,
 * and a domain XML that was built reads back (its uuid and root disk) and takes a rescue. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UUID "5f0c3b6e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
#define DIR "/var/lib/hvagent/instances/" UUID
#define MAX_KV 64

/* The golden host of test_domxml.c: two NUMA cells of 8 CPUs and 8 GiB. */
static const struct domxml_host host = {
	.n_cells = 2,
	.cells[0] = {.id = 0, .cpuset = "0-7", .n_cpus = 8, .memory_mb = 8192},
	.cells[1] = {.id = 1, .cpuset = "8-15", .n_cpus = 8, .memory_mb = 8192},
};

static const struct hvd_port ports[] = {
	{.id = "port-1", .mac = "fa:16:3e:00:00:01", .ifname = "tap5f0c3b6e-1a"},
	{.id = "port-2", .mac = "fa:16:3e:00:00:02", .ifname = "tap5f0c3b6e-2b"},
};

static const struct hvd_kv rescue_props[] = {
	{"kernel", "/var/lib/hvagent/images/r.vmlinuz"},
	{"initrd", "/var/lib/hvagent/images/r.initrd"},
};

struct input {
	struct hvd_kv specs[MAX_KV], props[MAX_KV];
	size_t n_specs, n_props;
	uint64_t vcpus, ram_mb, ephemeral_gb, swap_mb, n_ports, serial_port;
	bool config_drive, numa;
	const char *name;
};

/* Splits text (modified) into the input's lines. */
static void
read_input(char *text, struct input *in)
{
	char *save = NULL;

	*in = (struct input){.vcpus = 1, .ram_mb = 512, .numa = true, .name = "fuzz"};
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (!eq || strlen(l) < 2 || l[1] != ':')
			continue;
		*eq = '\0';
		const char *k = l + 2, *v = eq + 1;
		uint64_t n = strtoull(v, NULL, 10);

		if (l[0] == 's' && in->n_specs < MAX_KV)
			in->specs[in->n_specs++] = (struct hvd_kv){k, v};
		else if (l[0] == 'p' && in->n_props < MAX_KV)
			in->props[in->n_props++] = (struct hvd_kv){k, v};
		else if (l[0] != 'f')
			continue;
		else if (strcmp(k, "vcpus") == 0)
			in->vcpus = n;
		else if (strcmp(k, "ram_mb") == 0)
			in->ram_mb = n;
		else if (strcmp(k, "ephemeral_gb") == 0)
			in->ephemeral_gb = n;
		else if (strcmp(k, "swap_mb") == 0)
			in->swap_mb = n;
		else if (strcmp(k, "ports") == 0)
			in->n_ports = n > 2 ? 2 : n;
		else if (strcmp(k, "serial_port") == 0)
			in->serial_port = n;
		else if (strcmp(k, "config_drive") == 0)
			in->config_drive = n != 0;
		else if (strcmp(k, "numa") == 0)
			in->numa = n != 0;
		else if (strcmp(k, "name") == 0)
			in->name = v;
	}
}

static void
check_built(const char *xml)
{
	struct hv_error err = {0};
	struct domxml_facts facts;
	struct hvd_image rescue = {.id = "rescue-1",
				   .path = "/var/lib/hvagent/images/rescue-1",
				   .format = "qcow2",
				   .properties = rescue_props,
				   .n_properties = 2};
	char *rx = NULL;

	if (domxml_read_facts(xml, &facts, &err) < 0)
		__builtin_trap(); /* the XML we built does not read back */
	if (strcmp(facts.uuid, UUID) != 0 || strcmp(facts.root_disk, DIR "/disk") != 0)
		__builtin_trap(); /* it reads back as another domain */
	if (domxml_rescue(xml, DIR "/disk.rescue", &rescue, &rx, &err) == 0) {
		if (domxml_read_facts(rx, &facts, &err) < 0)
			__builtin_trap(); /* the rescue XML does not read back */
		free(rx);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_error err = {0};
	struct hvd_instance_spec s;
	struct domxml_params p;
	struct domxml_opts opts;
	struct input in;
	char *text = malloc(size + 1), *xml = NULL;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	read_input(text, &in);
	memset(&s, 0, sizeof s);
	s.struct_size = sizeof s;
	s.uuid = UUID;
	s.name = in.name;
	s.hostname = "vm1";
	s.flavor = (struct hvd_flavor){
		.name = "fuzz",
		.vcpus = (uint32_t)in.vcpus,
		.ram_mb = in.ram_mb,
		.root_gb = 1,
		.ephemeral_gb = in.ephemeral_gb,
		.swap_mb = in.swap_mb,
		.extra_specs = in.specs,
		.n_extra_specs = in.n_specs,
	};
	s.image = (struct hvd_image){
		.id = "img-1",
		.path = "/var/lib/hvagent/images/img-1",
		.format = "qcow2",
		.properties = in.props,
		.n_properties = in.n_props,
	};
	s.ports = ports;
	s.n_ports = in.n_ports;
	s.config_drive_path = in.config_drive ? DIR "/disk.config" : NULL;
	p = (struct domxml_params){
		.spec = &s,
		.virt_type = "qemu",
		.host = in.numa ? &host : NULL,
		.disks.root = DIR "/disk",
		.disks.root_format = "qcow2",
		.disks.ephemeral = in.ephemeral_gb ? DIR "/disk.eph0" : NULL,
		.disks.swap = in.swap_mb ? DIR "/disk.swap" : NULL,
		.disks.config_drive = s.config_drive_path,
		.console_log = DIR "/console.log",
		.listen = "127.0.0.1",
		.vnc = true,
		.serial_port = (uint32_t)in.serial_port,
	};
	if (domxml_validate(&s, p.host, &opts, &err) < 0 && !err.message[0])
		__builtin_trap(); /* refused without saying why */
	if (domxml_build(&p, &xml, &err) == 0) {
		check_built(xml);
		free(xml);
	} else if (!err.message[0]) {
		__builtin_trap();
	}
	free(text);
	return 0;
}
