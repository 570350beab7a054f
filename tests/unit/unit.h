/*
 * unit.h - the smallest test harness that does the job.
 *
 * Each tests/unit/test_*.c is its own program: it calls CHECK()/CHECK_EQ_*
 * and ends main() with `return unit_done();`, which prints
 * "<file>: N passed, N failed" and exits non-zero on any failure.
 * tests/run.sh sums the counts of every program.
 */
#ifndef BERTH_UNIT_H
#define BERTH_UNIT_H

#include <stdio.h>
#include <string.h>
#include <stdint.h>

static int unit_pass, unit_fail;

#define CHECK(cond) do { \
	if (cond) unit_pass++; \
	else { unit_fail++; fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_INT(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ == w_) unit_pass++; \
	else { unit_fail++; fprintf(stderr, "FAIL %s:%d: %s == %lld, want %lld\n", \
			__FILE__, __LINE__, #got, g_, w_); } \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ && w_ && strcmp(g_, w_) == 0) unit_pass++; \
	else { unit_fail++; fprintf(stderr, "FAIL %s:%d: %s == \"%s\", want \"%s\"\n", \
			__FILE__, __LINE__, #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } \
} while (0)

static inline int unit_done_(const char *file)
{
	printf("%s: %d passed, %d failed\n", file, unit_pass, unit_fail);
	return unit_fail ? 1 : 0;
}
#define unit_done() unit_done_(__FILE__)

#endif
