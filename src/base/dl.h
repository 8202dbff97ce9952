/* Optional libraries loaded when first needed (dlopen), as systemd does for
 * its optional dependencies: the module maps libcurl and the libraries it
 * pulls in (HTTP/2, IDN, Kerberos, LDAP, SSH...) only when a request is
 * made, and libqrencode only when a QR code is drawn. A PAM call answered
 * from the local store (sudo's account check within account_check_cache)
 * then loads a handful of objects instead of about forty.
 *
 * The caller keeps one table of function pointers, typed from the
 * library's own header (__typeof__), fills it once under pthread_once and
 * reads the reason when it failed. The library is never unloaded: libcurl
 * and OpenSSL keep global state that a dlclose would leave dangling. */
#ifndef AG_DL_H
#define AG_DL_H

#include <stddef.h>

#include "base/error.h"

#define AG_DL_WHY_MAX 256

struct ag_dl_sym {
	const char *name;
	void **slot;
};

/* One entry of the table: AG_DL_SYM(table, field, symbol). */
#define AG_DL_SYM(table, field, symbol) { #symbol, (void **)&(table).field }

/* dlopen soname and resolve every symbol into its slot. On failure every
 * slot is NULL, why says which library or symbol is missing and how to get
 * it (package names it), and the result is AG_ERR_CONFIG: the host's
 * installation is incomplete, which its administrator fixes. */
enum ag_err ag_dl_load(const char *soname, const char *package, const struct ag_dl_sym *syms, size_t n,
		       char *why, size_t why_len);

#endif
