/* hvagent/driver.h - the driver plugin ABI. The only header a driver compiles against.
 *
 * A driver is a shared object exporting ONE symbol, HVD_ENTRY_SYMBOL, a function returning a
 * pointer to a static, immutable struct hvd_driver filled with designated initializers.
 * Drivers are built with -fvisibility=hidden and see no agent symbol.
 *
 * Versioning: struct hvd_driver begins with abi_version and struct_size and is only ever
 * appended to; each op says which ABI version added it. The loader rejects a driver whose
 * abi_version differs from HVD_ABI_VERSION, whose struct_size is smaller than the size of
 * the v1 struct, that leaves a required op NULL, or whose config_keys cannot serve as a
 * schema. An optional op left NULL means "not supported": the agent answers the command
 * with -EOPNOTSUPP and never calls it. Data fields appended to v1 (config_section,
 * config_keys, needs) read as their stated default in a struct that ends before them.
 *
 * Config: a driver declares its hvagent.conf section and keys (config_section,
 * config_keys) and what it needs (needs); the agent knows no driver by name, checks the
 * section like its own (errors as FILE:LINE) and hands it to open().
 * Out-structs (hvd_host_info, ...) also begin with struct_size, set by the CALLER to the
 * size it knows; the driver fills only the fields that fit.
 *
 * Ownership: every pointer passed into an op is borrowed for the duration of the call
 * only; the driver copies what it keeps. Strings a driver returns through `char **ret_*`
 * are malloc'd and owned by the caller, released with free(). Out-structs are caller
 * memory. Handles (struct hvd_host) are owned by the driver from open() until close().
 *
 * Threads: the agent serializes ops per instance but may call ops for different instances
 * of one host concurrently, from worker threads; drivers lock their own state. The event
 * callback may be called from any driver thread; it must not call back into the driver.
 *
 * Errors: ops return >= 0 on success or -errno, and fill *err (see <hvagent/error.h>).
 * Well-known codes: -ENOENT no such instance, -EEXIST instance already exists, -EBUSY
 * the action is invalid in the instance's current state, -EINVAL bad request (err->field
 * names the field), -EOPNOTSUPP not supported, -ETIMEDOUT, -ENOTCONN hypervisor
 * connection lost. Drivers never log. */
#ifndef HVAGENT_DRIVER_H
#define HVAGENT_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvagent/error.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HVD_ABI_VERSION 1u
#define HVD_ENTRY_SYMBOL "hvagent_driver_entry"

#if defined(__GNUC__)
#define HVD_EXPORT __attribute__((visibility("default")))
#else
#define HVD_EXPORT
#endif

/* Power state as observed on the hypervisor; the numbers are nova's, which operators know. */
enum hvd_power_state {
	HVD_POWER_NOSTATE = 0,
	HVD_POWER_RUNNING = 1,
	HVD_POWER_PAUSED = 3,
	HVD_POWER_SHUTDOWN = 4,
	HVD_POWER_CRASHED = 6,
	HVD_POWER_SUSPENDED = 7,
};

enum hvd_reboot_type {
	HVD_REBOOT_SOFT = 0, /* ACPI shutdown, wait up to timeout, start; hard after the timeout */
	HVD_REBOOT_HARD = 1, /* destroy, redefine, start */
};

enum hvd_console_type {
	HVD_CONSOLE_VNC = 0,
	HVD_CONSOLE_SERIAL = 1,
};

enum hvd_event_type {
	HVD_EVENT_STARTED = 0,
	HVD_EVENT_STOPPED =
		1, /* debounced by the driver: a reboot's STOPPED+STARTED is one RESTARTED */
	HVD_EVENT_PAUSED = 2,
	HVD_EVENT_RESUMED = 3,
	HVD_EVENT_SUSPENDED = 4,
	HVD_EVENT_CRASHED = 5,
	HVD_EVENT_DELETED = 6,
	HVD_EVENT_RESTARTED = 7,
	HVD_EVENT_HOST_DOWN = 100, /* uuid NULL: hypervisor connection lost */
	HVD_EVENT_HOST_UP = 101,   /* uuid NULL: reconnected; instance states may have changed */
};

struct hvd_kv {
	const char *key;
	const char *value;
};

/* The type of a config key; the agent checks a value against it before any driver sees it. */
enum hvd_config_type {
	HVD_CONFIG_STRING = 0,
	HVD_CONFIG_INT = 1,  /* decimal, within [min, max] */
	HVD_CONFIG_BOOL = 2, /* true/false, yes/no, on/off, 1/0; handed to open() as true/false */
	HVD_CONFIG_ENUM = 3, /* one of `allowed`, a '|'-separated list: "kvm|qemu" */
	HVD_CONFIG_PATH = 4, /* absolute path */
};

