/*
 * digest.h - content digests ("sha256:<64 hex>", "sha512:<128 hex>") and the
 * running hash whose state can be saved between requests.
 *
 * The running hash uses OpenSSL's low-level SHA256_CTX / SHA512_CTX: unlike
 * OpenSSL 3 EVP contexts they are plain structs, so an upload session can
 * store them on disk and any worker can resume hashing where another stopped.
 * They run the same accelerated (SHA-NI / AVX2) block code as EVP.
 */
#ifndef BERTH_DIGEST_H
#define BERTH_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#include "util/err.h"

enum digest_alg { DIGEST_NONE = 0, DIGEST_SHA256 = 1, DIGEST_SHA512 = 2 };

#define DIGEST_HEX_MAX 128
/* "sha512:" + 128 hex + NUL */
#define DIGEST_STR_MAX (7 + DIGEST_HEX_MAX + 1)

struct digest {
	enum digest_alg alg;
	char hex[DIGEST_HEX_MAX + 1]; /* lowercase, NUL-terminated */
};

/* Parse "alg:hex" (exactly `len` bytes of `s`).  Grammar per the OCI
 * image-spec: algorithm [a-z0-9]+([+._-][a-z0-9]+)*, encoded [a-zA-Z0-9=_-]+;
 * sha256 needs exactly 64 and sha512 exactly 128 lowercase hex characters.
 * A well-formed digest of another algorithm, or a malformed one, is
 * BERR_DIGEST_INVALID (with a detail saying which). */
enum berr digest_parse_n(struct digest *out, const char *s, size_t len);
enum berr digest_parse(struct digest *out, const char *s);
/* digest_parse() for probes: 1 and *out filled when `s` is a digest we
 * can verify, else 0, recording nothing in the error context. */
int digest_parse_quiet(struct digest *out, const char *s);
/* Writes "alg:hex" into out (DIGEST_STR_MAX bytes) and returns out. */
char *digest_format(const struct digest *d, char *out);
const char *digest_alg_name(enum digest_alg alg);
size_t digest_hex_len(enum digest_alg alg);
int digest_equal(const struct digest *a, const struct digest *b);

struct hasher {
	enum digest_alg alg;
	union {
		SHA256_CTX s256;
		SHA512_CTX s512;
	} u;
};

void hasher_init(struct hasher *h, enum digest_alg alg);
void hasher_update(struct hasher *h, const void *p, size_t n);
/* Finalises a copy, so `h` can keep going. */
void hasher_peek(const struct hasher *h, struct digest *out);
void hasher_final(struct hasher *h, struct digest *out);

/* Bytes hashed so far, as the context itself counts them; -1 without an
 * algorithm. */
int64_t hasher_length(const struct hasher *h);

/* Serialised state: a small self-describing record (magic, version, alg,
 * struct size, raw context) as lowercase hex, so it fits in a text file.
 * HASHER_STATE_MAX bounds the hex string including the NUL.  Nothing outside
 * digest.c knows the layout of the record or of the context in it. */
#define HASHER_STATE_MAX 1024
enum berr hasher_save(const struct hasher *h, char *out, size_t outlen);
/* BERR_INTERNAL if the record is damaged or was written by a build whose
 * context layout differs (a different OpenSSL / architecture); `h` is then
 * untouched.  A resumed upload also checks hasher_length() against the offset
 * it saved beside the record. */
enum berr hasher_load(struct hasher *h, const char *in);

/* Digest of a whole buffer / of an open file read from offset 0 to EOF. */
void digest_buf(enum digest_alg alg, const void *p, size_t n, struct digest *out);
enum berr digest_fd(enum digest_alg alg, int fd, struct digest *out, int64_t *size);

#endif
