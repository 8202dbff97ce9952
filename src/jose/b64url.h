/* base64url without padding (RFC 7515 §2, the alphabet of RFC 4648 §5).
 *
 * Decoding is strict, so one byte string has exactly one encoding: it
 * rejects any character outside [A-Za-z0-9_-] (so '=', '+', '/', spaces and
 * NUL bytes too), a length of 1 mod 4 (no whole byte), and non-canonical
 * trailing bits (the unused low bits of the last character must be zero, as
 * every correct encoder writes them). Without the last rule "xx" and "xy"
 * could decode to the same byte, and a token would have several spellings
 * for one signature.
 */
#ifndef AG_B64URL_H
#define AG_B64URL_H

#include <stddef.h>

#include "base/error.h"

/* Decode len characters at in (need not be NUL-terminated). On success *out
 * is a malloc'd buffer of *out_len bytes followed by one extra NUL byte (not
 * counted), so decoded text can be handed to string functions; free it with
 * ag_free_secret_n(*out, *out_len) when it held token bytes. On failure
 * (AG_ERR_PARSE, AG_ERR_NOMEM, AG_ERR_INVALID_ARG) *out is NULL. */
enum ag_err ag_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len);

/* Encode len bytes without padding into a malloc'd NUL-terminated string. */
enum ag_err ag_b64url_encode(const unsigned char *in, size_t len, char **out);

#endif
