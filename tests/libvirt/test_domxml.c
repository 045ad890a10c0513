/* test_domxml.c - the domain XML builder and validator against golden files.
 *
 * Each flavor of the matrix becomes tests/data/libvirt/<name>.xml; a changed builder shows up
 * as a diff of those files (HV_UPDATE_GOLDEN=1 rewrites them). Every invalid input of the
 * table must fail with its own field and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "caps.h"
#include "domxml.h"

#define UUID "5f0c3b6e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
#define MAX_KV 24

static const char *data_dir;

/* The golden host: two NUMA cells of 8 CPUs and 8 GiB. */
static const struct domxml_host golden_host = {
	.n_cells = 2,
	.cells[0] = {.id = 0, .cpuset = "0-7", .n_cpus = 8, .memory_mb = 8192},
	.cells[1] = {.id = 1, .cpuset = "8-15", .n_cpus = 8, .memory_mb = 8192},
};

struct flavor_case {
	const char *name;
	uint32_t vcpus;
	uint64_t ram_mb, ephemeral_gb, swap_mb;
	struct hvd_kv specs[MAX_KV];
	struct hvd_kv props[MAX_KV];
	size_t n_ports;
	bool config_drive;
	uint32_t serial_port;
};

static const struct flavor_case golden[] = {
	{"minimal", 1, 512},
	{"topology", 4, 2048,
	 .specs = {{"hw:cpu_sockets", "2"}, {"hw:cpu_cores", "2"}, {"hw:cpu_threads", "1"}}},
	{"topology-max-sockets", 4, 2048, .specs = {{"hw:cpu_max_sockets", "1"}}},
	{"topology-threads", 8, 2048, .specs = {{"hw:cpu_threads", "2"}}},
	{"numa-even", 4, 2048, .specs = {{"hw:numa_nodes", "2"}}},
	{"numa-guide-6-2", 8, 4096,
	 .specs = {{"hw:numa_nodes", "2"},
		   {"hw:numa_cpus.0", "0-5"},
		   {"hw:numa_cpus.1", "6,7"},
		   {"hw:numa_mem.0", "3072"},
		   {"hw:numa_mem.1", "1024"}}},
	{"numa-preferred", 8, 4096,
	 .specs = {{"hw:numa_nodes", "2"},
		   {"hw:numa_cpus.0", "0-5"},
		   {"hw:numa_cpus.1", "6,7"},
		   {"hw:numa_mem.0", "3072"},
		   {"hw:numa_mem.1", "1024"},
		   {"hw:numa_mempolicy", "preferred"}}},
	{"numa-one-node-preferred", 2, 1024,
	 .specs = {{"hw:numa_nodes", "1"}, {"hw:numa_mempolicy", "preferred"}}},
	{"numa-strict", 4, 2048,
	 .specs = {{"hw:numa_nodes", "2"}, {"hw:numa_mempolicy", "strict"}}},
	{"watchdog-reset", 1, 512, .specs = {{"hw:watchdog_action", "reset"}}},
	{"watchdog-pause", 1, 512, .specs = {{"hw:watchdog_action", "pause"}}},
	{"watchdog-poweroff", 1, 512, .specs = {{"hw:watchdog_action", "poweroff"}}},
	{"watchdog-none", 1, 512, .specs = {{"hw:watchdog_action", "none"}}},
	{"watchdog-disabled", 1, 512, .specs = {{"hw:watchdog_action", "disabled"}}},
	{"rng-rate", 1, 512,
	 .specs = {{"hw_rng:rate_bytes", "1024"}, {"hw_rng:rate_period", "2000"}}},
	{"rng-not-allowed", 1, 512, .specs = {{"hw_rng:allowed", "False"}}},
	{"video-ram", 1, 512, .specs = {{"hw_video:ram_max_mb", "64"}},
	 .props = {{"hw_video_ram", "32"}, {"hw_video_model", "qxl"}}},
	{"cpu-quota", 2, 1024,
	 .specs = {{"quota:cpu_shares", "512"},
		   {"quota:cpu_period", "100000"},
		   {"quota:cpu_quota", "50000"}}},
	{"cpu-quota-unlimited", 2, 1024, .specs = {{"quota:cpu_quota", "-1"}}},
	{"disk-iotune", 1, 512, .ephemeral_gb = 1,
	 .specs = {{"quota:disk_read_bytes_sec", "10485760"},
		   {"quota:disk_write_bytes_sec", "5242880"},
		   {"quota:disk_total_iops_sec", "1000"}}},
	{"disk-iotune-split", 1, 512,
	 .specs = {{"quota:disk_total_bytes_sec", "20971520"},
		   {"quota:disk_read_iops_sec", "500"},
		   {"quota:disk_write_iops_sec", "300"}}},
	{"vif-bandwidth", 1, 512, .n_ports = 1,
	 .specs = {{"quota:vif_inbound_average", "1024"},
		   {"quota:vif_inbound_peak", "2048"},
		   {"quota:vif_inbound_burst", "512"},
		   {"quota:vif_outbound_average", "768"}}},
	{"guest-agent-quiesce", 1, 512,
	 .props = {{"hw_qemu_guest_agent", "yes"}, {"os_require_quiesce", "yes"}}},
	{"disks-eph-swap-configdrive", 1, 512, .ephemeral_gb = 2, .swap_mb = 256,
	 .config_drive = true},
	{"ports-two", 1, 512, .n_ports = 2},
	{"kernel-boot", 1, 256,
	 .props = {{"kernel", "/var/lib/hvagent/images/k.vmlinuz"},
		   {"initrd", "/var/lib/hvagent/images/k.initrd"},
		   {"os_command_line", "console=ttyS0 quiet"}}},
	{"serial-tcp", 1, 512, .serial_port = 10001},
	{"scheduler-specs-ignored", 1, 512,
	 .specs = {{"aggregate_instance_extra_specs:ssd", "true"}}},
	{"everything", 8, 4096, .ephemeral_gb = 1, .swap_mb = 512, .n_ports = 1,
	 .config_drive = true, .serial_port = 10002,
	 .specs = {{"hw:cpu_sockets", "2"},
		   {"hw:cpu_cores", "4"},
		   {"hw:cpu_threads", "1"},
		   {"hw:cpu_max_sockets", "2"},
		   {"hw:numa_nodes", "2"},
		   {"hw:numa_mempolicy", "strict"},
		   {"hw:watchdog_action", "poweroff"},
		   {"hw_rng:rate_bytes", "2048"},
		   {"hw_rng:rate_period", "1000"},
		   {"hw_video:ram_max_mb", "16"},
		   {"quota:cpu_shares", "2048"},
		   {"quota:cpu_period", "20000"},
		   {"quota:cpu_quota", "10000"},
		   {"quota:disk_total_iops_sec", "800"},
		   {"quota:vif_outbound_average", "1000"},
		   {"quota:vif_outbound_peak", "2000"}},
	 .props = {{"hw_video_ram", "16"}, {"hw_qemu_guest_agent", "true"}}},
};

