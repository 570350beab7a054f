/*
 * fuzz_basic.c - libFuzzer target for Basic credentials (auth/basic.h), the
 * Authorization header anyone can send to /token.
 *
 * Properties, each checked against a small base64 decoder written here
 * independently of OpenSSL (strict RFC 4648: alphabet, padding only at the
 * end, length a multiple of 4):
 *   - the parser accepts exactly when the reference decodes the value to
 *     bytes without NUL that hold a ':' and whose parts fit the buffers;
 *   - an accepted header gives user = the bytes before the first ':' and
 *     password = the rest, so the user never holds ':' and neither part is
 *     longer than the decoded text, itself at most 3/4 of the input;
 *   - a refused or absent header leaves both outputs untouched;
 *   - user:password encoded again parses back to the same pair.
 * The first input byte picks the buffer sizes, so the "does not fit" edge is
 * reached with short inputs too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#include "util/mem.h"
#include "auth/basic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Strict reference decoder: the number of bytes written to out, or -1. */
static long ref_decode(const char *s, unsigned char *out)
{
	size_t n = strlen(s), o = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			v[k] = b64val((unsigned char)s[i + k]);
			if (s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '='))
				v[k] = 0, pad++;
			else if (v[k] < 0 || pad)
				return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)o;
}

/* What the parser must answer for header h, by the reference. */
static int expect(const char *h, size_t ul, size_t pl, char *user, char *pass)
{
	unsigned char *dec;
	long n;
	char *colon;
	int ret = -1;

	if (strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	dec = malloc(strlen(h) + 1);
	if (dec == NULL)
		abort();
	n = ref_decode(h + 6, dec);
	/* the parser's fixed buffer holds at most 597 decoded bytes */
	if (n >= 0 && n <= 597 && !memchr(dec, 0, (size_t)n)) {
		dec[n] = '\0';
		colon = strchr((char *)dec, ':');
		if (colon && (size_t)(colon - (char *)dec) < ul && strlen(colon + 1) < pl) {
			*colon = '\0';
			mem_strcpy(user, ul, (char *)dec); /* both fit: checked above */
			mem_strcpy(pass, pl, colon + 1);
			ret = 1;
		}
	}
	free(dec);
	return ret;
}

static void round_trip(const char *user, const char *pass, size_t ul, size_t pl)
{
	size_t n = strlen(user) + 1 + strlen(pass);
	char *plain = malloc(n + 1), *hdr = malloc(6 + 4 * (n / 3 + 1) + 1);
	char u2[600], p2[600];

	if (plain == NULL || hdr == NULL)
		abort();
	snprintf(plain, n + 1, "%s:%s", user, pass);
	memcpy(hdr, "basic ", 6);
	EVP_EncodeBlock((unsigned char *)hdr + 6, (unsigned char *)plain, (int)n);
	if (auth_basic_parse(hdr, u2, ul, p2, pl) != 1 || strcmp(u2, user) || strcmp(p2, pass))
		abort();
	free(plain);
	free(hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *h, user[600], pass[600], ruser[600], rpass[600];
	size_t ul = 256, pl = 300;
	int got, want;

	if (size > 0) {
		ul = 1 + data[0] % 16 * 17;
		pl = 1 + data[0] / 16 * 20;
		data++, size--;
	}
	if ((h = malloc(size + 1)) == NULL)
		return 0;
	memcpy(h, data, size);
	h[size] = '\0';
	memset(user, 'U', sizeof(user));
	memset(pass, 'P', sizeof(pass));
	got = auth_basic_parse(h, user, ul, pass, pl);
	want = expect(h, ul, pl, ruser, rpass);
	if (got != want)
		abort();
	if (got == 1) {
		if (strchr(user, ':') || strlen(user) >= ul || strlen(pass) >= pl ||
		    strcmp(user, ruser) || strcmp(pass, rpass) ||
		    4 * (strlen(user) + 1 + strlen(pass)) > 3 * (size - 6))
			abort();
		round_trip(user, pass, ul, pl);
	} else if (user[0] != 'U' || pass[0] != 'P') {
		abort();
	}
	free(h);
	return 0;
}
