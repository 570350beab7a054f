/*
 * jwt.h - the tokens of the Docker token authentication spec: JWS compact
 * serialization, ES256 only (ECDSA P-256 + SHA-256, RFC 7518 section 3.4),
 * signed and verified with the keys of auth/keyring.h.
 *
 * Verification is deliberately narrow: the algorithm is fixed by us, not
 * read from the token (alg must be exactly "ES256"; "none", HS256 with the
 * public key as secret, RS256, and headers with "crit" are refused before
 * any key is used); keys come only from the keyring ("jwk", "x5c", "jku" in
 * the header are ignored); JSON with duplicate names is refused.
 */
#ifndef BERTH_AUTH_JWT_H
#define BERTH_AUTH_JWT_H

#include <stddef.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "auth/keyring.h"
#include "util/err.h"

#define AUTH_JWT_MAX 16384        /* longest token accepted or produced, bytes */
#define AUTH_ES256_SIG_LEN 64     /* raw R || S */
#define AUTH_ES256_SIG_B64_LEN 86 /* its base64url length */

/* "<b64url header>.<b64url payload>" for `claims`, header
 * {"alg":"ES256","typ":"JWT","kid":kid}: what gets signed. */
enum berr auth_jwt_signing_input(const char *kid, const json_t *claims, char **out);
/* ES256 over `len` bytes: the base64url of raw R||S into sig (86 + NUL). */
enum berr auth_es256_sign(EVP_PKEY *priv, const char *in, size_t len,
			  char sig[AUTH_ES256_SIG_B64_LEN + 1]);
/* A complete token signed with kr->priv (which must be set). */
enum berr auth_jwt_sign(const struct auth_keyring *kr, const json_t *claims, char **token);

/* Verify `token` (`len` bytes, no NUL needed) at time `now` allowing
 * `leeway` seconds of clock skew: signature by a keyring key, issuer equal
 * to `issuer`, audience (string, or array containing it) equal to
 * `audience`, exp required and not passed, nbf and iat (if present) not in
 * the future.  On success *claims gets the payload object (json_decref it).
 * Every refusal is BERR_UNAUTHORIZED with a detail saying why. */
enum berr auth_jwt_verify(const struct auth_keyring *kr, const char *token, size_t len,
			  const char *issuer, const char *audience, time_t now, long leeway,
			  json_t **claims);

#endif
