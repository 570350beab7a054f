/*
 * jwt.c - ES256 JSON Web Tokens and the keys that sign and verify them
 * (see jwt.h for who holds which key).
 *
 * Signing: OpenSSL produces a DER ECDSA-Sig-Value; JWS wants the fixed
 * 64-byte R || S (RFC 7518 section 3.4), each integer left-padded to 32
 * bytes.  Verifying converts back.  A signature of any other length is
 * refused before any arithmetic.
 *
 * Verification order matters: the token is split and the header parsed
 * and judged (alg, crit) before a key is touched, so an "alg":"HS256" token
 * can never make us compute an HMAC with a public key, and the claims are
 * only read after the signature has been checked.
 *
 * The key file is created with mkostemp (O_EXCL, 0600) in the key's own
 * directory, fsynced, and published with link(2), which fails if another
 * process published first; the loser then loads the winner's key, so two
 * processes starting together never end up signing with different keys.
 * (rename(2) is the fallback on filesystems without hard links.)  Private
 * key bytes read from disk are cleansed; EVP_PKEY_free clears the scalar.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/b64url.h"
#include "auth/jwt.h"
#include "util/log.h"

#define KEY_FILE_MAX 65536

/* ------------------------------------------------------------- helpers */

/* The most recent OpenSSL error as text (and an empty queue after). */
static const char *ossl_why(void)
{
	static char buf[256];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sizeof(buf), "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int is_p256(const EVP_PKEY *key)
{
	char group[64];
	size_t len = 0;

	if (!EVP_PKEY_is_a(key, "EC"))
		return 0;
	if (!EVP_PKEY_get_group_name(key, group, sizeof(group), &len))
		return 0;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

/* PEM callback: never prompt for a passphrase on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return 0;
}

/* ------------------------------------------------------------- key file */

static enum berr key_parse(const char *path, const char *pem, size_t len, EVP_PKEY **out)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = NULL;

	if (bio == NULL)
		return berr_set(BERR_INTERNAL, "signing key %s: out of memory", path);
	key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (key == NULL)
		return berr_set(BERR_INTERNAL, "signing key %s: not a PEM private key (encrypted keys are not supported): %s",
				path, ossl_why());
	if (!is_p256(key)) {
		EVP_PKEY_free(key);
		return berr_set(BERR_INTERNAL, "signing key %s: not an EC P-256 key (ES256 needs one; "
				"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)", path);
	}
	*out = key;
	return BERR_OK;
}

static enum berr key_read(const char *path, int fd, EVP_PKEY **out)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	enum berr err = BERR_OK;

	if (fstat(fd, &st) < 0)
		return berr_sys("stat signing key", path);
	if (!S_ISREG(st.st_mode))
		return berr_set(BERR_INTERNAL, "signing key %s: not a regular file", path);
	if (st.st_mode & 077)
		return berr_set(BERR_INTERNAL, "signing key %s: group or others may access it (mode %04o); "
				"chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
	if (st.st_uid != geteuid())
		log_warn("signing key %s is owned by uid %u, not by us (%u)", path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX)
		return berr_set(BERR_INTERNAL, "signing key %s: size %lld is not that of a key", path,
				(long long)st.st_size);
	if ((buf = malloc((size_t)st.st_size)) == NULL)
		return berr_set(BERR_INTERNAL, "signing key %s: out of memory", path);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? berr_sys("read signing key", path)
				    : berr_set(BERR_INTERNAL, "signing key %s: shrank while read", path);
			goto out;
		}
		got += (size_t)n;
	}
	err = key_parse(path, buf, got, out);
out:
	OPENSSL_clear_free(buf, (size_t)st.st_size);
	return err;
}

static enum berr write_all(int fd, const char *p, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return berr_sys("write", path);
		p += w;
		n -= (size_t)w;
	}
	return BERR_OK;
}

