/*
 * ref.c - repository name, tag and upload id grammar (see ref.h).
 *
 * Hand-written scanners instead of regcomp(): the grammar is small, the
 * scanners take an explicit length (so an embedded NUL is just another bad
 * byte), run in one pass without allocation, and can say exactly which byte
 * broke which rule.  Names become directory paths in the store, so these
 * checks are the guard that keeps "..", "/x", "a//b" and friends out of it.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "oci/ref.h"

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_tag_char(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '-';
}

/* Printable form of one byte for a detail message. */
static const char *show(char c, char buf[8])
{
	unsigned char u = (unsigned char)c;

	if (u > 0x20 && u < 0x7f && u != '"' && u != '\\')
		snprintf(buf, 8, "'%c'", u);
	else
		snprintf(buf, 8, "0x%02x", u);
	return buf;
}

static enum berr name_bad(const char *why, size_t off)
{
	return berr_set(BERR_NAME_INVALID, "invalid repository name: %s (at byte %zu)", why, off);
}

/* Scans one separator run starting at s[*i]: '.', '_', '__' or '-'+. */
static enum berr name_separator(const char *s, size_t len, size_t *i)
{
	size_t start = *i, n = 0;
	char c = s[start];

	while (*i < len && s[*i] == c) {
		(*i)++;
		n++;
	}
	if (c == '.' && n > 1)
		return name_bad("'.' may not repeat", start);
	if (c == '_' && n > 2)
		return name_bad("at most two '_' in a row", start);
	if (*i >= len || !is_lower_alnum(s[*i]))
		return name_bad("a separator must be followed by a letter or digit", *i);
	return BERR_OK;
}

/* One path component, from s[*i] up to the next '/' or the end. */
static enum berr name_component(const char *s, size_t len, size_t *i)
{
	char b[8];
	enum berr rc;

	if (*i >= len || s[*i] == '/')
		return name_bad("empty path component", *i);
	if (s[*i] >= 'A' && s[*i] <= 'Z')
		return name_bad("upper case is not allowed", *i);
	if (!is_lower_alnum(s[*i]))
		return name_bad("component must start with a letter or digit", *i);
	while (*i < len && s[*i] != '/') {
		char c = s[*i];

		if (is_lower_alnum(c)) {
			(*i)++;
		} else if (c == '.' || c == '_' || c == '-') {
			rc = name_separator(s, len, i);
			if (rc != BERR_OK)
				return rc;
		} else if (c >= 'A' && c <= 'Z') {
			return name_bad("upper case is not allowed", *i);
		} else {
			berr_set(BERR_NAME_INVALID,
				 "invalid repository name: character %s is not allowed (at byte %zu)",
				 show(c, b), *i);
			return BERR_NAME_INVALID;
		}
	}
	return BERR_OK;
}

enum berr ref_name_check_n(const char *s, size_t len)
{
	size_t i = 0;
	enum berr rc;

	if (s == NULL || len == 0)
		return berr_set(BERR_NAME_INVALID, "invalid repository name: empty");
	if (len > REF_NAME_MAX)
		return berr_set(BERR_NAME_INVALID,
				"invalid repository name: %zu bytes, at most %d allowed", len, REF_NAME_MAX);
	for (;;) {
		rc = name_component(s, len, &i);
		if (rc != BERR_OK)
			return rc;
		if (i == len)
			return BERR_OK;
		i++; /* the '/' */
		if (i == len)
			return name_bad("must not end with '/'", i - 1);
	}
}

enum berr ref_name_check(const char *s)
{
	if (s == NULL)
		return berr_set(BERR_NAME_INVALID, "invalid repository name: missing");
	return ref_name_check_n(s, strnlen(s, REF_NAME_MAX + 1));
}

enum berr ref_tag_check_n(const char *s, size_t len)
{
	char b[8];
	size_t i;

	if (s == NULL || len == 0)
		return berr_set(BERR_MANIFEST_INVALID, "invalid tag: empty");
	if (len > REF_TAG_MAX)
		return berr_set(BERR_MANIFEST_INVALID, "invalid tag: %zu bytes, at most %d allowed",
				len, REF_TAG_MAX);
	if (s[0] == '.' || s[0] == '-')
		return berr_set(BERR_MANIFEST_INVALID,
				"invalid tag: must start with a letter, digit or '_'");
	for (i = 0; i < len; i++)
		if (!is_tag_char(s[i]))
			return berr_set(BERR_MANIFEST_INVALID,
					"invalid tag: character %s is not allowed (at byte %zu)",
					show(s[i], b), i);
	return BERR_OK;
}

enum berr ref_tag_check(const char *s)
{
	if (s == NULL)
		return berr_set(BERR_MANIFEST_INVALID, "invalid tag: missing");
	return ref_tag_check_n(s, strnlen(s, REF_TAG_MAX + 1));
}

enum berr ref_upload_id_check(const char *s)
{
	size_t i;

	if (s == NULL || strnlen(s, REF_UPLOAD_ID_LEN + 1) != REF_UPLOAD_ID_LEN)
		return berr_set(BERR_BLOB_UPLOAD_UNKNOWN, "invalid upload id: want a 36-character UUID");
	for (i = 0; i < REF_UPLOAD_ID_LEN; i++) {
		int dash = (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return berr_set(BERR_BLOB_UPLOAD_UNKNOWN,
					"invalid upload id: want lowercase UUID text 8-4-4-4-12");
	}
	return BERR_OK;
}

/* Run a check in a context of its own, so its detail never reaches the
 * caller's: the scanners say why once, for whoever asks for the reason. */
static int quietly(enum berr (*check)(const char *), const char *s)
{
	struct berr_ctx quiet;
	enum berr rc;

	berr_enter(&quiet);
	rc = check(s);
	berr_leave(&quiet);
	return rc == BERR_OK;
}

int ref_name_valid(const char *s)
{
	return quietly(ref_name_check, s);
}

int ref_tag_valid(const char *s)
{
	return quietly(ref_tag_check, s);
}

int ref_upload_id_valid(const char *s)
{
	return quietly(ref_upload_id_check, s);
}

enum berr ref_upload_id_new(char *out)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return berr_set(BERR_INTERNAL, "RAND_bytes failed: %s",
				ERR_error_string(ERR_get_error(), NULL));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, REF_UPLOAD_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
		 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return BERR_OK;
}
