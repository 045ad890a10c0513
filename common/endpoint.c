/* endpoint.c - the default API endpoint, and a connect(2) probe of ipc:// paths. Must never
 * create or remove the socket file (the daemon owns it). */
#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void
endpoint_default(char *buf, size_t size)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	if (rt && *rt == '/')
		snprintf(buf, size, "ipc://%s/hvcentral/api.sock", rt);
	else
		snprintf(buf, size, "ipc:///run/hvcentral/api.sock");
}

int
endpoint_ipc_state(const char *endpoint)
{
	if (strncmp(endpoint, "ipc://", 6) != 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(endpoint + 6) >= sizeof sa.sun_path)
		return -1;
	memcpy(sa.sun_path, endpoint + 6, strlen(endpoint + 6) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int r = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 1 : 0;
	close(fd);
	return r;
}
