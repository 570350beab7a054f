/*
 * ctl_auth.c - berthctl user … / token … (see ctl_auth.h).
 *
 * Thin on purpose: parsing arguments, reading a password, printing; the
 * files are edited by auth/users.c, so the pool and this tool can never
 * disagree about their format.  Passwords come from the terminal (no echo,
 * typed twice) or, with --password-stdin or when stdin is not a terminal,
 * from the first line of stdin, so scripts never put one on a command line.
 * User and token names share one namespace (both are what `docker login -u`
 * sends), so each command refuses a name the other already uses.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth/users.h"
#include "ctl/ctl.h"
#include "ctl/ctl_audit.h"
#include "ctl/ctl_auth.h"

#define MAX_SCOPES 64

static const char USER_USAGE[] =
	"usage: berthctl user add NAME [--password-stdin]\n"
	"       berthctl user passwd NAME [--password-stdin]\n"
	"       berthctl user rm NAME\n"
	"       berthctl user ls [--json]\n"
	"       berthctl user revoke NAME\n"
	"\n"
	"Local users (users_file), for docker login without a directory.\n"
	"NAME: 1-64 of A-Z a-z 0-9 . _ -, not starting with -.\n"
	"The password is asked twice on a terminal, or read from the first line\n"
	"of stdin (--password-stdin, or whenever stdin is not a terminal);\n"
	"1-72 bytes (bcrypt ignores the rest).\n"
	"revoke ends every refresh token (docker login's stored session) issued\n"
	"to NAME until now, on every host sharing state_dir; NAME may be a local\n"
	"or a directory user, as the directory spells it.  passwd and rm revoke\n"
	"too.  Access tokens already issued live on until they expire (token_ttl).\n"
	"exit codes: 0 ok, 1 not found / exists / failed, 2 usage\n";

static const char TOKEN_USAGE[] =
	"usage: berthctl token create NAME --scope SCOPE [--scope SCOPE ...]\n"
	"                             [--expires 90d|12h|30m|never]\n"
	"       berthctl token ls [--json]\n"
	"       berthctl token revoke NAME\n"
	"\n"
	"Repository tokens (tokens_file): a secret shown once, used as the password\n"
	"of `docker login -u NAME`.  SCOPE: repository:REPO:ACTIONS (ACTIONS: pull,\n"
	"push, delete or *, comma-separated; REPO may end in /* for a namespace)\n"
	"or registry:catalog:*.  --expires defaults to 90d.\n"
	"exit codes: 0 ok, 1 not found / exists / failed, 2 usage\n";

/* Exit code for an error of auth/users.c, after printing it. */
static int fail(const char *cmd, enum berr rc)
{
	fprintf(stderr, "berthctl %s: %s\n", cmd, berr_detail());
	switch (rc) {
	case BERR_NAME_INVALID:
		return 2;
	default:
		return 1;
	}
}

static int need_file(const char *cmd, const char *key, const char *value, const char *conf)
{
	if (value && value[0])
		return 0;
	fprintf(stderr, "berthctl %s: %s is not set in %s\n", cmd, key, conf ? conf : "the configuration");
	return 2;
}

/* One line from f into buf without its newline; 0 on EOF or a line too long. */
static int read_line(FILE *f, char *buf, size_t size)
{
	size_t n;

	if (fgets(buf, (int)size, f) == NULL)
		return 0;
	n = strlen(buf);
	if (n == size - 1 && buf[n - 1] != '\n')
		return 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 1;
}

static int prompt_noecho(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	FILE *tty = fopen("/dev/tty", "r+");
	int ok;

	if (tty == NULL)
		return 0;
	fputs(prompt, tty);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	ok = read_line(tty, buf, size);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	return ok;
}

/* The new password into buf (size > AUTH_PASSWORD_MAX + 2); 0 on failure
 * (said why). */
static int get_password(const char *cmd, const char *user, int from_stdin, char *buf,
			size_t size)
{
	char again[256], prompt[128];

	if (from_stdin || !isatty(STDIN_FILENO)) {
		if (!read_line(stdin, buf, size)) {
			fprintf(stderr, "berthctl %s: no password on stdin (or longer than %d bytes)\n",
				cmd, AUTH_PASSWORD_MAX);
			return 0;
		}
		return 1;
	}
	snprintf(prompt, sizeof prompt, "New password for %s: ", user);
	if (!prompt_noecho(prompt, buf, size) || !prompt_noecho("Retype it: ", again, sizeof again)) {
		fprintf(stderr, "berthctl %s: could not read the password from the terminal\n", cmd);
		return 0;
	}
	if (strcmp(buf, again) != 0) {
		explicit_bzero(again, sizeof again);
		fprintf(stderr, "berthctl %s: the passwords do not match\n", cmd);
		return 0;
	}
	explicit_bzero(again, sizeof again);
	return 1;
}

