/*
 * fuzz_jwt.c - libFuzzer target for bearer tokens, which arrive in the
 * Authorization header of every request before anything else is checked.
 *
 * Input layout: the first byte picks a mode.
 *   even: the rest is a token, verified against a fixed keyring;
 *   odd:  the rest is "<header JSON>\n<payload JSON>", which is signed for
 *         real with the fixed key and verified, so the header and claims
 *         checks behind the signature are explored too.
 * Properties: no crash or leak; a token is only accepted with alg ES256,
 * iss and aud right and exp not passed; base64url decoding is canonical
 * (what decodes re-encodes to the same text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "auth/b64url.h"
#include "auth/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1767225600      /* fixed: results must not depend on the clock */
#define LEEWAY 30

static const char fixed_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTN7XOu+A8catubeD\n"
	"AcDpWG8tzennHDST+wUsShKjfoShRANCAASY/JwUH8uGhKrHVLmhxvo0TmllJoi4\n"
	"miRaGwiyE685DdBztfhSMPPam/dE9YyZb3QZTG7xxFfiPOqnht4BeouP\n"
	"-----END PRIVATE KEY-----\n";

static struct auth_keyring *keyring(void)
{
	static struct auth_keyring *kr;
	BIO *bio;
	EVP_PKEY *key;

	if (kr != NULL)
		return kr;
	bio = BIO_new_mem_buf(fixed_pem, -1);
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	kr = auth_keyring_new();
	if (key == NULL || kr == NULL || auth_keyring_set_private(kr, key) != BERR_OK)
		abort();
	return kr;
}

static void check_accepted(const json_t *claims)
{
	const json_t *exp = json_object_get(claims, "exp");
	const json_t *iss = json_object_get(claims, "iss");

	if (!json_is_object(claims) || !json_is_number(exp) ||
	    json_number_value(exp) <= NOW - LEEWAY || !json_is_string(iss) ||
	    strcmp(json_string_value(iss), "berth") != 0)
		abort();
}

static void verify(const char *tok, size_t len)
{
	json_t *claims = NULL;

	if (auth_jwt_verify(keyring(), tok, len, "berth", "registry", NOW, LEEWAY, &claims) == BERR_OK)
		check_accepted(claims);
	else if (claims != NULL)
		abort();
	json_decref(claims);
}

static void check_b64url(const char *s, size_t len)
{
	unsigned char *out = malloc(auth_b64url_declen(len) + 1);
	size_t n;

	if (out && auth_b64url_decode(out, &n, s, len) == 0) {
		char *again = auth_b64url_encode_alloc(out, n);

		if (n > auth_b64url_declen(len) || !again || strlen(again) != len ||
		    memcmp(again, s, len) != 0)
			abort();
		free(again);
	}
	free(out);
}

/* Sign "<header>\n<payload>" for real, then verify. */
static void signed_case(const char *s, size_t len)
{
	const char *nl = memchr(s, '\n', len);
	char *h, *p, *tok, sig[AUTH_ES256_SIG_B64_LEN + 1];
	size_t hl, pl;

	if (nl == NULL)
		return;
	h = auth_b64url_encode_alloc(s, (size_t)(nl - s));
	p = auth_b64url_encode_alloc(nl + 1, len - (size_t)(nl + 1 - s));
	hl = strlen(h);
	pl = strlen(p);
	tok = malloc(hl + pl + sizeof(sig) + 2);
	memcpy(tok, h, hl);
	tok[hl] = '.';
	memcpy(tok + hl + 1, p, pl + 1);
	if (auth_es256_sign(keyring()->priv, tok, hl + 1 + pl, sig) == BERR_OK) {
		tok[hl + 1 + pl] = '.';
		memcpy(tok + hl + 2 + pl, sig, sizeof(sig));
		verify(tok, strlen(tok));
	}
	free(tok);
	free(h);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		if (size - 1 <= 8192)
			signed_case(s, size - 1);
	} else {
		verify(s, size - 1);
		check_b64url(s, size - 1);
	}
	return 0;
}
