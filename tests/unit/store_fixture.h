/*
 * store_fixture.h - what the store's unit tests share: a fresh store under
 * the test's temporary directory `base` (each test program fills it with
 * mkdtemp), and pushing a manifest document the way the PUT handler does
 * (parse, then store_manifest_put).
 */
#ifndef BERTH_STORE_FIXTURE_H
#define BERTH_STORE_FIXTURE_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/manifest.h"
#include "store/store.h"

static char base[512];

static inline void store_fresh(struct store *s)
{
	static int n;
	char root[PATH_MAX];

	snprintf(root, sizeof(root), "%s/s%d", base, n++);
	if (store_open(s, root) != BERR_OK) {
		fprintf(stderr, "store_open %s: %s\n", root, berr_detail());
		exit(2);
	}
}

static inline enum berr push(struct store *s, const char *name, const char *doc,
			     const char *tag, struct digest *out)
{
	struct manifest m;
	enum berr rc;

	rc = manifest_parse(&m, NULL, doc, strlen(doc));
	if (rc)
		return rc;
	rc = store_manifest_put(s, name, &m, manifest_type_name(m.type), doc, strlen(doc),
				NULL, tag, out);
	manifest_release(&m);
	return rc;
}

#endif
