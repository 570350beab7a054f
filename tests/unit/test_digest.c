/*
 * test_digest.c - digest parsing, known hash vectors, the resumable hasher's
 * save/load, and hashing a file by descriptor.
 */
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "oci/digest.h"
#include "util/mem.h"
#include "tests/unit/unit.h"

#define E256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define E512 "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" \
	     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
#define ABC512 "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" \
	       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

static void test_parse_valid(void)
{
	struct digest d, e;
	char buf[DIGEST_STR_MAX];

	CHECK_INT(digest_parse(&d, "sha256:" E256), BERR_OK);
	CHECK_INT(d.alg, DIGEST_SHA256);
	CHECK_STR(d.hex, E256);
	CHECK_STR(digest_format(&d, buf), "sha256:" E256);
	CHECK_INT(digest_parse(&e, "sha512:" E512), BERR_OK);
	CHECK_INT(e.alg, DIGEST_SHA512);
	CHECK_STR(digest_format(&e, buf), "sha512:" E512);
	CHECK(!digest_equal(&d, &e));
	CHECK_INT(digest_parse(&e, buf), BERR_OK);
	CHECK(digest_equal(&e, &e));
	CHECK_INT(digest_parse_n(&e, "sha256:" E256 "trailing", 71), BERR_OK);
	CHECK(digest_equal(&d, &e));
	CHECK_STR(digest_alg_name(DIGEST_SHA256), "sha256");
	CHECK_STR(digest_alg_name(DIGEST_SHA512), "sha512");
	CHECK_INT(digest_hex_len(DIGEST_SHA256), 64);
	CHECK_INT(digest_hex_len(DIGEST_SHA512), 128);
	CHECK_INT(digest_hex_len(DIGEST_NONE), 0);
}

static void check_bad(const char *s, const char *detail_part)
{
	struct digest d;
	enum berr rc = digest_parse(&d, s);

	CHECK_INT(rc, BERR_DIGEST_INVALID);
	if (detail_part && !strstr(berr_detail(), detail_part)) {
		unit_fail++;
		fprintf(stderr, "FAIL digest \"%s\": detail \"%s\" lacks \"%s\"\n",
			s, berr_detail(), detail_part);
	}
}

/* digest_parse_quiet answers like digest_parse and records nothing. */
static void test_parse_quiet(void)
{
	struct digest d;

	berr_set(BERR_NAME_UNKNOWN, "the caller's own detail");
	CHECK_INT(digest_parse_quiet(&d, "sha256:" E256), 1);
	CHECK_STR(d.hex, E256);
	CHECK_INT(digest_parse_quiet(&d, "sha512:" E512), 1);
	CHECK_INT(d.alg, DIGEST_SHA512);
	CHECK_INT(digest_parse_quiet(&d, "sha256:" ABC512), 0);
	CHECK_INT(digest_parse_quiet(&d, "md5:d41d8cd98f00b204e9800998ecf8427e"), 0);
	CHECK_INT(digest_parse_quiet(&d, "latest"), 0);
	CHECK_INT(digest_parse_quiet(&d, NULL), 0);
	CHECK_STR(berr_detail_for(BERR_NAME_UNKNOWN), "the caller's own detail");
}

