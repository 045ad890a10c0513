/* fault.c - named fault points (see fault.h). */
#include "fault.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAULT_MAX 16
#define FAULT_NAME_MAX 48

struct fault_point {
	char name[FAULT_NAME_MAX];
	unsigned long fire_at; /* 1 = the first hit */
	unsigned long hits;
};

static struct fault_point fault_points[FAULT_MAX];
static unsigned fault_count;

static bool
fault_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= FAULT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int
hv_fault_init(void)
{
	const char *env = getenv("HV_FAULT");
	struct fault_point parsed[FAULT_MAX];
	unsigned n = 0;

	fault_count = 0;
	if (!env || !*env)
		return 0;
	for (const char *p = env; *p;) {
		size_t len = strcspn(p, ",");
		const char *at = memchr(p, '@', len);
		size_t name_len = at ? (size_t)(at - p) : len;
		unsigned long fire_at = 1;

		if (n == FAULT_MAX || !fault_name_ok(p, name_len))
			return -EINVAL;
		if (at) {
			char *end;

			errno = 0;
			fire_at = strtoul(at + 1, &end, 10);
			if (errno || end != p + len || at + 1 == end || fire_at == 0)
				return -EINVAL;
		}
		memcpy(parsed[n].name, p, name_len);
		parsed[n].name[name_len] = '\0';
		parsed[n].fire_at = fire_at;
		parsed[n].hits = 0;
		n++;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	memcpy(fault_points, parsed, sizeof(parsed[0]) * n);
	fault_count = n;
	return 0;
}

bool
hv_fault_hit(const char *point)
{
	for (unsigned i = 0; i < fault_count; i++)
		if (strcmp(fault_points[i].name, point) == 0)
			return __atomic_add_fetch(&fault_points[i].hits, 1, __ATOMIC_RELAXED) ==
			       fault_points[i].fire_at;
	return false;
}

void
hv_fault(const char *point)
{
	if (fault_count && hv_fault_hit(point)) {
		kill(getpid(), SIGKILL);
		_exit(137); /* not reached */
	}
}

void
hv_fault_at(const char *command, const char *moment)
{
	char name[FAULT_NAME_MAX * 2];

	if (!fault_count || !command || !moment)
		return;
	snprintf(name, sizeof name, "%s_%s", command, moment);
	hv_fault(name);
}
