/*
 * policy.c - the authorization policy file: format below (line comments,
 * because its patterns contain the characters that would end a C comment).
 */
//
// One rule per line; '#' starts a comment (at the start of a field);
// blank lines are ignored:
//
//   SUBJECT            REPOSITORIES   ACTIONS
//   anonymous          public/**      pull
//   authenticated      ${user}/**     pull,push,delete
//   group:developers   team-a/*       pull,push
//   group:"Domain Admins"  **         *
//   token:ci-app       ci/app         pull,push
//   authenticated      **             catalog
//
// SUBJECT is one of
//   user:NAME       the user NAME (user:* = any user)
//   group:NAME      members of group NAME (quote names with blanks)
//   token:NAME      the repository token NAME (token:* = any token)
//   authenticated   any user who logged in (repository tokens excluded:
//                   they get only what token: rules give them)
//   anonymous       everybody, logged in or not; so what anonymous may
//                   do, logging in never takes away
// Names are compared exactly (case matters).
//
// REPOSITORIES is a pattern over the repository name:
//   *         within one path component, any characters ("team-a/*" is the
//             repositories one level below team-a, "app-*" a prefix)
//   **        as a whole component: one or more components, any depth
//             ("team-a/**"; "**" alone is every repository)
//   ${user}   the name of the user who logged in; the rule does not apply
//             to tokens, anonymous callers, or user names that are no
//             single path component (upper case, '/', '@' ...).  Note that
//             a personal namespace "${user}/**" gives a user called
//             "team-a" the namespace team-a; "users/${user}/**" avoids it.
// Otherwise only what a repository name may contain: [a-z0-9._-] and '/'.
//
// ACTIONS: pull, push, delete, catalog, or * (pull,push,delete, plus
// catalog when the pattern is **), separated by ',' or blanks.  catalog
// is registry-wide (listing /v2/_catalog, which shows only the repositories
// the caller may pull), so it is only accepted with the pattern **.
//
// Rules only grant: the rights of a caller on a repository are the union
// of the rules that match; without a matching rule nothing is allowed.
//
// Matching is a dynamic program over (pattern token, name position), so
// no pattern can take more than O(tokens x 255) steps.
//
// Each rule keeps its line number and text: an administrator asks "why"
// (berthctl policy explain, berthctl ldap test), and the answer must name
// the rule as it stands in the file, from the same matching code that
// issues tokens, so the explanation cannot drift from the decision.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "util/log.h"
#include "util/mem.h"

#define LINE_MAX_LEN 4096

enum subj { SUBJ_ANON, SUBJ_AUTH, SUBJ_USER, SUBJ_GROUP, SUBJ_TOKEN };
enum tok_kind { TOK_LIT, TOK_STAR, TOK_DSTAR, TOK_USER };

struct tok {
	enum tok_kind kind;
	char *lit;
	size_t len;
};

struct rule {
	enum subj subj;
	char *name;             /* NULL: any (user:*, token:*, group:*) */
	char *pattern;          /* as written, for explanations */
	struct tok *toks;
	size_t ntok, tok_cap;
	unsigned actions;
	int line;
	char *text;             /* the line as written, trimmed */
};

struct auth_policy {
	struct rule *rules;
	size_t n, cap;
	char *file;             /* where the rules came from, for explanations */
};

static void rule_release(struct rule *r)
{
	size_t i;

	for (i = 0; i < r->ntok; i++)
		free(r->toks[i].lit);
	free(r->toks);
	free(r->name);
	free(r->pattern);
	free(r->text);
}

int auth_policy_uses_group(const struct auth_policy *p, const char *group)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (p->rules[i].subj == SUBJ_GROUP &&
		    (!p->rules[i].name || strcmp(p->rules[i].name, group) == 0))
			return 1;
	return 0;
}

void auth_policy_free(struct auth_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		rule_release(&p->rules[i]);
	free(p->rules);
	free(p->file);
	free(p);
}

size_t auth_policy_rules(const struct auth_policy *p)
{
	return p ? p->n : 0;
}

/* ------------------------------------------------------------- parsing */

struct parse {
	const char *file;
	int line;
	char why[256];
};

