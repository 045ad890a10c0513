/* driver.c - the libvirt driver plugin: the entry symbol, the ops table and every op of
 * <hvagent/driver.h> over one libvirt connection per host, except those that change an
 * instance's definition (resize, rebuild, rescue, snapshot: change.c).
 *
 * The domain XML comes from domxml (pure, validated before anything is created); disks from
 * disk (qemu-img by argv); the connection, events and reconnects from conn. Per instance the
 * driver keeps files under instances_path/<uuid>/: disk (root overlay), disk.eph0, disk.swap
 * and console.log; get_instance and list_instances report change.c's state files there
 * (resize.xml: resize pending, unrescue.xml: rescued).
 * Never logs; never passes a request string to a shell. */
#include "lv-priv.h"
#include "access.h"
#include "caps.h"
#include "disk.h"
#include "domxml.h"
#include "lv_config.h"
#include "extraspec.h"
#include "ids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <crypt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define POLL_MS 100

/* ---------------------------------------------------------------- helpers */

int
lv_inst_path(const struct hvd_host *h, const char *uuid, const char *file, char *buf, size_t size)
{
	int n = file ? snprintf(buf, size, "%s/%s/%s", h->instances_path, uuid, file)
		     : snprintf(buf, size, "%s/%s", h->instances_path, uuid);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool
lv_inst_has(const struct hvd_host *h, const char *uuid, const char *file)
{
	char p[PATH_MAX];

	return lv_inst_path(h, uuid, file, p, sizeof p) == 0 && access(p, F_OK) == 0;
}

void
lv_inst_unlink(const struct hvd_host *h, const char *uuid, const char *file)
{
	char p[PATH_MAX];

	if (lv_inst_path(h, uuid, file, p, sizeof p) == 0)
		unlink(p);
}

/* Removes the instance directory and the files in it (it holds no subdirectories). */
static void
inst_remove_dir(const struct hvd_host *h, const char *uuid)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *e;

	if (lv_inst_path(h, uuid, NULL, p, sizeof p) < 0 || !(d = opendir(p)))
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(p);
}

int
lv_check_uuid(const char *uuid, struct hv_error *err)
{
	if (!hv_uuid_valid(uuid))
		return hv_error_set(err, -EINVAL, "uuid",
				    "uuid must be 8-4-4-4-12 lower-case hex digits");
	return 0;
}

int
lv_dom_get(struct hvd_host *h, const char *uuid, virConnectPtr *ret_vc, virDomainPtr *ret_dom,
	   struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r;

	if ((r = lv_check_uuid(uuid, err)) < 0)
		return r;
	if (!(vc = conn_get(h->conn, err)))
		return -ENOTCONN;
	dom = virDomainLookupByUUIDString(vc, uuid);
	if (!dom) {
		r = conn_error(h->conn, vc, err, "uuid", uuid);
		if (r == -ENOENT)
			hv_error_set(err, -ENOENT, "uuid", "no instance %s on this host", uuid);
		virConnectClose(vc);
		return r;
	}
	*ret_vc = vc;
	*ret_dom = dom;
	return 0;
}

void
lv_dom_put(virConnectPtr vc, virDomainPtr dom)
{
	if (dom)
		virDomainFree(dom);
	if (vc)
		virConnectClose(vc);
}

int
lv_dom_state(virDomainPtr dom)
{
	int state = VIR_DOMAIN_NOSTATE, reason;

	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return -1;
	return state;
}

/* saved: 1 or 0 when the caller knows whether a managed save exists, -1 to ask. */
static enum hvd_power_state
power_of(virDomainPtr dom, int state, int saved)
{
	switch (state) {
	case VIR_DOMAIN_RUNNING:
	case VIR_DOMAIN_BLOCKED: return HVD_POWER_RUNNING;
	case VIR_DOMAIN_PAUSED: return HVD_POWER_PAUSED;
	case VIR_DOMAIN_SHUTDOWN:
	case VIR_DOMAIN_SHUTOFF:
		if (saved < 0)
			saved = virDomainHasManagedSaveImage(dom, 0) == 1;
		return saved ? HVD_POWER_SUSPENDED : HVD_POWER_SHUTDOWN;
	case VIR_DOMAIN_CRASHED: return HVD_POWER_CRASHED;
	case VIR_DOMAIN_PMSUSPENDED: return HVD_POWER_SUSPENDED;
	default: return HVD_POWER_NOSTATE;
	}
}

#define SHUTDOWN_RETRY_MS 10000

/* How a graceful stop asks the guest: through its agent when the image declares one
 * (hw_qemu_guest_agent), libvirt falling back to the ACPI button when the agent fails; the
 * button alone otherwise. */
static unsigned
shutdown_flags(virDomainPtr dom)
{
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	struct domxml_facts facts;
	bool agent = xml && domxml_read_facts(xml, &facts, NULL) == 0 && facts.guest_agent;

	free(xml);
	if (!agent)
		return 0;
	virDomainAgentSetResponseTimeout(dom, LV_AGENT_TIMEOUT_S, 0);
	return VIR_DOMAIN_SHUTDOWN_GUEST_AGENT | VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN;
}

/* Asks the guest to shut down and waits until the domain is shut off; true when it is. The
 * request is repeated every SHUTDOWN_RETRY_MS, as nova does: a guest still booting misses
 * a press. */
