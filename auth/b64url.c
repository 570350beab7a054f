/*
 * b64url.c - see b64url.h.  Table driven; the decoder never reads past
 * `len` and never writes past auth_b64url_declen(len) bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "auth/b64url.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or -1 for a character outside the alphabet. */
static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t auth_b64url_enclen(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t auth_b64url_declen(size_t len)
{
	return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

size_t auth_b64url_encode(char *out, const void *in, size_t n)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];

		out[o++] = alphabet[v >> 10 & 63];
		out[o++] = alphabet[v >> 4 & 63];
		out[o++] = alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

char *auth_b64url_encode_alloc(const void *in, size_t n)
{
	char *s = malloc(auth_b64url_enclen(n) + 1);

	if (s != NULL)
		auth_b64url_encode(s, in, n);
	return s;
}

int auth_b64url_decode(void *out, size_t *outlen, const char *in, size_t len)
{
	unsigned char *o = out;
	uint32_t acc = 0;
	size_t i, n = 0;
	int bits = 0;

	*outlen = 0;
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		int v = value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits (2 or 4) must be zero, or two strings decode alike. */
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	*outlen = n;
	return 0;
}
