/* api_path.c - the default API endpoint. Reads only the environment. */
#include "api_path.h"

#include <stdio.h>
#include <stdlib.h>

void
api_default_endpoint(char *buf, size_t size)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	if (rt && *rt == '/')
		snprintf(buf, size, "ipc://%s/hvcentral/api.sock", rt);
	else
		snprintf(buf, size, "ipc:///run/hvcentral/api.sock");
}
