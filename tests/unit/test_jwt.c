/*
 * test_jwt.c - base64url, key ids, the key file, ES256 tokens and every way
 * a forged, stale or malformed token must be refused.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/b64url.h"
#include "auth/jwt.h"
#include "tests/unit/unit.h"

/* A fixed test key; its kid was computed independently (openssl + python:
 * SHA-256 of the DER SPKI, first 30 bytes, base32, groups of 4). */
static const char fixed_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTN7XOu+A8catubeD\n"
	"AcDpWG8tzennHDST+wUsShKjfoShRANCAASY/JwUH8uGhKrHVLmhxvo0TmllJoi4\n"
	"miRaGwiyE685DdBztfhSMPPam/dE9YyZb3QZTG7xxFfiPOqnht4BeouP\n"
	"-----END PRIVATE KEY-----\n";
static const char fixed_kid[] = "Y4S5:BFP3:7JRO:Z6PI:KBMW:RVWP:OQ6K:FT2L:HHXN:UFRB:VVSC:ZPH5";

static char dir[64];
static time_t now;

#define ISS "berth-test"
#define AUD "registry.example.com"

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

/* A fresh private key of `curve` as PEM at path (0600). */
static void write_private_pem(const char *path, const char *curve)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem, *text;
	long len;

	CHECK(key && bio && PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL));
	len = BIO_get_mem_data(bio, &pem);
	text = strndup(pem, (size_t)len);
	write_file(path, text, 0600);
	free(text);
	BIO_free(bio);
	EVP_PKEY_free(key);
}

static char *b64(const char *s)
{
	return auth_b64url_encode_alloc(s, strlen(s));
}

/* header.payload.signature from JSON texts and raw signature bytes. */
static char *make_token(const char *hdr, const char *payload, const void *sig, size_t siglen)
{
	char *h = b64(hdr), *p = b64(payload), *s = auth_b64url_encode_alloc(sig, siglen);
	char *t = malloc(strlen(h) + strlen(p) + strlen(s) + 3);

	sprintf(t, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);
	return t;
}

/* header.payload signed for real with `key`. */
static char *signed_token(EVP_PKEY *key, const char *hdr, const char *payload)
{
	char *h = b64(hdr), *p = b64(payload), sig[AUTH_ES256_SIG_B64_LEN + 1];
	char *t = malloc(strlen(h) + strlen(p) + sizeof(sig) + 2);

	sprintf(t, "%s.%s", h, p);
	CHECK(auth_es256_sign(key, t, strlen(t), sig) == BERR_OK);
	strcat(t, ".");
	strcat(t, sig);
	free(h);
	free(p);
	return t;
}

static char *claims_text(long exp_off, long nbf_off, long iat_off, const char *iss, const char *aud)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"iss\":\"%s\",\"sub\":\"alice\",\"aud\":%s,\"exp\":%lld,\"nbf\":%lld,"
		 "\"iat\":%lld,\"jti\":\"j1\",\"access\":[{\"type\":\"repository\","
		 "\"name\":\"team/app\",\"actions\":[\"pull\"]}]}",
		 iss, aud, (long long)now + exp_off, (long long)now + nbf_off, (long long)now + iat_off);
	return buf;
}

static void expect_ok(const struct auth_keyring *kr, const char *tok, const char *what)
{
	json_t *claims = NULL;
	enum berr rc = auth_jwt_verify(kr, tok, strlen(tok), ISS, AUD, now, 30, &claims);

	if (rc == BERR_OK && json_is_object(claims)) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL %s: refused: %s\n", what, berr_detail());
	}
	json_decref(claims);
}

static void expect_refused(const struct auth_keyring *kr, const char *tok, size_t len,
			   const char *why, const char *what)
{
	json_t *claims = (json_t *)1;
	enum berr rc = auth_jwt_verify(kr, tok, len, ISS, AUD, now, 30, &claims);

	if (rc == BERR_UNAUTHORIZED && claims == NULL && strstr(berr_detail(), why)) {
		unit_pass++;
	} else {
		unit_fail++;
		fprintf(stderr, "FAIL %s: rc %d detail \"%s\", want \"%s\"\n", what, rc,
			berr_detail(), why);
		if (rc == BERR_OK)
			json_decref(claims);
	}
}
#define refused(kr, tok, why) expect_refused(kr, tok, strlen(tok), why, #tok " / " why)

