/* The configuration file /etc/authgear/pam_authgear.conf.
 *
 * Format: "key = value" lines, whole-line comments starting with '#' or ';',
 * and "[section]" lines that open a table of free-form "key = value" entries
 * (e.g. [roles] maps Authgear role keys to Unix groups). Keys before the first
 * section are the global settings listed in conf.c. No quoting, no inline
 * comments, no continuation lines: a value is the rest of the line, trimmed.
 *
 * The file must be a regular file owned by root and not writable by group or
 * others; errors name FILE:LINE and the key.
 */
#ifndef AG_CONF_H
#define AG_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "base/log.h"

#define AG_CONFIG_DEFAULT_PATH "/etc/authgear/pam_authgear.conf"
#define AG_CONFIG_LINE_MAX 4096          /* bytes per line, newline excluded */
#define AG_CONFIG_FILE_MAX (1024 * 1024) /* bytes per file */
/* RFC 8176 §2 as mfa_amr: "mfa", or a knowledge factor (pwd) with a
 * possession factor (otp, hwk, swk, sms). */
#define AG_MFA_AMR_DEFAULT "mfa, pwd+otp, pwd+hwk, pwd+swk, pwd+sms"

struct ag_config_entry {
	char *key;
	char *value;
	unsigned line;
};

struct ag_config_table {
	char *name;
	unsigned line;
	struct ag_config_entry *entries;
	size_t n_entries;
};

struct ag_config {
	char *path;
	/* global settings; strings are NULL when unset and without a default */
	char *issuer;
	char *client_id;
	char *redirect_uri;
	char *scopes;
	char *ca_file;
	char *state_dir;
	char *proxy;           /* NULL: no proxy (the environment's is never used) */
	char *allowed_algs;    /* JWS algorithms, comma or space separated */
	char *client_secret_file;
	long connect_timeout;  /* seconds */
	long timeout;          /* seconds, whole request */
	long login_timeout;    /* seconds, one PAM call's login as a whole (its lock waits and requests) */
	long leeway;           /* seconds of clock skew allowed in token times */
	long cache_ttl;        /* seconds discovery and JWKS stay cached */
	bool insecure_loopback_for_tests;
	bool debug;
	/* whose login is it, and how it is done (password + TOTP) */
	char *users;           /* allow-list: names and fnmatch patterns; NULL: none */
	char *login_id;        /* template of the Authgear login ID, %u = Unix name */
	char *login_id_type;   /* "username", "email" or "phone" */
	char *flow_name;       /* Authentication Flow name, "default" */
	long max_age;          /* seconds, -1 = not sent */
	bool require_mfa;
	char *require_roles;   /* role keys; NULL: no role required */
	bool reveal_unknown_users;
	bool terminate_other_sessions; /* confirm Authgear's terminate_other_sessions step */
	long max_attempts_per_minute;
	/* the account check (login/account.c) */
	char *account_check;   /* "refresh", "resolver" or "jwt" */
	char *resolver_url;    /* NULL: <issuer>/_resolver/resolve */
	long account_check_cache; /* seconds a successful check is reused */
	long offline_grace;    /* hours; 0: an unreachable Authgear denies */
	char *account_check_without_token; /* "deny" or "allow" */
	char *token_key_file;  /* seals the token cache's tokens (tokens.h); NULL: stored plain */
	bool revoke_on_logout; /* the last session's close revokes the refresh token (session.h) */
	/* sudo reauthentication (module argument reauth, login/reauth.c) */
	char *reauth_with;     /* "code", "password", "full" or "device" */
	long reauth_max_age;   /* seconds the reauthentication's auth_time may be old */
	/* device-code login (RFC 8628) */
	char *methods;         /* "password", "device" or both, comma separated */
	char *device_scopes;   /* scopes of the device authorization request */
	bool qr;               /* draw the QR code of the verification URI */
	bool qr_invert;        /* characters draw the light modules (dark terminals) */
	long device_max_wait;  /* seconds, below sshd's LoginGraceTime */
	char *username_claim;  /* userinfo claim that must name the Unix account */
	char *device_from;     /* console and/or address ranges of PAM_RHOST; NULL: anywhere */
	char *mfa_amr;         /* amr combinations proving a second factor (device logins): "mfa, pwd+otp" */
	/* accounts: the Unix side of Authgear users (identity.c) */
	char *uid_range;       /* "MIN-MAX" UIDs and GIDs are hashed into */
	char *home;            /* home directory template, %u = Unix name */
	char *shell;
	char *primary_group;   /* shared primary group; NULL: user-private groups */
	/* tables, in file order */
	struct ag_config_table *tables;
	size_t n_tables;
	/* unknown keys and sections skipped in lenient mode */
	unsigned n_ignored;
};

enum ag_config_mode {
	AG_CONFIG_STRICT,  /* unknown keys and sections are errors (authgear-pam check) */
	AG_CONFIG_LENIENT, /* unknown keys and sections are logged and ignored (module) */
};

/* Load and validate a configuration file. On failure *out is NULL, the
 * reason (FILE:LINE: ...) is logged and, when why is not NULL, copied there.
 * A missing file is AG_ERR_NOT_CONFIGURED; unsafe owner or mode is
 * AG_ERR_CONFIG_PERM; anything else wrong is AG_ERR_CONFIG. */
enum ag_err ag_config_load(const char *path, enum ag_config_mode mode,
			   const struct ag_log *log, struct ag_config **out,
			   char *why, size_t why_len);

/* Parse a configuration from memory without any file checks (tests, fuzzing).
 * name is used in messages in place of the file name. */
enum ag_err ag_config_parse(const char *name, const char *buf, size_t len,
			    enum ag_config_mode mode, const struct ag_log *log,
			    struct ag_config **out, char *why, size_t why_len);

void ag_config_free(struct ag_config *cfg);

/* The table opened by "[name]", or NULL when the file has none. */
const struct ag_config_table *ag_config_table(const struct ag_config *cfg, const char *name);
/* The value of key in a table, or NULL. */
const char *ag_config_table_get(const struct ag_config_table *table, const char *key);

/* Whether methods (password, device) lists method. */
bool ag_config_has_method(const struct ag_config *cfg, const char *method);

/* Whether [roles] can grant group. */
bool ag_config_grants(const struct ag_config *cfg, const char *group);

/* Whether name is a group of [roles] or primary_group: never a user's name
 * (a user named like a group would give its private group the group's
 * name, which sudo's %group rules and sshd's AllowGroups match). */
bool ag_config_group_name(const struct ag_config *cfg, const char *name);
/* mfa_amr: whether amr (n values) holds every value of at least one of the
 * configured combinations ("mfa, pwd+otp": "mfa" alone, or both "pwd" and
 * "otp"). */
bool ag_config_amr_proves_mfa(const struct ag_config *cfg, char *const *amr, size_t n);

/* Name of the i-th global key the parser knows; NULL past the last one. */
const char *ag_config_key_name(size_t i);

/* Its default as a configuration file would write it ("yes", "15",
 * "/home/%u"), "" when it has none (required, or unset); in buf. */
const char *ag_config_key_default(size_t i, char *buf, size_t len);

#endif
