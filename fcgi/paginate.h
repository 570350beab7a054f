/*
 * paginate.h - the spec's list pagination, shared by tags/list and _catalog:
 * ?n= (page size) and ?last= (start after this entry) in, and a
 * `Link: <path?n=N&last=X>; rel="next"` header out while more remain.
 */
#ifndef BERTH_PAGINATE_H
#define BERTH_PAGINATE_H

#include <stddef.h>
#include "fcgi/request.h"

#define PAGE_MAX 10000  /* largest n accepted */

struct page {
	long n;                      /* -1: not given (everything) */
	char last[REF_NAME_MAX + 2]; /* "" : from the start */
};

/* BERR_PAGINATION_INVALID for an n that is not an integer in [0, PAGE_MAX]
 * or a last that is not a well-formed parameter. */
enum berr page_parse(struct req *r, struct page *p);
/* Adds the Link header when `more` and the page ended with `last_entry`. */
void page_link(struct req *r, const char *path, const struct page *p, int more,
	       const char *last_entry);

#endif