static void test_parse_invalid(void)
{
	struct digest d;
	static const char nul[] = "sha256:" E256;
	char buf[300], nulbuf[sizeof(nul)];

	check_bad("", "empty");
	check_bad(E256, "algorithm:hex");
	check_bad("md5:d41d8cd98f00b204e9800998ecf8427e", "\"md5\" is not supported");
	check_bad("sha384:" E256, "not supported");
	check_bad("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "not supported");
	check_bad("SHA256:" E256, "malformed algorithm");
	check_bad("sha256-:" E256, "malformed algorithm");
	check_bad("sha..256:" E256, "malformed algorithm");
	check_bad(":" E256, "malformed algorithm");
	check_bad("sha256:", "needs 64");
	check_bad("sha256:" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", "got 63");
	check_bad("sha256:" E256 "5", "got 65");
	check_bad("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		  "lowercase");
	check_bad("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "lowercase");
	check_bad("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
		  "not allowed");
	check_bad("sha256:" E256 ":", "not allowed");
	check_bad("sha512:" E256, "needs 128");
	check_bad("sha256:../../../../etc/passwd", "not allowed");
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "sha256:", 7);
	check_bad(buf, "too long");
	CHECK_INT(digest_parse(&d, NULL), BERR_DIGEST_INVALID);
	/* An embedded NUL must not cut the digest short into a valid one. */
	memcpy(nulbuf, nul, sizeof(nul));
	nulbuf[20] = '\0';
	CHECK_INT(digest_parse_n(&d, nulbuf, sizeof(nul) - 1), BERR_DIGEST_INVALID);
	CHECK(strstr(berr_detail(), "NUL") != NULL);
	CHECK_INT(digest_parse_n(&d, nul, sizeof(nul)), BERR_DIGEST_INVALID);
}

static void test_vectors(void)
{
	struct digest d;

	digest_buf(DIGEST_SHA256, "", 0, &d);
	CHECK_STR(d.hex, E256);
	digest_buf(DIGEST_SHA256, "abc", 3, &d);
	CHECK_STR(d.hex, ABC256);
	digest_buf(DIGEST_SHA512, "", 0, &d);
	CHECK_STR(d.hex, E512);
	digest_buf(DIGEST_SHA512, "abc", 3, &d);
	CHECK_STR(d.hex, ABC512);
	CHECK_INT(d.alg, DIGEST_SHA512);
}

/* Reference digest via EVP, independent of the low-level API. */
static void evp_hex(enum digest_alg alg, const unsigned char *p, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	EVP_Digest(p, n, md, &mdlen, alg == DIGEST_SHA256 ? EVP_sha256() : EVP_sha512(), NULL);
	for (i = 0; i < mdlen; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static unsigned char *make_data(size_t n)
{
	unsigned char *p = malloc(n);
	uint32_t x = 2463534242u;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void test_streaming(enum digest_alg alg)
{
	size_t n = 5 * 1024 * 1024 + 333, off = 0, piece = 1;
	unsigned char *data = make_data(n);
	char want[2 * EVP_MAX_MD_SIZE + 1], state[HASHER_STATE_MAX];
	struct hasher h, h2;
	struct digest d, peek, d2;
	int saved = 0;

	evp_hex(alg, data, n, want);
	hasher_init(&h, alg);
	while (off < n) {
		size_t k = piece < n - off ? piece : n - off;

		hasher_update(&h, data + off, k);
		off += k;
		piece = piece * 7 + 3; /* odd, growing sizes: 1, 10, 73, 514, ... */
		if (piece > 300000)
			piece = 12345;
		if (!saved && off > n / 2) {
			/* Resume in a "different worker" from the saved text. */
			CHECK_INT(hasher_save(&h, state, sizeof(state)), BERR_OK);
			CHECK_INT(strlen(state) < HASHER_STATE_MAX, 1);
			memset(&h2, 0xa5, sizeof(h2));
			CHECK_INT(hasher_load(&h2, state), BERR_OK);
			/* what a resumed upload checks against its saved offset */
			CHECK_INT(hasher_length(&h2), (long long)off);
			hasher_peek(&h, &peek);
			hasher_peek(&h2, &d2);
			CHECK(digest_equal(&peek, &d2));
			h = h2;
			saved = 1;
		}
	}
	CHECK_INT(hasher_length(&h), (long long)n);
	hasher_peek(&h, &peek);
	CHECK_INT(hasher_length(&h), (long long)n); /* peeking does not count */
	hasher_final(&h, &d);
	CHECK_STR(d.hex, want);
	CHECK(digest_equal(&peek, &d));
	digest_buf(alg, data, n, &d2);
	CHECK_STR(d2.hex, want);
	free(data);
}

static void test_load_damaged(void)
{
	struct hasher h, out;
	char state[HASHER_STATE_MAX], bad[HASHER_STATE_MAX + 8];
	size_t len, numoff;

	hasher_init(&h, DIGEST_SHA256);
	hasher_update(&h, "abc", 3);
	CHECK_INT(hasher_save(&h, state, 10), BERR_INTERNAL);
	CHECK_INT(hasher_save(&h, state, sizeof(state)), BERR_OK);
	len = strlen(state);
	CHECK_INT(len, 2 * (8 + sizeof(SHA256_CTX)));
	CHECK(strncmp(state, "4252544801", 10) == 0); /* "BRTH", version 1 */

	CHECK_INT(hasher_load(&out, NULL), BERR_INTERNAL);
	CHECK_INT(hasher_load(&out, ""), BERR_INTERNAL);
	CHECK_INT(hasher_load(&out, "4252"), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[len - 2] = '\0';            /* truncated */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	snprintf(bad, sizeof(bad), "%s00", state);          /* too long */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[1] = '3';                   /* magic */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[9] = '2';                   /* version */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[11] = '3';                  /* alg */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[11] = '2';                  /* alg 512, 256 size */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[15] = bad[15] == '0' ? '1' : '0'; /* size */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[40] = 'A';                  /* upper-case hex */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	mem_strcpy(bad, sizeof(bad), state); bad[41] = 'x';
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	/* A block fill count past the block would make SHA256_Update overrun. */
	numoff = 2 * (8 + offsetof(SHA256_CTX, num));
	mem_strcpy(bad, sizeof(bad), state); memcpy(bad + numoff, "ffff", 4);
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	/* A 1024-byte string without NUL inside the bound is still refused. */
	memset(bad, '0', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	CHECK_INT(hasher_load(&out, state), BERR_OK);

	hasher_init(&h, DIGEST_SHA512);
	CHECK_INT(hasher_save(&h, state, sizeof(state)), BERR_OK);
	CHECK_INT(strlen(state), 2 * (8 + sizeof(SHA512_CTX)));
	numoff = 2 * (8 + offsetof(SHA512_CTX, num));
	mem_strcpy(bad, sizeof(bad), state); memcpy(bad + numoff, "80", 2); /* num = 128 */
	CHECK_INT(hasher_load(&out, bad), BERR_INTERNAL);
	CHECK_INT(hasher_load(&out, state), BERR_OK);
	CHECK_INT(out.alg, DIGEST_SHA512);
	CHECK_INT(hasher_length(&out), 0);
	hasher_init(&h, DIGEST_NONE);
	CHECK_INT(hasher_save(&h, state, sizeof(state)), BERR_INTERNAL);
	CHECK_INT(hasher_length(&h), -1);
}

static void test_fd(void)
{
	char path[] = "/tmp/berth-test-digest-XXXXXX";
	size_t n = 3 * 1024 * 1024 + 7;
	unsigned char *data = make_data(n);
	char want[2 * EVP_MAX_MD_SIZE + 1];
	struct digest d;
	int64_t size = -1;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	CHECK_INT(write(fd, data, n), (long long)n);
	CHECK_INT(lseek(fd, 100, SEEK_SET), 100);
	CHECK_INT(digest_fd(DIGEST_SHA512, fd, &d, &size), BERR_OK);
	evp_hex(DIGEST_SHA512, data, n, want);
	CHECK_STR(d.hex, want);
	CHECK_INT(size, (long long)n);
	CHECK_INT(lseek(fd, 0, SEEK_CUR), 100); /* pread leaves the offset alone */
	CHECK_INT(ftruncate(fd, 0), 0);
	CHECK_INT(digest_fd(DIGEST_SHA256, fd, &d, &size), BERR_OK);
	CHECK_STR(d.hex, E256);
	CHECK_INT(size, 0);
	close(fd);
	CHECK_INT(digest_fd(DIGEST_SHA256, fd, &d, &size), BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "Bad file descriptor") != NULL);
	free(data);
}

int main(void)
{
	test_parse_valid();
	test_parse_invalid();
	test_parse_quiet();
	test_vectors();
	test_streaming(DIGEST_SHA256);
	test_streaming(DIGEST_SHA512);
	test_load_damaged();
	test_fd();
	return unit_done();
}