static int token_name_taken(const struct config *cfg, const char *name)
{
	struct auth_repotoken *list = NULL;
	size_t n = 0;
	int taken = 0;

	if (cfg->tokens_file == NULL || auth_repotoken_list(cfg->tokens_file, &list, &n))
		return 0;
	for (size_t i = 0; i < n; i++)
		taken |= strcmp(list[i].name, name) == 0;
	auth_repotoken_list_free(list, n);
	return taken;
}

/* End NAME's refresh tokens issued until now, and return once the clock
 * has passed that second: tokens carry whole seconds, so a login right
 * after this command must not fall in the revoked second.  0 or an exit
 * code, after saying why. */
static int revoke_sessions(const struct config *cfg, const char *cmd, const char *name)
{
	struct timespec ts;
	time_t now = time(NULL);

	if (auth_user_revoke(cfg->state_dir, name, now)) {
		fprintf(stderr, "berthctl %s: could not revoke the refresh tokens of %s: %s\n",
			cmd, name, berr_detail());
		return 1;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec <= now) {
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000000L - ts.tv_nsec + 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec = 1;
			ts.tv_nsec -= 1000000000L;
		}
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* user passwd / user rm: their old sessions end too (no state_dir: no
 * revocations, and nothing to say but that). */
static int revoke_after_change(const struct config *cfg, const char *cmd, const char *name)
{
	if (cfg->state_dir == NULL || cfg->state_dir[0] == '\0') {
		fprintf(stderr, "berthctl %s: state_dir is not set: refresh tokens issued to %s "
			"stay valid until they expire\n", cmd, name);
		return 0;
	}
	return revoke_sessions(cfg, cmd, name);
}

/* user add / user passwd */
static int user_set(const struct config *cfg, int argc, char **argv, int create)
{
	const char *cmd = create ? "user add" : "user passwd", *name = NULL;
	char pw[256];
	int from_stdin = 0, rc;
	enum berr err;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			from_stdin = 1;
		else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "berthctl %s: unexpected argument %s\n%s", cmd, argv[i], USER_USAGE);
			return 2;
		} else
			name = argv[i];
	}
	if (name == NULL) {
		fprintf(stderr, "berthctl %s: NAME is missing\n%s", cmd, USER_USAGE);
		return 2;
	}
	if ((rc = need_file(cmd, "users_file", cfg->users_file, cfg->path)))
		return rc;
	if (create && token_name_taken(cfg, name)) {
		fprintf(stderr, "berthctl %s: %s is the name of a repository token\n", cmd, name);
		return 1;
	}
	if (!create && !auth_users_exists(cfg->users_file, name)) {
		fprintf(stderr, "berthctl %s: no user %s\n", cmd, name);
		return 1;
	}
	if (!get_password(cmd, name, from_stdin, pw, sizeof pw))
		return 2;
	err = auth_users_set(cfg->users_file, name, pw, 0, create);
	explicit_bzero(pw, sizeof pw);
	if (err == BERR_UNAUTHORIZED) {         /* the password was refused */
		fprintf(stderr, "berthctl %s: %s\n", cmd, berr_detail());
		return 2;
	}
	if (err)
		return fail(cmd, err);
	ctl_audit_note(create ? "user_add" : "passwd", NULL, NULL, NULL, name);
	if (!create && (rc = revoke_after_change(cfg, cmd, name)))
		return rc;
	printf("%s %s%s\n", create ? "added user" : "changed the password of", name,
	       create ? "" : " (its refresh tokens are revoked)");
	return 0;
}

static int user_rm(const struct config *cfg, int argc, char **argv)
{
	enum berr err;
	int rc;

	if (argc != 3 || argv[2][0] == '-') {
		fprintf(stderr, "berthctl user rm: want exactly one NAME\n%s", USER_USAGE);
		return 2;
	}
	if ((rc = need_file("user rm", "users_file", cfg->users_file, cfg->path)))
		return rc;
	if ((err = auth_users_remove(cfg->users_file, argv[2])))
		return fail("user rm", err);
	ctl_audit_note("user_rm", NULL, NULL, NULL, argv[2]);
	if ((rc = revoke_after_change(cfg, "user rm", argv[2])))
		return rc;
	printf("removed user %s\n", argv[2]);
	return 0;
}

