/* HTTPS client on libcurl (see http.h), loaded when the first handle is
 * made (base/dl.h). */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/dl.h"
#include "base/http.h"
#include "base/json.h"
#include "base/ossl.h"
#include "base/secret.h"

#define USER_AGENT "pam_authgear/" PACKAGE_VERSION

/* The libcurl of libcurl4-openssl-dev, the one configure checked. */
#define CURL_SONAME "libcurl.so.4"
#define CURL_PACKAGE "libcurl4"

struct ag_http {
	CURL *curl;
	const struct ag_log *log;
	bool insecure_loopback;
	long connect_timeout_ms, timeout_ms; /* per request, cut to what is left of the deadline */
	long login_timeout;                  /* seconds, 0: no deadline */
	struct timespec deadline;            /* CLOCK_MONOTONIC */
	long connections;
	long requests;
	double wait_ms;                     /* time inside perform() */
	const atomic_bool *cancel;          /* NULL: never cancelled */
	char errbuf[CURL_ERROR_SIZE];
	/* the response being received */
	struct ag_http_transport transport; /* request NULL: libcurl */
	struct ag_http_response *resp;
	struct ag_buf body; /* its body, handed to resp at the end */
	size_t header_bytes;
	bool body_over;
	bool headers_over;
};

/* Every libcurl function this file calls, through the table: none is
 * linked, so the module's DT_NEEDED has no libcurl (tests/test_symbols.sh). */
static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_escape) *easy_escape;
	__typeof__(curl_easy_unescape) *easy_unescape;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_url) *url;
	__typeof__(curl_url_set) *url_set;
	__typeof__(curl_url_get) *url_get;
	__typeof__(curl_url_cleanup) *url_cleanup;
	__typeof__(curl_free) *free;
	__typeof__(curl_getdate) *getdate;
} lc;

static const struct ag_dl_sym lc_syms[] = {
	AG_DL_SYM(lc, global_init, curl_global_init),
	AG_DL_SYM(lc, easy_init, curl_easy_init),
	AG_DL_SYM(lc, easy_setopt, curl_easy_setopt),
	AG_DL_SYM(lc, easy_perform, curl_easy_perform),
	AG_DL_SYM(lc, easy_getinfo, curl_easy_getinfo),
	AG_DL_SYM(lc, easy_cleanup, curl_easy_cleanup),
	AG_DL_SYM(lc, easy_strerror, curl_easy_strerror),
	AG_DL_SYM(lc, easy_escape, curl_easy_escape),
	AG_DL_SYM(lc, easy_unescape, curl_easy_unescape),
	AG_DL_SYM(lc, slist_append, curl_slist_append),
	AG_DL_SYM(lc, slist_free_all, curl_slist_free_all),
	AG_DL_SYM(lc, url, curl_url),
	AG_DL_SYM(lc, url_set, curl_url_set),
	AG_DL_SYM(lc, url_get, curl_url_get),
	AG_DL_SYM(lc, url_cleanup, curl_url_cleanup),
	AG_DL_SYM(lc, free, curl_free),
	AG_DL_SYM(lc, getdate, curl_getdate),
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static enum ag_err global_err = AG_ERR_UNSUPPORTED;
static char global_why[AG_DL_WHY_MAX];

/* libcurl loaded and initialised, once per process (curl_global_init is
 * not thread-safe before 7.84: the once makes it so). libcrypto first:
 * every request's answer is verified with it, and ag_ossl() cannot fail
 * gently, so a login learns here, before any prompt, that it is missing. */
static void global_init(void)
{
	CURLcode rc;

	global_err = ag_ossl_load(global_why, sizeof global_why);
	if (global_err != AG_OK)
		return;
	global_err = ag_dl_load(CURL_SONAME, CURL_PACKAGE, lc_syms, sizeof lc_syms / sizeof *lc_syms, global_why,
				sizeof global_why);
	if (global_err != AG_OK)
		return;
	rc = lc.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(global_why, sizeof global_why, "curl_global_init failed: %s", lc.easy_strerror(rc));
		global_err = AG_ERR_NETWORK;
	}
}

enum ag_err ag_http_ready(const struct ag_log *log)
{
	pthread_once(&global_once, global_init);
	if (global_err != AG_OK && log)
		ag_log(log, LOG_ERR, "http: %s; no request can be made", global_why);
	return global_err;
}

