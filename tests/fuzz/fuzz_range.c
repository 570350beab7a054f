/*
 * fuzz_range.c - libFuzzer target for the Content-Range header of PATCHes
 * (fcgi/range.c), whose offsets position writes inside a session file.
 *
 * berth parses no Range request header: blob GETs are answered by nginx from
 * the X-Accel-Redirect (its range filter), and the Range berth sends back
 * for a session is built by range_format_session, checked here.
 *
 * Properties:
 *   - an accepted range has 0 <= start <= end; a refused one leaves the
 *     outputs untouched;
 *   - an accepted value holds only the forms range.h lists: optional OWS,
 *     optional "bytes " or "bytes=", digits '-' digits, an optional
 *     "/<total>" (then end < total) or "/" and a star; a value with any byte
 *     outside those is refused;
 *   - round trip: the parsed pair, written back in each accepted form
 *     ("a-b", "bytes a-b/" star, "bytes=a-b", "bytes a-b/<b+1>"), parses to the
 *     same pair;
 *   - range_format_session(offset) is "0-<offset-1>" ("0-0" for 0), never
 *     overflows a short buffer, and parses back as a Content-Range.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reparse(const char *fmt, int64_t a, int64_t b, int64_t total)
{
	char buf[96];
	int64_t x = -1, y = -1;

	snprintf(buf, sizeof(buf), fmt, a, b, total);
	if (range_parse_content_range(buf, &x, &y) != BERR_OK || x != a || y != b)
		abort();
}

static void check_session(int64_t offset, size_t outlen)
{
	char out[24], want[24];
	int64_t a = -1, b = -1;

	memset(out, '#', sizeof(out));
	range_format_session(offset, out, outlen);
	if (outlen == 0) {
		if (out[0] != '#')
			abort();
		return;
	}
	snprintf(want, sizeof(want), "0-%" PRId64, offset > 0 ? offset - 1 : 0);
	if (strnlen(out, outlen) >= outlen || strncmp(out, want, outlen - 1) != 0)
		abort();
	if (outlen == sizeof(out) &&
	    (range_parse_content_range(out, &a, &b) != BERR_OK || a != 0 || b != (offset > 0 ? offset - 1 : 0)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	int64_t a = -7, b = -7;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (range_parse_content_range(s, &a, &b) == BERR_OK) {
		if (a < 0 || b < a)
			abort();
		if (s[strspn(s, " \tbytes=0123456789-/*")] != '\0')
			abort();
		reparse("%" PRId64 "-%" PRId64, a, b, 0);
		reparse("bytes %" PRId64 "-%" PRId64 "/*", a, b, 0);
		reparse(" bytes=%" PRId64 "-%" PRId64 "\t", a, b, 0);
		if (b < INT64_MAX)
			reparse("bytes %" PRId64 "-%" PRId64 "/%" PRId64, a, b, b + 1);
		check_session(b, sizeof(((char[24]){0})));
		check_session(a, size % 24);
	} else if (a != -7 || b != -7) {
		abort();
	}
	free(s);
	return 0;
}