static bool
shutdown_wait(virDomainPtr dom, uint32_t timeout_s)
{
	unsigned flags = shutdown_flags(dom);
	uint64_t waited = 0;

	if (virDomainShutdownFlags(dom, flags) < 0)
		return false;
	for (;;) {
		int s = lv_dom_state(dom);
		struct timespec ts = {0, POLL_MS * 1000000L};

		if (s == VIR_DOMAIN_SHUTOFF || s < 0)
			return s == VIR_DOMAIN_SHUTOFF;
		if (waited >= (uint64_t)timeout_s * 1000)
			return false;
		nanosleep(&ts, NULL);
		waited += POLL_MS;
		if (waited % SHUTDOWN_RETRY_MS == 0 && lv_dom_state(dom) == VIR_DOMAIN_RUNNING)
			virDomainShutdownFlags(dom, flags);
	}
}

int
lv_stop_domain(struct hvd_host *h, virConnectPtr vc, virDomainPtr dom, uint32_t timeout_s,
	       struct hv_error *err)
{
	int s = lv_dom_state(dom);

	if (s == VIR_DOMAIN_SHUTOFF)
		return 0;
	if (s == VIR_DOMAIN_RUNNING && timeout_s > 0 && shutdown_wait(dom, timeout_s))
		return 0;
	if (virDomainDestroy(dom) < 0 && lv_dom_state(dom) != VIR_DOMAIN_SHUTOFF)
		return conn_error(h->conn, vc, err, "uuid", "destroy");
	return 0;
}

static int
info_of(struct hvd_host *h, virDomainPtr dom, int saved, struct hvd_instance_info *ret)
{
	virDomainInfo vi;
	struct hvd_instance_info info = {.struct_size = ret->struct_size};
	size_t n = ret->struct_size < sizeof info ? ret->struct_size : sizeof info;

	if (virDomainGetUUIDString(dom, info.uuid) < 0 || virDomainGetInfo(dom, &vi) < 0)
		return -EIO;
	info.power_state = power_of(dom, vi.state, saved);
	info.vcpus = vi.nrVirtCpu;
	info.memory_mb = vi.maxMem / 1024;
	info.cpu_time_ns = vi.cpuTime;
	info.rescued = lv_inst_has(h, info.uuid, "unrescue.xml");
	info.resize_pending = lv_inst_has(h, info.uuid, "resize.xml");
	memcpy(ret, &info, n);
	ret->struct_size = (uint32_t)n;
	return 0;
}

