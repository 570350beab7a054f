/*
 * fuzz_request.c - libFuzzer target for a whole request through the
 * transport seam (struct req_io, fcgi/request.h): an arbitrary FastCGI
 * environment and body go through req_init, the parameter and query
 * readers, req_read_all, the response headers and an answer (a success or
 * an error answer, fcgi/errors.c).  Everything here comes from the client
 * before any authentication.
 *
 * Input: environment lines ("NAME=value", '\n'-separated), a blank line,
 * then the body.  The first byte also picks the knobs: how the body ends
 * (cleanly, a broken stream, a stalled one), the read_all limit, which
 * answer is sent and with which code.
 *
 * Properties:
 *   - req_init accepts any environment; when it succeeds, path + "?" +
 *     query gives REQUEST_URI back, HEAD is recognised, Content-Length is
 *     the decimal value of an all-digit CONTENT_LENGTH (refused otherwise,
 *     or when too large), and the base URL holds no blank or control byte;
 *   - req_param finds the first NAME= line, as a plain scan does;
 *     req_param_all joins whole values only;
 *   - req_read_all returns exactly the body when it ends cleanly within the
 *     limit, BERR_TOO_LARGE beyond it (before reading, when Content-Length
 *     says so), and a failure when the stream breaks;
 *   - the answer's head is "Status: N …" then "Name: value" lines and one
 *     blank line, however long or odd the header values were: a header
 *     that does not fit is dropped whole, never glued to the next; a
 *     Content-Length matches the body sent; an error answer carries none
 *     of the success's headers (ETag, Docker-Content-Digest, Link);
 *   - the request's error context is left on release: a detail recorded
 *     before the request is still there after it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/request.h"
#include "util/config.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENV 64

struct io_state {
	const char *body;
	size_t len, pos;
	int fail;                   /* errno at the end of the body, 0: a clean end */
	char out[1 << 17];
	size_t outlen;
	int overflow;               /* an answer larger than out: not checked */
};

static int fz_read(void *ctx, void *buf, int n, int *err)
{
	struct io_state *s = ctx;
	int got = (size_t)n < s->len - s->pos ? n : (int)(s->len - s->pos);

	memcpy(buf, s->body + s->pos, (size_t)got);
	s->pos += (size_t)got;
	*err = got < n ? s->fail : 0;
	return got;
}

static void fz_write(void *ctx, const void *buf, size_t n)
{
	struct io_state *s = ctx;

	if (n >= sizeof(s->out) - s->outlen) {
		s->overflow = 1;
		return;
	}
	memcpy(s->out + s->outlen, buf, n);
	s->outlen += n;
}

static const char *scan(char **env, const char *name)
{
	size_t nl = strlen(name);

	for (; *env; env++)
		if (strncmp(*env, name, nl) == 0 && (*env)[nl] == '=')
			return *env + nl + 1;
	return NULL;
}

static void check_init(struct req *r, char **env)
{
	const char *uri = scan(env, "REQUEST_URI"), *m = scan(env, "REQUEST_METHOD");
	const char *scheme = scan(env, "REQUEST_SCHEME"), *host;
	size_t pl = strlen(r->path);

	if (!uri || !*uri)
		uri = "/";
	if (strncmp(uri, r->path, pl) != 0)
		abort();
	if (uri[pl] ? (uri[pl] != '?' || strcmp(uri + pl + 1, r->query) != 0) : *r->query != '\0')
		abort();
	if (r->head != (m && strcmp(m, "HEAD") == 0))
		abort();
	/* the scheme is nginx's word ($scheme); the host is the client's */
	if (scheme && *scheme) {
		if (strlen(scheme) + 3 >= sizeof(r->base))
			return;
		host = r->base + strlen(scheme) + 3;
	} else if (strncmp(r->base, "http://", 7) == 0 || strncmp(r->base, "https://", 8) == 0) {
		host = strstr(r->base, "://") + 3;
	} else {
		abort();
	}
	for (const char *p = host; *p; p++)
		if (!isgraph((unsigned char)*p))
			abort();
}

/* Content-Length: the reference decimal value, -1 absent, -2 refused. */
static void check_length(char **env, enum berr err, int64_t got)
{
	const char *cl = scan(env, "CONTENT_LENGTH");
	unsigned __int128 v = 0;
	size_t i;

	if (!cl || !*cl) {
		if (err || got != -1)
			abort();
		return;
	}
	for (i = 0; cl[i] && isdigit((unsigned char)cl[i]) && v <= INT64_MAX; i++)
		v = v * 10 + (unsigned)(cl[i] - '0');
	if (cl[i] || v > INT64_MAX) {
		if (err != BERR_SIZE_INVALID)
			abort();
		return;
	}
	if (err == BERR_SIZE_INVALID) {
		if (v < 100000000000000000ULL) /* only near INT64_MAX may be refused */
			abort();
		return;
	}
	if (err || (unsigned __int128)got != v)
		abort();
}

static void check_params(struct req *r, char **env)
{
	char all[96], want[96] = "";
	size_t used = 0;

	if (req_param(r, "HTTP_ACCEPT") != scan(env, "HTTP_ACCEPT"))
		abort();
	req_param_all(r, "HTTP_ACCEPT", all, sizeof(all));
	for (char **e = env; *e; e++) {
		if (strncmp(*e, "HTTP_ACCEPT=", 12) != 0)
			continue;
		int n = snprintf(want + used, sizeof(want) - used, "%s%s", used ? ", " : "", *e + 12);
		if (n < 0 || (size_t)n >= sizeof(want) - used) {
			want[used] = '\0';
			break;
		}
		used += (size_t)n;
	}
	if (strcmp(all, want) != 0)
		abort();
}