void ag_http_url_for_log(const char *url, char *out, size_t out_len)
{
	size_t n = strcspn(url, "?#");

	if (!out_len)
		return;
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, url, n);
	out[n] = '\0';
}

static bool is_loopback_host(const char *host)
{
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return true;
	return strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == strlen(host);
}

enum ag_err ag_http_check_url(const struct ag_http *http, const char *url)
{
	char *scheme = NULL, *host = NULL, shown[256];
	enum ag_err err = AG_ERR_PROTOCOL;
	CURLU *u = lc.url();

	ag_http_url_for_log(url, shown, sizeof shown);
	if (!u)
		return AG_ERR_NOMEM;
	if (lc.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    lc.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    lc.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		ag_log(http->log, LOG_ERR, "http: %s: not a valid URL", shown);
		goto out;
	}
	if (strcmp(scheme, "https") == 0) {
		err = AG_OK;
	} else if (strcmp(scheme, "http") == 0 && http->insecure_loopback && is_loopback_host(host)) {
		err = AG_OK;
	} else {
		ag_log(http->log, LOG_ERR, "http: %s: refused, only https is allowed%s", shown,
		       strcmp(scheme, "http") == 0 ? " (plain http only to loopback with insecure_loopback_for_tests)"
						   : "");
	}
out:
	lc.free(scheme);
	lc.free(host);
	lc.url_cleanup(u);
	return err;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct ag_http *http = userp;
	size_t n = size * nmemb;

	if (ag_buf_append(&http->body, data, n))
		return n;
	http->body_over = n > AG_HTTP_BODY_MAX || http->body.len > AG_HTTP_BODY_MAX - n;
	return 0; /* curl stops the transfer */
}

/* The value of "Name: value\r\n" when line starts with name, else NULL. */
static char *header_value(const char *line, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *v, *end = line + len;

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
		return NULL;
	v = line + nlen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return strndup(v, (size_t)(end - v));
}

static void replace(char **slot, char *value)
{
	if (!value)
		return;
	free(*slot);
	*slot = value;
}

/* Append a header line to *lines (NUL-terminated); false when out of memory. */
static bool keep_line(char **lines, const char *data, size_t n)
{
	size_t have = *lines ? strlen(*lines) : 0;
	char *p = realloc(*lines, have + n + 1);

	if (!p)
		return false;
	memcpy(p + have, data, n);
	p[have + n] = '\0';
	*lines = p;
	return true;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct ag_http *http = userp;
	struct ag_http_response *r = http->resp;
	size_t n = size * nmemb;
	char *date;

	http->header_bytes += n;
	if (http->header_bytes > AG_HTTP_HEADERS_MAX) {
		http->headers_over = true;
		return 0;
	}
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 1xx): forget the previous one's headers */
		free(r->location);
		free(r->content_type);
		free(r->x_authgear);
		r->location = r->content_type = r->x_authgear = NULL;
		r->date = 0;
		return n;
	}
	if (n > 11 && strncasecmp(data, "X-Authgear-", 11) == 0 && !keep_line(&r->x_authgear, data, n))
		return 0;
	replace(&r->location, header_value(data, n, "Location"));
	replace(&r->content_type, header_value(data, n, "Content-Type"));
	date = header_value(data, n, "Date");
	if (date) {
		time_t t = lc.getdate(date, NULL);
		r->date = t > 0 ? t : 0;
		free(date);
	}
	return n;
}

