/* String table of the core error type (see error.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "base/error.h"

struct ag_err_entry {
	const char *name;
	const char *reason;
	const char *line;
};

static const struct ag_err_entry ag_err_table[AG_ERR__COUNT] = {
#define AG_X_ENTRY(code, name, reason, line) [code] = { name, reason, line },
	AG_ERR_LIST(AG_X_ENTRY)
#undef AG_X_ENTRY
};

static const struct ag_err_entry *entry(enum ag_err err)
{
	if ((unsigned)err >= AG_ERR__COUNT)
		err = AG_ERR_INVALID_ARG;
	return &ag_err_table[err];
}

const char *ag_err_name(enum ag_err err)
{
	return entry(err)->name;
}

const char *ag_err_reason(enum ag_err err)
{
	return entry(err)->reason;
}

const char *ag_err_user_line(enum ag_err err)
{
	return entry(err)->line;
}

enum ag_err ag_why(char *why, size_t why_len, enum ag_err err, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}