/* Roles a key can play for the agent (struct hvd_config_key.flags). */
#define HVD_KEY_REBOOT_TIMEOUT \
	0x1u /* HVD_CONFIG_INT seconds: the agent's timeout_s for soft
				       * reboots and for restart recovery's hard reboot */
#define HVD_KEY_SHUTDOWN_TIMEOUT \
	0x2u /* HVD_CONFIG_INT seconds: the agent's timeout_s for a
				       * stop that names no wait */

/* One key of a driver's config section (struct hvd_driver.config_keys). Fixed layout: a
 * later ABI that needs more adds a new table, it never grows this struct. */
struct hvd_config_key {
	const char *key; /* [A-Za-z0-9_.-]+; NULL ends the table */
	enum hvd_config_type type;
	const char *def;     /* default as text, valid for type; NULL = unset, not handed over */
	const char *allowed; /* HVD_CONFIG_ENUM only */
	int64_t min, max;    /* HVD_CONFIG_INT only */
	const char *help;    /* one line: --check-config, the sample config, the man page */
	uint32_t flags;      /* HVD_KEY_* */
};

/* What a driver needs from the agent (struct hvd_driver.needs). */
#define HVD_NEED_IMAGE_FILE \
	0x1u /* spawn, rebuild and rescue need the image as a file of the
				  * image store (hvd_image.path); without it the agent hands any
				  * image id, with path NULL when the store lacks it */

struct hvd_flavor {
	const char *name;
	uint32_t vcpus;
	uint64_t ram_mb;
	uint64_t root_gb;
	uint64_t ephemeral_gb;
	uint64_t swap_mb;
	const struct hvd_kv *extra_specs; /* "hw:cpu_sockets" = "2", "quota:cpu_shares" = ... */
	size_t n_extra_specs;
};

struct hvd_image {
	const char *id;
	const char *path;   /* file in the image store; NULL for drivers that need no file */
	const char *format; /* "raw" or "qcow2": recorded, never probed */
	const struct hvd_kv *properties; /* hw_video_ram, hw_qemu_guest_agent, os_require_quiesce */
	size_t n_properties;
};

struct hvd_port {
	const char *id;
	const char *mac;    /* "fa:16:3e:00:00:01" */
	const char *ifname; /* host tap name, <= 15 bytes */
	const char *const *fixed_ips;
	size_t n_fixed_ips;
};

struct hvd_instance_spec {
	uint32_t struct_size; /* sizeof(struct hvd_instance_spec) as the caller knows it */
	const char *uuid;
	const char *name; /* display name: any printable text, escaped by the driver */
	const char *hostname;
	struct hvd_flavor flavor;
	struct hvd_image image;
	const struct hvd_port *ports;
	size_t n_ports;
	const struct hvd_kv *metadata;
	size_t n_metadata;
	const char *config_drive_path; /* ISO attached read-only as a cdrom; NULL for none */
	const char *
		existing_disk_path; /* evacuate on shared storage: boot this disk, do not create one */
	bool power_on;              /* start after define */
	/* evacuate on shared storage: the disks this driver's layout already holds for uuid
	 * (written by the host the instance left, on storage both share) are booted as they
	 * are; none is created, and -ENOENT when they are not there */
	bool reuse_disk;
};

#define HVD_MAX_NUMA_CELLS 16
#define HVD_MAX_PAGE_SIZES 4

struct hvd_numa_cell {
	uint32_t id;
	char cpuset[256];   /* "0-3,8-11" */
	char siblings[256]; /* thread sibling groups "0,8;1,9" ("" when no SMT) */
	uint64_t memory_mb;
	uint64_t memory_used_mb; /* real usage on the host */
	uint32_t n_mempages;
	struct {
		uint32_t size_kb;
		uint64_t total;
		uint64_t used;
	} mempages[HVD_MAX_PAGE_SIZES];
};

struct hvd_host_info {
	uint32_t struct_size;
	char hypervisor_type[32];    /* "QEMU", "fake" */
	uint64_t hypervisor_version; /* major * 1000000 + minor * 1000 + micro */
	char arch[16];
	char cpu_model[64];
	uint32_t vcpus;
	uint64_t memory_mb;
	uint64_t local_gb;
	uint32_t n_cells;
	struct hvd_numa_cell cells[HVD_MAX_NUMA_CELLS];
};

