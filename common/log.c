/* log.c - stderr logging with syslog priority prefixes. Must never buffer across lines
 * (a crash must not lose the last line) and never allocate on the hot path. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum hv_log_level log_level = HV_LOG_INFO;
static const char *log_ident = "hv";

static const char *const level_names[] = {
	[HV_LOG_ERR] = "error", [HV_LOG_WARNING] = "warning", [HV_LOG_NOTICE] = "notice",
	[HV_LOG_INFO] = "info", [HV_LOG_DEBUG] = "debug",
};

int
hv_log_level_parse(const char *name)
{
	for (int l = HV_LOG_ERR; l <= HV_LOG_DEBUG; l++)
		if (name && strcmp(name, level_names[l]) == 0)
			return l;
	return -EINVAL;
}

const char *
hv_log_level_name(enum hv_log_level level)
{
	if (level < HV_LOG_ERR || level > HV_LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

void
hv_log_set_level(enum hv_log_level level)
{
	log_level = level;
}
enum hv_log_level
hv_log_get_level(void)
{
	return log_level;
}
void
hv_log_set_ident(const char *ident)
{
	log_ident = ident;
}
bool
hv_log_enabled(enum hv_log_level level)
{
	return level <= log_level;
}

void
hv_log(enum hv_log_level level, const char *instance, const char *cmd, const char *fmt, ...)
{
	char line[2048];
	size_t n;
	int r;
	va_list ap;

	if (!hv_log_enabled(level))
		return;
	r = snprintf(line, sizeof line, "<%d>%s: ", level, log_ident);
	n = r < 0 ? 0 : (size_t)r;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	n = r < 0 ? n : n + (size_t)r;
	if (n >= sizeof line - 1)
		n = sizeof line - 2;
	if (instance && n < sizeof line - 2) {
		r = snprintf(line + n, sizeof line - n, " instance=%s", instance);
		n = r < 0 ? n : n + (size_t)r;
	}
	if (cmd && n < sizeof line - 2) {
		r = snprintf(line + n, sizeof line - n, " cmd=%s", cmd);
		n = r < 0 ? n : n + (size_t)r;
	}
	if (n >= sizeof line - 1)
		n = sizeof line - 2;
	/* Control characters from a peer must not forge extra log lines. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

bool
hv_ratelimit_ok(struct hv_ratelimit *rl, int64_t now_ms, unsigned *ret_held_back)
{
	if (now_ms - rl->window_start >= rl->window_ms || now_ms < rl->window_start) {
		rl->window_start = now_ms;
		rl->n = 0;
	}
	if (rl->n >= rl->burst) {
		rl->held_back++;
		return false;
	}
	rl->n++;
	*ret_held_back = rl->held_back;
	rl->held_back = 0;
	return true;
}
