/* QR codes for the terminal: libqrencode's modules drawn as text with the
 * Unicode half blocks U+2580 ▀, U+2584 ▄ and U+2588 █, two module rows per
 * line, with the 4-module quiet zone scanners need (ISO/IEC 18004 §6.3.8).
 *
 * Colour escapes cannot be used (ssh shows them as literal text), so the
 * polarity is chosen by which modules the characters draw: by default the
 * dark ones, for dark text on a light background; inverted, the light ones
 * and the quiet zone, for light text on a dark background. */
#ifndef AG_QR_H
#define AG_QR_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define AG_QR_QUIET_ZONE 4      /* modules of light border on every side */
#define AG_QR_MAX_COLUMNS 80    /* wider codes are left out: they wrap on a standard terminal */
#define AG_QR_TEXT_MAX 1024     /* bytes of text encoded at most */

/* Draw text as lines joined by '\n' (no trailing newline) into *out (caller
 * frees). invert: the characters draw the light modules. A code wider than
 * max_columns (quiet zone included) is AG_ERR_TOO_LARGE; *columns and *lines,
 * when not NULL, receive its size either way. AG_ERR_UNSUPPORTED when
 * libqrencode cannot be loaded (ag_qr_unavailable says why). */
enum ag_err ag_qr_text(const char *text, bool invert, size_t max_columns, char **out, size_t *columns,
		       size_t *lines);

/* NULL when libqrencode is loaded (it is loaded on the first call), else
 * the reason it cannot be. */
const char *ag_qr_unavailable(void);

#endif
