/* notify.c - sd_notify for the daemons (see notify.h). Must never block the loop nor fail a
 * daemon: a manager that does not listen loses the message, nothing more. */
#include "notify.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "hv-features.h"

#if HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define STATUS_MAX 256

static uint64_t watchdog_usec;
static int64_t next_ping_ms;
static bool ready_sent;
static char last_status[STATUS_MAX];

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* sd_notify's protocol, sent without waiting: libsystemd's sd_notify blocks while the
 * manager's socket queue is full, which would stop the loop (and its watchdog pings) behind
 * a slow reader. NOTIFY_SOCKET is a path, or an abstract name after '@'; it stays in the
 * environment so a reload still finds the manager. */
static void
send_state(const char *state)
{
#if HAVE_SYSTEMD
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = path ? strlen(path) : 0;

	if (len < 2 || len >= sizeof sa.sun_path || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	/* a full queue (EAGAIN) loses this message: the next one says the same, newer */
	(void)sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
		     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	close(fd);
#else
	(void)state;
#endif
}

void
hv_notify_init(void)
{
	watchdog_usec = 0;
#if HAVE_SYSTEMD
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0)
		watchdog_usec = usec;
#endif
	next_ping_ms = mono_ms();
	ready_sent = false;
	last_status[0] = '\0';
}

uint64_t
hv_notify_watchdog_usec(void)
{
	return watchdog_usec;
}

/* Formats STATUS=...; false when it is the status already sent. Newlines would start a
 * new assignment in the datagram: they become spaces. */
static bool
format_status(char out[STATUS_MAX + 8], const char *fmt, va_list ap)
{
	char text[STATUS_MAX];

	vsnprintf(text, sizeof text, fmt, ap);
	for (char *c = text; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (strcmp(text, last_status) == 0)
		return false;
	memcpy(last_status, text, sizeof text);
	snprintf(out, STATUS_MAX + 8, "STATUS=%s", text);
	return true;
}

void
hv_notify_ready(const char *fmt, ...)
{
	char status[STATUS_MAX + 8], msg[STATUS_MAX + 24];
	va_list ap;
	bool changed;

	va_start(ap, fmt);
	changed = format_status(status, fmt, ap);
	va_end(ap);
	if (ready_sent) {
		if (changed)
			send_state(status);
		return;
	}
	ready_sent = true;
	snprintf(msg, sizeof msg, "READY=1\n%s", changed ? status : "");
	send_state(msg);
}

void
hv_notify_status(const char *fmt, ...)
{
	char status[STATUS_MAX + 8];
	va_list ap;
	bool changed;

	va_start(ap, fmt);
	changed = format_status(status, fmt, ap);
	va_end(ap);
	if (changed)
		send_state(status);
}

void
hv_notify_reloading(void)
{
	send_state("RELOADING=1");
}

void
hv_notify_reloaded(void)
{
	send_state("READY=1");
}

int64_t
hv_notify_watchdog(void)
{
	int64_t now = mono_ms(), half = (int64_t)(watchdog_usec / 2000);

	if (!watchdog_usec)
		return -1;
	if (half < 1)
		half = 1;
	if (now >= next_ping_ms) {
		if (hv_fault_hit("loop_stall"))
			pause();
		/* the status rides along: one a full socket dropped is told again at the next
		 * ping (systemd takes a repeated STATUS as it is) */
		char msg[STATUS_MAX + 24];
		if (last_status[0])
			snprintf(msg, sizeof msg, "WATCHDOG=1\nSTATUS=%s", last_status);
		else
			snprintf(msg, sizeof msg, "WATCHDOG=1");
		send_state(msg);
		now = mono_ms();
		next_ping_ms = now + half;
	}
	return next_ping_ms - now;
}
