/*
 * fuzz_digest.c - libFuzzer target for digest strings and saved hash states,
 * both of which arrive from outside (request URLs, session files on disk).
 *
 * Properties: parsing never reads past `size`; an accepted digest formats
 * back to exactly the input; an accepted hash state can be used (updated,
 * finalised) without tripping ASan, re-saves to the same text, and counts
 * the bytes it is fed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/digest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_digest(const uint8_t *data, size_t size)
{
	struct digest d, e;
	char buf[DIGEST_STR_MAX];

	if (digest_parse_n(&d, (const char *)data, size) != BERR_OK) {
		char *s = strndup((const char *)data, size);

		/* the quiet form answers the same (on the text up to a NUL) */
		if (s && strlen(s) == size && digest_parse_quiet(&e, s))
			abort();
		free(s);
		return;
	}
	digest_format(&d, buf);
	if (strlen(buf) != size || memcmp(buf, data, size) != 0)
		abort();
	if (digest_parse(&e, buf) != BERR_OK || !digest_equal(&d, &e))
		abort();
	if (strlen(d.hex) != digest_hex_len(d.alg))
		abort();
}

static void check_state(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), again[HASHER_STATE_MAX];
	struct hasher h;
	struct digest d;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (hasher_load(&h, s) == BERR_OK) {
		int64_t before = hasher_length(&h);

		if (hasher_save(&h, again, sizeof(again)) != BERR_OK || strcmp(again, s) != 0)
			abort();
		hasher_update(&h, data, size);
		/* the count a resumed upload compares with its offset moves with
		 * the bytes (away from the 2^61-byte edge, where it wraps) */
		if (before >= 0 && before < ((int64_t)1 << 60) &&
		    hasher_length(&h) != before + (int64_t)size)
			abort();
		hasher_peek(&h, &d);
		hasher_final(&h, &d);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_digest(data, size);
	check_state(data, size);
	return 0;
}
