/*
 * b64url.h - base64url (RFC 4648 section 5) without padding, as JWS uses it
 * (RFC 7515 section 2).
 *
 * Decoding is strict because its input is an attacker's token: '=' padding,
 * '+' '/' and any other character outside [A-Za-z0-9_-], a length that no
 * encoding can have (len % 4 == 1) and non-zero bits in the last character's
 * unused low bits are all refused.  So every byte string has exactly one
 * accepted encoding and a token cannot be re-spelled to dodge a comparison.
 */
#ifndef BERTH_AUTH_B64URL_H
#define BERTH_AUTH_B64URL_H

#include <stddef.h>

/* Characters needed to encode n bytes (without the terminating NUL). */
size_t auth_b64url_enclen(size_t n);
/* Largest number of bytes that len characters can decode to. */
size_t auth_b64url_declen(size_t len);

/* Encode n bytes of `in` into `out`, which holds auth_b64url_enclen(n) + 1
 * bytes; NUL-terminates and returns the length written. */
size_t auth_b64url_encode(char *out, const void *in, size_t n);
/* The same into a malloc'd string (NULL if out of memory). */
char *auth_b64url_encode_alloc(const void *in, size_t n);

/* Decode `len` characters of `in` into `out` (room for
 * auth_b64url_declen(len) bytes); *outlen gets the byte count.
 * 0 on success, -1 if `in` is not canonical unpadded base64url. */
int auth_b64url_decode(void *out, size_t *outlen, const char *in, size_t len);

#endif
