/* Configuration file parser (see conf.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/addr.h"
#include "base/conf.h"
#include "base/file.h"
#include "base/idset.h"
#include "common/names.h"
#include "common/uid.h"

enum key_type {
	KEY_URL,      /* scheme://rest, printable, no spaces */
	KEY_URI,      /* scheme:rest (a custom-scheme redirect URI), printable, no spaces */
	KEY_TOKEN,    /* printable, no spaces */
	KEY_SCOPES,   /* space-separated tokens, must include "openid" */
	KEY_PATH,     /* absolute path */
	KEY_SECONDS,  /* integer number of seconds within [min, max] */
	KEY_NUMBER,   /* integer within [min, max] */
	KEY_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	KEY_ALGS,     /* JWS algorithm names, comma or space separated */
	KEY_LIST,     /* names or patterns, comma or space separated, printable ASCII */
	KEY_USERS,    /* a KEY_LIST of Unix names and patterns of them (users_entry_bad) */
	KEY_TEMPLATE, /* text where %u is the user name and %% a percent sign */
	KEY_CHOICE,   /* one of the words in choices */
	KEY_WORDS,    /* one or more words from choices, comma or space separated, none twice */
	KEY_RANGE,    /* "MIN-MAX" UIDs (uid.h) */
	KEY_PASSWD_PATH, /* absolute path for a passwd field: printable, no ':' or spaces, %u and %% */
	KEY_NAME,     /* a Unix name (names.h) */
	KEY_FROM,     /* console and/or address ranges (addr.h) */
	KEY_AMR,      /* amr combinations: "a+b" joined by commas or spaces, values [A-Za-z0-9_.:-] */
};

struct key_spec {
	const char *name;
	enum key_type type;
	size_t offset;
	const char *default_str;
	long default_num;
	long min, max;
	bool required;
	const char *choices;  /* KEY_CHOICE: "a|b|c" */
};

