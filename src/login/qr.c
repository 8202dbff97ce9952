/* QR codes drawn with half blocks (see qr.h), with libqrencode loaded when
 * the first code is drawn (base/dl.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "base/dl.h"
#include "login/qr.h"

#define QRENCODE_SONAME "libqrencode.so.4"

static struct {
	__typeof__(QRcode_encodeString8bit) *encode_8bit;
	__typeof__(QRcode_free) *free;
} qe;

static const struct ag_dl_sym qe_syms[] = {
	AG_DL_SYM(qe, encode_8bit, QRcode_encodeString8bit),
	AG_DL_SYM(qe, free, QRcode_free),
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static enum ag_err load_err = AG_ERR_UNSUPPORTED;
static char load_why[AG_DL_WHY_MAX];

static void load(void)
{
	load_err = ag_dl_load(QRENCODE_SONAME, "libqrencode4", qe_syms, sizeof qe_syms / sizeof *qe_syms, load_why,
			      sizeof load_why);
}

const char *ag_qr_unavailable(void)
{
	pthread_once(&load_once, load);
	return load_err == AG_OK ? NULL : load_why;
}

#define UPPER "\xe2\x96\x80" /* U+2580 ▀ */
#define LOWER "\xe2\x96\x84" /* U+2584 ▄ */
#define FULL "\xe2\x96\x88"  /* U+2588 █ */

/* Whether module (x, y) of the code with its quiet zone is dark; outside
 * the symbol (the quiet zone, the padding row under an odd height) it is light. */
static bool dark(const QRcode *qr, long x, long y)
{
	x -= AG_QR_QUIET_ZONE;
	y -= AG_QR_QUIET_ZONE;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return false;
	return qr->data[y * qr->width + x] & 1;
}

/* The smallest symbol: medium error correction (survives a few damaged
 * cells on a screen), low when medium would not fit the width. */
static QRcode *encode(const char *text, size_t max_columns)
{
	QRcode *qr = qe.encode_8bit(text, 0, QR_ECLEVEL_M);

	if (qr && (size_t)qr->width + 2 * AG_QR_QUIET_ZONE > max_columns) {
		QRcode *low = qe.encode_8bit(text, 0, QR_ECLEVEL_L);
		if (low) {
			qe.free(qr);
			qr = low;
		}
	}
	return qr;
}

enum ag_err ag_qr_text(const char *text, bool invert, size_t max_columns, char **out, size_t *columns,
		       size_t *lines)
{
	QRcode *qr;
	size_t size, n_lines, cap;
	char *buf, *p;

	*out = NULL;
	if (columns)
		*columns = 0;
	if (lines)
		*lines = 0;
	if (!text || !*text || strlen(text) > AG_QR_TEXT_MAX)
		return AG_ERR_INVALID_ARG;
	if (ag_qr_unavailable())
		return AG_ERR_UNSUPPORTED;
	qr = encode(text, max_columns);
	if (!qr)
		return errno == ENOMEM ? AG_ERR_NOMEM : AG_ERR_TOO_LARGE; /* ERANGE: over a version 40 code */
	size = (size_t)qr->width + 2 * AG_QR_QUIET_ZONE;
	n_lines = (size + 1) / 2;
	if (columns)
		*columns = size;
	if (lines)
		*lines = n_lines;
	if (size > max_columns) {
		qe.free(qr);
		return AG_ERR_TOO_LARGE;
	}
	cap = n_lines * (size * 3 + 1) + 1; /* 3 bytes per character, a newline per line */
	buf = malloc(cap);
	if (!buf) {
		qe.free(qr);
		return AG_ERR_NOMEM;
	}
	p = buf;
	for (size_t line = 0; line < n_lines; line++) {
		long y = (long)line * 2;

		if (line)
			*p++ = '\n';
		for (size_t x = 0; x < size; x++) {
			/* The characters draw ink: the dark modules, or the light ones when
			 * inverted. The padding row under an odd height is never ink. */
			bool top = dark(qr, (long)x, y) != invert;
			bool bottom = (size_t)y + 1 < size && dark(qr, (long)x, y + 1) != invert;
			const char *c = top ? (bottom ? FULL : UPPER) : (bottom ? LOWER : " ");

			memcpy(p, c, strlen(c));
			p += strlen(c);
		}
	}
	*p = '\0';
	qe.free(qr);
	*out = buf;
	return AG_OK;
}
