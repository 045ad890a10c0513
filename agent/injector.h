/* injector.h - the agent's offline injection queue ([guest] inject_key / inject_password):
 * spawns that wait at the same moment share ONE libguestfs appliance (guest/inject.h),
 * but only with spawns of the same project (a hostile filesystem could reach the other
 * disks of its launch). A spawn without a project is injected alone.
 * Never logs; never keeps a secret past the call that received it. */
#ifndef HV_AGENT_INJECTOR_H
#define HV_AGENT_INJECTOR_H

#include <stdbool.h>

#include <hvagent/error.h>

struct injector;

struct injector_opts {
	unsigned timeout_s;      /* [guest] injection_timeout */
	bool force_tcg;          /* no usable KVM here */
	const char *image_store; /* qcow2 backing files must resolve inside it */
	unsigned window_ms;      /* how long a batch waits for spawns arriving with it */
};

/* -ENOTSUP when the agent was built without libguestfs. */
int injector_new(const struct injector_opts *o, struct injector **ret, struct hv_error *err);
void injector_free(struct injector *ij);

/* Injects key and/or password into disk (format recorded by the driver), blocking until
 * the batch that took it is done. project may be NULL. Thread-safe; called from workers.
 * Returns 0 or -errno with err naming what failed (never the secret). */
int injector_run(struct injector *ij, const char *project, const char *disk, const char *format,
		 const char *ssh_key, const char *password, struct hv_error *err);

#endif