static int user_revoke(const struct config *cfg, int argc, char **argv)
{
	int rc;

	if (argc != 3 || argv[2][0] == '-' || argv[2][0] == '\0') {
		fprintf(stderr, "berthctl user revoke: want exactly one NAME\n%s", USER_USAGE);
		return 2;
	}
	if ((rc = need_file("user revoke", "state_dir", cfg->state_dir, cfg->path)))
		return rc;
	if ((rc = revoke_sessions(cfg, "user revoke", argv[2])))
		return rc;
	printf("revoked the refresh tokens of %s\n", argv[2]);
	return 0;
}

static int user_ls(const struct config *cfg, int argc, char **argv)
{
	char **names = NULL;
	size_t n = 0;
	int json = argc == 3 && strcmp(argv[2], "--json") == 0, rc;
	enum berr err;

	if (argc > 3 || (argc == 3 && !json)) {
		fprintf(stderr, "berthctl user ls: unexpected argument %s\n%s", argv[2], USER_USAGE);
		return 2;
	}
	if ((rc = need_file("user ls", "users_file", cfg->users_file, cfg->path)))
		return rc;
	if ((err = auth_users_list(cfg->users_file, &names, &n)))
		return fail("user ls", err);
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s}", "name", names[i]));
		ctl_json_print(a);
	} else {
		for (size_t i = 0; i < n; i++)
			puts(names[i]);
	}
	auth_strv_free(names);
	return 0;
}

/* "90d", "12h", "30m", "3600s", "2w" -> seconds; "never" -> 0; -1 if bad. */
static long long parse_duration(const char *s)
{
	char *end;
	long long n;

	if (strcmp(s, "never") == 0)
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || n <= 0 || n > 100LL * 365 * 86400 || end[0] == '\0' || end[1])
		return -1;
	switch (end[0]) {
	case 's': return n;
	case 'm': return n * 60;
	case 'h': return n * 3600;
	case 'd': return n * 86400;
	case 'w': return n * 7 * 86400;
	default: return -1;
	}
}

static void format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (t == 0)
		snprintf(buf, size, "never");
	else if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%lld", (long long)t);
}

static int token_create(const struct config *cfg, int argc, char **argv)
{
	char *scopes[MAX_SCOPES], secret[AUTH_TOKEN_STR_SIZE], until[32];
	const char *name = NULL, *expires = "90d";
	size_t nscopes = 0;
	time_t now = time(NULL);
	long long dur;
	enum berr err;
	int rc;

	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "--scope") == 0 || strcmp(argv[i], "--expires") == 0) &&
		    i + 1 < argc) {
			if (argv[i][2] == 'e')
				expires = argv[++i];
			else if (nscopes < MAX_SCOPES)
				scopes[nscopes++] = argv[++i];
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "berthctl token create: unexpected argument %s\n%s", argv[i],
				TOKEN_USAGE);
			return 2;
		} else {
			name = argv[i];
		}
	}
	if (name == NULL || nscopes == 0) {
		fprintf(stderr, "berthctl token create: NAME and at least one --scope are needed\n%s",
			TOKEN_USAGE);
		return 2;
	}
	if ((dur = parse_duration(expires)) < 0) {
		fprintf(stderr, "berthctl token create: --expires %s: want e.g. 90d, 12h, 30m or never\n",
			expires);
		return 2;
	}
	if ((rc = need_file("token create", "tokens_file", cfg->tokens_file, cfg->path)))
		return rc;
	if (cfg->users_file && auth_users_exists(cfg->users_file, name)) {
		fprintf(stderr, "berthctl token create: %s is the name of a local user\n", name);
		return 1;
	}
	err = auth_repotoken_create(cfg->tokens_file, name, scopes, nscopes, now,
				    dur ? now + (time_t)dur : 0, secret, sizeof secret);
	if (err)
		return fail("token create", err);
	ctl_audit_note("token_add", NULL, NULL, NULL, name);
	format_time(dur ? now + (time_t)dur : 0, until, sizeof until);
	printf("created token %s (expires: %s)\n\n%s\n\n"
	       "This secret is shown once and stored only as a hash: keep it now.\n"
	       "Use it as the password of the token's name, e.g.\n"
	       "  echo \"$BERTH_TOKEN\" | docker login -u %s --password-stdin REGISTRY\n",
	       name, until, secret, name);
	explicit_bzero(secret, sizeof secret);
	return 0;
}