#define STR(field, type, def, req) \
	{ #field, type, offsetof(struct ag_config, field), def, 0, 0, 0, req, NULL }
#define NUM(field, type, def, lo, hi) \
	{ #field, type, offsetof(struct ag_config, field), NULL, def, lo, hi, false, NULL }
#define CHOICE(field, def, choices) \
	{ #field, KEY_CHOICE, offsetof(struct ag_config, field), def, 0, 0, 0, false, choices }

static const struct key_spec key_specs[] = {
	STR(issuer,       KEY_URL,    NULL, true),
	STR(client_id,    KEY_TOKEN,  NULL, true),
	/* redirect_uri: required with the password method (apply_defaults) */
	STR(redirect_uri, KEY_URI,    NULL, false),
	STR(scopes,       KEY_SCOPES, "openid offline_access", false),
	STR(ca_file,      KEY_PATH,   NULL, false),
	STR(state_dir,    KEY_PATH,   "/var/lib/authgear", false),
	STR(proxy,        KEY_URL,    NULL, false),
	STR(allowed_algs, KEY_ALGS,   "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA", false),
	STR(client_secret_file, KEY_PATH, NULL, false),
	NUM(connect_timeout, KEY_SECONDS, 5, 1, 60),
	NUM(timeout,         KEY_SECONDS, 15, 1, 300),
	NUM(login_timeout,   KEY_SECONDS, 115, 5, 900),
	NUM(leeway,          KEY_SECONDS, 60, 0, 300),
	NUM(cache_ttl,       KEY_SECONDS, 3600, 60, 86400),
	NUM(insecure_loopback_for_tests, KEY_BOOL, 0, 0, 1),
	STR(users,        KEY_USERS,    NULL, false),
	STR(login_id,     KEY_TEMPLATE, "%u", false),
	CHOICE(login_id_type, "username", "username|email|phone"),
	STR(flow_name,    KEY_TOKEN,    "default", false),
	NUM(max_age,      KEY_SECONDS,  -1, -1, 86400),
	NUM(require_mfa,  KEY_BOOL,     1, 0, 1),
	STR(require_roles, KEY_LIST,    NULL, false),
	NUM(reveal_unknown_users, KEY_BOOL, 0, 0, 1),
	NUM(terminate_other_sessions, KEY_BOOL, 0, 0, 1),
	NUM(max_attempts_per_minute, KEY_NUMBER, 5, 1, 1000),
	NUM(debug,           KEY_BOOL, 0, 0, 1),
	/* the account check (pam_sm_acct_mgmt, login/account.c) */
	CHOICE(account_check, "refresh", "refresh|resolver|jwt"),
	STR(resolver_url,    KEY_URL, NULL, false),
	NUM(account_check_cache, KEY_SECONDS, 60, 0, 86400),
	NUM(offline_grace,   KEY_NUMBER, 0, 0, 720),
	CHOICE(account_check_without_token, "deny", "deny|allow"),
	STR(token_key_file,  KEY_PATH, NULL, false),
	/* sessions (pam_sm_open_session / pam_sm_close_session, login/session.c) */
	NUM(revoke_on_logout, KEY_BOOL, 0, 0, 1),
	/* sudo reauthentication (module argument reauth) */
	CHOICE(reauth_with,  "code", "code|password|full|device"),
	NUM(reauth_max_age,  KEY_SECONDS, 300, 10, 3600),
	/* device-code login (RFC 8628) */
	{ "methods", KEY_WORDS, offsetof(struct ag_config, methods), "password", 0, 0, 0, false, "password|device" },
	STR(device_scopes,   KEY_SCOPES, "openid offline_access", false),
	NUM(qr,              KEY_BOOL,   1, 0, 1),
	NUM(qr_invert,       KEY_BOOL,   0, 0, 1),
	NUM(device_max_wait, KEY_SECONDS, 110, 5, 900),
	STR(username_claim,  KEY_TOKEN,  "preferred_username", false),
	STR(device_from,     KEY_FROM,   NULL, false),
	STR(mfa_amr,         KEY_AMR,    AG_MFA_AMR_DEFAULT, false),
	/* accounts: UIDs, home, shell, primary group ([roles] and [uids] below) */
	STR(uid_range,    KEY_RANGE,       AG_UID_RANGE_DEFAULT, false),
	STR(home,         KEY_PASSWD_PATH, "/home/%u", false),
	STR(shell,        KEY_PASSWD_PATH, "/bin/bash", false),
	STR(primary_group, KEY_NAME,       NULL, false),
};

#define N_KEYS (sizeof key_specs / sizeof key_specs[0])

/* Tables the parser accepts; later parts of the product give their entries
 * meaning ([roles]: Authgear role key = Unix group, [uids]: user = UID). */
static const char *const known_tables[] = { "roles", "uids", NULL };

#define ROLE_GROUPS_MAX 32 /* Unix groups one role may grant */

#define VALUE_MAX 2048
#define TABLE_KEY_MAX 128
#define TABLE_ENTRIES_MAX 10000

struct parser {
	const char *name;
	enum ag_config_mode mode;
	const struct ag_log *log;
	char *why;
	size_t why_len;
	struct ag_config *cfg;
	unsigned seen_line[N_KEYS];           /* line where each key was set, 0 = unset */
	struct ag_config_table *table;        /* current table, NULL = global */
	bool skipping;                        /* inside an unknown table (lenient) */
	struct ag_idset pinned;               /* UIDs of [uids] so far */
	uint32_t *keys;                       /* the current table's keys: entry + 1, hashed */
	size_t keys_cap;                      /* a power of two; 0 = none yet */
};

static enum ag_err fail(struct parser *p, enum ag_err err, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum ag_err fail(struct parser *p, enum ag_err err, unsigned line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (line)
		ag_log(p->log, LOG_ERR, "%s:%u: %s", p->name, line, msg);
	else
		ag_log(p->log, LOG_ERR, "%s: %s", p->name, msg);
	if (p->why && p->why_len) {
		if (line)
			snprintf(p->why, p->why_len, "%s:%u: %s", p->name, line, msg);
		else
			snprintf(p->why, p->why_len, "%s: %s", p->name, msg);
	}
	return err;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Trim blanks at both ends of [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

static bool is_printable_ascii(char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Printable ASCII without spaces: client ids, URLs, table keys. */
static bool all_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_printable_ascii(s[i]))
			return false;
	return true;
}

/* Printable characters and inner spaces; bytes >= 0x80 (UTF-8) allowed. */
static bool no_controls(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool valid_global_key(const char *s, size_t n)
{
	if (n == 0 || n > 64 || s[0] < 'a' || s[0] > 'z')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* scheme ":" rest (RFC 3986), and "://" after the scheme when authority is set. */
static bool valid_uri(const char *v, bool authority)
{
	size_t i = 0;

	if (!((v[0] >= 'a' && v[0] <= 'z') || (v[0] >= 'A' && v[0] <= 'Z')))
		return false;
	while (v[i] && v[i] != ':') {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return false;
		i++;
	}
	if (v[i] != ':' || v[i + 1] == '\0' || !all_printable(v, strlen(v)))
		return false;
	return !authority || (strncmp(v + i, "://", 3) == 0 && v[i + 3] != '\0');
}

static bool valid_scopes(const char *v)
{
	bool has_openid = false;
	const char *p = v;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n == 0 || !all_printable(p, n))
			return false; /* empty token: double space */
		if (n == 6 && strncmp(p, "openid", 6) == 0)
			has_openid = true;
		p += n;
		if (*p == ' ')
			p++;
	}
	return has_openid;
}

static bool valid_algs(const char *v)
{
	static const char *const names[] = {
		"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", NULL,
	};
	size_t n_algs = 0;

	for (const char *p = v; *p;) {
		size_t n = strcspn(p, ", ");
		bool known = false;

		for (size_t i = 0; n && names[i]; i++)
			if (strlen(names[i]) == n && strncmp(p, names[i], n) == 0)
				known = true;
		if (n && !known)
			return false;
		n_algs += n ? 1 : 0;
		p += n;
		p += strspn(p, ", ");
	}
	return n_algs > 0;
}

static bool valid_template(const char *v)
{
	if (!all_printable(v, strlen(v)))
		return false;
	for (const char *p = strchr(v, '%'); p; p = strchr(p + 2, '%'))
		if (p[1] != 'u' && p[1] != '%')
			return false;
	return true;
}

static bool valid_choice(const char *v, const char *choices)
{
	size_t n = strlen(v);

	for (const char *p = choices; *p;) {
		size_t w = strcspn(p, "|");
		if (w == n && strncmp(p, v, n) == 0)
			return true;
		p += w + (p[w] ? 1 : 0);
	}
	return false;
}

/* Words from choices separated by commas and/or spaces, at least one, none twice. */
/* One amr value of an mfa_amr combination: what RFC 8176 values and issuers'
 * own scheme names are made of. */
static bool amr_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == ':' || c == '-';
}

/* mfa_amr: one or more combinations, each one or more values joined by '+'
 * (no empty value, no other characters). */
static bool valid_amr(const char *v)
{
	const char *cur = v, *w;
	size_t n, n_combos = 0;

	while ((w = ag_list_next(&cur, &n))) {
		bool value_started = false;

		for (size_t i = 0; i < n; i++) {
			if (w[i] == '+' && value_started)
				value_started = false;
			else if (amr_char(w[i]))
				value_started = true;
			else
				return false;
		}
		if (!value_started)
			return false;
		n_combos++;
	}
	return n_combos > 0;
}

static bool valid_words(const char *v, const char *choices)
{
	char word[64];
	size_t n_words = 0;

	const char *cur = v, *w;
	size_t n;

	while ((w = ag_list_next(&cur, &n))) {
		const char *seen = v, *q;
		size_t m;

		if (n >= sizeof word)
			return false;
		memcpy(word, w, n);
		word[n] = '\0';
		if (!valid_choice(word, choices))
			return false;
		while ((q = ag_list_next(&seen, &m)) && q < w)
			if (m == n && strncmp(q, w, n) == 0)
				return false;
		n_words++;
	}
	return n_words > 0;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (size_t i = 0; yes[i]; i++)
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
	for (size_t i = 0; no[i]; i++)
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	return false;
}

static bool parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!*v || !((*v >= '0' && *v <= '9') || *v == '-'))
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return false;
	*out = n;
	return true;
}

static bool is_list(enum key_type t)
{
	return t == KEY_LIST || t == KEY_USERS || t == KEY_SCOPES || t == KEY_ALGS || t == KEY_WORDS;
}

/* The longest users pattern ag_name_allowed tries (its buffer); a longer
 * one would match nothing. */
#define USERS_PATTERN_MAX 255

/* The first entry of a users list that can never match a valid Unix name
 * (names.h), its length in *n; NULL when there is none. An entry is a name,
 * or a pattern (it has * ? or [) of a name's characters and fnmatch's
 * * ? [ ] ! ^ whose first character, when literal, may start a name.
 * "a/b", "-oProxyCommand=sh", "Alice" or 300 bytes would otherwise
 * allow-list nobody, silently. */
static const char *users_entry_bad(const char *v, size_t *n)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_.-";
	char name[AG_NAME_MAX + 1];

	for (const char *cur = v, *e; (e = ag_list_next(&cur, n));) {
		bool pattern = memchr(e, '*', *n) || memchr(e, '?', *n) || memchr(e, '[', *n);

		if (!pattern) {
			if (*n > AG_NAME_MAX)
				return e;
			memcpy(name, e, *n);
			name[*n] = '\0';
			if (!ag_name_valid(name))
				return e;
			continue;
		}
		if (*n > USERS_PATTERN_MAX || !strchr("abcdefghijklmnopqrstuvwxyz_*?[", e[0]))
			return e;
		for (size_t i = 0; i < *n; i++)
			if (!strchr(name_chars, e[i]) && !strchr("*?[]!^", e[i]))
				return e;
	}
	return NULL;
}

/* "users = dana  # our first user" would allow-list "our", "first" and
 * "user", and users = "dana" nobody: a list never holds these characters. */
static bool has_comment_or_quote(const char *v)
{
	return strpbrk(v, "#\"'`") != NULL;
}

#define LIST_COMMENT_OR_QUOTE "'#' or a quote in a list: comments go on a line of their own, values are never quoted"

/* Whether v is a valid value for a string key (every type but numbers and
 * booleans, which set_key parses). */
static bool string_valid(const struct key_spec *spec, const char *v)
{
	struct ag_id_range r;

	switch (spec->type) {
	case KEY_URL:
	case KEY_URI: return valid_uri(v, spec->type == KEY_URL);
	case KEY_TOKEN: return all_printable(v, strlen(v));
	case KEY_SCOPES: return valid_scopes(v);
	case KEY_PATH: return v[0] == '/' && no_controls(v, strlen(v)) && strlen(v) < PATH_MAX;
	case KEY_ALGS: return valid_algs(v);
	case KEY_LIST:
	case KEY_USERS: return no_controls(v, strlen(v)) && strspn(v, AG_LIST_SEPARATORS) != strlen(v);
	case KEY_TEMPLATE: return valid_template(v);
	case KEY_CHOICE: return valid_choice(v, spec->choices);
	case KEY_WORDS: return valid_words(v, spec->choices);
	case KEY_RANGE: return ag_id_range_parse(v, &r);
	case KEY_PASSWD_PATH: return v[0] == '/' && valid_template(v) && !strchr(v, ':') && strlen(v) < 256;
	case KEY_FROM: return ag_addr_list_valid(v);
	case KEY_AMR: return valid_amr(v);
	case KEY_NAME: return ag_name_valid(v);
	case KEY_SECONDS:
	case KEY_NUMBER:
	case KEY_BOOL: break;
	}
	return false;
}

/* The line's error for a value key spec does not take: what it must be. */
static enum ag_err fail_value(struct parser *p, const struct key_spec *spec, unsigned line)
{
	const char *name = spec->name;

	switch (spec->type) {
	case KEY_URL:
	case KEY_URI: return fail(p, AG_ERR_CONFIG, line, "%s: not a URL without spaces", name);
	case KEY_TOKEN: return fail(p, AG_ERR_CONFIG, line, "%s: must be printable ASCII without spaces", name);
	case KEY_SCOPES:
		return fail(p, AG_ERR_CONFIG, line, "%s: must be scopes separated by single spaces and include openid",
			    name);
	case KEY_PATH: return fail(p, AG_ERR_CONFIG, line, "%s: must be an absolute path", name);
	case KEY_ALGS:
		return fail(p, AG_ERR_CONFIG, line,
			    "%s: must be JWS algorithms from RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA", name);
	case KEY_LIST:
	case KEY_USERS:
		return fail(p, AG_ERR_CONFIG, line, "%s: must be names or patterns separated by commas or spaces", name);
	case KEY_TEMPLATE:
		return fail(p, AG_ERR_CONFIG, line, "%s: only %%u and %%%% may follow a %%, without spaces", name);
	case KEY_CHOICE: return fail(p, AG_ERR_CONFIG, line, "%s: must be one of %s", name, spec->choices);
	case KEY_WORDS:
		return fail(p, AG_ERR_CONFIG, line, "%s: must be one or more of %s, separated by commas, none twice", name,
			    spec->choices);
	case KEY_RANGE:
		return fail(p, AG_ERR_CONFIG, line, "%s: must be MIN-MAX with %u <= MIN < MAX <= %u", name,
			    AG_UID_MIN_ALLOWED, AG_UID_MAX_ALLOWED);
	case KEY_PASSWD_PATH:
		return fail(p, AG_ERR_CONFIG, line,
			    "%s: must be an absolute path without spaces or ':' (%%u = user name)", name);
	case KEY_FROM:
		return fail(p, AG_ERR_CONFIG, line,
			    "%s: must be console and/or addresses or ranges (192.0.2.0/24, 2001:db8::/32)", name);
	case KEY_AMR:
		return fail(p, AG_ERR_CONFIG, line,
			    "%s: must be amr combinations like 'mfa, pwd+otp' (values of letters, digits, _ . : -)", name);
	case KEY_NAME: return fail(p, AG_ERR_CONFIG, line, "%s: not a valid Unix name", name);
	case KEY_SECONDS:
	case KEY_NUMBER:
		return fail(p, AG_ERR_CONFIG, line, "%s: must be a whole number%s from %ld to %ld", name,
			    spec->type == KEY_SECONDS ? " of seconds" : "", spec->min, spec->max);
	case KEY_BOOL: return fail(p, AG_ERR_CONFIG, line, "%s: must be yes or no", name);
	}
	return fail(p, AG_ERR_CONFIG, line, "%s: invalid value", name);
}

static enum ag_err set_key(struct parser *p, size_t k, const char *v, unsigned line)
{
	const struct key_spec *spec = &key_specs[k];
	char *field = (char *)p->cfg + spec->offset;
	char **slot = (char **)(void *)field;
	const char *bad;
	size_t bad_n;
	bool b;
	long n;

	if (is_list(spec->type) && has_comment_or_quote(v))
		return fail(p, AG_ERR_CONFIG, line, "%s: " LIST_COMMENT_OR_QUOTE, spec->name);
	if (spec->type == KEY_USERS && (bad = users_entry_bad(v, &bad_n)))
		return fail(p, AG_ERR_CONFIG, line,
			    "%s: '%.*s%s' can never be a Unix user name (names: lower case [a-z_][a-z0-9_.-]*, at most "
			    "%d bytes; patterns: those characters and * ? [ ] ! ^)", spec->name,
			    (int)(bad_n > 64 ? 64 : bad_n), bad, bad_n > 64 ? "..." : "", AG_NAME_MAX);
	switch (spec->type) {
	case KEY_SECONDS:
	case KEY_NUMBER:
		if (!parse_long(v, spec->min, spec->max, &n))
			return fail_value(p, spec, line);
		*(long *)(void *)field = n;
		return AG_OK;
	case KEY_BOOL:
		if (!parse_bool(v, &b))
			return fail_value(p, spec, line);
		*(bool *)(void *)field = b;
		return AG_OK;
	default:
		if (!string_valid(spec, v))
			return fail_value(p, spec, line);
	}
	free(*slot);
	*slot = strdup(v);
	return *slot ? AG_OK : fail(p, AG_ERR_NOMEM, line, "out of memory");
}

static enum ag_err handle_section(struct parser *p, const char *s, size_t n, unsigned line)
{
	struct ag_config *cfg = p->cfg;
	struct ag_config_table *tables;
	char name[33];
	bool known = false;

	if (n < 3 || s[n - 1] != ']')
		return fail(p, AG_ERR_CONFIG, line, "section header must look like [name]");
	s++;
	n -= 2;
	trim(&s, &n);
	if (n == 0 || n >= sizeof name || !valid_global_key(s, n))
		return fail(p, AG_ERR_CONFIG, line, "section name must be lower case letters, digits and _");
	memcpy(name, s, n);
	name[n] = '\0';
	for (size_t i = 0; known_tables[i]; i++)
		if (strcmp(name, known_tables[i]) == 0)
			known = true;
	if (!known) {
		if (p->mode == AG_CONFIG_STRICT)
			return fail(p, AG_ERR_CONFIG, line, "unknown section [%s]", name);
		ag_log(p->log, LOG_WARNING, "%s:%u: unknown section [%s] ignored", p->name, line, name);
		cfg->n_ignored++;
		p->skipping = true;
		p->table = NULL;
		return AG_OK;
	}
	for (size_t i = 0; i < cfg->n_tables; i++)
		if (strcmp(cfg->tables[i].name, name) == 0)
			return fail(p, AG_ERR_CONFIG, line, "section [%s] repeated (first at line %u)",
				    name, cfg->tables[i].line);
	tables = realloc(cfg->tables, (cfg->n_tables + 1) * sizeof *tables);
	if (!tables)
		return fail(p, AG_ERR_NOMEM, line, "out of memory");
	cfg->tables = tables;
	p->table = &tables[cfg->n_tables];
	memset(p->table, 0, sizeof *p->table);
	free(p->keys); /* the key index is per table */
	p->keys = NULL;
	p->keys_cap = 0;
	p->table->line = line;
	p->table->name = strdup(name);
	if (!p->table->name)
		return fail(p, AG_ERR_NOMEM, line, "out of memory");
	cfg->n_tables++;
	p->skipping = false;
	return AG_OK;
}

/* [roles]: role key = Unix groups; [uids]: Unix name = UID, each UID once.
 * A wrong entry is an error in both modes: ignoring it would silently give a
 * user another UID or drop a group. */
static enum ag_err validate_table_entry(struct parser *p, const struct ag_config_table *t, const char *key,
					const char *value, unsigned line)
{
	uint32_t uid, other;

	if (strcmp(t->name, "roles") == 0) {
		if (has_comment_or_quote(value))
			return fail(p, AG_ERR_CONFIG, line, "[roles] %.64s: " LIST_COMMENT_OR_QUOTE, key);
		if (!ag_name_list_valid(value, ROLE_GROUPS_MAX))
			return fail(p, AG_ERR_CONFIG, line,
				    "[roles] %.64s: must be 1-%d Unix group names (lower case, at most %d characters, "
				    "no leading '-')", key, ROLE_GROUPS_MAX, AG_NAME_MAX);
	} else if (strcmp(t->name, "uids") == 0) {
		if (!ag_name_valid(key) || strcmp(key, "root") == 0)
			return fail(p, AG_ERR_CONFIG, line, "[uids] '%.64s' is not a valid Unix user name (nor root)", key);
		if (!ag_id_parse(value, &uid))
			return fail(p, AG_ERR_CONFIG, line, "[uids] %s: must be a UID from %u to %u, not %u", key,
				    AG_UID_MIN_ALLOWED, AG_UID_MAX_ALLOWED, AG_UID_NOBODY);
		/* A set, not a scan per entry: 10,000 pins took 0.75 s in every
		 * pam_sm_* call. Only a duplicate looks for its first holder. */
		if (ag_idset_has(&p->pinned, uid)) {
			for (size_t i = 0; i < t->n_entries; i++)
				if (ag_id_parse(t->entries[i].value, &other) && other == uid)
					return fail(p, AG_ERR_CONFIG, line,
						    "[uids] %s: UID %u is already pinned to %s (line %u)", key, uid,
						    t->entries[i].key, t->entries[i].line);
		}
		if (ag_idset_add(&p->pinned, uid) != AG_OK)
			return fail(p, AG_ERR_NOMEM, 0, "out of memory");
	}
	return AG_OK;
}

/* The slot of key in the current table's key index: the entry holding it
 * (slot value entry + 1), or the empty slot where it goes. */
static size_t key_slot(const struct parser *p, const char *key)
{
	size_t mask = p->keys_cap - 1, j = (size_t)ag_fnv1a64(key, strlen(key)) & mask;

	while (p->keys[j] && strcmp(p->table->entries[p->keys[j] - 1].key, key) != 0)
		j = (j + 1) & mask;
	return j;
}

/* Make room in the key index for one more entry (rebuilt at twice the size
 * when half full), so duplicate keys are found in constant time: a scan per
 * entry made 10,000 [uids] pins quadratic in every pam_sm_* call. */
static bool key_index_grow(struct parser *p)
{
	const struct ag_config_table *t = p->table;
	size_t cap = p->keys_cap ? p->keys_cap : 64;

	if ((t->n_entries + 1) * 2 <= p->keys_cap)
		return true;
	while ((t->n_entries + 1) * 2 > cap)
		cap *= 2;
	free(p->keys);
	p->keys = calloc(cap, sizeof *p->keys);
	p->keys_cap = p->keys ? cap : 0;
	if (!p->keys)
		return false;
	for (size_t i = 0; i < t->n_entries; i++)
		p->keys[key_slot(p, t->entries[i].key)] = (uint32_t)i + 1;
	return true;
}

static enum ag_err handle_table_entry(struct parser *p, const char *key, const char *value, unsigned line)
{
	struct ag_config_table *t = p->table;
	struct ag_config_entry *entries;
	size_t slot;

	if (strlen(key) > TABLE_KEY_MAX || !all_printable(key, strlen(key)))
		return fail(p, AG_ERR_CONFIG, line, "[%s]: key must be 1-%d printable characters without spaces",
			    t->name, TABLE_KEY_MAX);
	if (!no_controls(value, strlen(value)))
		return fail(p, AG_ERR_CONFIG, line, "[%s] %s: value contains control characters", t->name, key);
	if (!key_index_grow(p))
		return fail(p, AG_ERR_NOMEM, line, "out of memory");
	slot = key_slot(p, key);
	if (p->keys[slot])
		return fail(p, AG_ERR_CONFIG, line, "[%s] duplicate key '%s' (first at line %u)", t->name, key,
			    t->entries[p->keys[slot] - 1].line);
	if (t->n_entries >= TABLE_ENTRIES_MAX)
		return fail(p, AG_ERR_CONFIG, line, "[%s]: more than %d entries", t->name, TABLE_ENTRIES_MAX);
	if (validate_table_entry(p, t, key, value, line) != AG_OK)
		return AG_ERR_CONFIG;
	/* Capacity doubles with the key index: n_entries + 1 <= keys_cap / 2. */
	if (t->n_entries == 0 || (t->n_entries & (t->n_entries - 1)) == 0) {
		entries = realloc(t->entries, (t->n_entries ? t->n_entries * 2 : 1) * sizeof *entries);
		if (!entries)
			return fail(p, AG_ERR_NOMEM, line, "out of memory");
		t->entries = entries;
	}
	entries = t->entries;
	p->keys[slot] = (uint32_t)t->n_entries + 1;
	entries[t->n_entries].key = strdup(key);
	entries[t->n_entries].value = strdup(value);
	entries[t->n_entries].line = line;
	t->n_entries++;
	if (!entries[t->n_entries - 1].key || !entries[t->n_entries - 1].value)
		return fail(p, AG_ERR_NOMEM, line, "out of memory");
	return AG_OK;
}

static enum ag_err handle_global(struct parser *p, const char *key, const char *value, unsigned line)
{
	if (!valid_global_key(key, strlen(key)))
		return fail(p, AG_ERR_CONFIG, line, "key must be lower case letters, digits and _");
	for (size_t k = 0; k < N_KEYS; k++) {
		if (strcmp(key, key_specs[k].name) != 0)
			continue;
		if (p->seen_line[k])
			return fail(p, AG_ERR_CONFIG, line, "duplicate key '%s' (first at line %u)",
				    key, p->seen_line[k]);
		p->seen_line[k] = line;
		return set_key(p, k, value, line);
	}
	if (p->mode == AG_CONFIG_STRICT)
		return fail(p, AG_ERR_CONFIG, line, "unknown key '%s'", key);
	ag_log(p->log, LOG_WARNING, "%s:%u: unknown key '%s' ignored", p->name, line, key);
	p->cfg->n_ignored++;
	return AG_OK;
}

static enum ag_err handle_line(struct parser *p, const char *s, size_t n, unsigned line)
{
	char key[TABLE_KEY_MAX + 2], value[VALUE_MAX + 1];
	const char *eq, *k, *v;
	size_t kn, vn;

	trim(&s, &n);
	if (n == 0 || s[0] == '#' || s[0] == ';')
		return AG_OK;
	if (s[0] == '[')
		return handle_section(p, s, n, line);
	eq = memchr(s, '=', n);
	if (!eq)
		return fail(p, AG_ERR_CONFIG, line, "expected 'key = value'");
	k = s;
	kn = (size_t)(eq - s);
	v = eq + 1;
	vn = n - kn - 1;
	trim(&k, &kn);
	trim(&v, &vn);
	if (kn == 0)
		return fail(p, AG_ERR_CONFIG, line, "missing key before '='");
	if (kn > TABLE_KEY_MAX)
		return fail(p, AG_ERR_CONFIG, line, "key longer than %d characters", TABLE_KEY_MAX);
	memcpy(key, k, kn);
	key[kn] = '\0';
	if (vn == 0)
		return fail(p, AG_ERR_CONFIG, line, "'%.64s' has an empty value", key);
	if (vn > VALUE_MAX)
		return fail(p, AG_ERR_CONFIG, line, "'%.64s': value longer than %d bytes", key, VALUE_MAX);
	if (!no_controls(v, vn))
		return fail(p, AG_ERR_CONFIG, line, "'%.64s': value contains control characters", key);
	memcpy(value, v, vn);
	value[vn] = '\0';
	if (p->skipping)
		return AG_OK;
	if (p->table)
		return handle_table_entry(p, key, value, line);
	return handle_global(p, key, value, line);
}

struct user_group_check {
	struct parser *p;
	const char *what;
	unsigned line;
	enum ag_err err;
};

static bool user_not_group(const char *name, void *vctx)
{
	struct user_group_check *c = vctx;

	if (!ag_config_group_name(c->p->cfg, name))
		return true;
	c->err = fail(c->p, AG_ERR_CONFIG, c->line,
		      "%s %s: also the name of a group of [roles] or primary_group; a user may not take a group's name",
		      c->what, name);
	return false;
}

/* Names given to users (users by exact name, [uids]) are never group names. */
static enum ag_err check_user_names(struct parser *p)
{
	const struct ag_config_table *uids = ag_config_table(p->cfg, "uids");
	struct user_group_check c = { p, "users:", 0, AG_OK };

	for (size_t k = 0; k < N_KEYS; k++)
		if (strcmp(key_specs[k].name, "users") == 0)
			c.line = p->seen_line[k];
	ag_name_list_each(p->cfg->users, user_not_group, &c);
	c.what = "[uids]";
	for (size_t i = 0; uids && i < uids->n_entries && c.err == AG_OK; i++) {
		c.line = uids->entries[i].line;
		user_not_group(uids->entries[i].key, &c);
	}
	return c.err;
}

static enum ag_err apply_defaults(struct parser *p)
{
	for (size_t k = 0; k < N_KEYS; k++) {
		const struct key_spec *spec = &key_specs[k];
		char *field = (char *)p->cfg + spec->offset;

		if (p->seen_line[k])
			continue;
		if (spec->required)
			return fail(p, AG_ERR_CONFIG, 0, "required key '%s' is missing", spec->name);
		switch (spec->type) {
		case KEY_SECONDS:
		case KEY_NUMBER:
			*(long *)(void *)field = spec->default_num;
			break;
		case KEY_BOOL:
			*(bool *)(void *)field = spec->default_num != 0;
			break;
		default:
			if (spec->default_str) {
				char **slot = (char **)(void *)field;
				*slot = strdup(spec->default_str);
				if (!*slot)
					return fail(p, AG_ERR_NOMEM, 0, "out of memory");
			}
		}
	}
	/* Only the password method redirects (authorize, consent, code
	 * exchange); a device-only configuration has nothing to register. */
	if (!p->cfg->redirect_uri && ag_config_has_method(p->cfg, "password"))
		return fail(p, AG_ERR_CONFIG, 0, "required key 'redirect_uri' is missing (methods include password)");
	return AG_OK;
}

enum ag_err ag_config_parse(const char *name, const char *buf, size_t len,
			    enum ag_config_mode mode, const struct ag_log *log,
			    struct ag_config **out, char *why, size_t why_len)
{
	struct parser p = { .name = name, .mode = mode, .log = log, .why = why, .why_len = why_len };
	enum ag_err err = AG_OK;
	unsigned line = 0;
	size_t pos = 0;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	if (len > AG_CONFIG_FILE_MAX)
		return fail(&p, AG_ERR_CONFIG, 0, "file larger than %d bytes", AG_CONFIG_FILE_MAX);
	p.cfg = calloc(1, sizeof *p.cfg);
	if (!p.cfg)
		return fail(&p, AG_ERR_NOMEM, 0, "out of memory");
	while (pos < len && err == AG_OK) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		line++;
		if (n > AG_CONFIG_LINE_MAX)
			err = fail(&p, AG_ERR_CONFIG, line, "line longer than %d bytes", AG_CONFIG_LINE_MAX);
		else if (memchr(s, '\0', n))
			err = fail(&p, AG_ERR_CONFIG, line, "NUL byte in line");
		else
			err = handle_line(&p, s, n, line);
		pos += n + (nl ? 1 : 0);
	}
	if (err == AG_OK)
		err = apply_defaults(&p);
	if (err == AG_OK)
		err = check_user_names(&p);
	if (err == AG_OK && name) {
		p.cfg->path = strdup(name);
		if (!p.cfg->path)
			err = fail(&p, AG_ERR_NOMEM, 0, "out of memory");
	}
	ag_idset_free(&p.pinned);
	free(p.keys);
	if (err != AG_OK) {
		ag_config_free(p.cfg);
		return err;
	}
	*out = p.cfg;
	return AG_OK;
}

