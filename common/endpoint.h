/* endpoint.h - where hvcentral's API socket lives when nothing says otherwise, and whether
 * anyone answers on an ipc:// path; shared by hvcentral (binds) and hv (connects) so they
 * cannot disagree. Never creates or removes a file. */
#ifndef HV_ENDPOINT_H
#define HV_ENDPOINT_H

#include <stddef.h>

/* ipc://$XDG_RUNTIME_DIR/hvcentral/api.sock when XDG_RUNTIME_DIR is an absolute path, else
 * ipc:///run/hvcentral/api.sock. */
void endpoint_default(char *buf, size_t size);
/* For an ipc:// endpoint: 1 when a process accepts connections on its path, 0 when none
 * does (absent or stale socket file). -1 for other transports (unknown). */
int endpoint_ipc_state(const char *endpoint);

#endif
