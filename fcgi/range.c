/*
 * range.c - Content-Range of upload chunks and the Range of a session
 * (see range.h).
 *
 * Clients disagree on the form: the OCI spec and Distribution use the bare
 * "<start>-<end>", RFC 9110 clients send "bytes <start>-<end>/<total>", and
 * a few send "bytes=<start>-<end>".  All are accepted; anything else, any
 * sign, space or junk inside the numbers, and any value beyond INT64_MAX is
 * refused, because these offsets position writes inside the session file.
 * The end must also leave room for the length: a range is used as
 * end - start + 1 bytes and as the offset end + 1 that follows it, so an
 * end of INT64_MAX (whose next offset overflows off_t) is refused too.
 * Optional whitespace around the whole value (HTTP's OWS) is ignored.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fcgi/range.h"

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses a run of decimal digits at *p into *out; advances *p.  0 / -1. */
static int parse_u63(const char **p, int64_t *out)
{
	const char *s = *p;
	int64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		int d = *s - '0';

		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return 0;
}

static enum berr bad(const char *s, const char *why)
{
	return berr_set(BERR_RANGE_INVALID, "invalid Content-Range \"%.64s\": %s", s, why);
}

enum berr range_parse_content_range(const char *s, int64_t *start, int64_t *end)
{
	const char *p = s, *stop;
	int64_t a, b, total = -1;

	if (s == NULL)
		return berr_set(BERR_RANGE_INVALID, "missing Content-Range");
	while (is_ows(*p))
		p++;
	stop = p + strlen(p);
	while (stop > p && is_ows(stop[-1]))
		stop--;
	if (strncmp(p, "bytes", 5) == 0 && (p[5] == ' ' || p[5] == '=')) {
		p += 6;
		while (*p == ' ')
			p++;
	}
	if (parse_u63(&p, &a) < 0)
		return bad(s, "expected a start offset");
	if (*p++ != '-')
		return bad(s, "expected '-' after the start offset");
	if (parse_u63(&p, &b) < 0)
		return bad(s, "expected an end offset");
	if (*p == '/') {
		p++;
		if (*p == '*')
			p++;
		else if (parse_u63(&p, &total) < 0)
			return bad(s, "expected a total length or '*' after '/'");
	}
	if (p != stop)
		return bad(s, "unexpected characters after the range");
	if (b < a)
		return bad(s, "end is before start");
	if (b == INT64_MAX)
		return bad(s, "end offset too large");
	if (total >= 0 && b >= total)
		return bad(s, "end is beyond the total length");
	*start = a;
	*end = b;
	return BERR_OK;
}

void range_format_session(int64_t offset, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	snprintf(out, outlen, "0-%" PRId64, offset > 0 ? offset - 1 : 0);
}