/* libcurl calls this about once a second and on every transfer event;
 * non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct ag_http *http = userp;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return http->cancel && atomic_load(http->cancel);
}

enum ag_err ag_http_new(const struct ag_http_opts *opts, const struct ag_log *log, struct ag_http **out)
{
	struct ag_http *http;
	CURL *c;
	bool ok = true;
	enum ag_err err;

	*out = NULL;
	if ((err = ag_http_ready(log)) != AG_OK)
		return err;
	http = calloc(1, sizeof *http);
	if (!http)
		return AG_ERR_NOMEM;
	http->log = log;
	http->insecure_loopback = opts->insecure_loopback;
	http->connect_timeout_ms = opts->connect_timeout * 1000;
	http->timeout_ms = opts->timeout * 1000;
	http->login_timeout = opts->login_timeout;
	if (opts->deadline) {
		http->deadline = *opts->deadline;
	} else {
		clock_gettime(CLOCK_MONOTONIC, &http->deadline);
		http->deadline.tv_sec += opts->login_timeout;
	}
	c = http->curl = lc.easy_init();
	if (!c) {
		free(http);
		return AG_ERR_NOMEM;
	}
	ok &= lc.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_PROTOCOLS_STR, opts->insecure_loopback ? "https,http" : "https") == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	/* TLS 1.2 at least; the highest both sides speak (1.3: a one-round-trip
	 * handshake, where 1.2 takes two). */
	ok &= lc.easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_DEFAULT)) ==
	      CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	if (opts->ca_file)
		ok &= lc.easy_setopt(c, CURLOPT_CAINFO, opts->ca_file) == CURLE_OK;
	/* "" disables proxies, including the environment's https_proxy. */
	ok &= lc.easy_setopt(c, CURLOPT_PROXY, opts->proxy ? opts->proxy : "") == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)AG_HTTP_BODY_MAX) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_ERRORBUFFER, http->errbuf) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_WRITEDATA, http) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_HEADERDATA, http) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK;
	ok &= lc.easy_setopt(c, CURLOPT_XFERINFODATA, http) == CURLE_OK;
	if (!ok) {
		ag_log(log, LOG_ERR, "http: libcurl lacks a required option (needs >= 7.85 with OpenSSL)");
		ag_http_free(http);
		return AG_ERR_UNSUPPORTED;
	}
	*out = http;
	return AG_OK;
}

void ag_http_set_transport(struct ag_http *http, const struct ag_http_transport *t)
{
	if (t)
		http->transport = *t;
	else
		memset(&http->transport, 0, sizeof http->transport);
}

void ag_http_set_cancel(struct ag_http *http, const atomic_bool *cancel)
{
	http->cancel = cancel;
	/* the progress callback runs only with NOPROGRESS off */
	lc.easy_setopt(http->curl, CURLOPT_NOPROGRESS, cancel ? 0L : 1L);
}

void ag_http_free(struct ag_http *http)
{
	if (!http)
		return;
	lc.easy_cleanup(http->curl);
	free(http);
}

void ag_http_response_clear(struct ag_http_response *resp)
{
	if (!resp)
		return;
	if (resp->body)
		ag_free_secret_n(resp->body, resp->body_len + 1);
	free(resp->location);
	free(resp->content_type);
	free(resp->x_authgear);
	memset(resp, 0, sizeof *resp);
}

enum ag_err ag_http_authgear_header(const struct ag_http_response *resp, const char *name, char **value)
{
	const char *line = resp->x_authgear;

	*value = NULL;
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line + 1) : strlen(line);
		char *v = header_value(line, len, name);

		if (v && *value) {
			free(v);
			free(*value);
			*value = NULL;
			return AG_ERR_PROTOCOL;
		}
		if (v)
			*value = v;
		line += len;
	}
	return AG_OK;
}

static enum ag_err map_curl_error(CURLcode rc, const struct ag_http *http)
{
	if (http->body_over || http->headers_over || rc == CURLE_FILESIZE_EXCEEDED)
		return AG_ERR_TOO_LARGE;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return AG_ERR_TIMEOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return AG_ERR_CONV; /* cancelled: the person's answer did not come */
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return AG_ERR_TLS;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return AG_ERR_PROTOCOL;
	case CURLE_OUT_OF_MEMORY:
		return AG_ERR_NOMEM;
	default:
		return AG_ERR_NETWORK;
	}
}

/* Free a header list after wiping it (it may hold a bearer token). */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		ag_wipe(p->data, strlen(p->data));
	lc.slist_free_all(h);
}

static bool add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *h = lc.slist_append(*list, line);

	if (!h)
		return false;
	*list = h;
	return true;
}

long ag_http_ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (long)ms : 0;
}

long ag_http_remaining_ms(const struct ag_http *http)
{
	return http->login_timeout ? ag_http_ms_until(&http->deadline) : LONG_MAX;
}