/* The host's NUMA cells, read once: they do not change while the host runs. */
static int
host_topology(struct hvd_host *h, virConnectPtr vc, struct domxml_host *ret, struct hv_error *err)
{
	struct hvd_host_info info = {.struct_size = sizeof info};
	char *caps;
	int r;

	pthread_mutex_lock(&h->lock);
	if (h->topology_known) {
		*ret = h->topology;
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	pthread_mutex_unlock(&h->lock);
	if (!(caps = virConnectGetCapabilities(vc)))
		return conn_error(h->conn, vc, err, "", "capabilities");
	r = caps_parse(caps, &info, ret, err);
	free(caps);
	if (r == 0) {
		pthread_mutex_lock(&h->lock);
		h->topology = *ret;
		h->topology_known = true;
		pthread_mutex_unlock(&h->lock);
	}
	return r;
}

static bool
port_free(const char *listen, uint32_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd, one = 1;
	bool ok;

	if (inet_pton(AF_INET, listen, &sa.sin_addr) != 1)
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* A serial console port from the range: not held by a domain defined here, and free now. */
static int
port_take(struct hvd_host *h, virConnectPtr vc, uint32_t *ret, struct hv_error *err)
{
	uint32_t n = h->port_hi - h->port_lo + 1;
	int r = -EBUSY;

	pthread_mutex_lock(&h->lock);
	if (!h->ports_scanned) {
		virDomainPtr *doms = NULL;
		int nd = virConnectListAllDomains(vc, &doms, 0);
		for (int i = 0; i < nd; i++) {
			char *xml = virDomainGetXMLDesc(doms[i], VIR_DOMAIN_XML_INACTIVE);
			struct domxml_facts f;
			if (xml && domxml_read_facts(xml, &f, NULL) == 0 &&
			    f.serial_port >= h->port_lo && f.serial_port <= h->port_hi)
				h->port_used[f.serial_port - h->port_lo] = 1;
			free(xml);
			virDomainFree(doms[i]);
		}
		free(doms);
		h->ports_scanned = nd >= 0;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (h->port_used[i] || !port_free(h->listen, h->port_lo + i))
			continue;
		h->port_used[i] = 1;
		*ret = h->port_lo + i;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&h->lock);
	if (r < 0)
		return hv_error_set(err, -EBUSY, "serial_port_range",
				    "no free serial console port in %u-%u", h->port_lo, h->port_hi);
	return 0;
}

static void
port_release(struct hvd_host *h, uint32_t port)
{
	if (!port || port < h->port_lo || port > h->port_hi)
		return;
	pthread_mutex_lock(&h->lock);
	h->port_used[port - h->port_lo] = 0;
	pthread_mutex_unlock(&h->lock);
}

/* ---------------------------------------------------------------- open / close */

static int
parse_u32(const char *key, const char *v, uint32_t lo, uint32_t hi, uint32_t *ret,
	  struct hv_error *err)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return hv_error_set(err, -EINVAL, key, "%s=%s: must be an integer %u-%u", key, v,
				    lo, hi);
	*ret = (uint32_t)n;
	return 0;
}

static void host_free(struct hvd_host *h);

/* The self-check of a stock libvirtd: qemu runs as an unprivileged user (Debian's
 * libvirt-qemu, Fedora's qemu) that must search every directory down to the guests' files,
 * or the first boot fails with "Cannot access storage file". Asks the daemon which user
 * (the DAC baselabel of its capabilities) and names the first directory that user cannot
 * search. Nothing to check when the daemon has no DAC driver. */
static int
lv_check_reach(struct hvd_host *h, const char *const *paths, const char *const *fields, size_t n,
	       struct hv_error *err)
{
	virConnectPtr vc = conn_get(h->conn, err);
	char *caps;
	uid_t uid;
	gid_t gid;
	int r;

	if (!vc)
		return -ENOTCONN;
	caps = virConnectGetCapabilities(vc);
	if (!caps) {
		r = conn_error(h->conn, vc, err, "", "capabilities");
		virConnectClose(vc);
		return r;
	}
	virConnectClose(vc);
	r = caps_dac_user(caps, h->virt_type, &uid, &gid, err);
	free(caps);
	for (size_t i = 0; r > 0 && i < n; i++)
		if (paths[i] && paths[i][0])
			r = access_traversable(paths[i], uid, gid, fields[i], err) < 0 ? -EACCES
										       : 1;
	return r < 0 ? r : 0;
}

static int
lv_open(const struct hvd_kv *cfg, size_t n_cfg, struct hvd_host **ret_host, struct hv_error *err)
{
	struct hvd_host *h = calloc(1, sizeof *h);
	uint32_t debounce_ms = 5000, kb = 64;
	const char *image_store = NULL;
	int r = 0;

	if (!h)
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	pthread_mutex_init(&h->lock, NULL);
	snprintf(h->uri, sizeof h->uri, "qemu:///system");
	snprintf(h->virt_type, sizeof h->virt_type, "kvm");
	snprintf(h->listen, sizeof h->listen, "127.0.0.1");
	snprintf(h->instances_path, sizeof h->instances_path, "%s/lib/hvagent/instances",
		 HV_LOCALSTATEDIR);
	h->reboot_timeout = 120;
	h->shutdown_timeout = 60;
	h->snapshot_timeout = 3600;
	h->live_snapshot = true;
	h->port_lo = 10000;
	h->port_hi = 20000;

	for (size_t i = 0; i < n_cfg && r == 0; i++) {
		const char *k = cfg[i].key, *v = cfg[i].value;
		if (!k || !v)
			continue;
		if (strcmp(k, "uri") == 0) {
			if (!*v || strlen(v) >= sizeof h->uri)
				r = hv_error_set(err, -EINVAL, k, "uri must be 1-%zu bytes",
						 sizeof h->uri - 1);
			else
				snprintf(h->uri, sizeof h->uri, "%s", v);
		} else if (strcmp(k, "virt_type") == 0) {
			if (strcmp(v, "kvm") != 0 && strcmp(v, "qemu") != 0)
				r = hv_error_set(err, -EINVAL, k,
						 "virt_type=%s: must be kvm or qemu", v);
			else
				snprintf(h->virt_type, sizeof h->virt_type, "%s", v);
		} else if (strcmp(k, "reboot_timeout") == 0) {
			r = parse_u32(k, v, 0, 3600, &h->reboot_timeout, err);
		} else if (strcmp(k, "shutdown_timeout") == 0) {
			r = parse_u32(k, v, 0, 3600, &h->shutdown_timeout, err);
		} else if (strcmp(k, "snapshot_timeout") == 0) {
			r = parse_u32(k, v, 1, 86400, &h->snapshot_timeout, err);
		} else if (strcmp(k, "live_snapshot") == 0) {
			if (hv_parse_bool(v, &h->live_snapshot) < 0)
				r = hv_error_set(err, -EINVAL, k,
						 "live_snapshot=%s: must be true or false", v);
		} else if (strcmp(k, "event_debounce_ms") == 0) {
			r = parse_u32(k, v, 0, 600000, &debounce_ms, err);
		} else if (strcmp(k, "console_log_max_kb") == 0) {
			r = parse_u32(k, v, 1, 1024 * 1024, &kb, err);
		} else if (strcmp(k, "vnc_listen") == 0) {
			struct in_addr a;
			if (inet_pton(AF_INET, v, &a) != 1)
				r = hv_error_set(err, -EINVAL, k,
						 "vnc_listen=%s: must be an IPv4 address", v);
			else
				snprintf(h->listen, sizeof h->listen, "%s", v);
		} else if (strcmp(k, "serial_port_range") == 0) {
			unsigned lo, hi;
			char tail;
			if (!*v) {
				h->port_lo = h->port_hi = 0;
			} else if (sscanf(v, "%u:%u%c", &lo, &hi, &tail) != 2 || lo < 1024 ||
				   hi > 65535 || lo > hi || hi - lo > 65535) {
				r = hv_error_set(err, -EINVAL, k,
						 "serial_port_range=%s: must be LOW:HIGH within "
						 "1024-65535, or empty",
						 v);
			} else {
				h->port_lo = lo;
				h->port_hi = hi;
			}
		} else if (strcmp(k, "image_store") == 0) {
			image_store = v;
		} else if (strcmp(k, "instances_path") == 0) {
			if (v[0] != '/' || strlen(v) >= sizeof h->instances_path)
				r = hv_error_set(err, -EINVAL, k,
						 "instances_path must be an absolute path");
			else
				snprintf(h->instances_path, sizeof h->instances_path, "%s", v);
		}
	}
	h->console_log_max = (size_t)kb * 1024;
	if (r == 0 && h->port_lo && !(h->port_used = calloc(h->port_hi - h->port_lo + 1, 1)))
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
	if (r == 0 && mkdir(h->instances_path, 0755) < 0 && errno != EEXIST)
		r = hv_error_set(err, -errno, "instances_path", "cannot create %s: %s",
				 h->instances_path, strerror(errno));
	if (r == 0)
		r = conn_new(h->uri, debounce_ms, &h->conn, err);
	if (r == 0) {
		const char *paths[] = {h->instances_path, image_store};
		const char *const fields[] = {"instances_path", "image_store"};
		r = lv_check_reach(h, paths, fields, 2, err);
	}
	if (r < 0) {
		host_free(h);
		return r;
	}
	*ret_host = h;
	return 0;
}

static void
host_free(struct hvd_host *h)
{
	if (!h)
		return;
	conn_free(h->conn);
	pthread_mutex_destroy(&h->lock);
	free(h->port_used);
	free(h);
}

static void
lv_close(struct hvd_host *h)
{
	host_free(h);
}

/* ---------------------------------------------------------------- host */

static int
lv_host_info(struct hvd_host *h, struct hvd_host_info *ret, struct hv_error *err)
{
	struct hvd_host_info info = {.struct_size = sizeof info};
	size_t n = ret->struct_size < sizeof info ? ret->struct_size : sizeof info;
	virConnectPtr vc = conn_get(h->conn, err);
	virNodeInfo ni;
	unsigned long long free_mem[HVD_MAX_NUMA_CELLS];
	unsigned long ver = 0;
	const char *type;
	char *caps;
	struct statvfs sv;
	int r;

	if (!vc)
		return -ENOTCONN;
	if (!(caps = virConnectGetCapabilities(vc)) || virNodeGetInfo(vc, &ni) < 0) {
		free(caps);
		r = conn_error(h->conn, vc, err, "", "host info");
		virConnectClose(vc);
		return r;
	}
	r = caps_parse(caps, &info, NULL, err);
	free(caps);
	if (r < 0) {
		virConnectClose(vc);
		return r;
	}
	type = virConnectGetType(vc);
	snprintf(info.hypervisor_type, sizeof info.hypervisor_type, "%s", type ? type : "");
	virConnectGetVersion(vc, &ver);
	info.hypervisor_version = ver;
	if (!info.cpu_model[0])
		snprintf(info.cpu_model, sizeof info.cpu_model, "%s", ni.model);
	info.vcpus = ni.cpus;
	info.memory_mb = ni.memory / 1024;
	if (statvfs(h->instances_path, &sv) == 0)
		info.local_gb = (uint64_t)sv.f_blocks * sv.f_frsize >> 30;
	if (info.n_cells &&
	    virNodeGetCellsFreeMemory(vc, free_mem, 0, (int)info.n_cells) == (int)info.n_cells)
		for (uint32_t i = 0; i < info.n_cells; i++) {
			uint64_t free_mb = free_mem[i] >> 20;
			info.cells[i].memory_used_mb = info.cells[i].memory_mb > free_mb
							       ? info.cells[i].memory_mb - free_mb
							       : 0;
		}
	for (uint32_t i = 0; i < info.n_cells; i++) {
		struct hvd_numa_cell *c = &info.cells[i];
		unsigned int sizes[HVD_MAX_PAGE_SIZES];
		unsigned long long avail[HVD_MAX_PAGE_SIZES];

		for (uint32_t p = 0; p < c->n_mempages; p++)
			sizes[p] = c->mempages[p].size_kb;
		/* Drivers without per-cell page counts leave "used" at 0. */
		if (c->n_mempages && virNodeGetFreePages(vc, c->n_mempages, sizes, (int)c->id, 1,
							 avail, 0) == (int)c->n_mempages)
			for (uint32_t p = 0; p < c->n_mempages; p++)
				c->mempages[p].used = c->mempages[p].total > avail[p]
							      ? c->mempages[p].total - avail[p]
							      : 0;
	}
	virConnectClose(vc);
	memcpy(ret, &info, n);
	ret->struct_size = (uint32_t)n;
	return 0;
}

/* Memory a guest could have now: free, plus the page cache and buffers the kernel gives
 * back on demand (the agent's claim counts the rest as used; MemFree alone would count a
 * busy host's cache as taken). */
static uint64_t
node_free_mb(virConnectPtr vc)
{
	int n = 0;
	uint64_t kb = 0;
	if (virNodeGetMemoryStats(vc, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) == 0 && n > 0) {
		virNodeMemoryStatsPtr p = calloc((size_t)n, sizeof *p);
		if (p && virNodeGetMemoryStats(vc, VIR_NODE_MEMORY_STATS_ALL_CELLS, p, &n, 0) == 0)
			for (int i = 0; i < n; i++)
				if (strcmp(p[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0 ||
				    strcmp(p[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
				    strcmp(p[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0)
					kb += p[i].value;
		free(p);
	}
	return kb ? kb >> 10 : virNodeGetFreeMemory(vc) >> 20;
}

static int
lv_host_stats(struct hvd_host *h, struct hvd_host_stats *ret, struct hv_error *err)
{
	struct hvd_host_stats st = {.struct_size = sizeof st};
	size_t n = ret->struct_size < sizeof st ? ret->struct_size : sizeof st;
	virConnectPtr vc = conn_get(h->conn, err);
	virNodeInfo ni;
	int nparams = 0, r;
	struct statvfs sv;

	if (!vc)
		return -ENOTCONN;
	if (virNodeGetInfo(vc, &ni) < 0) {
		r = conn_error(h->conn, vc, err, "", "node info");
		virConnectClose(vc);
		return r;
	}
	st.cpu_mhz = ni.mhz;
	if (virNodeGetCPUStats(vc, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &nparams, 0) == 0 &&
	    nparams > 0) {
		virNodeCPUStatsPtr p = calloc((size_t)nparams, sizeof *p);
		if (p && virNodeGetCPUStats(vc, VIR_NODE_CPU_STATS_ALL_CPUS, p, &nparams, 0) == 0) {
			for (int i = 0; i < nparams; i++) {
				if (strcmp(p[i].field, VIR_NODE_CPU_STATS_USER) == 0)
					st.cpu_user_ns = p[i].value;
				else if (strcmp(p[i].field, VIR_NODE_CPU_STATS_KERNEL) == 0)
					st.cpu_kernel_ns = p[i].value;
				else if (strcmp(p[i].field, VIR_NODE_CPU_STATS_IDLE) == 0)
					st.cpu_idle_ns = p[i].value;
				else if (strcmp(p[i].field, VIR_NODE_CPU_STATS_IOWAIT) == 0)
					st.cpu_iowait_ns = p[i].value;
			}
		}
		free(p);
	}
	st.memory_free_mb = node_free_mb(vc);
	r = virConnectNumOfDomains(vc);
	st.running_vms = r > 0 ? (uint32_t)r : 0;
	if (statvfs(h->instances_path, &sv) == 0) {
		st.disk_free_gb = (uint64_t)sv.f_bavail * sv.f_frsize >> 30;
		st.local_gb_used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize >> 30;
	}
	virConnectClose(vc);
	memcpy(ret, &st, n);
	ret->struct_size = (uint32_t)n;
	return 0;
}

static int
lv_list_instances(struct hvd_host *h, hvd_instance_fn fn, void *ctx, struct hv_error *err)
{
	virConnectPtr vc = conn_get(h->conn, err);
	virDomainPtr *doms = NULL, *saved = NULL;
	int n, n_saved, r = 0;

	if (!vc)
		return -ENOTCONN;
	n = virConnectListAllDomains(vc, &doms, 0);
	if (n < 0) {
		r = conn_error(h->conn, vc, err, "", "list domains");
		virConnectClose(vc);
		return r;
	}
	/* One listing of the managed-saved domains instead of one question per domain. */
	n_saved = virConnectListAllDomains(vc, &saved, VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE);
	for (int i = 0; i < n; i++) {
		struct hvd_instance_info info = {.struct_size = sizeof info};
		int is_saved = n_saved < 0 ? -1 : 0;
		unsigned char id[VIR_UUID_BUFLEN], sid[VIR_UUID_BUFLEN];

		if (n_saved > 0 && virDomainGetUUID(doms[i], id) == 0)
			for (int j = 0; j < n_saved; j++)
				if (virDomainGetUUID(saved[j], sid) == 0 &&
				    memcmp(id, sid, sizeof id) == 0)
					is_saved = 1;
		const char *name = virDomainGetName(doms[i]);

		/* Only our own domains: a guest someone else defined here is not an instance. */
		if (!name || strncmp(name, "instance-", 9) != 0) {
			virDomainFree(doms[i]);
			continue;
		}
		/* A domain undefined between the listing and this call is simply gone. */
		if (info_of(h, doms[i], is_saved, &info) == 0)
			fn(ctx, &info);
		virDomainFree(doms[i]);
	}
	for (int j = 0; j < n_saved; j++)
		virDomainFree(saved[j]);
	free(saved);
	free(doms);
	virConnectClose(vc);
	return r;
}

static int
lv_get_instance(struct hvd_host *h, const char *uuid, struct hvd_instance_info *ret,
		struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	if (info_of(h, dom, -1, ret) < 0)
		r = conn_error(h->conn, vc, err, "uuid", "domain info");
	lv_dom_put(vc, dom);
	return r;
}

/* ---------------------------------------------------------------- spawn and friends */

int
lv_files_of(const struct hvd_host *h, const char *uuid, struct lv_inst_files *f,
	    struct hv_error *err)
{
	if (lv_inst_path(h, uuid, NULL, f->dir, sizeof f->dir) < 0 ||
	    lv_inst_path(h, uuid, "disk", f->root, sizeof f->root) < 0 ||
	    lv_inst_path(h, uuid, "disk.eph0", f->eph, sizeof f->eph) < 0 ||
	    lv_inst_path(h, uuid, "disk.swap", f->swap, sizeof f->swap) < 0 ||
	    lv_inst_path(h, uuid, "console.log", f->log, sizeof f->log) < 0)
		return hv_error_set(err, -ENAMETOOLONG, "instances_path",
				    "instance paths are too long");
	return 0;
}

int
lv_build_xml(struct hvd_host *h, virConnectPtr vc, const struct hvd_instance_spec *spec,
	     const struct lv_inst_files *f, uint32_t serial_port, char **ret_xml,
	     uint32_t *ret_port, struct hv_error *err)
{
	struct domxml_host topo;
	struct domxml_params p = {
		.spec = spec,
		.virt_type = h->virt_type,
		.host = &topo,
		.disks.root = spec->existing_disk_path ? spec->existing_disk_path : f->root,
		.disks.root_format = "qcow2",
		.disks.ephemeral = spec->flavor.ephemeral_gb ? f->eph : NULL,
		.disks.swap = spec->flavor.swap_mb ? f->swap : NULL,
		.console_log = f->log,
		.listen = h->listen,
		.vnc = true,
	};
	int r;

	if (spec->struct_size <
	    offsetof(struct hvd_instance_spec, power_on) + sizeof spec->power_on)
		return hv_error_set(err, -EINVAL, "struct_size", "instance spec is too short");
	if ((r = host_topology(h, vc, &topo, err)) < 0)
		return r;
	/* Validate before a port or a file is taken. */
	if ((r = domxml_build(&p, ret_xml, err)) < 0)
		return r;
	free(*ret_xml);
	*ret_xml = NULL;
	if (!serial_port && h->port_lo && (r = port_take(h, vc, &serial_port, err)) < 0)
		return r;
	p.serial_port = serial_port;
	if ((r = domxml_build(&p, ret_xml, err)) < 0)
		return r;
	*ret_port = serial_port;
	return 0;
}

int
lv_make_disks(const struct hvd_instance_spec *spec, const struct lv_inst_files *f,
	      struct hv_error *err)
{
	int r;

	if (!spec->existing_disk_path) {
		if (!spec->image.path || !spec->image.format)
			return hv_error_set(err, -EINVAL, "image.path",
					    "the image has no file in the store");
		if ((r = disk_overlay(f->root, spec->image.path, spec->image.format,
				      spec->flavor.root_gb, err)) < 0)
			return r;
	}
	if (spec->flavor.ephemeral_gb && access(f->eph, F_OK) != 0 &&
	    (r = disk_blank(f->eph, spec->flavor.ephemeral_gb * 1024, err)) < 0)
		return r;
	if (spec->flavor.swap_mb && access(f->swap, F_OK) != 0 &&
	    (r = disk_blank(f->swap, spec->flavor.swap_mb, err)) < 0)
		return r;
	return 0;
}

static int
lv_spawn(struct hvd_host *h, const struct hvd_instance_spec *spec, struct hv_error *err)
{
	struct lv_inst_files f;
	virConnectPtr vc;
	virDomainPtr dom = NULL;
	char *xml = NULL;
	uint32_t port = 0;
	bool made_dir = false;
	int r;

	struct hvd_instance_spec reused;

	if ((r = lv_check_uuid(spec->uuid, err)) < 0 ||
	    (r = lv_files_of(h, spec->uuid, &f, err)) < 0)
		return r;
	if (spec->struct_size >= offsetof(struct hvd_instance_spec, reuse_disk) + sizeof(bool) &&
	    spec->reuse_disk) {
		if (access(f.root, F_OK) != 0)
			return hv_error_set(err, -ENOENT, "reuse_disk",
					    "no disk %s to boot: instances_path is not on "
					    "storage the instance's old host shared",
					    f.root);
		reused = *spec;
		reused.existing_disk_path = f.root;
		spec = &reused;
	}
	if (spec->existing_disk_path && spec->existing_disk_path[0] != '/')
		return hv_error_set(err, -EINVAL, "existing_disk_path",
				    "existing_disk_path must be absolute");
	if (!(vc = conn_get(h->conn, err)))
		return -ENOTCONN;
	if ((dom = virDomainLookupByUUIDString(vc, spec->uuid))) {
		r = hv_error_set(err, -EEXIST, "uuid", "instance %s already exists", spec->uuid);
		goto out;
	}
	if ((r = lv_build_xml(h, vc, spec, &f, 0, &xml, &port, err)) < 0)
		goto out;
	/* 0711: qemu's user (a stock libvirtd's libvirt-qemu) searches it to open the disks
	 * libvirt hands it; it lists nothing, and the files stay the agent's until libvirt's
	 * dynamic ownership gives them to that user for the guest's run. */
	if (mkdir(f.dir, 0711) == 0) {
		made_dir = true;
		(void)chmod(f.dir, 0711); /* whatever the agent's umask */
	} else if (!(errno == EEXIST && spec->existing_disk_path)) {
		/* An evacuated instance on shared storage finds its directory already there. */
		r = hv_error_set(err, -errno, "instances_path", "cannot create %s: %s", f.dir,
				 strerror(errno));
		goto out;
	}
	if ((r = lv_make_disks(spec, &f, err)) < 0)
		goto out;
	if (!(dom = virDomainDefineXML(vc, xml))) {
		r = conn_error(h->conn, vc, err, "spec", "define");
		goto out;
	}
	if (spec->power_on && virDomainCreate(dom) < 0) {
		r = conn_error(h->conn, vc, err, "spec", "start");
		virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE);
		goto out;
	}
	r = 0;
out:
	if (r < 0 && r != -EEXIST) {
		port_release(h, port);
		/* An evacuated disk on shared storage is not ours to remove. */
		if (made_dir)
			inst_remove_dir(h, spec->uuid);
	}
	free(xml);
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_destroy(struct hvd_host *h, const char *uuid, bool delete_disks, struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	char *xml;
	struct domxml_facts facts = {0};
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	if ((xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE)))
		domxml_read_facts(xml, &facts, NULL);
	free(xml);
	if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0 &&
	    virDomainIsActive(dom) == 1) {
		r = conn_error(h->conn, vc, err, "uuid", "destroy");
		goto out;
	}
	if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
						VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0 &&
	    virDomainUndefine(dom) < 0) {
		r = conn_error(h->conn, vc, err, "uuid", "undefine");
		goto out;
	}
	port_release(h, facts.serial_port);
	if (delete_disks)
		inst_remove_dir(h, uuid);
out:
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_power_off(struct hvd_host *h, const char *uuid, uint32_t timeout_s, struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	r = lv_stop_domain(h, vc, dom, timeout_s, err);
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_power_on(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	if (virDomainIsActive(dom) != 1 && virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "uuid", "start");
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_reboot(struct hvd_host *h, const char *uuid, enum hvd_reboot_type type, uint32_t timeout_s,
	  struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);
	int s;

	if (r < 0)
		return r;
	conn_hold(h->conn, uuid);
	s = lv_dom_state(dom);
	if (type == HVD_REBOOT_SOFT) {
		if (s != VIR_DOMAIN_RUNNING) {
			r = hv_error_set(err, -EBUSY, "uuid",
					 "a soft reboot needs a running instance");
			goto out;
		}
		if (shutdown_wait(dom, timeout_s ? timeout_s : h->reboot_timeout)) {
			if (virDomainCreate(dom) < 0)
				r = conn_error(h->conn, vc, err, "uuid", "start");
			goto out;
		}
		/* The guest ignored the button: fall through to a hard reboot, as nova does. */
	}
	{
		char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
		virDomainPtr again;

		if (virDomainIsActive(dom) == 1 && virDomainDestroy(dom) < 0) {
			free(xml);
			r = conn_error(h->conn, vc, err, "uuid", "destroy");
			goto out;
		}
		if (virDomainHasManagedSaveImage(dom, 0) == 1)
			virDomainManagedSaveRemove(dom, 0);
		/* Redefining from the stored definition drops any live-only change. */
		if (xml && (again = virDomainDefineXML(vc, xml)))
			virDomainFree(again);
		free(xml);
		if (virDomainCreate(dom) < 0)
			r = conn_error(h->conn, vc, err, "uuid", "start");
	}
out:
	conn_release(h->conn, uuid);
	lv_dom_put(vc, dom);
	return r;
}

typedef int (*dom_call)(virDomainPtr);

static int
simple_op(struct hvd_host *h, const char *uuid, dom_call call, const char *what,
	  struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	if (call(dom) < 0)
		r = conn_error(h->conn, vc, err, "uuid", what);
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_pause(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	return simple_op(h, uuid, virDomainSuspend, "pause", err);
}

static int
lv_unpause(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	return simple_op(h, uuid, virDomainResume, "unpause", err);
}

static int
managed_save(virDomainPtr dom)
{
	return virDomainManagedSave(dom, 0);
}

static int
lv_suspend(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	return simple_op(h, uuid, managed_save, "suspend", err);
}

static int
lv_resume(struct hvd_host *h, const char *uuid, struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	if (virDomainHasManagedSaveImage(dom, 0) != 1)
		r = hv_error_set(err, -EBUSY, "uuid", "instance %s is not suspended", uuid);
	else if (virDomainCreate(dom) < 0)
		r = conn_error(h->conn, vc, err, "uuid", "resume");
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_console_log(struct hvd_host *h, const char *uuid, size_t max_bytes, char **ret_text,
	       struct hv_error *err)
{
	char path[PATH_MAX], *buf;
	struct stat st;
	size_t want;
	ssize_t n;
	int fd, r;

	if ((r = lv_check_uuid(uuid, err)) < 0)
		return r;
	if (!lv_inst_has(h, uuid, NULL))
		return hv_error_set(err, -ENOENT, "uuid", "no instance %s on this host", uuid);
	lv_inst_path(h, uuid, "console.log", path, sizeof path);
	want = max_bytes && max_bytes < h->console_log_max ? max_bytes : h->console_log_max;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		*ret_text = strdup("");
		return *ret_text ? 0 : hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	if ((size_t)st.st_size < want)
		want = (size_t)st.st_size;
	buf = malloc(want + 1);
	if (!buf) {
		close(fd);
		return hv_error_set(err, -ENOMEM, "", "out of memory");
	}
	n = pread(fd, buf, want, st.st_size - (off_t)want);
	close(fd);
	if (n < 0) {
		free(buf);
		return hv_error_set(err, -EIO, "uuid", "cannot read the console log: %s",
				    strerror(errno));
	}
	buf[n] = '\0';
	*ret_text = buf;
	return 0;
}

static int
lv_get_console(struct hvd_host *h, const char *uuid, enum hvd_console_type type,
	       struct hvd_console *ret, struct hv_error *err)
{
	struct hvd_console c = {.struct_size = sizeof c, .type = type};
	size_t n = ret->struct_size < sizeof c ? ret->struct_size : sizeof c;
	struct domxml_facts facts;
	virConnectPtr vc;
	virDomainPtr dom;
	char *xml;
	int r = lv_dom_get(h, uuid, &vc, &dom, err);

	if (r < 0)
		return r;
	if (virDomainIsActive(dom) != 1) {
		r = hv_error_set(err, -EBUSY, "uuid", "instance %s is not running", uuid);
		goto out;
	}
	if (!(xml = virDomainGetXMLDesc(dom, 0))) {
		r = conn_error(h->conn, vc, err, "uuid", "read definition");
		goto out;
	}
	r = domxml_read_facts(xml, &facts, err);
	free(xml);
	if (r < 0)
		goto out;
	if (type == HVD_CONSOLE_VNC) {
		if (!facts.vnc_port) {
			r = hv_error_set(err, -EOPNOTSUPP, "type", "instance %s has no VNC console",
					 uuid);
			goto out;
		}
		snprintf(c.host, sizeof c.host, "%s",
			 facts.vnc_listen[0] ? facts.vnc_listen : h->listen);
		c.port = facts.vnc_port;
	} else if (type == HVD_CONSOLE_SERIAL) {
		if (!facts.serial_port) {
			r = hv_error_set(err, -EOPNOTSUPP, "type",
					 "instance %s has no TCP serial console", uuid);
			goto out;
		}
		snprintf(c.host, sizeof c.host, "%s", facts.serial_host);
		c.port = facts.serial_port;
	} else {
		r = hv_error_set(err, -EINVAL, "type", "console type must be vnc or serial");
		goto out;
	}
	memcpy(ret, &c, n);
	ret->struct_size = (uint32_t)n;
out:
	lv_dom_put(vc, dom);
	return r;
}

/* The password leaves this process only as a SHA-512 crypt hash: libvirt, qemu and the agent
 * never see it, nor does a debug log of their traffic. cd is wiped by the caller. */
static int
hash_password(const char *password, struct crypt_data *cd, struct hv_error *err)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	const char *hash;

	if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof salt))
		return hv_error_set(err, -EIO, "password", "cannot make a salt: %s",
				    strerror(errno));
	hash = crypt_rn(password, salt, cd, sizeof *cd);
	if (!hash || hash[0] == '*')
		return hv_error_set(err, -EIO, "password", "cannot hash the password");
	return 0;
}

/* Whether the instance can take a password now: running, with an agent channel. */
static int
agent_usable(struct hvd_host *h, virConnectPtr vc, virDomainPtr dom, const char *uuid,
	     struct hv_error *err)
{
	struct domxml_facts facts;
	char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
	int r;

	if (!xml)
		return conn_error(h->conn, vc, err, "uuid", "read definition");
	r = domxml_read_facts(xml, &facts, err);
	free(xml);
	if (r < 0)
		return r;
	if (!facts.guest_agent)
		return hv_error_set(err, -EOPNOTSUPP, "image.hw_qemu_guest_agent",
				    "instance %s has no guest agent: its image does not set "
				    "hw_qemu_guest_agent=yes",
				    uuid);
	if (virDomainIsActive(dom) != 1)
		return hv_error_set(err, -EBUSY, "uuid",
				    "instance %s is not running: its guest agent cannot answer",
				    uuid);
	return 0;
}

static int
lv_set_admin_password(struct hvd_host *h, const char *uuid, const char *user, const char *password,
		      struct hv_error *err)
{
	virConnectPtr vc;
	virDomainPtr dom;
	struct crypt_data *cd;
	int r;

	if (!user || !*user || strlen(user) > 32 || strpbrk(user, ":\n\r"))
		return hv_error_set(err, -EINVAL, "user",
				    "user must be 1-32 bytes without ':' or newlines");
	if (!password || !*password || strchr(password, '\n'))
		return hv_error_set(err, -EINVAL, "password",
				    "password must be non-empty, one line");
	if ((r = lv_dom_get(h, uuid, &vc, &dom, err)) < 0)
		return r;
	if ((r = agent_usable(h, vc, dom, uuid, err)) < 0)
		goto out;
	if (!(cd = calloc(1, sizeof *cd))) {
		r = hv_error_set(err, -ENOMEM, "", "out of memory");
		goto out;
	}
	if ((r = hash_password(password, cd, err)) == 0 &&
	    virDomainSetUserPassword(dom, user, cd->output, VIR_DOMAIN_PASSWORD_ENCRYPTED) < 0) {
		/* libvirt's message names the agent problem; it only ever had the hash. */
		r = conn_error(h->conn, vc, err, "uuid",
			       "set the password through the guest agent");
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
out:
	lv_dom_put(vc, dom);
	return r;
}

static int
lv_set_event_callback(struct hvd_host *h, hvd_event_fn fn, void *ctx, struct hv_error *err)
{
	(void)err;
	conn_set_event_callback(h->conn, fn, ctx);
	return 0;
}

static const struct hvd_driver lv_driver = {
	.abi_version = HVD_ABI_VERSION,
	.struct_size = sizeof(struct hvd_driver),
	.name = "libvirt",
	.version = HV_VERSION,
	.open = lv_open,
	.close = lv_close,
	.host_info = lv_host_info,
	.host_stats = lv_host_stats,
	.list_instances = lv_list_instances,
	.get_instance = lv_get_instance,
	.spawn = lv_spawn,
	.destroy = lv_destroy,
	.power_off = lv_power_off,
	.power_on = lv_power_on,
	.reboot = lv_reboot,
	.pause = lv_pause,
	.unpause = lv_unpause,
	.suspend = lv_suspend,
	.resume = lv_resume,
	.resize = lv_resize,
	.confirm_resize = lv_confirm_resize,
	.revert_resize = lv_revert_resize,
	.rebuild = lv_rebuild,
	.rescue = lv_rescue,
	.unrescue = lv_unrescue,
	.snapshot = lv_snapshot,
	.console_log = lv_console_log,
	.get_console = lv_get_console,
	.set_admin_password = lv_set_admin_password,
	.set_event_callback = lv_set_event_callback,
	.root_disk = lv_root_disk,
	.check_config = lv_check_config,
	.check_reach = lv_check_reach,
	.config_section = LV_CONFIG_SECTION,
	.config_keys = lv_config_keys,
	.needs = HVD_NEED_IMAGE_FILE,
};

HVD_EXPORT const struct hvd_driver *hvagent_driver_entry(uint32_t agent_abi_version);

HVD_EXPORT const struct hvd_driver *
hvagent_driver_entry(uint32_t agent_abi_version)
{
	return agent_abi_version == HVD_ABI_VERSION ? &lv_driver : NULL;
}
