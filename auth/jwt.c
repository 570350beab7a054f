/*
 * jwt.c - ES256 JSON Web Tokens: signing and verification (jwt.h); the
 * keys live in keyring.c.
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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "auth/b64url.h"
#include "auth/jwt.h"

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
		err = berr_set(BERR_INTERNAL, "ES256 signing: %s", auth_ossl_why());
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