/* PEM of the new private key into the (already 0600) temporary file. */
static enum berr key_write(int fd, const char *tmp, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	enum berr err;

	if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return berr_set(BERR_INTERNAL, "signing key %s: %s", tmp, ossl_why());
	}
	len = BIO_get_mem_data(bio, &pem);
	err = write_all(fd, pem, (size_t)len, tmp);
	OPENSSL_cleanse(pem, (size_t)len);
	BIO_free(bio);
	if (err == BERR_OK && fsync(fd) < 0)
		err = berr_sys("fsync", tmp);
	return err;
}

static void fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Create, then publish with link(); 1 in *lost if another process won. */
static enum berr key_create(const char *path, EVP_PKEY **out, int *lost)
{
	char tmp[PATH_MAX];
	EVP_PKEY *key = NULL;
	enum berr err = BERR_OK;
	int fd;

	*lost = 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return berr_set(BERR_INTERNAL, "signing key %s: path too long", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return berr_sys("create signing key", path);
	if (fchmod(fd, 0600) < 0) {
		err = berr_sys("chmod", tmp);
		goto out;
	}
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		err = berr_set(BERR_INTERNAL, "signing key %s: key generation: %s", path, ossl_why());
		goto out;
	}
	if ((err = key_write(fd, tmp, key)))
		goto out;
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			*lost = 1;
		else if ((errno != EPERM && errno != EOPNOTSUPP) || rename(tmp, path) < 0)
			err = berr_sys("publish signing key", path);
	}
	if (err == BERR_OK && !*lost) {
		fsync_dir_of(path);
		log_info("created signing key %s", path);
	}
out:
	close(fd);
	unlink(tmp);
	if (err == BERR_OK && !*lost)
		*out = key;
	else
		EVP_PKEY_free(key);
	return err;
}

enum berr auth_key_load_or_create(const char *path, EVP_PKEY **out)
{
	int tries, lost = 0;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return berr_set(BERR_INTERNAL, "no signing_key configured");
	for (tries = 0; tries < 3; tries++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		enum berr err;

		if (fd >= 0) {
			err = key_read(path, fd, out);
			close(fd);
			return err;
		}
		if (errno != ENOENT)
			return berr_sys("open signing key", path);
		if ((err = key_create(path, out, &lost)) || !lost)
			return err;
		/* someone else created it just now: load theirs */
	}
	return berr_set(BERR_INTERNAL, "signing key %s: appears and vanishes", path);
}

/* ------------------------------------------------------------- key ids */

static void base32(char *out, const unsigned char *in, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned acc = 0;
	int bits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			*out++ = a[acc >> bits & 31];
		}
	}
	if (bits)
		*out++ = a[acc << (5 - bits) & 31];
	*out = '\0';
}

enum berr auth_key_kid(const EVP_PKEY *key, char kid[AUTH_KID_LEN + 1])
{
	unsigned char *der = NULL, md[32];
	char b32[49];
	int len, i, o = 0;

	if ((len = i2d_PUBKEY(key, &der)) <= 0)
		return berr_set(BERR_INTERNAL, "key id: %s", ossl_why());
	if (!EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		return berr_set(BERR_INTERNAL, "key id: %s", ossl_why());
	}
	OPENSSL_free(der);
	base32(b32, md, 30); /* 240 bits: 48 characters, no padding */
	for (i = 0; i < 48; i++) {
		if (i && i % 4 == 0)
			kid[o++] = ':';
		kid[o++] = b32[i];
	}
	kid[o] = '\0';
	return BERR_OK;
}

enum berr auth_key_public_pem(const EVP_PKEY *key, char **pem)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	*pem = NULL;
	if (bio == NULL || !PEM_write_bio_PUBKEY(bio, (EVP_PKEY *)key)) {
		BIO_free(bio);
		return berr_set(BERR_INTERNAL, "public key: %s", ossl_why());
	}
	len = BIO_get_mem_data(bio, &data);
	if ((*pem = malloc((size_t)len + 1)) != NULL) {
		memcpy(*pem, data, (size_t)len);
		(*pem)[len] = '\0';
	}
	BIO_free(bio);
	return *pem ? BERR_OK : berr_set(BERR_INTERNAL, "public key: out of memory");
}