__attribute__((format(printf, 2, 3)))
static int fail(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->why, sizeof(ps->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* Next blank-separated field of *p into buf ("..." may hold blanks);
 * 0 at end of line or at a comment, 1 with a field, -1 on error. */
static int next_field(struct parse *ps, const char **p, char *buf, size_t size)
{
	const char *s = *p;
	size_t n = 0;
	int quoted = 0;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	for (; *s && (quoted || (*s != ' ' && *s != '\t')); s++) {
		if (*s == '"') {
			quoted = !quoted;
			continue;
		}
		if (n + 1 >= size)
			return fail(ps, "field too long");
		buf[n++] = *s;
	}
	if (quoted)
		return fail(ps, "unterminated quote");
	buf[n] = '\0';
	*p = s;
	return 1;
}

static int parse_subject(struct parse *ps, const char *s, struct rule *r)
{
	static const struct { const char *prefix; enum subj subj; } named[] = {
		{ "user:", SUBJ_USER }, { "group:", SUBJ_GROUP }, { "token:", SUBJ_TOKEN },
	};
	size_t i;

	if (strcmp(s, "anonymous") == 0 || strcmp(s, "authenticated") == 0) {
		r->subj = s[0] == 'a' && s[1] == 'n' ? SUBJ_ANON : SUBJ_AUTH;
		return 0;
	}
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t k = strlen(named[i].prefix);

		if (strncmp(s, named[i].prefix, k) != 0)
			continue;
		if (s[k] == '\0')
			return fail(ps, "subject \"%s\" has no name", s);
		r->subj = named[i].subj;
		if (strcmp(s + k, "*") != 0 && (r->name = strdup(s + k)) == NULL)
			return fail(ps, "out of memory");
		return 0;
	}
	return fail(ps, "unknown subject \"%.64s\" (expected user:NAME, group:NAME, token:NAME, "
		    "authenticated or anonymous)", s);
}

static int add_tok(struct parse *ps, struct rule *r, enum tok_kind kind, const char *lit, size_t len)
{
	struct tok *t;

	if (kind == TOK_LIT && r->ntok && r->toks[r->ntok - 1].kind == TOK_LIT) {
		struct tok *prev = &r->toks[r->ntok - 1];
		char *grown = realloc(prev->lit, prev->len + len + 1);

		if (grown == NULL)
			return fail(ps, "out of memory");
		memcpy(grown + prev->len, lit, len);
		prev->len += len;
		grown[prev->len] = '\0';
		prev->lit = grown;
		return 0;
	}
	if (mem_grow(&r->toks, &r->tok_cap, r->ntok + 1, sizeof(*r->toks), 8, "policy"))
		return fail(ps, "out of memory");
	t = &r->toks[r->ntok];
	t->kind = kind;
	t->len = len;
	t->lit = NULL;
	if (kind == TOK_LIT && (t->lit = strndup(lit, len)) == NULL)
		return fail(ps, "out of memory");
	r->ntok++;
	return 0;
}

static int pattern_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '/';
}

/* One component (s[0..n)) of a pattern. */
static int parse_component(struct parse *ps, const char *pat, const char *s, size_t n,
			   struct rule *r)
{
	size_t i = 0;

	if (n == 0)
		return fail(ps, "pattern \"%.64s\" has an empty path component", pat);
	if (n == 2 && s[0] == '*' && s[1] == '*')
		return add_tok(ps, r, TOK_DSTAR, NULL, 0);
	while (i < n) {
		if (s[i] == '*') {
			if (i + 1 < n && s[i + 1] == '*')
				return fail(ps, "pattern \"%.64s\": ** must be a whole path component", pat);
			if (add_tok(ps, r, TOK_STAR, NULL, 0) < 0)
				return -1;
			i++;
		} else if (n - i >= 7 && memcmp(s + i, "${user}", 7) == 0) {
			if (add_tok(ps, r, TOK_USER, NULL, 0) < 0)
				return -1;
			i += 7;
		} else if (s[i] == '$') {
			return fail(ps, "pattern \"%.64s\": the only variable is ${user}", pat);
		} else if (s[i] >= 'A' && s[i] <= 'Z') {
			return fail(ps, "pattern \"%.64s\" has upper case, which no repository name has", pat);
		} else if (!pattern_char_ok(s[i])) {
			return fail(ps, "pattern \"%.64s\": '%c' cannot be in a repository name", pat, s[i]);
		} else if (add_tok(ps, r, TOK_LIT, s + i, 1) < 0) {
			return -1;
		} else {
			i++;
		}
	}
	return 0;
}

