/*
 * basic.c - Basic credentials (see basic.h).
 *
 * The decode goes through a fixed buffer on the stack that is wiped before
 * return, so a password never lingers in memory the worker reuses.  The
 * base64 is checked strictly before OpenSSL sees it (alphabet only, padding
 * only at the end, a multiple of 4): EVP_DecodeBlock on its own skips
 * surrounding whitespace and counts each '=' of padding as a decoded NUL
 * byte, so one header would have several spellings and the length would
 * need undoing.
 */
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth/basic.h"
#include "util/mem.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Length of the base64 text s: strictly [alphabet]* then 0-2 '=', a multiple
 * of 4.  -1 if it is not that; *pad gets the number of '='. */
static long b64_strict_len(const char *s, size_t *pad)
{
	size_t body = strspn(s, b64_alphabet), p = strspn(s + body, "=");

	if (s[body + p] != '\0' || p > 2 || (body + p) % 4)
		return -1;
	*pad = p;
	return (long)(body + p);
}

int auth_basic_parse(const char *authorization, char *user, size_t ul, char *pass, size_t pl)
{
	const char *h = authorization;
	unsigned char dec[600];
	size_t pad;
	long hl;
	char *colon;
	int n, ret = -1;

	if (!h || strncasecmp(h, "Basic ", 6) != 0)
		return 0;
	h += 6;
	if ((hl = b64_strict_len(h, &pad)) < 0 || (size_t)hl > 4 * (sizeof(dec) - 2) / 3)
		return -1;
	/* from here on dec may hold a password: every way out wipes it */
	if ((n = EVP_DecodeBlock(dec, (const unsigned char *)h, (int)hl)) < 0)
		goto out;
	n -= (int)pad;
	dec[n] = '\0';
	if (memchr(dec, 0, (size_t)n) || !(colon = strchr((char *)dec, ':')))
		goto out;
	*colon = '\0';
	/* both must fit before either is written (basic.h) */
	if (strlen((char *)dec) >= ul || strlen(colon + 1) >= pl)
		goto out;
	(void)mem_strcpy(user, ul, (char *)dec);
	(void)mem_strcpy(pass, pl, colon + 1);
	ret = 1;
out:
	OPENSSL_cleanse(dec, sizeof(dec));
	return ret;
}