enum berr auth_key_from_public_pem(const char *pem, size_t len, EVP_PKEY **out)
{
	BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;

	*out = NULL;
	if (bio == NULL)
		return berr_set(BERR_INTERNAL, "public key: out of memory");
	*out = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (*out == NULL && (bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		/* a certificate will do too: rootcertbundle-style files */
		X509 *crt;

		ERR_clear_error();
		if ((crt = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL) {
			*out = X509_get_pubkey(crt);
			X509_free(crt);
		}
		BIO_free(bio);
	}
	if (*out == NULL)
		return berr_set(BERR_INTERNAL, "not a PEM public key or certificate: %s", ossl_why());
	return BERR_OK;
}

/* ------------------------------------------------------------- keyring */

struct auth_keyring *auth_keyring_new(void)
{
	return calloc(1, sizeof(struct auth_keyring));
}

void auth_keyring_free(struct auth_keyring *kr)
{
	size_t i;

	if (kr == NULL)
		return;
	for (i = 0; i < kr->n; i++)
		EVP_PKEY_free(kr->keys[i].pub);
	free(kr->keys);
	EVP_PKEY_free(kr->priv);
	free(kr);
}

/* A fresh EVP_PKEY with only the public half of `key`. */
static EVP_PKEY *public_copy(const EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub;
	int len = i2d_PUBKEY(key, &der);

	if (len <= 0)
		return NULL;
	p = der;
	pub = d2i_PUBKEY(NULL, &p, len);
	OPENSSL_free(der);
	return pub;
}

enum berr auth_keyring_add(struct auth_keyring *kr, const EVP_PKEY *key, const char *what)
{
	struct auth_key k, *grown;
	size_t i;
	enum berr err;

	if (!is_p256(key))
		return berr_set(BERR_INTERNAL, "%s: not an EC P-256 key (ES256 tokens need one)", what);
	if ((err = auth_key_kid(key, k.kid)))
		return err;
	for (i = 0; i < kr->n; i++)
		if (strcmp(kr->keys[i].kid, k.kid) == 0)
			return BERR_OK;
	if ((k.pub = public_copy(key)) == NULL)
		return berr_set(BERR_INTERNAL, "%s: %s", what, ossl_why());
	if ((grown = realloc(kr->keys, (kr->n + 1) * sizeof(*grown))) == NULL) {
		EVP_PKEY_free(k.pub);
		return berr_set(BERR_INTERNAL, "%s: out of memory", what);
	}
	kr->keys = grown;
	kr->keys[kr->n++] = k;
	return BERR_OK;
}

enum berr auth_keyring_add_file(struct auth_keyring *kr, const char *path)
{
	char buf[KEY_FILE_MAX];
	EVP_PKEY *key = NULL;
	size_t len;
	FILE *f = fopen(path, "re");
	enum berr err;

	if (f == NULL)
		return berr_sys("open verify key", path);
	len = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || !feof(f)) {
		fclose(f);
		return berr_set(BERR_INTERNAL, "verify key %s: unreadable or larger than %d bytes",
				path, KEY_FILE_MAX);
	}
	fclose(f);
	if ((err = auth_key_from_public_pem(buf, len, &key))) {
		char why[256];

		snprintf(why, sizeof(why), "%s", berr_detail());
		return berr_set(err, "verify key %s: %s", path, why);
	}
	err = auth_keyring_add(kr, key, path);
	EVP_PKEY_free(key);
	return err;
}

enum berr auth_keyring_add_files(struct auth_keyring *kr, const char *list)
{
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char path[PATH_MAX];
		enum berr err;

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n >= sizeof(path))
			return berr_set(BERR_INTERNAL, "verify_keys: path too long");
		if (n) {
			memcpy(path, p, n);
			path[n] = '\0';
			if ((err = auth_keyring_add_file(kr, path)))
				return err;
		}
		p = end ? end + 1 : NULL;
	}
	return BERR_OK;
}

enum berr auth_keyring_set_private(struct auth_keyring *kr, EVP_PKEY *priv)
{
	enum berr err;
	size_t i;

