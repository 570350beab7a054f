/*
 * fuzz_query.c - libFuzzer target for query strings and percent-decoding
 * (http_param_each, http_param_get, req_query in fcgi/request.c): every
 * client sends them, before any authentication.
 *
 * Input: "<key>\n<query>", or a query alone with a key from a fixed list
 * (picked by the input length).  Properties, checked against a decoder
 * written here independently:
 *   - http_param_each visits exactly the values of `key` in order, each the
 *     decoding of its raw field ('+' is a space, %XX a byte), and fails (-1)
 *     exactly where the reference finds a bad escape, a NUL (%00) or a value
 *     too long for its 4 KiB buffer;
 *   - a decoded value is never longer than its raw field and holds no NUL;
 *   - http_param_get and req_query give the first value, -1 when it does not
 *     fit `outlen` (which the input also varies), and touch nothing on 0;
 *   - a value percent-encoded again parses back to itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VALUE_MAX 4096   /* http_param_each's buffer, with its NUL */

static const char *const keys[] = { "scope", "service", "n", "last", "digest", "mount",
				    "from", "grant_type" };

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if ((c | 32) >= 'a' && (c | 32) <= 'f') return (c | 32) - 'a' + 10;
	return -1;
}

/* Reference decode of raw[0..n): the length written to out, or -1. */
static long ref_decode(const char *raw, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)raw[i];

		if (c == '%') {
			if (n - i < 3 || hexval(raw[i + 1]) < 0 || hexval(raw[i + 2]) < 0)
				return -1;
			c = hexval(raw[i + 1]) * 16 + hexval(raw[i + 2]);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == 0 || o + 1 >= VALUE_MAX)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

struct visit {
	const char *q, *key, *next;  /* where the reference scan resumes */
	char ref[VALUE_MAX];
	int count, stop_at;
};

/* The reference's next field of key after v->next: 1 found, 0 none, -1 bad. */
static int ref_next(struct visit *v, size_t *rawlen)
{
	size_t kl = strlen(v->key);

	while (v->next) {
		const char *f = v->next, *amp = strchr(f, '&');
		size_t len = amp ? (size_t)(amp - f) : strlen(f);

		v->next = amp ? amp + 1 : NULL;
		if (len >= kl && memcmp(f, v->key, kl) == 0 && (len == kl || f[kl] == '=')) {
			size_t skip = kl + (len > kl);

			*rawlen = len - skip;
			return ref_decode(f + skip, len - skip, v->ref) < 0 ? -1 : 1;
		}
	}
	return 0;
}

static void round_trip(const char *key, const char *value)
{
	size_t n = strlen(value);
	char *q = malloc(strlen(key) + 3 * n + 8), *back = malloc(n + 1), *p;

	if (q == NULL || back == NULL)
		abort();
	/* a field no key can match (keys hold no '='), and an empty one */
	p = q + sprintf(q, "=1&&%s=", key);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%%%02X", (unsigned char)value[i]);
	if (http_param_get(q, key, back, n + 1) != 1 || strcmp(back, value) != 0)
		abort();
	free(q);
	free(back);
}

static int on_value(void *ctx, const char *value)
{
	struct visit *v = ctx;
	size_t rawlen;

	if (ref_next(v, &rawlen) != 1 || strcmp(value, v->ref) != 0 || strlen(value) > rawlen)
		abort();
	if (v->count == 0)
		round_trip(v->key, value);
	return ++v->count == v->stop_at;
}

/* http_param_each over the whole query, stopping after stop_at values. */
static void check_each(const char *q, const char *key, int stop_at)
{
	struct visit v = { .q = q, .key = key, .next = q, .stop_at = stop_at };
	size_t rawlen;
	int ret = http_param_each(q, key, on_value, &v);

	if (ret == 1 && v.count != stop_at)
		abort();
	if (ret == 0 && ref_next(&v, &rawlen) != 0)
		abort();
	if (ret == -1 && ref_next(&v, &rawlen) != -1)
		abort();
	if (ret < -1 || ret > 1)
		abort();
}

/* http_param_get and req_query agree with the reference's first value. */
static void check_get(const char *q, const char *key, size_t outlen)
{
	struct visit v = { .q = q, .key = key, .next = q };
	struct req r;
	char *out = malloc(outlen), *out2 = malloc(outlen);
	size_t rawlen;
	int want = ref_next(&v, &rawlen), got;

	if (out == NULL || out2 == NULL)
		abort();
	memset(out, '#', outlen);
	if (want == 1 && strlen(v.ref) >= outlen)
		want = -1;
	got = http_param_get(q, key, out, outlen);
	if (got != want || (got == 1 && strcmp(out, v.ref) != 0) || (got != 1 && out[0] != '#'))
		abort();
	memset(&r, 0, sizeof(r));
	r.query = (char *)q;
	if (req_query(&r, key, out2, outlen) != got || (got == 1 && strcmp(out, out2) != 0))
		abort();
	free(out);
	free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *nl;
	const char *key = keys[size % (sizeof(keys) / sizeof(keys[0]))], *q = s;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* a key of the input's own: non-empty, no '&' or '=' (callers pass literals) */
	if ((nl = strchr(s, '\n')) != NULL && nl > s && nl - s <= 64) {
		*nl = '\0';
		if (strpbrk(s, "&=") == NULL)
			key = s;
		q = nl + 1;
	}
	check_each(q, key, 1 + (int)(size % 4));
	check_get(q, key, 1 + (size * 7) % 300);
	check_get(q, key, VALUE_MAX);
	free(s);
	return 0;
}