/* Cumulative counters; the agent derives percentages from two samples. */
struct hvd_host_stats {
	uint32_t struct_size;
	uint64_t cpu_user_ns;
	uint64_t cpu_kernel_ns;
	uint64_t cpu_idle_ns;
	uint64_t cpu_iowait_ns;
	uint32_t cpu_mhz;
	uint64_t memory_free_mb;
	uint64_t local_gb_used;
	uint64_t disk_free_gb;
	uint32_t running_vms;
};

struct hvd_instance_info {
	uint32_t struct_size;
	char uuid[37];
	enum hvd_power_state power_state;
	uint32_t vcpus;
	uint64_t memory_mb;
	uint64_t cpu_time_ns;
	bool rescued;        /* booted from a rescue image */
	bool resize_pending; /* resized, waiting for confirm or revert */
};

struct hvd_console {
	uint32_t struct_size;
	enum hvd_console_type type;
	char host[64];
	uint32_t port;
	char password[64]; /* "" when none; a secret: never log it */
};

struct hvd_host;

typedef void (*hvd_event_fn)(void *ctx, const char *uuid, enum hvd_event_type event,
			     enum hvd_power_state power_state);

typedef void (*hvd_instance_fn)(void *ctx, const struct hvd_instance_info *info);

struct hvd_driver {
	uint32_t abi_version; /* HVD_ABI_VERSION the driver was built against */
	uint32_t struct_size; /* sizeof(struct hvd_driver) the driver was built against */
	const char *name;     /* "fake", "libvirt" */
	const char *version;

	/* --- required (v1) --- */

	/* Connects one host. cfg is the driver's config section as key/value pairs (borrowed).
	 * Each call makes an independent host; the fake driver may run thousands. */
	int (*open)(const struct hvd_kv *cfg, size_t n_cfg, struct hvd_host **ret_host,
		    struct hv_error *err);
	/* Releases the host handle (NULL-safe). Guests keep running. */
	void (*close)(struct hvd_host *host);
	/* Static facts: type, version, CPUs, memory, disk, NUMA cells. */
	int (*host_info)(struct hvd_host *host, struct hvd_host_info *ret, struct hv_error *err);
	/* Counters and real usage, sampled now. */
	int (*host_stats)(struct hvd_host *host, struct hvd_host_stats *ret, struct hv_error *err);
	/* Calls fn once per instance the hypervisor knows (defined or running). */
	int (*list_instances)(struct hvd_host *host, hvd_instance_fn fn, void *ctx,
			      struct hv_error *err);
	/* Observes one instance, uncached. -ENOENT when unknown. */
	int (*get_instance)(struct hvd_host *host, const char *uuid, struct hvd_instance_info *ret,
			    struct hv_error *err);
	/* Defines the instance from spec (validating every extra spec first) and starts it when
	 * spec->power_on. -EEXIST when the uuid exists. Nothing is left behind on failure. */
	int (*spawn)(struct hvd_host *host, const struct hvd_instance_spec *spec,
		     struct hv_error *err);
	/* Stops and undefines; removes the instance's disks when delete_disks. -ENOENT when
	 * unknown. */
	int (*destroy)(struct hvd_host *host, const char *uuid, bool delete_disks,
		       struct hv_error *err);
	/* Graceful shutdown, waiting up to timeout_s, then forced off. */
	int (*power_off)(struct hvd_host *host, const char *uuid, uint32_t timeout_s,
			 struct hv_error *err);
	int (*power_on)(struct hvd_host *host, const char *uuid, struct hv_error *err);

	/* --- optional (v1): NULL = not supported --- */

