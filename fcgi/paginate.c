/*
 * paginate.c - see paginate.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/paginate.h"

enum berr page_parse(struct req *r, struct page *p)
{
	char nv[32], *end;
	int q;

	p->n = -1;
	p->last[0] = '\0';
	q = req_query(r, "n", nv, sizeof(nv));
	if (q < 0)
		return berr_set(BERR_PAGINATION_INVALID, "n must be an integer from 0 to %d", PAGE_MAX);
	if (q > 0) {
		errno = 0;
		p->n = strtol(nv, &end, 10);
		if (errno || end == nv || *end || p->n < 0 || p->n > PAGE_MAX)
			return berr_set(BERR_PAGINATION_INVALID, "n must be an integer from 0 to %d, not \"%s\"",
					PAGE_MAX, nv);
	}
	if (req_query(r, "last", p->last, sizeof(p->last)) < 0)
		return berr_set(BERR_PAGINATION_INVALID, "last is malformed or too long");
	return BERR_OK;
}

/* Percent-encode a list entry for the Link URL (names and tags need little). */
static void encode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '/')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
	}
	out[o] = '\0';
}

void page_link(struct req *r, const char *path, const struct page *p, int more,
	       const char *last_entry)
{
	char enc[3 * (REF_NAME_MAX + 2)];

	if (!more || !last_entry)
		return;
	encode(last_entry, enc, sizeof(enc));
	resp_header(r, "Link", "<%s?n=%ld&last=%s>; rel=\"next\"", path, p->n, enc);
}
