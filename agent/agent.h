/* agent.h - the hvagent core: one thread owning the controller socket (zmq_poll loop),
 * a bounded worker pool that makes every driver call, the instance table, the journal,
 * state sync and events (docs/protocol.md). main.c builds the options from the config;
 * nothing here parses the config or installs signal handlers. */
#ifndef HV_AGENT_AGENT_H
#define HV_AGENT_AGENT_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

#include <hvagent/driver.h>
#include <hvagent/error.h>

struct hv_driver;
struct agent;

struct agent_opts {
	const char *host_id;
	const char *state_dir;
	const char *endpoint;          /* tcp://host:port or ipc://path */
	const char *server_public_key; /* Z85; NULL or "" = no CURVE (tests only) */
	const char *keys_dir;          /* the agent's keypair (created when missing) */
	int heartbeat_s;
	int reconnect_min_ms;
	int reconnect_max_ms;
	int report_interval_s;
	int sync_interval_s; /* 0 = no periodic power-state sync */
	int max_builds;      /* worker threads for commands */
	const char *image_store;
	/* spawn/rebuild/rescue refuse an image that is not in the store; false lets a driver
	 * that needs no file (fake) take any image id, with image.path NULL */
	bool image_store_required;
	int image_cache_max_age_s; /* fetched images unused this long are removed; 0 = kept */
	const char *instances_path;
	const char *config_drive_dir; /* where <uuid>.config drives are written */
	bool force_config_drive;
	/* [guest] offline injection into the root disk before the first start */
	bool inject_key, inject_password;
	int injection_timeout_s;
	bool inject_force_tcg; /* libguestfs without KVM */
	bool netfilter;        /* program security groups and floating IPs */
	const char *external_interface;
	int netfilter_resync_s;          /* 0 = no periodic resync */
	uint32_t reboot_timeout_s;       /* soft reboot: wait this long, then hard */
	uint32_t shutdown_timeout_s;     /* graceful power off when a stop names no wait */
	const char *metrics_listen;      /* "" or NULL: no /metrics */
	const struct hv_driver *driver;  /* loaded driver, borrowed */
	const struct hvd_kv *driver_cfg; /* its config section, borrowed during agent_new */
	size_t n_driver_cfg;
};

/* Opens the journal, the driver host and the keys, and runs restart recovery (which may
 * call the driver). Returns 0 and *ret or -errno with err set. */
int agent_new(const struct agent_opts *opts, struct agent **ret, struct hv_error *err);
/* The options a reload may change while the agent serves (agent_set_live). */
struct agent_live {
	int heartbeat_s; /* the link's own ZMTP heartbeat follows at the next connection */
	int reconnect_min_ms, reconnect_max_ms;
	int report_interval_s;
	int sync_interval_s;
	int netfilter_resync_s;
};

#define AGENT_RUN_RELOAD 1
/* Serves until agent_request_stop() (returns 0 on a clean stop) or agent_request_reload()
 * (returns AGENT_RUN_RELOAD: call agent_run again to go on serving). */
int agent_run(struct agent *a);
/* Async-signal-safe. */
void agent_request_stop(void);
void agent_request_reload(void);
/* Applies the live options; timers already due keep their turn, later ones move. */
void agent_set_live(struct agent *a, const struct agent_live *live);
/* Stops workers (waiting for running driver calls), closes the driver host without
 * touching guests, frees everything. NULL-safe. */
void agent_free(struct agent *a);
/* hvagent --check-config: the start-up self-check without starting: opens the driver's
 * host and asks whether the user its guests run as can reach the instances path, the image
 * store and the config drive directory (the driver's optional check_reach). Returns 0 (all
 * reachable, or the driver has no such check), -EACCES with err naming the directory at
 * fault, or -ENOTCONN when the host cannot be opened (err says why: nothing was checked). */
int agent_check_reach(const struct agent_opts *opts, struct hv_error *err);
/* hvagent --rebuild-journal: a new journal holding the instances the hypervisor lists
 * (driver list_instances), when the journal is missing, empty or damaged (a damaged one is
 * kept aside as journal.sqlite.damaged-SECONDS). Never replaces a healthy journal. Prints
 * what it did on out. */
int agent_rebuild_journal(const struct agent_opts *opts, FILE *out, struct hv_error *err);

#endif
