/*
 * fuzz_digest.c - libFuzzer target for digest strings and saved hash states,
 * both of which arrive from outside (request URLs, session files on disk).
 *
 * Properties: parsing never reads past `size`; an accepted digest formats
 * back to exactly the input; an accepted hash state can be used (updated,
 * finalised) without tripping ASan, and re-saves to the same text.
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

	if (digest_parse_n(&d, (const char *)data, size) != BERR_OK)
		return;
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
		if (hasher_save(&h, again, sizeof(again)) != BERR_OK || strcmp(again, s) != 0)
			abort();
		hasher_update(&h, data, size);
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
