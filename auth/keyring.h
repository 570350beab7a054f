/*
 * keyring.h - the keys of berth's tokens (ES256: EC P-256), their files
 * and ids, and the keyring a worker verifies with (auth/jwt.h).
 *
 * Who holds what:
 *   - the signer process (auth/signer.h) holds the one private key;
 *   - every worker holds an auth_keyring of public keys only: the signing
 *     key's public half (fetched from the signer) plus the verify_keys of
 *     the config, so tokens signed by a retired key keep working while
 *     they live (key rotation);
 *   - single-process tools and the unit tests may put the private key in the
 *     keyring (auth_keyring_load) and sign locally with auth_jwt_sign().
 *
 * Keys are named by the libtrust key id Docker's registry uses: SHA-256 of
 * the DER SubjectPublicKeyInfo, first 240 bits, base32, in 12 groups of 4
 * joined by ':' ("ABCD:EFGH:...").  Tokens carry it as the header's "kid".
 */
#ifndef BERTH_AUTH_KEYRING_H
#define BERTH_AUTH_KEYRING_H

#include <stddef.h>
#include <openssl/evp.h>

#include "util/err.h"

#define AUTH_KID_LEN 59           /* 12 groups of 4 base32 chars + 11 ':' */

struct auth_key {
	EVP_PKEY *pub;                /* public part only; owned */
	char kid[AUTH_KID_LEN + 1];
};

struct auth_keyring {
	struct auth_key *keys;        /* verification keys, signing key first */
	size_t n, cap;
	EVP_PKEY *priv;               /* NULL unless this process signs itself */
	char priv_kid[AUTH_KID_LEN + 1];
};

/* Load the EC P-256 private key PEM at `path`; if there is none, create
 * one (mode 0600, never visible half-written or with looser permissions).
 * A key file that group or others may access is refused.  BERR_INTERNAL
 * with "signing key PATH: why" otherwise. */
enum berr auth_key_load_or_create(const char *path, EVP_PKEY **out);
/* The libtrust key id of `key` (public or private). */
enum berr auth_key_kid(const EVP_PKEY *key, char kid[AUTH_KID_LEN + 1]);
/* PEM SubjectPublicKeyInfo of `key` (malloc'd), and back. */
enum berr auth_key_public_pem(const EVP_PKEY *key, char **pem);
enum berr auth_key_from_public_pem(const char *pem, size_t len, EVP_PKEY **out);

struct auth_keyring *auth_keyring_new(void);
void auth_keyring_free(struct auth_keyring *kr);
/* Add the public half of `key` (copied; the caller keeps `key`).  Only EC
 * P-256 keys; a key already present is not added twice.  `what` names the
 * key's origin in errors. */
enum berr auth_keyring_add(struct auth_keyring *kr, const EVP_PKEY *key, const char *what);
/* Add a PEM public key (or the key of a PEM certificate) from `path`. */
enum berr auth_keyring_add_file(struct auth_keyring *kr, const char *path);
/* Add every file of a comma-separated list (blanks around names ignored;
 * NULL or empty adds nothing): the verify_keys config value. */
enum berr auth_keyring_add_files(struct auth_keyring *kr, const char *list);
/* Give the keyring the private key (ownership passes, even on failure) and
 * put its public half first. */
enum berr auth_keyring_set_private(struct auth_keyring *kr, EVP_PKEY *priv);
/* All in one for a process that signs itself: signing key (loaded or
 * created) + verify_keys. */
enum berr auth_keyring_load(struct auth_keyring **out, const char *signing_key,
			    const char *verify_keys);

/* The most recent OpenSSL error as text, for a detail (the queue is
 * emptied); jwt.c uses it too. */
const char *auth_ossl_why(void);

#endif