	int (*reboot)(struct hvd_host *host, const char *uuid, enum hvd_reboot_type type,
		      uint32_t timeout_s, struct hv_error *err);
	/* Freezes vCPUs; memory stays resident. */
	int (*pause)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	int (*unpause)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	/* Saves memory to disk and stops the guest (managed save); resume restores it. */
	int (*suspend)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	int (*resume)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	/* Applies new_spec's flavor (same host allowed); the old definition is kept until
	 * confirm_resize or restored by revert_resize. */
	int (*resize)(struct hvd_host *host, const struct hvd_instance_spec *new_spec,
		      struct hv_error *err);
	int (*confirm_resize)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	int (*revert_resize)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	/* Replaces the root disk from spec->image, keeping uuid, ports and identity. */
	int (*rebuild)(struct hvd_host *host, const struct hvd_instance_spec *spec,
		       struct hv_error *err);
	/* Boots rescue_image with the original root disk attached second; unrescue restores. */
	int (*rescue)(struct hvd_host *host, const char *uuid, const struct hvd_image *rescue_image,
		      struct hv_error *err);
	int (*unrescue)(struct hvd_host *host, const char *uuid, struct hv_error *err);
	/* Writes the instance's disk (chain flattened) to dest_path in dest_format, quiescing
	 * through the guest agent when the image asks for it. */
	int (*snapshot)(struct hvd_host *host, const char *uuid, const char *dest_path,
			const char *dest_format, struct hv_error *err);
	/* The last max_bytes of the serial console log; *ret_text is malloc'd, NUL-terminated,
	 * owned by the caller. */
	int (*console_log)(struct hvd_host *host, const char *uuid, size_t max_bytes,
			   char **ret_text, struct hv_error *err);
	int (*get_console)(struct hvd_host *host, const char *uuid, enum hvd_console_type type,
			   struct hvd_console *ret, struct hv_error *err);
	/* Sets a user's password in the running guest through the guest agent. The password is
	 * a secret: never stored, never logged. */
	int (*set_admin_password)(struct hvd_host *host, const char *uuid, const char *user,
				  const char *password, struct hv_error *err);
	/* Registers the lifecycle event callback (fn NULL unregisters). */
	int (*set_event_callback)(struct hvd_host *host, hvd_event_fn fn, void *ctx,
				  struct hv_error *err);
	/* Driver-specific runtime knobs (the fake driver's latency and failure injection). */
	int (*set_option)(struct hvd_host *host, const char *key, const char *value,
			  struct hv_error *err);

	/* --- optional (v1, appended): NULL = not supported --- */

	/* The instance's root disk as a file the agent may edit while the guest is stopped
	 * (offline key and password injection): *ret_path and *ret_format ("raw" or "qcow2",
	 * the driver's own record, never probed) are malloc'd, owned by the caller. -ENOENT
	 * when the instance is unknown. (v1, appended) */
	int (*root_disk)(struct hvd_host *host, const char *uuid, char **ret_path,
			 char **ret_format, struct hv_error *err);
	/* Checks the driver's config section beyond what the key types say (formats, keys that
	 * depend on each other). cfg holds every key of config_keys that has a value, defaults
	 * included, as open() would get it. Returns 0, or -EINVAL with err->field naming the key
	 * at fault and err->message "what is wrong (allowed: ...)", which the agent prints after
	 * the FILE:LINE that set the key. Connects to nothing: --check-config calls it. NULL =
	 * nothing more to check. (v1, appended) */
	int (*check_config)(const struct hvd_kv *cfg, size_t n_cfg, struct hv_error *err);

	/* --- what the driver reads from hvagent.conf and needs from the agent (v1, appended).
	 * A driver whose struct ends before these fields declares no section and needs
	 * HVD_NEED_IMAGE_FILE: what the agent assumed of every driver before. --- */

	/* The hvagent.conf section open() gets ("libvirt"): [a-z0-9_]{1,64}, not one of the
	 * agent's own sections; NULL = the driver reads none. (v1, appended) */
	const char *config_section;
	/* The keys of config_section, ending with an entry whose key is NULL. The agent checks
	 * every value against it, reports problems as FILE:LINE, and hands open() every key that
	 * has a value, defaults included. (v1, appended) */
	const struct hvd_config_key *config_keys;
	/* HVD_NEED_* flags. (v1, appended) */
	uint64_t needs;

	/* --- optional (v1, appended after the data fields): NULL = not supported --- */

	/* Whether the hypervisor's guest processes can reach the n directories the agent keeps
	 * their files in (the instances path, the image store, the config drive directory):
	 * every directory from "/" down to paths[i] searchable by the user the guests run as
	 * (a stock libvirtd: qemu's unprivileged user). The agent's start-up self-check and
	 * --check-config call it once the host is open. Returns 0, or -EACCES with err->field
	 * set to fields[i] and a message naming the directory at fault, its mode and owner; a
	 * path that does not exist yet is checked down to its last existing directory.
	 * (v1, appended) */
	int (*check_reach)(struct hvd_host *host, const char *const *paths,
			   const char *const *fields, size_t n, struct hv_error *err);
};

/* The one symbol a driver exports. agent_abi_version lets a driver refuse an older agent. */
typedef const struct hvd_driver *(*hvd_entry_fn)(uint32_t agent_abi_version);

#ifdef __cplusplus
}
#endif

#endif
