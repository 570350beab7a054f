/*
 * fuzz_ref.c - libFuzzer target for repository names, tags and upload ids,
 * which come straight from request URLs and become store paths.
 *
 * Properties: an accepted name is path-safe (no "..", no empty component,
 * no leading or trailing '/', only [a-z0-9._/-], at most 255 bytes); an
 * accepted tag or upload id contains no '/' and no '.' run that could be a
 * path step.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *s, size_t n)
{
	size_t i;

	if (ref_name_check_n(s, n) != BERR_OK)
		return;
	if (n == 0 || n > REF_NAME_MAX || s[0] == '/' || s[n - 1] == '/')
		abort();
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._/-", c)) || c == '\0')
			abort();
		if (i + 1 < n && ((c == '.' && s[i + 1] == '.') || (c == '/' && s[i + 1] == '/')))
			abort();
		if (c == '/' && (s[i + 1] == '.' || s[i + 1] == '-' || s[i + 1] == '_'))
			abort();
	}
	if (s[0] == '.')
		abort();
}

static void check_tag(const char *s, size_t n)
{
	if (ref_tag_check_n(s, n) != BERR_OK)
		return;
	if (n == 0 || n > REF_TAG_MAX || memchr(s, '/', n) || memchr(s, '\0', n) || s[0] == '.')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_name(s, size);
	check_tag(s, size);
	ref_name_check(s);
	ref_tag_check(s);
	if (ref_upload_id_check(s) == BERR_OK && (strlen(s) != REF_UPLOAD_ID_LEN || strchr(s, '/') || strchr(s, '.')))
		abort();
	free(s);
	return 0;
}