	EVP_PKEY_free(kr->priv);
	kr->priv = priv;
	if ((err = auth_key_kid(priv, kr->priv_kid)) ||
	    (err = auth_keyring_add(kr, priv, "signing key")))
		return err;
	/* the signing key goes first: it verifies most tokens */
	for (i = 1; i < kr->n; i++) {
		if (strcmp(kr->keys[i].kid, kr->priv_kid) == 0) {
			struct auth_key t = kr->keys[0];

			kr->keys[0] = kr->keys[i];
			kr->keys[i] = t;
		}
	}
	return BERR_OK;
}

enum berr auth_keyring_load(struct auth_keyring **out, const char *signing_key,
			    const char *verify_keys)
{
	struct auth_keyring *kr = auth_keyring_new();
	EVP_PKEY *priv = NULL;
	enum berr err;

	*out = NULL;
	if (kr == NULL)
		return berr_set(BERR_INTERNAL, "keyring: out of memory");
	if ((err = auth_key_load_or_create(signing_key, &priv)) ||
	    (err = auth_keyring_set_private(kr, priv)) ||
	    (err = auth_keyring_add_files(kr, verify_keys))) {
		auth_keyring_free(kr);
		return err;
	}
	*out = kr;
	return BERR_OK;
}

/* ------------------------------------------------------------- signing */

enum berr auth_jwt_signing_input(const char *kid, const json_t *claims, char **out)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "JWT", "kid", kid);
	char *h = NULL, *p = NULL, *s = NULL;
	size_t hl, pl;
	enum berr err = BERR_OK;

	*out = NULL;
	if (!json_is_object(claims)) {
		json_decref(hdr);
		return berr_set(BERR_INTERNAL, "token claims must be a JSON object");
	}
	if (hdr == NULL || (h = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL ||
	    (p = json_dumps(claims, JSON_COMPACT)) == NULL) {
		err = berr_set(BERR_INTERNAL, "token: out of memory");
		goto out;
	}
	hl = strlen(h);
	pl = strlen(p);
	if (auth_b64url_enclen(hl) + auth_b64url_enclen(pl) + 2 + AUTH_ES256_SIG_B64_LEN > AUTH_JWT_MAX) {
		err = berr_set(BERR_INTERNAL, "token would be longer than %d bytes (too many scopes?)",
			       AUTH_JWT_MAX);
		goto out;
	}
	if ((s = malloc(auth_b64url_enclen(hl) + auth_b64url_enclen(pl) + 2)) == NULL) {
		err = berr_set(BERR_INTERNAL, "token: out of memory");
		goto out;
	}
	hl = auth_b64url_encode(s, h, hl);
	s[hl] = '.';
	auth_b64url_encode(s + hl + 1, p, pl);
	*out = s;
out:
	json_decref(hdr);
	free(h);
	free(p);
	return err;
}

enum berr auth_es256_sign(EVP_PKEY *priv, const char *in, size_t len,
			  char sig[AUTH_ES256_SIG_B64_LEN + 1])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80], raw[AUTH_ES256_SIG_LEN];
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *es = NULL;
	size_t dlen = sizeof(der);
	enum berr err = BERR_OK;

	if (ctx == NULL || !EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv) ||
	    !EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)in, len) ||
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL) {
		err = berr_set(BERR_INTERNAL, "ES256 signing: %s", ossl_why());
		goto out;
	}
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, raw, 32) != 32 || BN_bn2binpad(s, raw + 32, 32) != 32) {
		err = berr_set(BERR_INTERNAL, "ES256 signing: integer longer than 32 bytes");
		goto out;
	}
	auth_b64url_encode(sig, raw, sizeof(raw));
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	return err;
}

enum berr auth_jwt_sign(const struct auth_keyring *kr, const json_t *claims, char **token)
{
	char sig[AUTH_ES256_SIG_B64_LEN + 1], *in = NULL, *t;
	size_t n;
	enum berr err;

