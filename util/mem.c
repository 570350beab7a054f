/*
 * mem.c - checked growth and bounded copies (see mem.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

enum berr mem_grow(void *v, size_t *cap, size_t need, size_t size, size_t min,
		   const char *what)
{
	void **vp = v;
	size_t ncap = *cap ? *cap : (min ? min : 1);
	void *nv;

	if (need <= *cap)
		return BERR_OK;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return berr_set(BERR_INTERNAL, "%s: too many entries", what);
		ncap *= 2;
	}
	if (size && ncap > SIZE_MAX / size)
		return berr_set(BERR_INTERNAL, "%s: too many entries", what);
	if (!(nv = realloc(*vp, ncap * size)))
		return berr_set(BERR_INTERNAL, "%s: out of memory", what);
	*vp = nv;
	*cap = ncap;
	return BERR_OK;
}

int mem_strcpy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (size == 0)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}