static size_t
count_kv(const struct hvd_kv *kv)
{
	size_t n = 0;

	while (n < MAX_KV && kv[n].key)
		n++;
	return n;
}

static const struct hvd_port ports[] = {
	{.id = "port-1", .mac = "fa:16:3e:00:00:01", .ifname = "tap5f0c3b6e-1a"},
	{.id = "port-2", .mac = "fa:16:3e:00:00:02", .ifname = "tap5f0c3b6e-2b"},
};

static void
spec_of(const struct flavor_case *c, struct hvd_instance_spec *s)
{
	memset(s, 0, sizeof *s);
	s->struct_size = sizeof *s;
	s->uuid = UUID;
	s->name = c->name;
	s->hostname = "vm1";
	s->flavor = (struct hvd_flavor){
		.name = c->name,
		.vcpus = c->vcpus,
		.ram_mb = c->ram_mb,
		.root_gb = 1,
		.ephemeral_gb = c->ephemeral_gb,
		.swap_mb = c->swap_mb,
		.extra_specs = c->specs,
		.n_extra_specs = count_kv(c->specs),
	};
	s->image = (struct hvd_image){
		.id = "img-1",
		.path = "/var/lib/hvagent/images/img-1",
		.format = "qcow2",
		.properties = c->props,
		.n_properties = count_kv(c->props),
	};
	s->ports = ports;
	s->n_ports = c->n_ports;
	s->config_drive_path =
		c->config_drive ? "/var/lib/hvagent/instances/" UUID "/disk.config" : NULL;
}

