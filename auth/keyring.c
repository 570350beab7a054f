/*
 * keyring.c - the keys that sign and verify tokens (see keyring.h for who
 * holds which key): the signing key's file, key ids, and the keyring.
 *
 * The key file is created 0600 from the start beside its final name,
 * fsynced, and published create-only (fs_publish with FS_CREATE: link(2),
 * which fails if another process published first); the loser then loads
 * the winner's key, so two processes starting together never end up
 * signing with different keys.  Private key bytes read from disk are
 * cleansed; EVP_PKEY_free clears the scalar.
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
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/keyring.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/mem.h"

#define KEY_FILE_MAX 65536

/* ------------------------------------------------------------- helpers */

/* The most recent OpenSSL error as text (and an empty queue after). */
const char *auth_ossl_why(void)
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
				path, auth_ossl_why());
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

/* PEM of the new private key into the (already 0600) temporary file. */
static enum berr key_write(int fd, const char *tmp, EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	enum berr err;

	if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return berr_set(BERR_INTERNAL, "signing key %s: %s", tmp, auth_ossl_why());
	}
	len = BIO_get_mem_data(bio, &pem);
	err = fs_write_all(fd, pem, (size_t)len, tmp);
	OPENSSL_cleanse(pem, (size_t)len);
	BIO_free(bio);
	if (err == BERR_OK && fsync(fd) < 0)
		err = berr_sys("fsync", tmp);
	return err;
}

/* Create, then publish create-only; 1 in *lost if another process won. */
static enum berr key_create(const char *path, EVP_PKEY **out, int *lost)
{
	char tmp[PATH_MAX];
	struct berr_ctx create;
	EVP_PKEY *key = NULL;
	enum berr err;
	int fd;

	*lost = 0;
	berr_enter(&create);
	err = fs_tmp_beside(path, FS_SECRET_MODE, tmp, sizeof(tmp), &fd);
	berr_leave(&create);
	if (err)
		return berr_set(err, "create signing key %s: %s", path, create.detail);
	if ((key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		err = berr_set(BERR_INTERNAL, "signing key %s: key generation: %s", path,
			       auth_ossl_why());
	else
		err = key_write(fd, tmp, key);
	if (close(fd) < 0 && err == BERR_OK)
		err = berr_sys("close", tmp);
	if (err == BERR_OK)
		err = fs_publish(tmp, path, FS_SECRET_MODE, FS_CREATE, lost);
	if (err) {
		unlink(tmp);
		EVP_PKEY_free(key);
		return err;
	}
	if (*lost) {
		EVP_PKEY_free(key);
		return BERR_OK;
	}
	log_info("created signing key %s", path);
	*out = key;
	return BERR_OK;
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
		return berr_set(BERR_INTERNAL, "key id: %s", auth_ossl_why());
	if (!EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		return berr_set(BERR_INTERNAL, "key id: %s", auth_ossl_why());
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
		return berr_set(BERR_INTERNAL, "public key: %s", auth_ossl_why());
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
		return berr_set(BERR_INTERNAL, "not a PEM public key or certificate: %s", auth_ossl_why());
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
	struct auth_key k;
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
		return berr_set(BERR_INTERNAL, "%s: %s", what, auth_ossl_why());
	if ((err = mem_grow(&kr->keys, &kr->cap, kr->n + 1, sizeof(*kr->keys), 4, what))) {
		EVP_PKEY_free(k.pub);
		return err;
	}
	kr->keys[kr->n++] = k;
	return BERR_OK;
}

enum berr auth_keyring_add_file(struct auth_keyring *kr, const char *path)
{
	char buf[KEY_FILE_MAX];
	struct berr_ctx parse;
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
	berr_enter(&parse);
	err = auth_key_from_public_pem(buf, len, &key);
	berr_leave(&parse);
	if (err)
		return berr_set(err, "verify key %s: %s", path, parse.detail);
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