static int parse_pattern(struct parse *ps, const char *pat, struct rule *r)
{
	const char *s = pat;

	for (;;) {
		size_t n = strcspn(s, "/");

		if (parse_component(ps, pat, s, n, r) < 0)
			return -1;
		if (s[n] == '\0')
			return 0;
		if (add_tok(ps, r, TOK_LIT, "/", 1) < 0)
			return -1;
		s += n + 1;
	}
}

static int parse_actions(struct parse *ps, const char *s, const char *pat, struct rule *r)
{
	static const struct { const char *name; unsigned bit; } acts[] = {
		{ "pull", AUTH_ACT_PULL }, { "push", AUTH_ACT_PUSH },
		{ "delete", AUTH_ACT_DELETE }, { "catalog", AUTH_ACT_CATALOG },
	};
	int everything = strcmp(pat, "**") == 0;

	while (*s) {
		size_t n = strcspn(s, ", \t"), i;

		if (n == 1 && *s == '*') {
			r->actions |= AUTH_ACT_REPO | (everything ? AUTH_ACT_CATALOG : 0);
		} else if (n) {
			for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
				if (strlen(acts[i].name) == n && memcmp(acts[i].name, s, n) == 0)
					break;
			if (i == sizeof(acts) / sizeof(acts[0]))
				return fail(ps, "unknown action \"%.*s\" (expected pull, push, delete, "
					    "catalog or *)", (int)(n > 32 ? 32 : n), s);
			if (acts[i].bit == AUTH_ACT_CATALOG && !everything)
				return fail(ps, "catalog is registry-wide: give it with the pattern **");
			r->actions |= acts[i].bit;
		}
		s += n;
		s += strspn(s, ", \t");
	}
	if (r->actions == 0)
		return fail(ps, "no actions");
	return 0;
}

/* A copy of line without the blanks around it. */
static char *trimmed(const char *line)
{
	size_t n;

	line += strspn(line, " \t");
	n = strlen(line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	return strndup(line, n);
}

/* One line into *r; 0 parsed a rule, 1 blank/comment, -1 error. */
static int parse_line(struct parse *ps, const char *line, struct rule *r)
{
	char subject[512], pattern[512], rest[LINE_MAX_LEN];
	const char *p = line;
	int got;

	memset(r, 0, sizeof(*r));
	if ((got = next_field(ps, &p, subject, sizeof(subject))) <= 0)
		return got < 0 ? -1 : 1;
	if ((got = next_field(ps, &p, pattern, sizeof(pattern))) <= 0)
		return got < 0 ? -1 : fail(ps, "expected SUBJECT REPOSITORIES ACTIONS");
	snprintf(rest, sizeof(rest), "%.*s", (int)strcspn(p, "#"), p);
	if (parse_subject(ps, subject, r) < 0 || parse_pattern(ps, pattern, r) < 0 ||
	    parse_actions(ps, rest, pattern, r) < 0)
		goto bad;
	r->line = ps->line;
	if ((r->pattern = strdup(pattern)) == NULL || (r->text = trimmed(line)) == NULL) {
		fail(ps, "out of memory");
		goto bad;
	}
	return 0;
bad:
	rule_release(r);
	return -1;
}

static int policy_add(struct auth_policy *p, const struct rule *r)
{
	if (mem_grow(&p->rules, &p->cap, p->n + 1, sizeof(*p->rules), 16, "policy"))
		return -1;
	p->rules[p->n++] = *r;
	return 0;
}

enum berr auth_policy_parse(const char *name, const char *text, struct auth_policy **out)
{
	struct auth_policy *p = calloc(1, sizeof(*p));
	struct parse ps = { name, 0, "" };
	char line[LINE_MAX_LEN + 1];
	const char *s = text;

	*out = NULL;
	if (p == NULL || (p->file = strdup(name)) == NULL) {
		free(p);
		return berr_set(BERR_INTERNAL, "%s: out of memory", name);
	}
	while (*s) {
		size_t n = strcspn(s, "\n");
		struct rule r;
		int got;

		ps.line++;
		if (n > LINE_MAX_LEN) {
			fail(&ps, "line longer than %d bytes", LINE_MAX_LEN);
			goto bad;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (strlen(line) != n - (n && s[n - 1] == '\r')) {
			fail(&ps, "NUL byte in line");
			goto bad;
		}
		if ((got = parse_line(&ps, line, &r)) < 0)
			goto bad;
		if (got == 0 && policy_add(p, &r) < 0) {
			rule_release(&r);
			fail(&ps, "out of memory");
			goto bad;
		}
		s += n + (s[n] == '\n');
	}
	*out = p;
	return BERR_OK;
bad:
	auth_policy_free(p);
	return berr_set(BERR_INTERNAL, "%s:%d: %s", name, ps.line, ps.why);
}

enum berr auth_policy_load(const char *path, struct auth_policy **out)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t size = 0;
	long len;
	enum berr err;

	*out = NULL;
	if (f == NULL)
		return berr_sys("open policy file", path);
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		err = berr_sys("read policy file", path);
		fclose(f);
		return err;
	}
	if (len > 16 << 20) {
		fclose(f);
		return berr_set(BERR_INTERNAL, "%s: larger than 16 MiB", path);
	}
	size = (size_t)len;
	if ((text = malloc(size + 1)) == NULL || fread(text, 1, size, f) != size) {
		err = text ? berr_sys("read policy file", path)
			   : berr_set(BERR_INTERNAL, "%s: out of memory", path);
		free(text);
		fclose(f);
		return err;
	}
	fclose(f);
	text[size] = '\0';
	if (strlen(text) != size) {
		free(text);
		return berr_set(BERR_INTERNAL, "%s: contains a NUL byte", path);
	}
	err = auth_policy_parse(path, text, out);
	free(text);
	if (err == BERR_OK && (*out)->n == 0)
		log_warn("policy %s has no rules: every request will be denied", path);
	return err;
}