	*token = NULL;
	if (kr == NULL || kr->priv == NULL)
		return berr_set(BERR_INTERNAL, "token: no private key in this process");
	if ((err = auth_jwt_signing_input(kr->priv_kid, claims, &in)) ||
	    (err = auth_es256_sign(kr->priv, in, strlen(in), sig))) {
		free(in);
		return err;
	}
	n = strlen(in);
	if ((t = realloc(in, n + 1 + AUTH_ES256_SIG_B64_LEN + 1)) == NULL) {
		free(in);
		return berr_set(BERR_INTERNAL, "token: out of memory");
	}
	t[n] = '.';
	memcpy(t + n + 1, sig, sizeof(sig));
	*token = t;
	return BERR_OK;
}

/* ------------------------------------------------------------- verifying */

#define refuse(...) berr_set(BERR_UNAUTHORIZED, __VA_ARGS__)

/* Decode one base64url part into a NUL-terminated malloc'd buffer. */
static enum berr part_decode(const char *s, size_t len, const char *what,
			     unsigned char **out, size_t *outlen)
{
	unsigned char *buf;

	*out = NULL;
	if (len == 0)
		return refuse("token %s is empty", what);
	if ((buf = malloc(auth_b64url_declen(len) + 1)) == NULL)
		return berr_set(BERR_INTERNAL, "token: out of memory");
	if (auth_b64url_decode(buf, outlen, s, len) < 0) {
		free(buf);
		return refuse("token %s is not valid base64url", what);
	}
	buf[*outlen] = '\0';
	*out = buf;
	return BERR_OK;
}

static enum berr part_json(const char *s, size_t len, const char *what, json_t **out)
{
	unsigned char *buf;
	size_t n;
	enum berr err;

	*out = NULL;
	if ((err = part_decode(s, len, what, &buf, &n)))
		return err;
	*out = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return refuse("token %s is not a JSON object", what);
	}
	return BERR_OK;
}

/* Only short alphanumeric names are echoed back to the client. */
static const char *printable(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 16)
		return "?";
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9')))
			return "?";
	return s;
}

/* alg, crit and kid; *kid points into hdr (NULL when absent). */
static enum berr header_check(const json_t *hdr, const char **kid)
{
	const json_t *alg = json_object_get(hdr, "alg");
	const json_t *k = json_object_get(hdr, "kid");

	*kid = NULL;
	if (alg == NULL)
		return refuse("token has no algorithm");
	if (!json_is_string(alg))
		return refuse("token algorithm is not a string");
	if (strcmp(json_string_value(alg), "ES256") != 0) {
		if (strcmp(json_string_value(alg), "none") == 0)
			return refuse("token algorithm none is not accepted (unsigned tokens are refused)");
		return refuse("token algorithm %s is not accepted; only ES256 is",
			      printable(json_string_value(alg)));
	}
	if (json_object_get(hdr, "crit") != NULL)
		return refuse("token header has critical extensions, which are not supported");
	if (k != NULL) {
		if (!json_is_string(k) || json_string_length(k) != AUTH_KID_LEN)
			return refuse("token signed with an unknown key");
		*kid = json_string_value(k);
	}
	return BERR_OK;
}

/* 1 if raw R||S is a valid ES256 signature of in[0..len) by key. */
static int es256_verify(EVP_PKEY *key, const char *in, size_t len, const unsigned char *raw)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
	unsigned char *der = NULL;
	int dlen, ok = 0;

	if (ctx == NULL || es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s))
		goto out;
	r = s = NULL; /* owned by es now */
	if ((dlen = i2d_ECDSA_SIG(es, &der)) <= 0)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestVerify(ctx, der, (size_t)dlen, (const unsigned char *)in, len) == 1)
		ok = 1;