static const char *token_status(const struct auth_repotoken *t, time_t now)
{
	if (t->revoked)
		return "revoked";
	if (t->expires && now >= t->expires)
		return "expired";
	return "active";
}

static void token_print(const struct auth_repotoken *t, time_t now, json_t *json)
{
	char created[32], expires[32];
	json_t *scopes;

	format_time(t->created, created, sizeof created);
	format_time(t->expires, expires, sizeof expires);
	if (json == NULL) {
		printf("%-24s %-8s %-20s %-20s", t->name, token_status(t, now), created, expires);
		for (size_t i = 0; i < t->nscopes; i++)
			printf(" %s", t->scopes[i]);
		putchar('\n');
		return;
	}
	scopes = json_array();
	for (size_t i = 0; i < t->nscopes; i++)
		json_array_append_new(scopes, json_string(t->scopes[i]));
	json_array_append_new(json, json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", t->name,
		"status", token_status(t, now), "created", created,
		"expires", t->expires ? json_string(expires) : json_null(), "scopes", scopes));
}

static int token_ls(const struct config *cfg, int argc, char **argv)
{
	struct auth_repotoken *list = NULL;
	int json = argc == 3 && strcmp(argv[2], "--json") == 0, rc;
	json_t *doc = NULL;
	time_t now = time(NULL);
	size_t n = 0;
	enum berr err;

	if (argc > 3 || (argc == 3 && !json)) {
		fprintf(stderr, "berthctl token ls: unexpected argument %s\n%s", argv[2], TOKEN_USAGE);
		return 2;
	}
	if ((rc = need_file("token ls", "tokens_file", cfg->tokens_file, cfg->path)))
		return rc;
	if ((err = auth_repotoken_list(cfg->tokens_file, &list, &n)))
		return fail("token ls", err);
	if (json)
		doc = json_array();
	else if (n)
		printf("%-24s %-8s %-20s %-20s %s\n", "NAME", "STATUS", "CREATED", "EXPIRES", "SCOPES");
	for (size_t i = 0; i < n; i++)
		token_print(&list[i], now, doc);
	if (doc)
		ctl_json_print(doc);
	auth_repotoken_list_free(list, n);
	return 0;
}

static int token_revoke(const struct config *cfg, int argc, char **argv)
{
	enum berr err;
	int rc;

	if (argc != 3 || argv[2][0] == '-') {
		fprintf(stderr, "berthctl token revoke: want exactly one NAME\n%s", TOKEN_USAGE);
		return 2;
	}
	if ((rc = need_file("token revoke", "tokens_file", cfg->tokens_file, cfg->path)))
		return rc;
	if ((err = auth_repotoken_revoke(cfg->tokens_file, argv[2])))
		return fail("token revoke", err);
	ctl_audit_note("token_rm", NULL, NULL, NULL, argv[2]);
	printf("revoked token %s\n", argv[2]);
	return 0;
}

int ctl_auth_main(const struct config *cfg, int argc, char **argv)
{
	int user = argc > 0 && strcmp(argv[0], "user") == 0;
	const char *usage = user ? USER_USAGE : TOKEN_USAGE;
	const char *sub = argc > 1 ? argv[1] : "";

	if (argc < 1 || (!user && strcmp(argv[0], "token") != 0)) {
		fprintf(stderr, "berthctl: ctl_auth_main wants \"user\" or \"token\"\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
		    (i == 1 && strcmp(argv[i], "help") == 0)) {
			fputs(usage, stdout);
			return 0;
		}
	if (user && strcmp(sub, "add") == 0)
		return user_set(cfg, argc, argv, 1);
	if (user && strcmp(sub, "passwd") == 0)
		return user_set(cfg, argc, argv, 0);
	if (user && strcmp(sub, "rm") == 0)
		return user_rm(cfg, argc, argv);
	if (user && strcmp(sub, "ls") == 0)
		return user_ls(cfg, argc, argv);
	if (user && strcmp(sub, "revoke") == 0)
		return user_revoke(cfg, argc, argv);
	if (!user && strcmp(sub, "create") == 0)
		return token_create(cfg, argc, argv);
	if (!user && strcmp(sub, "ls") == 0)
		return token_ls(cfg, argc, argv);
	if (!user && strcmp(sub, "revoke") == 0)
		return token_revoke(cfg, argc, argv);
	if (sub[0])
		fprintf(stderr, "berthctl %s: unknown subcommand \"%s\"\n%s", argv[0], sub, usage);
	else
		fprintf(stderr, "berthctl %s: a subcommand is needed\n%s", argv[0], usage);
	return 2;
}