/* ------------------------------------------------------------- matching */

static int subject_matches(const struct rule *r, const struct auth_subject *who)
{
	size_t i;

	switch (r->subj) {
	case SUBJ_ANON:
		return 1;
	case SUBJ_AUTH:
		return who->authenticated && who->user != NULL;
	case SUBJ_USER:
		return who->authenticated && who->user != NULL &&
		       (r->name == NULL || strcmp(r->name, who->user) == 0);
	case SUBJ_GROUP:
		if (!who->authenticated || who->user == NULL)
			return 0;
		for (i = 0; i < who->ngroups; i++)
			if (who->groups[i] && (r->name == NULL || strcmp(r->name, who->groups[i]) == 0))
				return 1;
		return 0;
	case SUBJ_TOKEN:
		return who->authenticated && who->token_name != NULL &&
		       (r->name == NULL || strcmp(r->name, who->token_name) == 0);
	}
	return 0;
}

/* ${user} stands for one path component, or for nothing at all. */
static int user_component_ok(const char *user)
{
	return user != NULL && *user != '\0' && strchr(user, '/') == NULL;
}

static int pattern_matches(const struct rule *r, const char *user, const char *name)
{
	unsigned char cur[REF_NAME_MAX + 1], nxt[REF_NAME_MAX + 1];
	size_t n = strlen(name), t, j;

	if (n > REF_NAME_MAX)
		return 0;
	memset(cur, 0, n + 1);
	cur[0] = 1;
	for (t = 0; t < r->ntok; t++) {
		const struct tok *k = &r->toks[t];
		const char *lit = k->kind == TOK_USER ? user : k->lit;
		size_t len = k->kind == TOK_USER ? strlen(user) : k->len;

		for (j = 0; j <= n; j++) {
			switch (k->kind) {
			case TOK_LIT:
			case TOK_USER:
				nxt[j] = j >= len && cur[j - len] && memcmp(name + j - len, lit, len) == 0;
				break;
			case TOK_STAR:
				nxt[j] = cur[j] || (j > 0 && nxt[j - 1] && name[j - 1] != '/');
				break;
			case TOK_DSTAR:
				nxt[j] = cur[j] || (j > 0 && nxt[j - 1]);
				break;
			}
		}
		memcpy(cur, nxt, n + 1);
	}
	return cur[n];
}

static int rule_uses_user(const struct rule *r)
{
	size_t i;

	for (i = 0; i < r->ntok; i++)
		if (r->toks[i].kind == TOK_USER)
			return 1;
	return 0;
}

