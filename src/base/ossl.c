/* libcrypto loaded when first used (see ossl.h). */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <syslog.h>

#define AG_OSSL_NO_MACROS
#include "base/dl.h"
#include "base/ossl.h"

#define OSSL_SONAME "libcrypto.so.3"
#define OSSL_PACKAGE "libssl3"

static struct ag_ossl table;

static const struct ag_dl_sym syms[] = {
#define AG_OSSL_ENTRY(f) AG_DL_SYM(table, f, f),
	AG_OSSL_SYMS(AG_OSSL_ENTRY)
#undef AG_OSSL_ENTRY
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum ag_err load_err = AG_ERR_UNSUPPORTED;
static char load_why[AG_DL_WHY_MAX];

static void load(void)
{
	load_err = ag_dl_load(OSSL_SONAME, OSSL_PACKAGE, syms, sizeof syms / sizeof *syms, load_why, sizeof load_why);
}

enum ag_err ag_ossl_load(char *why, size_t why_len)
{
	pthread_once(&once, load);
	return load_err == AG_OK ? AG_OK : ag_why(why, why_len, load_err, "%s", load_why);
}

const struct ag_ossl *ag_ossl(void)
{
	char why[AG_DL_WHY_MAX];

	if (ag_ossl_load(why, sizeof why) != AG_OK) {
		syslog(LOG_AUTHPRIV | LOG_CRIT, "pam_authgear: %s", why);
		abort();
	}
	return &table;
}