enum ag_err ag_config_load(const char *path, enum ag_config_mode mode,
			   const struct ag_log *log, struct ag_config **out,
			   char *why, size_t why_len)
{
	struct parser p = { .name = path, .mode = mode, .log = log, .why = why, .why_len = why_len };
	char reason[256];
	enum ag_err err;
	char *buf;
	size_t len = 0;

	*out = NULL;
	if (why && why_len)
		why[0] = '\0';
	if (!path || path[0] != '/')
		return fail(&p, AG_ERR_CONFIG, 0, "configuration path must be absolute");
	err = ag_file_read_root(path, AG_CONFIG_FILE_MAX, &buf, &len, reason, sizeof reason);
	if (err == AG_ERR_TOO_LARGE)
		err = AG_ERR_CONFIG;
	else if (err == AG_ERR_NOT_FOUND)
		err = AG_ERR_NOT_CONFIGURED; /* no file: this host does not use Authgear */
	if (err != AG_OK)
		return fail(&p, err, 0, "%s", reason);
	err = ag_config_parse(path, buf, len, mode, log, out, why, why_len);
	free(buf);
	return err;
}

void ag_config_free(struct ag_config *cfg)
{
	if (!cfg)
		return;
	for (size_t k = 0; k < N_KEYS; k++) {
		if (key_specs[k].type == KEY_SECONDS || key_specs[k].type == KEY_NUMBER || key_specs[k].type == KEY_BOOL)
			continue;
		free(*(char **)(void *)((char *)cfg + key_specs[k].offset));
	}
	for (size_t i = 0; i < cfg->n_tables; i++) {
		struct ag_config_table *t = &cfg->tables[i];
		for (size_t j = 0; j < t->n_entries; j++) {
			free(t->entries[j].key);
			free(t->entries[j].value);
		}
		free(t->entries);
		free(t->name);
	}
	free(cfg->tables);
	free(cfg->path);
	free(cfg);
}

