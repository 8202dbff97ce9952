/* HTTPS client on libcurl.
 *
 * One ag_http per PAM transaction: its easy handle is reused, so every request
 * of a login shares one TLS connection when the server keeps it alive.
 * HTTPS only (plain http only for a loopback URL and only when the caller
 * allows it for tests), TLS >= 1.2 (1.3 preferred: one round trip less), peer and host verified, connect and total
 * timeouts, an explicit proxy (the environment's is never used), a cap on the
 * body and on the headers, and no automatic redirects: a step that needs a
 * Location reads it from the response.
 */
#ifndef AG_HTTP_H
#define AG_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/log.h"

#define AG_HTTP_BODY_MAX (1024 * 1024)  /* bytes of one response body */
#define AG_HTTP_HEADERS_MAX (64 * 1024) /* bytes of all response headers */

struct ag_http_opts {
	const char *ca_file;           /* NULL: the system's CAs */
	const char *proxy;             /* NULL: no proxy */
	long connect_timeout;          /* seconds */
	long timeout;                  /* seconds, whole request */
	long login_timeout;            /* seconds from ag_http_new for all requests together; 0: none */
	/* with login_timeout: the deadline's end (CLOCK_MONOTONIC) instead of
	 * login_timeout from ag_http_new, so the caller's other waits (the
	 * store's lock) and the requests draw from one deadline; NULL: none */
	const struct timespec *deadline;
	bool insecure_loopback;        /* allow http:// to 127.0.0.0/8, [::1], localhost */
};

struct ag_http_response {
	long status;
	char *body;                    /* NUL-terminated; may hold tokens: cleared with wiping */
	size_t body_len;
	char *location;                /* Location header, or NULL */
	char *content_type;            /* Content-Type header, or NULL */
	time_t date;                   /* Date header, or 0 */
	char *x_authgear;              /* the X-Authgear-* header lines as received, or NULL */
};

struct ag_http;

/* Whether libcurl can be used, loading it the first time (once per
 * process); when it cannot, the reason is logged to log (if not NULL) and
 * returned (AG_ERR_CONFIG: not installed). ag_http_new asks it too; a login
 * asks it before its first prompt. */
enum ag_err ag_http_ready(const struct ag_log *log);

enum ag_err ag_http_new(const struct ag_http_opts *opts, const struct ag_log *log, struct ag_http **out);
void ag_http_free(struct ag_http *http);

/* The transport seam: with one set, every request that passes the URL rules
 * goes to request() instead of libcurl (counted the same way). request
 * fills resp (status, body from malloc, NUL-terminated; location and
 * content_type from malloc or NULL) and returns AG_OK, or the transport
 * error it simulates. For unit tests of protocol code without a server; the
 * real-server tests stay. NULL restores libcurl. */
struct ag_http_transport {
	enum ag_err (*request)(void *ctx, const char *method, const char *url, const char *content_type,
			       const char *body, const char *bearer, struct ag_http_response *resp);
	void *ctx;
};
void ag_http_set_transport(struct ag_http *http, const struct ag_http_transport *t);

/* The URL is refused unless it is https:// (or http:// to loopback when
 * allowed). AG_OK means a complete response of any status arrived. */
enum ag_err ag_http_get(struct ag_http *http, const char *url, const char *bearer,
			struct ag_http_response *resp);
/* POST with Content-Type application/x-www-form-urlencoded or application/json. */
enum ag_err ag_http_post_form(struct ag_http *http, const char *url, const char *body,
			      struct ag_http_response *resp);
enum ag_err ag_http_post_json(struct ag_http *http, const char *url, const char *body,
			      struct ag_http_response *resp);

/* AG_ERR_SERVER for a 5xx, AG_ERR_RATE_LIMITED for 429 (logged), else AG_OK. */
enum ag_err ag_http_status_error(const struct ag_http_response *resp, const struct ag_log *log, const char *what);

/* The response as a JSON object: status 200, a JSON content type
 * (application/json or any +json type), and a body that parses. A 5xx is
 * AG_ERR_SERVER, 429 AG_ERR_RATE_LIMITED, anything else AG_ERR_PROTOCOL.
 * what names the document in the log. */
enum ag_err ag_http_json(const struct ag_http_response *resp, const struct ag_log *log, const char *what,
			 json_t **out);

/* The target of a redirect response: status 301/302/303/307/308 with a
 * Location that is client_uri (the client's redirect_uri, itself or with a
 * query: never fetched, so any scheme; may be NULL) or else passes the
 * client's URL rules (https only). Points into resp. */
enum ag_err ag_http_redirect_target(const struct ag_http *http, const struct ag_http_response *resp,
				    const char *client_uri, const char **url);
/* The error for a response a step did not expect: AG_ERR_SERVER for a 5xx
 * (the issuer's trouble), else AG_ERR_PROTOCOL. */
enum ag_err ag_http_unexpected(long status);

/* Whether url is client_uri itself or client_uri?query. */
bool ag_http_url_is_client(const char *url, const char *client_uri);

/* The query string of url (without '?'), or NULL; caller frees. */
char *ag_http_query(const char *url);
/* The decoded value of the first name=value in url's query; AG_OK with *value
 * NULL when absent. Caller frees (wipes: it may be a code). */
enum ag_err ag_http_query_param(const char *url, const char *name, char **value);

/* Milliseconds left of login_timeout (LONG_MAX without one; 0 when it has
 * passed): a wait between requests (device polling) ends with it. */
long ag_http_remaining_ms(const struct ag_http *http);
/* Milliseconds from now (CLOCK_MONOTONIC) to deadline; 0 when it has passed. */
long ag_http_ms_until(const struct timespec *deadline);

/* The value of resp's X-Authgear-* header name (compared without case):
 * AG_OK with *value NULL when absent, AG_ERR_PROTOCOL when it came twice
 * (nothing to choose between). Caller frees. */
enum ag_err ag_http_authgear_header(const struct ag_http_response *resp, const char *name, char **value);

/* Wipe and free the response's contents. */
void ag_http_response_clear(struct ag_http_response *resp);

/* The URL without query and fragment, for log lines (queries may hold codes). */
void ag_http_url_for_log(const char *url, char *out, size_t out_len);

/* Check a URL against the client's scheme rules without sending anything. */
enum ag_err ag_http_check_url(const struct ag_http *http, const char *url);

/* Percent-encode s for a query string or form body; NULL on failure. */
char *ag_http_escape(struct ag_http *http, const char *s);

/* Append name=escaped(value) to a form body or query in b, after sep when
 * b already holds a parameter ("&"); the escaped copy is wiped (values may
 * be secrets). A failure leaves b failed. */
void ag_http_add_param(struct ag_http *http, struct ag_buf *b, const char *sep, const char *name,
		       const char *value);

/* How many connections the handle opened, and requests it sent, so far. */
long ag_http_connections(const struct ag_http *http);
long ag_http_requests(const struct ag_http *http);
/* Milliseconds spent inside requests so far (waiting on the network). */
double ag_http_wait_ms(const struct ag_http *http);

/* Make the request in flight, and every later one, stop early (as
 * AG_ERR_CONV: nobody is waiting for it) once *cancel is true. For a handle
 * another thread drives (login/prewarm.c); the flag outlives the handle's
 * use. NULL: no such flag. */
void ag_http_set_cancel(struct ag_http *http, const atomic_bool *cancel);

#endif
