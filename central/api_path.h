/* api_path.h - where hvcentral's API socket lives when nothing says otherwise, shared by
 * hvcentral (binds it) and hv (connects to it) so they cannot disagree. */
#ifndef HVC_API_PATH_H
#define HVC_API_PATH_H

#include <stddef.h>

/* ipc://$XDG_RUNTIME_DIR/hvcentral/api.sock when XDG_RUNTIME_DIR is an absolute path, else
 * ipc:///run/hvcentral/api.sock. */
void api_default_endpoint(char *buf, size_t size);

#endif