static void test_b64url(void)
{
	static const struct { const char *raw, *enc; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
		{ "\xfb\xff\xbf", "-_-_" },
	};
	unsigned char out[16];
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char enc[16];

		auth_b64url_encode(enc, v[i].raw, strlen(v[i].raw));
		CHECK_STR(enc, v[i].enc);
		CHECK_INT(auth_b64url_enclen(strlen(v[i].raw)), strlen(v[i].enc));
		CHECK_INT(auth_b64url_decode(out, &n, v[i].enc, strlen(v[i].enc)), 0);
		CHECK(n == strlen(v[i].raw) && memcmp(out, v[i].raw, n) == 0);
	}
	CHECK_INT(auth_b64url_decode(out, &n, "Zg==", 4), -1);   /* padding */
	CHECK_INT(auth_b64url_decode(out, &n, "Zm9v+/", 6), -1); /* base64, not base64url */
	CHECK_INT(auth_b64url_decode(out, &n, "Zm9vY", 5), -1);  /* len % 4 == 1 */
	CHECK_INT(auth_b64url_decode(out, &n, "Zh", 2), -1);     /* non-zero unused bits */
	CHECK_INT(auth_b64url_decode(out, &n, "Zm8", 3), 0);
	CHECK_INT(auth_b64url_decode(out, &n, "Zm9", 3), -1);    /* "fo" with stray low bits */
	CHECK_INT(auth_b64url_decode(out, &n, "Zm 9", 4), -1);
	CHECK_INT(auth_b64url_decode(out, &n, "Z\0m9", 4), -1);
}

static void test_kid(void)
{
	char path[128], kid[AUTH_KID_LEN + 1];
	EVP_PKEY *key = NULL;

	snprintf(path, sizeof(path), "%s/fixed.pem", dir);
	write_file(path, fixed_pem, 0600);
	CHECK(auth_key_load_or_create(path, &key) == BERR_OK);
	CHECK(auth_key_kid(key, kid) == BERR_OK);
	CHECK_STR(kid, fixed_kid);
	CHECK_INT(strlen(kid), AUTH_KID_LEN);
	EVP_PKEY_free(key);
}

static void test_key_file(void)
{
	char path[128], kid1[AUTH_KID_LEN + 1], kid2[AUTH_KID_LEN + 1];
	EVP_PKEY *key = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/sub-key.pem", dir);
	umask(0);        /* even with a careless umask the key is 0600 */
	CHECK(auth_key_load_or_create(path, &key) == BERR_OK);
	umask(022);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
	CHECK(auth_key_kid(key, kid1) == BERR_OK);
	EVP_PKEY_free(key);
	CHECK(auth_key_load_or_create(path, &key) == BERR_OK); /* loaded, not re-created */
	CHECK(auth_key_kid(key, kid2) == BERR_OK);
	CHECK_STR(kid1, kid2);
	EVP_PKEY_free(key);

	chmod(path, 0644);
	CHECK(auth_key_load_or_create(path, &key) == BERR_INTERNAL && key == NULL);
	CHECK(strstr(berr_detail(), "chmod 600") != NULL);
	chmod(path, 0640);
	CHECK(auth_key_load_or_create(path, &key) == BERR_INTERNAL);
	chmod(path, 0600);

	snprintf(path, sizeof(path), "%s/junk.pem", dir);
	write_file(path, "not a key\n", 0600);
	CHECK(auth_key_load_or_create(path, &key) == BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "not a PEM private key") != NULL);

	snprintf(path, sizeof(path), "%s/p384.pem", dir);
	write_private_pem(path, "P-384");
	CHECK(auth_key_load_or_create(path, &key) == BERR_INTERNAL);
	CHECK(strstr(berr_detail(), "not an EC P-256 key") != NULL);
	CHECK(auth_key_load_or_create("", &key) == BERR_INTERNAL);
}