static void
params_of(const struct flavor_case *c, const struct hvd_instance_spec *s, struct domxml_params *p)
{
	*p = (struct domxml_params){
		.spec = s,
		.virt_type = "qemu",
		.host = &golden_host,
		.disks.root = "/var/lib/hvagent/instances/" UUID "/disk",
		.disks.root_format = "qcow2",
		.disks.ephemeral =
			c->ephemeral_gb ? "/var/lib/hvagent/instances/" UUID "/disk.eph0" : NULL,
		.disks.swap = c->swap_mb ? "/var/lib/hvagent/instances/" UUID "/disk.swap" : NULL,
		.console_log = "/var/lib/hvagent/instances/" UUID "/console.log",
		.listen = "127.0.0.1",
		.vnc = true,
		.serial_port = c->serial_port,
	};
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t size = 0;
	FILE *m;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &size);
	for (int ch; (ch = fgetc(f)) != EOF;)
		fputc(ch, m);
	fclose(f);
	fclose(m);
	return buf;
}

static void
every_flavor_matches_its_golden_file(void **state)
{
	bool update = getenv("HV_UPDATE_GOLDEN") != NULL;

	(void)state;
	for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
		struct hvd_instance_spec s;
		struct domxml_params p;
		struct hv_error err = {0};
		char *xml = NULL, path[1024], *want;
		int r;

		spec_of(&golden[i], &s);
		params_of(&golden[i], &s, &p);
		r = domxml_build(&p, &xml, &err);
		if (r != 0)
			fail_msg("%s: %s (%s)", golden[i].name, err.message, err.field);
		snprintf(path, sizeof path, "%s/%s.xml", data_dir, golden[i].name);
		if (update) {
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fputs(xml, f);
			fclose(f);
		}
		want = slurp(path);
		if (!want)
			fail_msg("%s: golden file %s is missing (run with HV_UPDATE_GOLDEN=1)",
				 golden[i].name, path);
		if (strcmp(want, xml) != 0)
			fail_msg("%s: XML differs from %s:\n%s", golden[i].name, path, xml);
		free(want);
		free(xml);
	}
}

struct bad_case {
	const char *what;
	uint32_t vcpus;
	uint64_t ram_mb;
	struct hvd_kv specs[MAX_KV];
	struct hvd_kv props[MAX_KV];
	const char *field;
	const char *message_part;
};

