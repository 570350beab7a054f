/*
 * digest.c - digest strings and the resumable running hash (see digest.h).
 *
 * Parsing is strict on purpose: a digest names a file in the blob store, so
 * only the two algorithms we can verify are accepted and the hex must be
 * exactly the canonical lowercase form (one digest, one path).  The input is
 * taken with an explicit length so an embedded NUL can never shorten it.
 *
 * The running hash is OpenSSL's low-level SHA256_CTX / SHA512_CTX.  Saving it
 * dumps the struct bytes behind a small header (magic "BRTH", version, alg,
 * struct size) as hex; loading checks every header field, the exact length
 * and the context's own bookkeeping (block fill count, digest length) so a
 * damaged or foreign record is refused instead of steering SHA*_Update()
 * past the end of its block buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oci/digest.h"

#define STATE_MAGIC "BRTH"
#define STATE_VERSION 1
#define STATE_HDR_LEN 8 /* magic 4 + version 1 + alg 1 + size 2 */
#define FD_BUF_SIZE (1024 * 1024)

static const char hexdigits[] = "0123456789abcdef";

const char *digest_alg_name(enum digest_alg alg)
{
	switch (alg) {
	case DIGEST_SHA256: return "sha256";
	case DIGEST_SHA512: return "sha512";
	default: return "none";
	}
}

size_t digest_hex_len(enum digest_alg alg)
{
	switch (alg) {
	case DIGEST_SHA256: return 2 * SHA256_DIGEST_LENGTH;
	case DIGEST_SHA512: return 2 * SHA512_DIGEST_LENGTH;
	default: return 0;
	}
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_encoded_char(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '=' || c == '_' || c == '-';
}

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* algorithm ::= component (separator component)*, component [a-z0-9]+,
 * separator [+._-]. */
static int algorithm_ok(const char *s, size_t len)
{
	size_t i;
	int need_alnum = 1;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (is_lower_alnum(s[i]))
			need_alnum = 0;
		else if (!need_alnum && strchr("+._-", s[i]) && s[i] != '\0')
			need_alnum = 1;
		else
			return 0;
	}
	return !need_alnum;
}

static enum digest_alg alg_from_name(const char *s, size_t len)
{
	if (len == 6 && memcmp(s, "sha256", 6) == 0)
		return DIGEST_SHA256;
	if (len == 6 && memcmp(s, "sha512", 6) == 0)
		return DIGEST_SHA512;
	return DIGEST_NONE;
}

static enum berr check_encoded(enum digest_alg alg, const char *hex, size_t n)
{
	size_t i, want = digest_hex_len(alg);

	for (i = 0; i < n; i++)
		if (!is_encoded_char(hex[i]))
			return berr_set(BERR_DIGEST_INVALID,
					"invalid digest: character 0x%02x in the encoded part is not allowed",
					(unsigned char)hex[i]);
	if (n != want)
		return berr_set(BERR_DIGEST_INVALID,
				"invalid digest: %s needs %zu hex characters, got %zu",
				digest_alg_name(alg), want, n);
	for (i = 0; i < n; i++)
		if (!is_lower_hex(hex[i]))
			return berr_set(BERR_DIGEST_INVALID,
					"invalid digest: %s must be lowercase hex, found '%c'",
					digest_alg_name(alg), hex[i]);
	return BERR_OK;
}

enum berr digest_parse_n(struct digest *out, const char *s, size_t len)
{
	const char *colon;
	enum digest_alg alg;
	size_t alen;
	enum berr rc;

	if (s == NULL || len == 0)
		return berr_set(BERR_DIGEST_INVALID, "invalid digest: empty");
	if (len > DIGEST_STR_MAX + 64)
		return berr_set(BERR_DIGEST_INVALID, "invalid digest: %zu bytes is too long", len);
	if (memchr(s, '\0', len))
		return berr_set(BERR_DIGEST_INVALID, "invalid digest: contains a NUL byte");
	colon = memchr(s, ':', len);
	if (colon == NULL)
		return berr_set(BERR_DIGEST_INVALID, "invalid digest: expected \"algorithm:hex\"");
	alen = (size_t)(colon - s);
	if (!algorithm_ok(s, alen))
		return berr_set(BERR_DIGEST_INVALID, "invalid digest: malformed algorithm \"%.*s\"",
				(int)(alen > 32 ? 32 : alen), s);
	alg = alg_from_name(s, alen);
	if (alg == DIGEST_NONE)
		return berr_set(BERR_DIGEST_INVALID, "digest algorithm \"%.*s\" is not supported",
				(int)(alen > 32 ? 32 : alen), s);
	rc = check_encoded(alg, colon + 1, len - alen - 1);
	if (rc != BERR_OK)
		return rc;
	out->alg = alg;
	memcpy(out->hex, colon + 1, len - alen - 1);
	out->hex[len - alen - 1] = '\0';
	return BERR_OK;
}