/* Several processes starting at once all end up with the same key. */
static void test_key_race(void)
{
	char path[128], kids[4][AUTH_KID_LEN + 1];
	int p[2], i, status, ok = 1;

	snprintf(path, sizeof(path), "%s/race.pem", dir);
	CHECK(pipe(p) == 0);
	for (i = 0; i < 4; i++) {
		if (fork() == 0) {
			char kid[AUTH_KID_LEN + 1] = "";
			EVP_PKEY *key = NULL;

			if (auth_key_load_or_create(path, &key) == BERR_OK)
				auth_key_kid(key, kid);
			if (write(p[1], kid, sizeof(kid)) != (ssize_t)sizeof(kid))
				_exit(2);
			_exit(key ? 0 : 1);
		}
	}
	close(p[1]);
	for (i = 0; i < 4; i++) {
		ok &= read(p[0], kids[i], sizeof(kids[i])) == (ssize_t)sizeof(kids[i]);
		ok &= strlen(kids[i]) == AUTH_KID_LEN && strcmp(kids[i], kids[0]) == 0;
	}
	close(p[0]);
	for (i = 0; i < 4; i++) {
		wait(&status);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	CHECK(ok);
}

static void test_round_trip(const struct auth_keyring *kr)
{
	json_t *claims = json_loads(claims_text(300, 0, 0, ISS, "\"" AUD "\""), 0, NULL), *got = NULL;
	char *tok = NULL, *dot, hdr[256];
	size_t n;

	CHECK(auth_jwt_sign(kr, claims, &tok) == BERR_OK && tok != NULL);
	CHECK(strlen(tok) < AUTH_JWT_MAX);
	CHECK(auth_jwt_verify(kr, tok, strlen(tok), ISS, AUD, now, 0, &got) == BERR_OK);
	CHECK_STR(json_string_value(json_object_get(got, "sub")), "alice");
	CHECK(json_equal(json_object_get(got, "access"), json_object_get(claims, "access")));
	json_decref(got);

	/* the header is exactly what the spec and the registry expect */
	dot = strchr(tok, '.');
	CHECK(auth_b64url_decode(hdr, &n, tok, (size_t)(dot - tok)) == 0);
	hdr[n] = '\0';
	got = json_loads(hdr, 0, NULL);
	CHECK_STR(json_string_value(json_object_get(got, "alg")), "ES256");
	CHECK_STR(json_string_value(json_object_get(got, "typ")), "JWT");
	CHECK_STR(json_string_value(json_object_get(got, "kid")), kr->priv_kid);
	CHECK_INT(json_object_size(got), 3);
	json_decref(got);
	CHECK_INT(strlen(strrchr(tok, '.') + 1), AUTH_ES256_SIG_B64_LEN);

	/* audience as an array containing ours; a leeway lets a just-expired token in */
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":\"ES256\"}",
			   claims_text(-10, -20, -20, ISS, "[\"other\",\"" AUD "\"]"));
	expect_ok(kr, tok, "aud array, no kid, expired within leeway");
	free(tok);
	json_decref(claims);
}

/* A token whose payload was edited after signing. */
static void test_edited(const struct auth_keyring *kr)
{
	const char *good = claims_text(300, 0, 0, ISS, "\"" AUD "\"");
	char hdr[256], *tok, *edited = strdup(good), *d1, *d2, *p2, *forged;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kr->priv_kid);
	tok = signed_token(kr->priv, hdr, good);
	expect_ok(kr, tok, "baseline");
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	memcpy(strstr(edited, "\"pull\""), "\"push\"", 6);
	p2 = b64(edited);
	forged = malloc(strlen(tok) + 64);
	sprintf(forged, "%.*s.%s%s", (int)(d1 - tok), tok, p2, d2);
	refused(kr, forged, "signature is invalid");
	free(forged);
	free(p2);
	free(edited);
	free(tok);
}