static const struct bad_case bad[] = {
	{"unknown hw key", 2, 1024, {{"hw:cpu_turbo", "yes"}}, {}, "hw:cpu_turbo", "unknown"},
	{"unknown quota key",
	 2,
	 1024,
	 {{"quota:cpu_burst", "1"}},
	 {},
	 "quota:cpu_burst",
	 "unknown"},
	{"topology product is not vcpus",
	 4,
	 1024,
	 {{"hw:cpu_sockets", "3"}},
	 {},
	 "hw:cpu_sockets",
	 "must equal the flavor's 4 vCPUs"},
	{"topology product too large",
	 4,
	 1024,
	 {{"hw:cpu_sockets", "2"}, {"hw:cpu_cores", "2"}, {"hw:cpu_threads", "2"}},
	 {},
	 "hw:cpu_sockets",
	 "must equal"},
	{"preferred above max",
	 4,
	 1024,
	 {{"hw:cpu_sockets", "4"}, {"hw:cpu_max_sockets", "2"}},
	 {},
	 "hw:cpu_sockets",
	 "must not exceed the maximum"},
	{"sockets zero",
	 4,
	 1024,
	 {{"hw:cpu_sockets", "0"}},
	 {},
	 "hw:cpu_sockets",
	 "must be an integer 1-4"},
	{"sockets not a number",
	 4,
	 1024,
	 {{"hw:cpu_sockets", "two"}},
	 {},
	 "hw:cpu_sockets",
	 "must be an integer 1-4"},
	{"max threads too small",
	 4,
	 1024,
	 {{"hw:cpu_threads", "2"}, {"hw:cpu_max_threads", "1"}},
	 {},
	 "hw:cpu_threads",
	 "must not exceed"},
	{"more nodes than host cells",
	 4,
	 1024,
	 {{"hw:numa_nodes", "3"}},
	 {},
	 "hw:numa_nodes",
	 "must be 1-2"},
	{"nodes uneven", 3, 1024, {{"hw:numa_nodes", "2"}}, {}, "hw:numa_nodes", "does not divide"},
	{"numa cpus leave a vcpu out",
	 8,
	 4096,
	 {{"hw:numa_nodes", "2"},
	  {"hw:numa_cpus.0", "0-2"},
	  {"hw:numa_cpus.1", "4-7"},
	  {"hw:numa_mem.0", "2048"},
	  {"hw:numa_mem.1", "2048"}},
	 {},
	 "hw:numa_cpus",
	 "vCPU 3 is in no cell"},
	{"numa cpus overlap",
	 8,
	 4096,
	 {{"hw:numa_nodes", "2"},
	  {"hw:numa_cpus.0", "0-4"},
	  {"hw:numa_cpus.1", "4-7"},
	  {"hw:numa_mem.0", "2048"},
	  {"hw:numa_mem.1", "2048"}},
	 {},
	 "hw:numa_cpus",
	 "already in another cell"},
	{"numa cpus beyond vcpus",
	 8,
	 4096,
	 {{"hw:numa_nodes", "2"},
	  {"hw:numa_cpus.0", "0-5"},
	  {"hw:numa_cpus.1", "6-8"},
	  {"hw:numa_mem.0", "2048"},
	  {"hw:numa_mem.1", "2048"}},
	 {},
	 "hw:numa_cpus",
	 "within 0-7"},
	{"numa mem does not add up",
	 8,
	 4096,
	 {{"hw:numa_nodes", "2"},
	  {"hw:numa_cpus.0", "0-5"},
	  {"hw:numa_cpus.1", "6,7"},
	  {"hw:numa_mem.0", "3072"},
	  {"hw:numa_mem.1", "512"}},
	 {},
	 "hw:numa_mem",
	 "add up to 3584 MB, the flavor has 4096 MB"},
	{"numa mem missing for a cell",
	 8,
	 4096,
	 {{"hw:numa_nodes", "2"},
	  {"hw:numa_cpus.0", "0-5"},
	  {"hw:numa_cpus.1", "6,7"},
	  {"hw:numa_mem.0", "4096"}},
	 {},
	 "hw:numa_mem",
	 "hw:numa_mem.1 is missing"},
	{"numa cell index past nodes",
	 8,
	 4096,
	 {{"hw:numa_nodes", "1"}, {"hw:numa_cpus.1", "0-7"}},
	 {},
	 "hw:numa_cpus",
	 "only cells 0-0 exist"},
	{"numa cell memory exceeds host cell",
	 8,
	 20480,
	 {{"hw:numa_nodes", "2"}},
	 {},
	 "hw:numa_mem",
	 "fits no free host cell"},
	{"numa cell cpus exceed host cell",
	 12,
	 4096,
	 {{"hw:numa_nodes", "1"}},
	 {},
	 "hw:numa_cpus",
	 "fits no free host cell"},
	{"numa cpus without nodes",
	 2,
	 1024,
	 {{"hw:numa_cpus.0", "0-1"}},
	 {},
	 "hw:numa_cpus",
	 "needs hw:numa_nodes"},
	{"mempolicy unknown",
	 2,
	 1024,
	 {{"hw:numa_nodes", "1"}, {"hw:numa_mempolicy", "interleave"}},
	 {},
	 "hw:numa_mempolicy",
	 "must be strict or preferred"},
	{"mempolicy without nodes",
	 2,
	 1024,
	 {{"hw:numa_mempolicy", "strict"}},
	 {},
	 "hw:numa_mempolicy",
	 "needs hw:numa_nodes"},
	{"cpu period too small",
	 1,
	 512,
	 {{"quota:cpu_period", "999"}},
	 {},
	 "quota:cpu_period",
	 "1000-1000000"},
	{"cpu period too large",
	 1,
	 512,
	 {{"quota:cpu_period", "1000001"}},
	 {},
	 "quota:cpu_period",
	 "1000-1000000"},
	{"cpu quota too small",
	 1,
	 512,
	 {{"quota:cpu_quota", "500"}},
	 {},
	 "quota:cpu_quota",
	 "1000-18446744073709551"},
	{"cpu quota too large",
	 1,
	 512,
	 {{"quota:cpu_quota", "18446744073709552"}},
	 {},
	 "quota:cpu_quota",
	 "1000-18446744073709551"},
	{"cpu shares above cgroup v2 weight",
	 1,
	 512,
	 {{"quota:cpu_shares", "20000"}},
	 {},
	 "quota:cpu_shares",
	 "1-10000"},
	{"disk quota unknown",
	 1,
	 512,
	 {{"quota:disk_read_ops_sec", "1"}},
	 {},
	 "quota:disk_read_ops_sec",
	 "unknown disk quota"},
	{"disk quota negative",
	 1,
	 512,
	 {{"quota:disk_read_iops_sec", "-5"}},
	 {},
	 "quota:disk_read_iops_sec",
	 "must be an integer"},
	{"disk total with read bytes",
	 1,
	 512,
	 {{"quota:disk_total_bytes_sec", "100"}, {"quota:disk_read_bytes_sec", "50"}},
	 {},
	 "quota:disk_total_bytes_sec",
	 "excludes"},
	{"disk total with write iops",
	 1,
	 512,
	 {{"quota:disk_write_iops_sec", "100"}, {"quota:disk_total_iops_sec", "50"}},
	 {},
	 "quota:disk_total_iops_sec",
	 "excludes"},
	{"vif peak without average",
	 1,
	 512,
	 {{"quota:vif_inbound_peak", "100"}},
	 {},
	 "quota:vif_inbound_average",
	 "need quota:vif_inbound_average"},
	{"rng rate half given",
	 1,
	 512,
	 {{"hw_rng:rate_bytes", "100"}},
	 {},
	 "hw_rng:rate_period",
	 "go together"},
	{"rng allowed not a bool",
	 1,
	 512,
	 {{"hw_rng:allowed", "maybe"}},
	 {},
	 "hw_rng:allowed",
	 "true or false"},
	{"watchdog action unknown",
	 1,
	 512,
	 {{"hw:watchdog_action", "explode"}},
	 {},
	 "hw:watchdog_action",
	 "disabled, pause, poweroff, reset or none"},
	{"image video ram above flavor max",
	 1,
	 512,
	 {{"hw_video:ram_max_mb", "64"}},
	 {{"hw_video_ram", "128"}},
	 "image.hw_video_ram",
	 "above the flavor's hw_video:ram_max_mb=64"},
	{"image video ram without flavor max",
	 1,
	 512,
	 {},
	 {{"hw_video_ram", "8"}},
	 "image.hw_video_ram",
	 "hw_video:ram_max_mb=0"},
	{"quiesce without guest agent",
	 1,
	 512,
	 {},
	 {{"os_require_quiesce", "yes"}},
	 "image.os_require_quiesce",
	 "needs hw_qemu_guest_agent"},
	{"kernel relative", 1, 512, {}, {{"kernel", "boot/vmlinuz"}}, "image.kernel", "absolute"},
	{"kernel path escapes",
	 1,
	 512,
	 {},
	 {{"kernel", "/images/../../etc/shadow"}},
	 "image.kernel",
	 "without '..'"},
	{"extra spec given twice",
	 1,
	 512,
	 {{"hw:watchdog_action", "reset"}, {"hw:watchdog_action", "pause"}},
	 {},
	 "hw:watchdog_action",
	 "given twice"},
	{"vcpus zero", 0, 512, {}, {}, "flavor.vcpus", "must be 1-256"},
};