unsigned auth_policy_actions(const struct auth_policy *p, const struct auth_subject *who,
			     const char *repo)
{
	unsigned bits = 0;
	size_t i;

	for (i = 0; p && i < p->n; i++) {
		const struct rule *r = &p->rules[i];

		if (!subject_matches(r, who))
			continue;
		if (repo == NULL) {
			bits |= r->actions & AUTH_ACT_CATALOG;
			continue;
		}
		if (rule_uses_user(r) && !(who->authenticated && user_component_ok(who->user)))
			continue;
		if (pattern_matches(r, who->user, repo))
			bits |= r->actions & AUTH_ACT_REPO;
	}
	return bits;
}

size_t auth_grant(const struct auth_policy *p, const struct auth_subject *who,
		  const struct auth_scope *req, size_t n, struct auth_scope *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		unsigned allowed = auth_policy_actions(p, who, req[i].type == AUTH_SCOPE_REPOSITORY ?
						       req[i].name : NULL);

		if ((req[i].actions & allowed) == 0)
			continue;
		out[k] = req[i];
		out[k].actions = req[i].actions & allowed;
		k++;
	}
	return k;
}

/* ------------------------------------------------------------- explaining */

const char *auth_policy_file(const struct auth_policy *p)
{
	return p ? p->file : NULL;
}

/* Can ${user} stand for who's name in some repository name?  (Matching
 * gives the same answer for names that cannot; this is for explanations,
 * which should not show a rule as applying when it never can.) */
static int user_usable(const struct auth_subject *who)
{
	const char *c;

	if (!who->authenticated || !user_component_ok(who->user))
		return 0;
	for (c = who->user; *c; c++)
		if (*c == '/' || !pattern_char_ok(*c))
			return 0;
	return 1;
}

/* How rule r bears on `who` doing `act` on `repo`; -1: not about `who`. */
static int rule_verdict(const struct rule *r, const struct auth_subject *who, const char *repo,
			unsigned act)
{
	if (!subject_matches(r, who))
		return -1;
	if (act == AUTH_ACT_CATALOG)
		return r->actions & act ? AUTH_RULE_GRANTS : AUTH_RULE_OTHER_ACTION;
	if (rule_uses_user(r) && !user_usable(who))
		return AUTH_RULE_NO_USER;
	if (repo == NULL || !pattern_matches(r, who->user, repo))
		return AUTH_RULE_OTHER_REPO;
	return r->actions & act ? AUTH_RULE_GRANTS : AUTH_RULE_OTHER_ACTION;
}

size_t auth_policy_explain(const struct auth_policy *p, const struct auth_subject *who,
			   const char *repo, unsigned act, int *granted,
			   struct auth_policy_hit *hits, size_t max)
{
	size_t i, k = 0;

	*granted = 0;
	for (i = 0; p && i < p->n; i++) {
		int v = rule_verdict(&p->rules[i], who, repo, act);

		if (v < 0)
			continue;
		if (v == AUTH_RULE_GRANTS)
			*granted = 1;
		if (k < max) {
			hits[k].verdict = (enum auth_policy_verdict)v;
			hits[k].line = p->rules[i].line;
			hits[k].text = p->rules[i].text;
		}
		k++;
	}
	return k;
}

// "  (here: bob/**)": the pattern with ${user} spelled out.
static void print_user_pattern(const char *pat, const char *user, FILE *out)
{
	const char *s = pat, *v;

	fputs("  (here: ", out);
	while ((v = strstr(s, "${user}")) != NULL) {
		fprintf(out, "%.*s%s", (int)(v - s), s, user);
		s = v + 7;
	}
	fprintf(out, "%s)", s);
}

size_t auth_policy_print_grants(const struct auth_policy *p, const struct auth_subject *who,
				FILE *out)
{
	size_t i, k = 0;

	for (i = 0; p && i < p->n; i++) {
		const struct rule *r = &p->rules[i];

		if (!subject_matches(r, who))
			continue;
		if (rule_uses_user(r) && !user_usable(who))
			continue;
		fprintf(out, "%s:%d: %s", p->file, r->line, r->text);
		if (rule_uses_user(r))
			print_user_pattern(r->pattern, who->user, out);
		fputc('\n', out);
		k++;
	}
	return k;
}
