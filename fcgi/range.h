/*
 * range.h - the byte ranges of upload PATCHes.
 *
 * Content-Range on a chunk: "<start>-<end>" (OCI) or "bytes <start>-<end>"
 * with an optional "/<total>" or "/" followed by a star (RFC 9110), inclusive end, end >= start.
 * The Range answered for a session: "0-<offset-1>", and "0-0" while empty
 * (what Distribution sends and clients expect).
 */
#ifndef BERTH_RANGE_H
#define BERTH_RANGE_H

#include <stdint.h>
#include <stddef.h>
#include "util/err.h"

/* BERR_RANGE_INVALID on anything malformed, negative, overflowing or with
 * end < start.  An accepted range has 0 <= start <= end < INT64_MAX, so
 * end - start + 1 and end + 1 never overflow. */
enum berr range_parse_content_range(const char *s, int64_t *start, int64_t *end);
/* Writes the session's Range header value for `offset` bytes received. */
void range_format_session(int64_t offset, char *out, size_t outlen);

#endif