static long min_ms(long a, long b)
{
	return a < b ? a : b;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The URL rules and the deadline before a request: the milliseconds left
 * of login_timeout in *left. */
static enum ag_err may_send(struct ag_http *http, const char *method, const char *url, const char *shown, long *left)
{
	enum ag_err err = ag_http_check_url(http, url);

	if (err != AG_OK)
		return err;
	/* One deadline for the whole PAM call (login_timeout): each request gets
	 * its own timeouts or what is left, whichever is shorter, so a slow
	 * issuer cannot hold the call past sshd's LoginGraceTime. */
	*left = ag_http_remaining_ms(http);
	if (*left < 1) {
		ag_log(http->log, LOG_ERR, "http: %s %s: login_timeout (%ld s) reached; no request made", method, shown,
		       http->login_timeout);
		return AG_ERR_TIMEOUT;
	}
	return AG_OK;
}

/* The request's headers; the line with the bearer token is wiped. */
static enum ag_err request_headers(const struct ag_http *http, const char *shown, const char *content_type,
				   const char *bearer, struct curl_slist **out)
{
	struct curl_slist *headers = NULL;
	char line[4096];
	bool ok;

	*out = NULL;
	ok = add_header(&headers, "Accept: application/json") && add_header(&headers, "Expect:");
	if (ok && content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", content_type);
		ok = add_header(&headers, line);
	}
	if (ok && bearer) {
		if ((size_t)snprintf(line, sizeof line, "Authorization: Bearer %s", bearer) >= sizeof line) {
			ag_wipe(line, sizeof line);
			free_headers(headers);
			ag_log(http->log, LOG_ERR, "http: %s: bearer token too long", shown);
			return AG_ERR_TOO_LARGE;
		}
		ok = add_header(&headers, line);
		ag_wipe(line, sizeof line);
	}
	if (!ok) {
		free_headers(headers);
		return AG_ERR_NOMEM;
	}
	*out = headers;
	return AG_OK;
}

/* One transfer on the easy handle: the callbacks fill resp's headers and
 * http->body, handed to resp->body when the transfer completed. The
 * handle forgets headers and body afterwards (they point into the caller's
 * memory). */
static CURLcode transfer(struct ag_http *http, const char *url, struct curl_slist *headers, const char *body,
			 struct ag_http_response *resp)
{
	CURL *c = http->curl;
	long n_conn = 0;
	CURLcode rc;

	http->resp = resp;
	http->body = (struct ag_buf)AG_BUF_INIT(AG_HTTP_BODY_MAX);
	http->header_bytes = 0;
	http->body_over = http->headers_over = false;
	http->errbuf[0] = '\0';
	lc.easy_setopt(c, CURLOPT_URL, url);
	lc.easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (body) {
		lc.easy_setopt(c, CURLOPT_POSTFIELDS, body);
		lc.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else {
		lc.easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	http->requests++;
	rc = lc.easy_perform(c);
	lc.easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	lc.easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	http->resp = NULL;
	resp->body = rc == CURLE_OK ? ag_buf_steal(&http->body, &resp->body_len) : NULL;
	ag_buf_free(&http->body);
	if (lc.easy_getinfo(c, CURLINFO_NUM_CONNECTS, &n_conn) == CURLE_OK)
		http->connections += n_conn;
	if (rc == CURLE_OK)
		lc.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	return rc;
}

/* The error of a failed transfer, logged the way its cause deserves. */
static enum ag_err transfer_failed(const struct ag_http *http, CURLcode rc, const char *method, const char *shown)
{
	enum ag_err err = map_curl_error(rc, http);

	if (err == AG_ERR_TIMEOUT && ag_http_remaining_ms(http) < 1)
		ag_log(http->log, LOG_ERR, "http: %s %s: cut at login_timeout (%ld s)", method, shown,
		       http->login_timeout);
	else if (err == AG_ERR_TOO_LARGE)
		ag_log(http->log, LOG_ERR, "http: %s %s: response over the %s limit", method, shown,
		       http->headers_over ? "header" : "body");
	else if (err == AG_ERR_CONV)
		ag_log(http->log, LOG_DEBUG, "http: %s %s: cancelled (nobody waits for it)", method, shown);
	else
		ag_log(http->log, LOG_ERR, "http: %s %s: %s%s%s", method, shown, lc.easy_strerror(rc),
		       http->errbuf[0] ? ": " : "", http->errbuf);
	return err;
}

/* A request through the transport seam (http.h) instead of libcurl. */
static enum ag_err seam_request(struct ag_http *http, const char *method, const char *url, const char *content_type,
				const char *body, const char *bearer, struct ag_http_response *resp)
{
	enum ag_err err;

	http->requests++;
	err = http->transport.request(http->transport.ctx, method, url, content_type, body, bearer, resp);
	if (err == AG_OK && !resp->body)
		err = AG_ERR_NOMEM;
	if (err != AG_OK)
		ag_http_response_clear(resp);
	return err;
}

static enum ag_err perform_once(struct ag_http *http, const char *method, const char *url,
				const char *content_type, const char *body, const char *bearer,
				struct ag_http_response *resp)
{
	struct curl_slist *headers = NULL;
	char shown[512];
	enum ag_err err;
	CURLcode rc;
	long left = 0;

	memset(resp, 0, sizeof *resp);
	ag_http_url_for_log(url, shown, sizeof shown);
	err = may_send(http, method, url, shown, &left);
	if (err != AG_OK)
		return err;
	if (http->transport.request)
		return seam_request(http, method, url, content_type, body, bearer, resp);
	if (lc.easy_setopt(http->curl, CURLOPT_CONNECTTIMEOUT_MS, min_ms(http->connect_timeout_ms, left)) != CURLE_OK ||
	    lc.easy_setopt(http->curl, CURLOPT_TIMEOUT_MS, min_ms(http->timeout_ms, left)) != CURLE_OK)
		return AG_ERR_UNSUPPORTED;
	err = request_headers(http, shown, content_type, bearer, &headers);
	if (err != AG_OK)
		return err;
	rc = transfer(http, url, headers, body, resp);
	free_headers(headers);
	if (rc != CURLE_OK)
		err = transfer_failed(http, rc, method, shown);
	else if (!resp->body)
		err = AG_ERR_NOMEM;
	if (err != AG_OK) {
		ag_http_response_clear(resp);
		return err;
	}
	ag_log(http->log, LOG_DEBUG, "http: %s %s: %ld, %zu bytes", method, shown, resp->status, resp->body_len);
	return AG_OK;
}

/* One request, its time counted as waiting on the network. */
static enum ag_err perform(struct ag_http *http, const char *method, const char *url, const char *content_type,
			   const char *body, const char *bearer, struct ag_http_response *resp)
{
	double t0 = now_ms();
	enum ag_err err;

	if (http->cancel && atomic_load(http->cancel)) {
		memset(resp, 0, sizeof *resp);
		return AG_ERR_CONV;
	}
	err = perform_once(http, method, url, content_type, body, bearer, resp);

	http->wait_ms += now_ms() - t0;
	return err;
}

enum ag_err ag_http_get(struct ag_http *http, const char *url, const char *bearer,
			struct ag_http_response *resp)
{
	return perform(http, "GET", url, NULL, NULL, bearer, resp);
}

enum ag_err ag_http_post_form(struct ag_http *http, const char *url, const char *body,
			      struct ag_http_response *resp)
{
	return perform(http, "POST", url, "application/x-www-form-urlencoded", body, NULL, resp);
}

enum ag_err ag_http_post_json(struct ag_http *http, const char *url, const char *body,
			      struct ag_http_response *resp)
{
	return perform(http, "POST", url, "application/json", body, NULL, resp);
}

char *ag_http_escape(struct ag_http *http, const char *s)
{
	char *e = lc.easy_escape(http->curl, s, 0);
	char *copy;

	if (!e)
		return NULL;
	copy = strdup(e);
	ag_wipe(e, strlen(e));
	lc.free(e);
	return copy;
}

void ag_http_add_param(struct ag_http *http, struct ag_buf *b, const char *sep, const char *name,
		       const char *value)
{
	char *e = ag_http_escape(http, value);

	if (!e) {
		b->failed = true;
		return;
	}
	ag_buf_add(b, sep);
	ag_buf_add(b, name);
	ag_buf_add(b, "=");
	ag_buf_add(b, e);
	ag_free_secret(e);
}

long ag_http_connections(const struct ag_http *http)
{
	return http->connections;
}

long ag_http_requests(const struct ag_http *http)
{
	return http->requests;
}

double ag_http_wait_ms(const struct ag_http *http)
{
	return http->wait_ms;
}

static bool is_json_type(const char *ct)
{
	size_t n;

	if (!ct)
		return false;
	n = strcspn(ct, "; ");
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0 && strncasecmp(ct, "application/", 12) == 0;
}

enum ag_err ag_http_status_error(const struct ag_http_response *resp, const struct ag_log *log, const char *what)
{
	if (resp->status >= 500) {
		ag_log(log, LOG_ERR, "%s: server error %ld", what, resp->status);
		return AG_ERR_SERVER;
	}
	if (resp->status == 429) {
		ag_log(log, LOG_ERR, "%s: rate limited (429)", what);
		return AG_ERR_RATE_LIMITED;
	}
	return AG_OK;
}

enum ag_err ag_http_json(const struct ag_http_response *resp, const struct ag_log *log, const char *what,
			 json_t **out)
{
	enum ag_err err = ag_http_status_error(resp, log, what);

	*out = NULL;
	if (err != AG_OK)
		return err;
	if (resp->status != 200) {
		ag_log(log, LOG_ERR, "%s: unexpected status %ld", what, resp->status);
		return AG_ERR_PROTOCOL;
	}
	if (!is_json_type(resp->content_type)) {
		ag_log(log, LOG_ERR, "%s: content type '%.64s' is not JSON", what,
		       resp->content_type ? resp->content_type : "(none)");
		return AG_ERR_PROTOCOL;
	}
	return ag_json_parse_object(resp->body, resp->body_len, log, what, out);
}

enum ag_err ag_http_unexpected(long status)
{
	return status >= 500 ? AG_ERR_SERVER : AG_ERR_PROTOCOL;
}

bool ag_http_url_is_client(const char *url, const char *client_uri)
{
	size_t n = client_uri ? strlen(client_uri) : 0;

	return n && strncmp(url, client_uri, n) == 0 && (url[n] == '?' || url[n] == '\0');
}

enum ag_err ag_http_redirect_target(const struct ag_http *http, const struct ag_http_response *resp,
				    const char *client_uri, const char **url)
{
	*url = NULL;
	if (resp->status != 301 && resp->status != 302 && resp->status != 303 && resp->status != 307 &&
	    resp->status != 308) {
		ag_log(http->log, LOG_ERR, "http: expected a redirect, got status %ld", resp->status);
		return ag_http_unexpected(resp->status);
	}
	if (!resp->location || !*resp->location) {
		ag_log(http->log, LOG_ERR, "http: redirect without a Location");
		return AG_ERR_PROTOCOL;
	}
	/* The client's own URI is never fetched (it may be a custom scheme). */
	if (!ag_http_url_is_client(resp->location, client_uri) && ag_http_check_url(http, resp->location) != AG_OK)
		return AG_ERR_PROTOCOL;
	*url = resp->location;
	return AG_OK;
}

char *ag_http_query(const char *url)
{
	CURLU *u;
	char *q = NULL, *copy = NULL;

	if (ag_http_ready(NULL) != AG_OK)
		return NULL;
	u = lc.url();
	if (u && lc.url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    lc.url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK)
		copy = strdup(q);
	lc.free(q);
	lc.url_cleanup(u);
	return copy;
}

enum ag_err ag_http_query_param(const char *url, const char *name, char **value)
{
	size_t nlen = strlen(name);
	char *q;
	enum ag_err err = ag_http_ready(NULL);

	*value = NULL;
	if (err != AG_OK)
		return err; /* not "absent": nothing was read */
	q = ag_http_query(url);
	if (!q)
		return AG_OK;
	for (char *p = q; *p;) {
		size_t n = strcspn(p, "&");
		if (n > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			int outlen = 0;
			char *v = lc.easy_unescape(NULL, p + nlen + 1, (int)(n - nlen - 1), &outlen);
			if (!v || (size_t)outlen != strlen(v)) {
				err = v ? AG_ERR_PROTOCOL : AG_ERR_NOMEM; /* NUL inside: refuse */
			} else if (!(*value = strdup(v))) {
				err = AG_ERR_NOMEM;
			}
			if (v) {
				ag_wipe(v, (size_t)outlen);
				lc.free(v);
			}
			break;
		}
		p += n + (p[n] ? 1 : 0);
	}
	ag_free_secret(q);
	return err;
}