static void
every_invalid_input_names_its_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct flavor_case c = {
			.name = "bad", .vcpus = bad[i].vcpus, .ram_mb = bad[i].ram_mb};
		struct hvd_instance_spec s;
		struct domxml_params p;
		struct hv_error err = {0};
		char *xml = NULL;
		int r;

		memcpy(c.specs, bad[i].specs, sizeof c.specs);
		memcpy(c.props, bad[i].props, sizeof c.props);
		spec_of(&c, &s);
		params_of(&c, &s, &p);
		r = domxml_build(&p, &xml, &err);
		if (r != -EINVAL)
			fail_msg("%s: expected -EINVAL, got %d", bad[i].what, r);
		assert_null(xml);
		if (strcmp(err.field, bad[i].field) != 0 ||
		    !strstr(err.message, bad[i].message_part))
			fail_msg("%s: got field '%s' message '%s'; want field '%s' containing '%s'",
				 bad[i].what, err.field, err.message, bad[i].field,
				 bad[i].message_part);
	}
}

static void
bad_request_strings_are_refused(void **state)
{
	struct flavor_case c = {.name = "x", .vcpus = 1, .ram_mb = 512, .n_ports = 1};
	struct hvd_instance_spec s;
	struct domxml_params p;
	struct hv_error err = {0};
	char *xml = NULL;
	struct hvd_port port = ports[0];

	(void)state;
	spec_of(&c, &s);
	params_of(&c, &s, &p);
	s.name = "bell\x07name";
	assert_int_equal(domxml_build(&p, &xml, &err), -EINVAL);
	assert_string_equal(err.field, "name");

	spec_of(&c, &s);
	s.uuid = "../../etc";
	assert_int_equal(domxml_build(&p, &xml, &err), -EINVAL);
	assert_string_equal(err.field, "uuid");

	spec_of(&c, &s);
	port.mac = "fa:16:3e:00:00:0g";
	s.ports = &port;
	assert_int_equal(domxml_build(&p, &xml, &err), -EINVAL);
	assert_string_equal(err.field, "ports.mac");

	port = ports[0];
	port.ifname = "tap-name-too-long-x";
	assert_int_equal(domxml_build(&p, &xml, &err), -EINVAL);
	assert_string_equal(err.field, "ports.ifname");

	port.ifname = "tap;rm -rf";
	assert_int_equal(domxml_build(&p, &xml, &err), -EINVAL);
	assert_string_equal(err.field, "ports.ifname");
	assert_null(xml);
}