out:
	ERR_clear_error();
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static enum berr signature_check(const struct auth_keyring *kr, const char *kid,
				 const char *in, size_t len, const char *sig64, size_t siglen)
{
	unsigned char *raw;
	size_t n, i;
	int known = 0;
	enum berr err;

	if ((err = part_decode(sig64, siglen, "signature", &raw, &n)))
		return err;
	if (n != AUTH_ES256_SIG_LEN) {
		free(raw);
		return refuse("token signature has the wrong length (%zu bytes; ES256 has %d)",
			      n, AUTH_ES256_SIG_LEN);
	}
	for (i = 0; kr && i < kr->n; i++) {
		if (kid != NULL && strcmp(kid, kr->keys[i].kid) != 0)
			continue;
		known = 1;
		if (es256_verify(kr->keys[i].pub, in, len, raw)) {
			free(raw);
			return BERR_OK;
		}
	}
	free(raw);
	if (!known)
		return refuse("token signed with an unknown key");
	return refuse("token signature is invalid");
}

/* A NumericDate claim: 0 absent, 1 present (in *v), -1 not a number. */
static int numeric_date(const json_t *claims, const char *name, double *v)
{
	const json_t *j = json_object_get(claims, name);

	if (j == NULL)
		return 0;
	if (!json_is_number(j))
		return -1;
	*v = json_number_value(j);
	return 1;
}

static enum berr times_check(const json_t *claims, time_t now, long leeway)
{
	double exp = 0, nbf = 0, iat = 0, t = (double)now, l = (double)leeway;
	int has;

	if ((has = numeric_date(claims, "exp", &exp)) <= 0)
		return refuse(has ? "token exp is not a number" : "token has no expiry (exp)");
	if (exp <= t - l)
		return refuse("token expired");
	if ((has = numeric_date(claims, "nbf", &nbf)) < 0)
		return refuse("token nbf is not a number");
	if (has && nbf > t + l)
		return refuse("token not yet valid (nbf is in the future)");
	if ((has = numeric_date(claims, "iat", &iat)) < 0)
		return refuse("token iat is not a number");
	if (has && iat > t + l)
		return refuse("token issued in the future (iat)");
	if (has && iat > exp)
		return refuse("token issued after it expired (iat > exp)");
	return BERR_OK;
}

static enum berr claims_check(const json_t *claims, const char *issuer, const char *audience)
{
	const json_t *iss = json_object_get(claims, "iss");
	const json_t *aud = json_object_get(claims, "aud");
	size_t i;

	if (issuer != NULL && (!json_is_string(iss) || strcmp(json_string_value(iss), issuer) != 0))
		return refuse("token issuer is not %s", issuer);
	if (audience == NULL)
		return BERR_OK;
	if (json_is_string(aud) && strcmp(json_string_value(aud), audience) == 0)
		return BERR_OK;
	for (i = 0; json_is_array(aud) && i < json_array_size(aud); i++) {
		const json_t *a = json_array_get(aud, i);

		if (json_is_string(a) && strcmp(json_string_value(a), audience) == 0)
			return BERR_OK;
	}
	return refuse("token audience is not %s", audience);
}

enum berr auth_jwt_verify(const struct auth_keyring *kr, const char *token, size_t len,
			  const char *issuer, const char *audience, time_t now, long leeway,
			  json_t **claims)
{
	const char *dot1, *dot2, *kid;
	json_t *hdr = NULL, *payload = NULL;
	enum berr err;

	*claims = NULL;
	if (token == NULL || len == 0)
		return refuse("no token");
	if (len > AUTH_JWT_MAX)
		return refuse("token longer than %d bytes", AUTH_JWT_MAX);
	if (memchr(token, '\0', len))
		return refuse("token contains a NUL byte");
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (dot1 == NULL || dot2 == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return refuse("token is not a JWS in compact form (three parts separated by '.')");
	if ((err = part_json(token, (size_t)(dot1 - token), "header", &hdr)) ||
	    (err = header_check(hdr, &kid)) ||
	    (err = signature_check(kr, kid, token, (size_t)(dot2 - token),
				   dot2 + 1, len - (size_t)(dot2 + 1 - token))) ||
	    (err = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", &payload)) ||
	    (err = claims_check(payload, issuer, audience)) ||
	    (err = times_check(payload, now, leeway)))
		goto out;
	*claims = payload;
	payload = NULL;
out:
	json_decref(hdr);
	json_decref(payload);
	return err;
}
