/* base64url without padding (see b64url.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/secret.h"
#include "jose/b64url.h"

static const char alphabet[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c, or -1 outside the base64url alphabet. */
static int value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

enum ag_err ag_b64url_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	enum ag_err err = AG_ERR_PARSE;
	unsigned char *buf = NULL;
	size_t n = 0, rem = len % 4;
	uint32_t acc = 0;
	int bits = 0;

	if (out)
		*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!out || !out_len || (!in && len))
		return AG_ERR_INVALID_ARG;
	if (rem == 1)
		return AG_ERR_PARSE; /* 6 bits cannot make a byte */
	/* 3 bytes per 4 characters, 1 per 2 and 2 per 3 left over; no overflow. */
	buf = malloc(len / 4 * 3 + (rem ? rem - 1 : 0) + 1);
	if (!buf)
		return AG_ERR_NOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = value_of((unsigned char)in[i]);

		if (v < 0)
			goto out;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		goto out; /* non-canonical: unused trailing bits set */
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	buf = NULL;
	err = AG_OK;
out:
	if (buf)
		ag_free_secret_n(buf, n);
	return err;
}

enum ag_err ag_b64url_encode(const unsigned char *in, size_t len, char **out)
{
	char *buf, *p;
	size_t i;

	if (!out)
		return AG_ERR_INVALID_ARG;
	*out = NULL;
	if ((!in && len) || len > (SIZE_MAX - 4) / 4 * 3)
		return AG_ERR_INVALID_ARG;
	buf = malloc(len / 3 * 4 + 4);
	if (!buf)
		return AG_ERR_NOMEM;
	p = buf;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = alphabet[v >> 18];
		*p++ = alphabet[(v >> 12) & 63];
		*p++ = alphabet[(v >> 6) & 63];
		*p++ = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*p++ = alphabet[v >> 18];
		*p++ = alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = alphabet[v >> 18];
		*p++ = alphabet[(v >> 12) & 63];
		*p++ = alphabet[(v >> 6) & 63];
	}
	*p = '\0';
	*out = buf;
	return AG_OK;
}
