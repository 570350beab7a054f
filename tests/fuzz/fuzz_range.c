/*
 * fuzz_range.c - libFuzzer target for the Content-Range header of PATCHes.
 *
 * Properties: an accepted range has 0 <= start <= end, a refused one leaves
 * the outputs untouched, and formatting a session Range never overflows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[24];
	int64_t a = -7, b = -7;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (range_parse_content_range(s, &a, &b) == BERR_OK) {
		if (a < 0 || b < a)
			abort();
		range_format_session(b, out, sizeof(out));
		range_format_session(a, out, (size_t)(size % sizeof(out)));
	} else if (a != -7 || b != -7) {
		abort();
	}
	free(s);
	return 0;
}
