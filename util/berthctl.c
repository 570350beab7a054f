/*
 * berthctl.c - the administrators' tool.  It works on the store directly
 * (no running pool needed) and reads the same berth.conf as berthd.
 *
 *   berthctl [-c FILE] fsck [--json] [--quick]
 *
 * Exit codes: 0 success (fsck: consistent), 1 fsck found problems,
 * 2 usage or configuration error, 3 the store could not be read.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fsck.h"
#include "util/config.h"
#include "util/log.h"

#define DEFAULT_CONF "/etc/berth/berth.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berthctl [-c FILE] COMMAND [ARGS]\n"
		"\n"
		"  -c FILE   configuration (default " DEFAULT_CONF ")\n"
		"\n"
		"commands:\n"
		"  fsck [--json] [--quick]   check the store: re-hash every blob (--quick:\n"
		"                            skip re-hashing), follow every link, manifest\n"
		"                            reference and tag; exit 1 if anything is wrong\n"
		"  help                      this text\n"
		"\n"
		"exit codes: 0 ok, 1 problems found, 2 usage/config error, 3 store unreadable\n");
}

static void report_text(void *ctx, const char *kind, const char *object, const char *detail)
{
	(void)ctx;
	printf("%-24s %s: %s\n", kind, object, detail);
}

static void report_json(void *ctx, const char *kind, const char *object, const char *detail)
{
	json_array_append_new((json_t *)ctx, json_pack("{s:s, s:s, s:s}", "kind", kind,
						       "object", object, "detail", detail));
}

static int cmd_fsck(struct store *st, int argc, char **argv)
{
	struct fsck_counts c;
	json_t *problems = NULL;
	int json = 0, rehash = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--quick") == 0)
			rehash = 0;
		else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "berthctl fsck: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (json)
		problems = json_array();
	if (store_fsck(st, rehash, json ? report_json : report_text, problems, &c)) {
		fprintf(stderr, "berthctl fsck: %s\n", berr_detail());
		json_decref(problems);
		return 3;
	}
	if (json) {
		json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			"blobs", (json_int_t)c.blobs, "bytes", (json_int_t)c.bytes,
			"repositories", (json_int_t)c.repos, "blob_links", (json_int_t)c.blob_links,
			"manifests", (json_int_t)c.manifests, "tags", (json_int_t)c.tags,
			"problem_count", (json_int_t)c.problems, "problems", problems);
		json_dumpf(doc, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(doc);
	} else {
		printf("fsck: %ld blobs (%lld bytes%s), %ld repositories, %ld blob links, "
		       "%ld manifests, %ld tags: %ld problem%s\n", c.blobs, c.bytes,
		       rehash ? " re-hashed" : " not re-hashed", c.repos, c.blob_links,
		       c.manifests, c.tags, c.problems, c.problems == 1 ? "" : "s");
	}
	return c.problems ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONF;
	struct config cfg;
	struct store st;
	int opt, rc;

	log_set_name("berthctl");
	log_set_level(LOG_LVL_WARN);
	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "help") == 0 || strcmp(argv[optind], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[optind], "fsck") != 0) {
		fprintf(stderr, "berthctl: unknown command \"%s\" (try berthctl help)\n", argv[optind]);
		return 2;
	}
	if (config_load(&cfg, path)) {
		fprintf(stderr, "berthctl: %s\n", berr_detail());
		return 2;
	}
	if (store_open(&st, cfg.store)) {
		fprintf(stderr, "berthctl: store %s: %s\n", cfg.store, berr_detail());
		config_release(&cfg);
		return 3;
	}
	rc = cmd_fsck(&st, argc - optind, argv + optind);
	store_close(&st);
	config_release(&cfg);
	return rc;
}