/* alg none, and HS256 keyed with our public key PEM (the classic confusion). */
static void test_alg_none_hs256(const struct auth_keyring *kr)
{
	const char *good = claims_text(300, 0, 0, ISS, "\"" AUD "\"");
	char hdr[256], *tok, *pem = NULL, *h, *p, *m;
	unsigned char mac[32], sig[64];
	unsigned int maclen = 0;

	tok = make_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", good, "", 0);
	refused(kr, tok, "algorithm none is not accepted");
	free(tok);
	memset(sig, 1, sizeof(sig));
	tok = make_token("{\"alg\":\"none\"}", good, sig, 64);
	refused(kr, tok, "algorithm none is not accepted");
	free(tok);

	CHECK(auth_key_public_pem(kr->keys[0].pub, &pem) == BERR_OK);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kr->priv_kid);
	h = b64(hdr);
	p = b64(good);
	tok = malloc(strlen(h) + strlen(p) + 64);
	sprintf(tok, "%s.%s", h, p);
	CHECK(HMAC(EVP_sha256(), pem, (int)strlen(pem), (unsigned char *)tok, strlen(tok),
		   mac, &maclen) != NULL && maclen == 32);
	m = auth_b64url_encode_alloc(mac, maclen);
	strcat(tok, ".");
	strcat(tok, m);
	refused(kr, tok, "algorithm HS256 is not accepted");
	free(m);
	free(tok);
	free(h);
	free(p);
	free(pem);
}

/* RS256 really signed by an RSA key; missing, odd and critical headers. */
static void test_alg_other(const struct auth_keyring *kr)
{
	const char *good = claims_text(300, 0, 0, ISS, "\"" AUD "\"");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char rsig[256];
	size_t rlen = sizeof(rsig);
	char *h = b64("{\"alg\":\"RS256\",\"typ\":\"JWT\"}"), *p = b64(good), *s, *tok;

	tok = malloc(strlen(h) + strlen(p) + 400);
	sprintf(tok, "%s.%s", h, p);
	CHECK(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, rsa) == 1 &&
	      EVP_DigestSign(ctx, rsig, &rlen, (unsigned char *)tok, strlen(tok)) == 1);
	s = auth_b64url_encode_alloc(rsig, rlen);
	strcat(tok, ".");
	strcat(tok, s);
	refused(kr, tok, "algorithm RS256 is not accepted");
	free(tok); free(s); free(h); free(p);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(rsa);

	tok = signed_token(kr->priv, "{\"typ\":\"JWT\"}", good);
	refused(kr, tok, "token has no algorithm");
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":7}", good);
	refused(kr, tok, "not a string");
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":\"es256\"}", good);
	refused(kr, tok, "algorithm es256 is not accepted");
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":\"ES256\",\"crit\":[\"exp\"],\"exp\":1}", good);
	refused(kr, tok, "critical");
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":\"ES256\",\"alg\":\"ES256\"}", good);
	refused(kr, tok, "header is not a JSON object");
	free(tok);
}

/* Another key; another key claiming our kid; our key under a foreign kid. */
static void test_keys(const struct auth_keyring *kr, EVP_PKEY *other)
{
	const char *good = claims_text(300, 0, 0, ISS, "\"" AUD "\"");
	char hdr[256], okid[AUTH_KID_LEN + 1], *tok;

	tok = signed_token(other, "{\"alg\":\"ES256\"}", good);
	refused(kr, tok, "signature is invalid");
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", kr->priv_kid);
	tok = signed_token(other, hdr, good);
	refused(kr, tok, "signature is invalid");
	free(tok);
	auth_key_kid(other, okid);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", okid);
	tok = signed_token(other, hdr, good);
	refused(kr, tok, "unknown key");
	free(tok);
	tok = signed_token(kr->priv, hdr, good);
	refused(kr, tok, "unknown key");
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":\"ES256\",\"kid\":\"ABCD\"}", good);
	refused(kr, tok, "unknown key");
	free(tok);
	tok = signed_token(kr->priv, "{\"alg\":\"ES256\",\"kid\":5}", good);
	refused(kr, tok, "unknown key");
	free(tok);
}

static void claims_refused(const struct auth_keyring *kr, const char *payload, const char *why)
{
	char *tok = signed_token(kr->priv, "{\"alg\":\"ES256\"}", payload);

	expect_refused(kr, tok, strlen(tok), why, payload);
	free(tok);
}