const struct ag_config_table *ag_config_table(const struct ag_config *cfg, const char *name)
{
	for (size_t i = 0; cfg && i < cfg->n_tables; i++)
		if (strcmp(cfg->tables[i].name, name) == 0)
			return &cfg->tables[i];
	return NULL;
}

/* (The parser keeps only [roles] values of valid names, so ag_name_listed's
 * refusal of an invalid name refuses nothing a value could hold.) */
bool ag_config_grants(const struct ag_config *cfg, const char *group)
{
	const struct ag_config_table *t = ag_config_table(cfg, "roles");

	for (size_t i = 0; t && i < t->n_entries; i++)
		if (ag_name_listed(t->entries[i].value, group))
			return true;
	return false;
}

bool ag_config_group_name(const struct ag_config *cfg, const char *name)
{
	return ag_config_grants(cfg, name) || (cfg->primary_group && strcmp(cfg->primary_group, name) == 0);
}

const char *ag_config_key_name(size_t i)
{
	return i < N_KEYS ? key_specs[i].name : NULL;
}

const char *ag_config_key_default(size_t i, char *buf, size_t len)
{
	const struct key_spec *k = i < N_KEYS ? &key_specs[i] : NULL;

	if (!k || len == 0)
		return NULL;
	if (k->type == KEY_BOOL)
		snprintf(buf, len, "%s", k->default_num ? "yes" : "no");
	else if (k->type == KEY_SECONDS || k->type == KEY_NUMBER)
		snprintf(buf, len, "%ld", k->default_num);
	else
		snprintf(buf, len, "%s", k->default_str ? k->default_str : "");
	return buf;
}

bool ag_config_has_method(const struct ag_config *cfg, const char *method)
{
	const char *cur = cfg->methods, *w;
	size_t n;

	while ((w = ag_list_next(&cur, &n)))
		if (n == strlen(method) && strncmp(w, method, n) == 0)
			return true;
	return false;
}

static bool amr_has(char *const *amr, size_t n, const char *value, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(amr[i]) == len && strncmp(amr[i], value, len) == 0)
			return true;
	return false;
}

bool ag_config_amr_proves_mfa(const struct ag_config *cfg, char *const *amr, size_t n)
{
	const char *cur = cfg->mfa_amr, *w;
	size_t len;

	while ((w = ag_list_next(&cur, &len))) {
		bool all = true;

		for (size_t i = 0; i < len && all;) {
			size_t k = i;

			while (k < len && w[k] != '+')
				k++;
			all = amr_has(amr, n, w + i, k - i);
			i = k + 1;
		}
		if (all)
			return true;
	}
	return false;
}

const char *ag_config_table_get(const struct ag_config_table *table, const char *key)
{
	for (size_t i = 0; table && i < table->n_entries; i++)
		if (strcmp(table->entries[i].key, key) == 0)
			return table->entries[i].value;
	return NULL;
}
