/*
 * log.c - see log.h.  One write() per record so lines from the master and
 * the workers, which share stderr, never interleave mid-line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static enum log_level level = LOG_LVL_INFO;
static const char *progname = "berth";

void log_set_level(enum log_level lvl) { level = lvl; }
void log_set_name(const char *name) { progname = name; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char line[1024];
	struct tm tm;
	time_t now;
	va_list ap;
	int n, m;

	if (lvl > level)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02dZ %s[%d] %s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, progname, (int)getpid(), names[lvl]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (m < 0) ? n : (n + m > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}
