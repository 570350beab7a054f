/*
 * request.c - request parsing and answer writing over libfcgi (request.h).
 *
 * Every answer goes out through resp_send(): it adds the headers that every
 * registry answer carries, so no handler can forget them.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fcgi/request.h"
#include "util/log.h"

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

static int parse_length(const char *s, int64_t *out)
{
	int64_t n = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}

/* The scheme and host the client used, as nginx passes them. */
static void set_base(struct req *r)
{
	const char *scheme = req_param(r, "REQUEST_SCHEME");
	const char *host = req_param(r, "HTTP_HOST");
	const char *https = req_param(r, "HTTPS");

	if (!scheme || !*scheme)
		scheme = (https && *https && strcmp(https, "off") != 0) ? "https" : "http";
	if (!host || !*host)
		host = req_param(r, "SERVER_NAME");
	if (!host)
		host = "localhost";
	/* a Host header with CR/LF or spaces would be a header injection */
	for (const char *p = host; *p; p++)
		if (!isgraph((unsigned char)*p))
			host = "localhost";
	snprintf(r->base, sizeof(r->base), "%s://%s", scheme, host);
}

enum berr req_init(struct req *r, FCGX_Request *fr, const struct config *cfg,
		   struct store *st)
{
	const char *uri, *q, *cl;

	memset(r, 0, sizeof(*r));
	r->fr = fr;
	r->cfg = cfg;
	r->store = st;
	r->method = req_param(r, "REQUEST_METHOD");
	if (!r->method)
		r->method = "GET";
	r->head = strcmp(r->method, "HEAD") == 0;
	uri = req_param(r, "REQUEST_URI");
	if (!uri || !*uri)
		uri = "/";
	q = strchr(uri, '?');
	r->path = q ? strndup(uri, (size_t)(q - uri)) : strdup(uri);
	r->query = strdup(q ? q + 1 : "");
	r->content_length = -1;
	cl = req_param(r, "CONTENT_LENGTH");
	if (cl && *cl && parse_length(cl, &r->content_length) < 0)
		return berr_set(BERR_SIZE_INVALID, "invalid Content-Length");
	set_base(r);
	if (!r->path || !r->query)
		return berr_set(BERR_INTERNAL, "out of memory");
	return BERR_OK;
}

void req_release(struct req *r)
{
	json_decref(r->auth_claims);
	r->auth_claims = NULL;
	free(r->path);
	free(r->query);
	r->path = r->query = NULL;
}

const char *req_param(struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fr->envp);
}

char *req_param_all(struct req *r, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name), used = 0;
	char **e;

	out[0] = '\0';
	for (e = r->fr->envp; e && *e; e++) {
		if (strncmp(*e, name, nl) != 0 || (*e)[nl] != '=')
			continue;
		int n = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", *e + nl + 1);
		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
	}
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Percent-decode [s, s+n) into out; -1 on bad escapes, NUL, or overflow. */
static int decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (c == 0 || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int http_param_each(const char *s, const char *key,
		    int (*fn)(void *ctx, const char *value), void *ctx)
{
	size_t kl = strlen(key);
	char val[4096];

	while (s && *s) {
		const char *amp = strchr(s, '&');
		size_t len = amp ? (size_t)(amp - s) : strlen(s);
		if (len >= kl && strncmp(s, key, kl) == 0 && (len == kl || s[kl] == '=')) {
			if (decode(s + kl + (len > kl), len - kl - (len > kl), val, sizeof(val)) < 0)
				return -1;
			if (fn(ctx, val))
				return 1;
		}
		s = amp ? amp + 1 : NULL;
	}
	return 0;
}

struct first { char *out; size_t outlen; int found; };

static int take_first(void *ctx, const char *value)
{
	struct first *f = ctx;

	if (strlen(value) >= f->outlen)
		return f->found = -1;
	strcpy(f->out, value);
	f->found = 1;
	return 1;
}

int http_param_get(const char *s, const char *key, char *out, size_t outlen)
{
	struct first f = { out, outlen, 0 };

	if (http_param_each(s, key, take_first, &f) < 0)
		return -1;
	return f.found;
}

int req_query(struct req *r, const char *key, char *out, size_t outlen)
{
	return http_param_get(r->query, key, out, outlen);
}

ssize_t req_read(struct req *r, void *buf, size_t n)
{
	int got;

	if (r->body_error)
		return -1;
	if (n > (1 << 30))
		n = 1 << 30;
	got = FCGX_GetStr(buf, (int)n, r->fr->in);
	if (got < (int)n && FCGX_GetError(r->fr->in)) {
		r->body_error = 1;
		return -1;
	}
	return got;
}

enum berr req_read_all(struct req *r, size_t max, char **out, size_t *len)
{
	size_t cap = 0, used = 0;
	char *buf = NULL, *nb;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (r->content_length > (int64_t)max)
		return berr_set(BERR_TOO_LARGE, "body of %lld bytes exceeds the limit of %zu",
				(long long)r->content_length, max);
	for (;;) {
		if (used == cap) {
			cap = cap ? cap * 2 : 64 * 1024;
			if (cap > max + 1)
				cap = max + 1;
			if (!(nb = realloc(buf, cap + 1))) {
				free(buf);
				return berr_set(BERR_INTERNAL, "out of memory");
			}
			buf = nb;
		}
		n = req_read(r, buf + used, cap - used);
		if (n < 0) {
			free(buf);
			return berr_set(BERR_SIZE_INVALID, "request body ended early");
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return berr_set(BERR_TOO_LARGE, "body exceeds the limit of %zu bytes", max);
		}
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return BERR_OK;
}

void resp_header(struct req *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->hdrs + r->hlen, sizeof(r->hdrs) - r->hlen, "%s: ", name);
	if (n < 0 || (size_t)n >= sizeof(r->hdrs) - r->hlen)
		return;
	r->hlen += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(r->hdrs + r->hlen, sizeof(r->hdrs) - r->hlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= sizeof(r->hdrs) - r->hlen) {
		log_err("response header %s dropped: too long", name);
		return;
	}
	r->hlen += (size_t)n;
	memcpy(r->hdrs + r->hlen, "\r\n", 3);
	r->hlen += 2;
}

void resp_location(struct req *r, const char *fmt, ...)
{
	char path[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	resp_header(r, "Location", "%s%s", r->base, path);
}

static void send_head(struct req *r, int status, const char *ctype, int64_t length)
{
	FCGX_FPrintF(r->fr->out, "Status: %d %s\r\n"
		     "Docker-Distribution-API-Version: registry/2.0\r\n", status,
		     status_text(status));
	if (ctype)
		FCGX_FPrintF(r->fr->out, "Content-Type: %s\r\n", ctype);
	if (length >= 0)
		FCGX_FPrintF(r->fr->out, "Content-Length: %lld\r\n", (long long)length);
	FCGX_PutStr(r->hdrs, (int)r->hlen, r->fr->out);
	FCGX_PutStr("\r\n", 2, r->fr->out);
	r->sent = 1;
}

void resp_send(struct req *r, int status, const char *ctype, const void *body, size_t len)
{
	send_head(r, status, ctype, (int64_t)len);
	if (body && len && !r->head)
		FCGX_PutStr(body, (int)len, r->fr->out);
}

void resp_send_length(struct req *r, int status, const char *ctype, int64_t length)
{
	send_head(r, status, ctype, length);
}
