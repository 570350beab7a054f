/*
 * basic.h - the Basic credentials of an Authorization header (RFC 7617),
 * which anyone can send to /token before any check has been made.
 *
 * Kept apart from the token handler so that the parser of this untrusted
 * header is pure (no request, no I/O) and tests/fuzz/fuzz_basic.c reaches it.
 */
#ifndef BERTH_AUTH_BASIC_H
#define BERTH_AUTH_BASIC_H

#include <stddef.h>

/* Parse "Basic <base64(user:password)>" (scheme case-insensitive) into the
 * NUL-terminated user (no ':') and password.  1 parsed, 0 no Basic
 * credentials (NULL or another scheme), -1 malformed: bad base64, a NUL
 * byte, no ':', or a part that does not fit ul / pl with its NUL.  Neither
 * output is written unless the answer is 1. */
int auth_basic_parse(const char *authorization, char *user, size_t ul, char *pass, size_t pl);

#endif