static void test_claims(const struct auth_keyring *kr)
{
	const char *aud = "\"" AUD "\"";

	claims_refused(kr, claims_text(-100, -200, -200, ISS, aud), "token expired");
	claims_refused(kr, claims_text(-30, -200, -200, ISS, aud), "token expired"); /* exp == now - leeway */
	claims_refused(kr, claims_text(3000, 1000, 0, ISS, aud), "not yet valid");
	claims_refused(kr, claims_text(3000, 0, 1000, ISS, aud), "issued in the future");
	claims_refused(kr, claims_text(-10, -200, 0, ISS, aud), "issued after it expired");
	claims_refused(kr, claims_text(300, 0, 0, "evil", aud), "issuer is not " ISS);
	claims_refused(kr, claims_text(300, 0, 0, ISS, "\"other\""), "audience is not " AUD);
	claims_refused(kr, claims_text(300, 0, 0, ISS, "[\"a\",\"b\"]"), "audience is not");
	claims_refused(kr, claims_text(300, 0, 0, ISS, "null"), "audience is not");
	claims_refused(kr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}", "no expiry");
	claims_refused(kr, "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"99999999999\"}",
		       "exp is not a number");
	claims_refused(kr, "{\"aud\":\"" AUD "\",\"exp\":99999999999}", "issuer is not");
	claims_refused(kr, "[1,2]", "payload is not a JSON object");
	claims_refused(kr, "{\"iss\":\"" ISS "\",\"iss\":\"" ISS "\"}", "payload is not a JSON object");
	claims_refused(kr, "", "payload is empty");
}

static void test_malformed(const struct auth_keyring *kr)
{
	char *tok = signed_token(kr->priv, "{\"alg\":\"ES256\"}", claims_text(300, 0, 0, ISS, "\"" AUD "\""));
	char *copy = malloc(AUTH_JWT_MAX + 2);

	expect_ok(kr, tok, "baseline");
	refused(kr, "", "no token");
	refused(kr, "abc", "three parts");
	refused(kr, "a.b", "three parts");
	refused(kr, "a.b.c.d", "three parts");
	refused(kr, "..", "header is empty");
	refused(kr, "e30.e30.", "algorithm");  /* {} header */

	sprintf(copy, "%s.", tok);                 /* four parts */
	refused(kr, copy, "three parts");
	sprintf(copy, "%s=", tok);                 /* padded signature */
	refused(kr, copy, "signature is not valid base64url");
	sprintf(copy, "=%s", tok);                 /* junk in the header */
	refused(kr, copy, "header is not valid base64url");
	strcpy(copy, tok);
	copy[strchr(copy, '.') - copy + 2] = '+';  /* an edit: the signature notices first */
	refused(kr, copy, "signature is invalid");
	{
		/* signed by us, yet not base64url: "ey+..." in the payload */
		char sig[AUTH_ES256_SIG_B64_LEN + 1], *h = b64("{\"alg\":\"ES256\"}");

		sprintf(copy, "%s.e30+", h);
		CHECK(auth_es256_sign(kr->priv, copy, strlen(copy), sig) == BERR_OK);
		strcat(copy, ".");
		strcat(copy, sig);
		refused(kr, copy, "payload is not valid base64url");
		free(h);
	}
	strcpy(copy, tok);
	expect_refused(kr, copy, strlen(copy) - 1, "base64url", "signature cut to an impossible length");
	strcpy(copy, tok);
	copy[5] = '\0';
	expect_refused(kr, copy, strlen(tok), "NUL", "embedded NUL");

	/* too long */
	memset(copy, 'A', AUTH_JWT_MAX + 1);
	copy[AUTH_JWT_MAX + 1] = '\0';
	refused(kr, copy, "longer than");
	free(copy);
	free(tok);
}

/* Signatures of the wrong length (63, 65, 0 bytes) and an all-zero one. */
static void test_signature_length(const struct auth_keyring *kr)
{
	char *tok = signed_token(kr->priv, "{\"alg\":\"ES256\"}", claims_text(300, 0, 0, ISS, "\"" AUD "\""));
	char *copy = malloc(strlen(tok) + 64), *d2 = strrchr(tok, '.');
	unsigned char raw[AUTH_ES256_SIG_LEN + 1];
	size_t n, siglen = strlen(d2 + 1);

	/* signatures of the wrong length: 63 and 65 bytes, and empty */
	CHECK(auth_b64url_decode(raw, &n, d2 + 1, siglen) == 0 && n == 64);
	raw[64] = 0;
	{
		char *s63 = auth_b64url_encode_alloc(raw, 63), *s65 = auth_b64url_encode_alloc(raw, 65);

		sprintf(copy, "%.*s.%s", (int)(d2 - tok), tok, s63);
		refused(kr, copy, "wrong length (63 bytes");
		sprintf(copy, "%.*s.%s", (int)(d2 - tok), tok, s65);
		refused(kr, copy, "wrong length (65 bytes");
		sprintf(copy, "%.*s.", (int)(d2 - tok), tok);
		refused(kr, copy, "signature is empty");
		free(s63);
		free(s65);
	}
	/* zero R and S: the right length, never valid */
	memset(raw, 0, sizeof(raw));
	{
		char *z = auth_b64url_encode_alloc(raw, 64);

		sprintf(copy, "%.*s.%s", (int)(d2 - tok), tok, z);
		refused(kr, copy, "signature is invalid");
		free(z);
	}
	free(copy);
	free(tok);
}