static void check_body(struct req *r, struct io_state *s, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	enum berr err = req_read_all(r, max, &buf, &len);

	if (r->content_length > (int64_t)max) {
		if (err != BERR_TOO_LARGE || s->pos != 0)
			abort();
	} else if (!s->fail && s->len <= max) {
		if (err || len != s->len || memcmp(buf, s->body, len) != 0 || buf[len])
			abort();
	} else if (!s->fail) {
		if (err != BERR_TOO_LARGE || s->pos > max + 1)
			abort();
	} else if (err != BERR_SIZE_INVALID && err != BERR_TOO_SLOW && err != BERR_TOO_LARGE) {
		abort();
	}
	if (err && buf)
		abort();
	free(buf);
}

/* The head is well formed; returns the body that follows it. */
static const char *check_head(struct io_state *s, int error, long *clen)
{
	const char *p = s->out, *end, *eol;

	*clen = -1;
	s->out[s->outlen] = '\0';
	if (strncmp(p, "Status: ", 8) != 0 || !(end = strstr(p, "\r\n\r\n")))
		abort();
	for (; p < end; p = eol + 2) {
		const char *c = p;
		eol = strstr(p, "\r\n");
		while (c < eol && (isalnum((unsigned char)*c) || *c == '-'))
			c++;
		if (c == p || c[0] != ':' || c[1] != ' ')
			abort();
		if (error && (strncmp(p, "ETag:", 5) == 0 || strncmp(p, "Link:", 5) == 0 ||
			      strncmp(p, "Docker-Content-Digest:", 22) == 0))
			abort();
		if (strncmp(p, "Content-Length: ", 16) == 0)
			*clen = strtol(p + 16, NULL, 10);
	}
	return end + 4;
}

/* Headers from the input (odd names stay out: handlers pass literals). */
static void add_headers(struct req *r, const char *q, unsigned knobs)
{
	char val[64];
	int i = 0;

	resp_header(r, "ETag", "\"%s\"", q);
	resp_header(r, "Docker-Content-Digest", "%s", q);
	for (const char *k = "abcdefgh"; *k && i < 8; k++, i++) {
		char key[2] = { *k, 0 };
		if (http_param_get(q, key, val, sizeof(val)) == 1)
			resp_header(r, "Link", "<%s>; rel=\"next\"%*s", val, (int)(knobs % 5) * 700, "");
	}
	resp_location(r, "/v2/%s", q);
	resp_header(r, "WWW-Authenticate", "Bearer realm=\"%.*s\"", (int)(knobs % 3) * 1500, q);
	resp_header(r, "Range", "0-%u", knobs);
}

static void answer(struct req *r, struct io_state *s, unsigned knobs)
{
	static const enum berr codes[] = { BERR_MANIFEST_UNKNOWN, BERR_UNAUTHORIZED,
		BERR_UNSUPPORTED, BERR_RANGE_INVALID, BERR_TOOMANYREQUESTS, BERR_INTERNAL,
		BERR_STORAGE_FULL, BERR_DENIED };
	int error = knobs & 1;
	const char *body;
	long clen;

	add_headers(r, r->query, knobs);
	if (error) {
		enum berr code = codes[(knobs >> 1) % (sizeof(codes) / sizeof(codes[0]))];
		if (knobs & 16)
			berr_set(code, "%s", r->query);
		resp_error(r, code);
	} else {
		resp_send(r, 200, "application/json", r->query, strlen(r->query));
	}
	if (s->overflow)
		return;
	body = check_head(s, error, &clen);
	if (clen < 0 || (!r->head && (size_t)clen != s->outlen - (size_t)(body - s->out)))
		abort();
	if (r->head && body != s->out + s->outlen)
		abort();
}

/* Split the input into environment lines and a body (both copied). */
static char *split(const uint8_t *data, size_t size, char **env, const char **body,
		   size_t *blen)
{
	char *s = malloc(size + 1), *p, *nl;
	size_t n = 0;

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	p = s;
	*body = "";
	*blen = 0;
	while (n < MAX_ENV - 1 && (nl = memchr(p, '\n', size - (size_t)(p - s)))) {
		*nl = '\0';
		if (nl == p) { /* the blank line: the body follows */
			*body = nl + 1;
			*blen = size - (size_t)(nl + 1 - s);
			break;
		}
		env[n++] = p;
		p = nl + 1;
	}
	env[n] = NULL;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg = { .read_timeout = 60, .upload_rate_window = 60 };
	static struct io_state st;
	char *env[MAX_ENV], *copy;
	unsigned knobs = size ? data[0] : 0;
	struct req_io io = { .env = env, .fd = -1, .read = fz_read, .write = fz_write,
			     .ctx = &st };
	struct req r;
	enum berr err;

	log_set_level(LOG_LVL_ERROR);
	copy = split(data, size, env, &st.body, &st.len);
	st.pos = st.outlen = 0;
	st.overflow = 0;
	st.fail = (knobs >> 5) % 3 == 0 ? 0 : (knobs >> 5) % 3 == 1 ? ECONNRESET : EAGAIN;
	berr_set(BERR_NAME_INVALID, "outside");
	err = req_init(&r, &io, &cfg, NULL);
	check_length(env, err, r.content_length);
	if (!err) {
		check_init(&r, env);
		check_params(&r, env);
		check_body(&r, &st, (size_t)(knobs % 7) * 97);
		answer(&r, &st, knobs);
	}
	req_release(&r);
	if (!berr_detail_for(BERR_NAME_INVALID) || strcmp(berr_detail(), "outside") != 0)
		abort();
	free(copy);
	return 0;
}