enum berr digest_parse(struct digest *out, const char *s)
{
	if (s == NULL)
		return berr_set(BERR_DIGEST_INVALID, "invalid digest: missing");
	return digest_parse_n(out, s, strnlen(s, DIGEST_STR_MAX + 65));
}

int digest_parse_quiet(struct digest *out, const char *s)
{
	struct berr_ctx quiet;
	enum berr rc;

	berr_enter(&quiet);
	rc = digest_parse(out, s);
	berr_leave(&quiet);
	return rc == BERR_OK;
}

char *digest_format(const struct digest *d, char *out)
{
	snprintf(out, DIGEST_STR_MAX, "%s:%s", digest_alg_name(d->alg), d->hex);
	return out;
}

int digest_equal(const struct digest *a, const struct digest *b)
{
	return a->alg == b->alg && strcmp(a->hex, b->hex) == 0;
}

static void hex_encode(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdigits[p[i] >> 4];
		out[2 * i + 1] = hexdigits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes exactly 2*n lowercase hex characters; -1 on any other character. */
static int hex_decode(const char *in, unsigned char *out, size_t n)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		hi = hex_val(in[2 * i]);
		lo = hex_val(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

void hasher_init(struct hasher *h, enum digest_alg alg)
{
	/* Zeroed first so a saved record never carries stack garbage. */
	memset(h, 0, sizeof(*h));
	h->alg = alg;
	if (alg == DIGEST_SHA256)
		SHA256_Init(&h->u.s256);
	else if (alg == DIGEST_SHA512)
		SHA512_Init(&h->u.s512);
}

void hasher_update(struct hasher *h, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (h->alg == DIGEST_SHA256)
		SHA256_Update(&h->u.s256, p, n);
	else if (h->alg == DIGEST_SHA512)
		SHA512_Update(&h->u.s512, p, n);
}

void hasher_final(struct hasher *h, struct digest *out)
{
	unsigned char md[SHA512_DIGEST_LENGTH];

	out->alg = h->alg;
	out->hex[0] = '\0';
	if (h->alg == DIGEST_SHA256) {
		SHA256_Final(md, &h->u.s256);
		hex_encode(md, SHA256_DIGEST_LENGTH, out->hex);
	} else if (h->alg == DIGEST_SHA512) {
		SHA512_Final(md, &h->u.s512);
		hex_encode(md, SHA512_DIGEST_LENGTH, out->hex);
	}
}

void hasher_peek(const struct hasher *h, struct digest *out)
{
	struct hasher copy = *h;

	hasher_final(&copy, out);
}

int64_t hasher_length(const struct hasher *h)
{
	uint64_t bits;

	/* The contexts count bits in two words: (Nh, Nl) of 32 bits for SHA-256,
	 * of 64 bits for SHA-512.  An upload never reaches 2^63 bytes, so the
	 * high word of SHA-512 must be 0 and SHA-256's fits in 64 bits. */
	if (h->alg == DIGEST_SHA256)
		bits = (uint64_t)h->u.s256.Nh << 32 | h->u.s256.Nl;
	else if (h->alg == DIGEST_SHA512 && h->u.s512.Nh == 0)
		bits = h->u.s512.Nl;
	else
		return -1;
	return (int64_t)(bits >> 3);
}

static size_t ctx_size(enum digest_alg alg)
{
	if (alg == DIGEST_SHA256)
		return sizeof(SHA256_CTX);
	if (alg == DIGEST_SHA512)
		return sizeof(SHA512_CTX);
	return 0;
}

enum berr hasher_save(const struct hasher *h, char *out, size_t outlen)
{
	unsigned char rec[STATE_HDR_LEN + sizeof(SHA512_CTX)];
	size_t csize = ctx_size(h->alg);

	if (csize == 0)
		return berr_set(BERR_INTERNAL, "hasher_save: no algorithm selected");
	if (outlen < 2 * (STATE_HDR_LEN + csize) + 1)
		return berr_set(BERR_INTERNAL, "hasher_save: %zu bytes is too small for the state", outlen);
	memcpy(rec, STATE_MAGIC, 4);
	rec[4] = STATE_VERSION;
	rec[5] = (unsigned char)h->alg;
	rec[6] = (unsigned char)(csize >> 8);
	rec[7] = (unsigned char)(csize & 0xff);
	memcpy(rec + STATE_HDR_LEN, &h->u, csize);
	hex_encode(rec, STATE_HDR_LEN + csize, out);
	return BERR_OK;
}

/* The context's own fields must be in range, or SHA*_Update would index past
 * its block buffer. */
static int ctx_sane(const struct hasher *h)
{
	if (h->alg == DIGEST_SHA256)
		return h->u.s256.num < SHA256_CBLOCK && h->u.s256.md_len == SHA256_DIGEST_LENGTH;
	return h->u.s512.num < SHA512_CBLOCK && h->u.s512.md_len == SHA512_DIGEST_LENGTH;
}

enum berr hasher_load(struct hasher *h, const char *in)
{
	unsigned char hdr[STATE_HDR_LEN];
	struct hasher tmp;
	size_t len, csize;

	if (in == NULL)
		return berr_set(BERR_INTERNAL, "hash state: missing");
	len = strnlen(in, HASHER_STATE_MAX);
	if (len < 2 * STATE_HDR_LEN || hex_decode(in, hdr, STATE_HDR_LEN) < 0)
		return berr_set(BERR_INTERNAL, "hash state: truncated or malformed header");
	if (memcmp(hdr, STATE_MAGIC, 4) != 0 || hdr[4] != STATE_VERSION)
		return berr_set(BERR_INTERNAL, "hash state: bad magic or version %u", hdr[4]);
	memset(&tmp, 0, sizeof(tmp));
	tmp.alg = (enum digest_alg)hdr[5];
	csize = ctx_size(tmp.alg);
	if (csize == 0)
		return berr_set(BERR_INTERNAL, "hash state: unknown algorithm %u", hdr[5]);
	if (((size_t)hdr[6] << 8 | hdr[7]) != csize)
		return berr_set(BERR_INTERNAL, "hash state: context size %u, this build uses %zu",
				(unsigned)hdr[6] << 8 | hdr[7], csize);
	if (len != 2 * (STATE_HDR_LEN + csize))
		return berr_set(BERR_INTERNAL, "hash state: %zu hex characters, want %zu",
				len, 2 * (STATE_HDR_LEN + csize));
	if (hex_decode(in + 2 * STATE_HDR_LEN, (unsigned char *)&tmp.u, csize) < 0)
		return berr_set(BERR_INTERNAL, "hash state: malformed hex");
	if (!ctx_sane(&tmp))
		return berr_set(BERR_INTERNAL, "hash state: context fields out of range");
	*h = tmp;
	return BERR_OK;
}

void digest_buf(enum digest_alg alg, const void *p, size_t n, struct digest *out)
{
	struct hasher h;

	hasher_init(&h, alg);
	hasher_update(&h, p, n);
	hasher_final(&h, out);
}

enum berr digest_fd(enum digest_alg alg, int fd, struct digest *out, int64_t *size)
{
	struct hasher h;
	char what[48];
	unsigned char *buf;
	int64_t off = 0;
	ssize_t n;

	buf = malloc(FD_BUF_SIZE);
	if (buf == NULL)
		return berr_sys("allocating hash buffer", NULL);
	hasher_init(&h, alg);
	for (;;) {
		n = pread(fd, buf, FD_BUF_SIZE, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(what, sizeof(what), "fd %d at offset %lld", fd, (long long)off);
			free(buf);
			return berr_sys("reading", what);
		}
		if (n == 0)
			break;
		hasher_update(&h, buf, (size_t)n);
		off += n;
	}
	free(buf);
	hasher_final(&h, out);
	if (size)
		*size = off;
	return BERR_OK;
}