/* Tokens of the old key verify once its public key is in verify_keys. */
static void test_rotation(const struct auth_keyring *old)
{
	char newkey[128], oldpub[128], list[300], *pem = NULL, *tok = NULL;
	struct auth_keyring *kr = NULL;
	json_t *claims = json_loads(claims_text(300, 0, 0, ISS, "\"" AUD "\""), 0, NULL);

	snprintf(newkey, sizeof(newkey), "%s/new.pem", dir);
	snprintf(oldpub, sizeof(oldpub), "%s/old.pub", dir);
	CHECK(auth_key_public_pem(old->keys[0].pub, &pem) == BERR_OK);
	write_file(oldpub, pem, 0644);
	free(pem);
	CHECK(auth_jwt_sign(old, claims, &tok) == BERR_OK);

	CHECK(auth_keyring_load(&kr, newkey, NULL) == BERR_OK);
	refused(kr, tok, "unknown key");
	auth_keyring_free(kr);

	snprintf(list, sizeof(list), " %s , %s ,", oldpub, oldpub); /* blanks, a repeat */
	CHECK(auth_keyring_load(&kr, newkey, list) == BERR_OK);
	CHECK_INT(kr->n, 2);
	CHECK(strcmp(kr->keys[0].kid, kr->priv_kid) == 0);
	expect_ok(kr, tok, "token of the retired key");
	auth_keyring_free(kr);

	snprintf(list, sizeof(list), "%s/missing.pub", dir);
	CHECK(auth_keyring_load(&kr, newkey, list) == BERR_INTERNAL && kr == NULL);
	CHECK(strstr(berr_detail(), "missing.pub") != NULL);
	snprintf(list, sizeof(list), "%s/p384.pem", dir);
	CHECK(auth_keyring_load(&kr, newkey, list) == BERR_INTERNAL);
	free(tok);
	json_decref(claims);
}

static void test_limits(const struct auth_keyring *kr)
{
	json_t *claims = json_object();
	char *big = malloc(AUTH_JWT_MAX), *tok = NULL;

	memset(big, 'x', AUTH_JWT_MAX - 1);
	big[AUTH_JWT_MAX - 1] = '\0';
	json_object_set_new(claims, "big", json_string(big));
	CHECK(auth_jwt_sign(kr, claims, &tok) == BERR_INTERNAL && tok == NULL);
	CHECK(strstr(berr_detail(), "longer than") != NULL);
	free(big);
	json_decref(claims);
	claims = json_array();
	CHECK(auth_jwt_sign(kr, claims, &tok) == BERR_INTERNAL && tok == NULL);
	json_decref(claims);
}

int main(void)
{
	char path[128];
	struct auth_keyring *kr = NULL;
	EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	snprintf(dir, sizeof(dir), "/tmp/berth-test-jwt.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	now = time(NULL);
	test_b64url();
	test_kid();
	test_key_file();
	test_key_race();

	snprintf(path, sizeof(path), "%s/key.pem", dir);
	CHECK(auth_keyring_load(&kr, path, NULL) == BERR_OK && kr && kr->priv && kr->n == 1);
	test_round_trip(kr);
	test_edited(kr);
	test_alg_none_hs256(kr);
	test_alg_other(kr);
	test_keys(kr, other);
	test_claims(kr);
	test_malformed(kr);
	test_signature_length(kr);
	test_rotation(kr);
	test_limits(kr);
	auth_keyring_free(kr);
	EVP_PKEY_free(other);

	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return unit_done();
}