static void
a_hostile_name_survives_intact(void **state)
{
	static const char *const name = "a<b>&c \"d\" 'e' ]]> <![CDATA[x]]> &amp; \xc3\xa9";
	static const struct hvd_kv meta[] = {{"note</hv:meta>", "v<&>\"']]>"}};
	struct flavor_case c = {.name = "x", .vcpus = 1, .ram_mb = 512};
	struct hvd_instance_spec s;
	struct domxml_params p;
	struct hv_error err = {0};
	struct domxml_facts facts;
	char *xml = NULL;
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr obj;
	xmlChar *v;

	(void)state;
	spec_of(&c, &s);
	params_of(&c, &s, &p);
	s.name = name;
	s.metadata = meta;
	s.n_metadata = 1;
	assert_int_equal(domxml_build(&p, &xml, &err), 0);
	assert_int_equal(domxml_read_facts(xml, &facts, &err), 0);
	assert_string_equal(facts.name, name);
	assert_string_equal(facts.uuid, UUID);

	doc = xmlReadMemory(xml, (int)strlen(xml), "d.xml", NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	ctx = xmlXPathNewContext(doc);
	obj = xmlXPathEvalExpression(
		BAD_CAST "/*[local-name()='domain']/metadata/*/*[local-name()='meta']", ctx);
	assert_int_equal(obj->nodesetval->nodeNr, 1);
	v = xmlGetProp(obj->nodesetval->nodeTab[0], BAD_CAST "key");
	assert_string_equal((const char *)v, meta[0].key);
	xmlFree(v);
	v = xmlNodeGetContent(obj->nodesetval->nodeTab[0]);
	assert_string_equal((const char *)v, meta[0].value);
	xmlFree(v);
	xmlXPathFreeObject(obj);
	/* Only one <domain> element and one <name>: nothing was injected. */
	obj = xmlXPathEvalExpression(BAD_CAST "//name", ctx);
	assert_int_equal(obj->nodesetval->nodeNr, 1);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
	free(xml);
}

static void
rescue_boots_the_rescue_disk_first(void **state)
{
	const struct flavor_case *c = &golden[sizeof golden / sizeof golden[0] - 1];
	static const struct hvd_kv rprops[] = {{"kernel", "/images/rescue.vmlinuz"},
					       {"initrd", "/images/rescue.initrd"}};
	struct hvd_image rescue = {.id = "rescue",
				   .path = "/images/rescue",
				   .format = "raw",
				   .properties = rprops,
				   .n_properties = 2};
	struct hvd_instance_spec s;
	struct domxml_params p;
	struct hv_error err = {0};
	struct domxml_facts facts;
	char *xml = NULL, *rx = NULL;

	(void)state;
	spec_of(c, &s);
	params_of(c, &s, &p);
	assert_int_equal(domxml_build(&p, &xml, &err), 0);
	assert_int_equal(domxml_rescue(xml, "/var/lib/hvagent/instances/" UUID "/disk.rescue",
				       &rescue, &rx, &err),
			 0);
	{
		/* kept as a golden file too, so virt-xml-validate checks the rescued domain */
		char path[1024], *want;
		snprintf(path, sizeof path, "%s/rescue-everything.xml", data_dir);
		if (getenv("HV_UPDATE_GOLDEN")) {
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fputs(rx, f);
			fclose(f);
		}
		want = slurp(path);
		assert_non_null(want);
		assert_string_equal(want, rx);
		free(want);
	}
	assert_int_equal(domxml_read_facts(rx, &facts, &err), 0);
	assert_string_equal(facts.root_disk, "/var/lib/hvagent/instances/" UUID "/disk.rescue");
	assert_non_null(strstr(rx, "<target dev=\"vdb\" bus=\"virtio\"/>"));
	assert_non_null(strstr(rx, "<source file=\"/var/lib/hvagent/instances/" UUID "/disk\"/>"));
	/* the ephemeral and swap disks moved one letter on */
	assert_non_null(strstr(rx, "<target dev=\"vdd\" bus=\"virtio\"/>"));
	assert_non_null(strstr(rx, "<kernel>/images/rescue.vmlinuz</kernel>"));
	free(xml);
	free(rx);
}

/* What libvirt hands back after define: every device addressed, the root disk in slot 4. The
 * guest names virtio disks in PCI order, so the rescue disk must take the root's slot. */
static void
rescue_disk_takes_the_lowest_disk_slot_of_a_defined_domain(void **state)
{
	static const char defined[] =
		"<domain type='qemu'><name>i</name><uuid>" UUID "</uuid>"
		"<os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><devices>"
		"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
		"<source file='/i/disk'/><target dev='vda' bus='virtio'/>"
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></disk>"
		"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
		"<source file='/i/disk.eph0'/><target dev='vdb' bus='virtio'/>"
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></disk>"
		"<interface type='ethernet'><model type='virtio'/>"
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>"
		"</interface><memballoon model='virtio'>"
		"<address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>"
		"</memballoon></devices></domain>";
	struct hvd_image rescue = {.id = "rescue", .path = "/images/rescue", .format = "qcow2"};
	struct hv_error err = {0};
	char *rx = NULL, *vda, *vdb, *vdc;

	(void)state;
	assert_int_equal(domxml_rescue(defined, "/i/disk.rescue", &rescue, &rx, &err), 0);
	vda = strstr(rx, "/i/disk.rescue");
	vdb = strstr(rx, "/i/disk\"");
	vdc = strstr(rx, "/i/disk.eph0");
	assert_non_null(vda);
	assert_non_null(vdb);
	assert_non_null(vdc);
	/* document order is PCI order: rescue, root, ephemeral */
	assert_true(vda < vdb && vdb < vdc);
	assert_non_null(strstr(vda, "slot=\"0x04\""));
	assert_true(strstr(vda, "slot=\"0x04\"") < vdb);
	assert_true(strstr(vdb, "slot=\"0x05\"") < vdc);
	/* slot 6 is the balloon's: the ephemeral disk moves to the next free one */
	assert_non_null(strstr(vdc, "slot=\"0x07\""));
	assert_null(strstr(rx, "slot=\"0x08\""));
	free(rx);
}

static void
capabilities_give_cells_siblings_and_pages(void **state)
{
	char path[1024], *caps;
	struct hvd_host_info info = {.struct_size = sizeof info};
	struct domxml_host host;
	struct hv_error err = {0};
	static const char *smt =
		"<capabilities><host><cpu><arch>x86_64</arch><model>Skylake</model></"
		"cpu><topology><cells num='1'>"
		"<cell id='0'><memory unit='KiB'>1048576</memory><pages unit='KiB' "
		"size='4'>262144</pages>"
		"<cpus num='4'><cpu id='0' siblings='0,2'/><cpu id='1' siblings='1,3'/>"
		"<cpu id='2' siblings='0,2'/><cpu id='3' "
		"siblings='1,3'/></cpus></cell></cells></topology></host></capabilities>";

	(void)state;
	snprintf(path, sizeof path, "%s/caps-test-default.xml", data_dir);
	caps = slurp(path);
	assert_non_null(caps);
	assert_int_equal(caps_parse(caps, &info, &host, &err), 0);
	assert_int_equal(info.n_cells, 2);
	assert_string_equal(info.cells[0].cpuset, "0-7");
	assert_string_equal(info.cells[1].cpuset, "8-15");
	assert_string_equal(info.cells[0].siblings, "");
	assert_int_equal(info.cells[1].memory_mb, 4096);
	assert_int_equal(info.cells[0].n_mempages, 3);
	assert_int_equal(info.cells[0].mempages[0].size_kb, 4);
	assert_int_equal(info.cells[0].mempages[0].total, 524288);
	assert_int_equal(host.n_cells, 2);
	assert_int_equal(host.cells[1].n_cpus, 8);
	free(caps);

	assert_int_equal(caps_parse(smt, &info, &host, &err), 0);
	assert_string_equal(info.arch, "x86_64");
	assert_string_equal(info.cpu_model, "Skylake");
	assert_string_equal(info.cells[0].cpuset, "0-3");
	assert_string_equal(info.cells[0].siblings, "0,2;1,3");
	assert_int_equal(caps_parse("<not xml", &info, &host, &err), -EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_flavor_matches_its_golden_file),
		cmocka_unit_test(every_invalid_input_names_its_field),
		cmocka_unit_test(bad_request_strings_are_refused),
		cmocka_unit_test(a_hostile_name_survives_intact),
		cmocka_unit_test(rescue_boots_the_rescue_disk_first),
		cmocka_unit_test(rescue_disk_takes_the_lowest_disk_slot_of_a_defined_domain),
		cmocka_unit_test(capabilities_give_cells_siblings_and_pages),
	};

	data_dir = getenv("HV_LIBVIRT_DATA");
	if (!data_dir) {
		fprintf(stderr, "HV_LIBVIRT_DATA is not set\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
