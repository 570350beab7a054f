/*
 * mem.h - growing arrays and copying strings without overflow.
 *
 * Every array that grows (a list of tags, of descriptors, of keys) grows
 * through mem_grow(), which doubles the capacity and refuses, instead of
 * wrapping, when the count or the byte size would overflow size_t.  Every
 * copy into a fixed buffer goes through mem_strcpy(), which never writes
 * past the buffer and says when the source did not fit.  Both report with
 * the ordinary berr codes, so a caller passes them up like any failure.
 */
#ifndef BERTH_MEM_H
#define BERTH_MEM_H

#include <stddef.h>
#include "util/err.h"

/* Make room for at least `need` elements of `size` bytes in *v (capacity in
 * *cap, both updated on success; *v is unchanged on failure).  The capacity
 * doubles from at least `min` elements.  BERR_INTERNAL on overflow or when
 * memory runs out (with a detail naming `what`). */
enum berr mem_grow(void *v, size_t *cap, size_t need, size_t size, size_t min,
		   const char *what);

/* Copy the string `src` into dst[size] (always NUL terminated when size > 0).
 * 0 if it fitted, -1 if it was cut short (dst then holds a prefix). */
int mem_strcpy(char *dst, size_t size, const char *src);

#endif
