/* cmocka tests for base64url (RFC 4648 §5 alphabet, no padding, RFC 7515 §2). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/secret.h"
#include "jose/b64url.h"

struct vector {
	const char *bytes;
	size_t len;
	const char *text;
};

static const struct vector vectors[] = {
	/* RFC 4648 §10, without padding */
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	/* RFC 7515 appendix C: the two characters that differ from base64 */
	{ "\x03\xec\xff\xe0\xc1", 5, "A-z_4ME" },
	/* RFC 7515 appendix A.1: the JWS Protected Header, with its CR LF */
	{ "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}", 30, "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9" },
	/* RFC 7515 appendix A.1: the payload */
	{ "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}", 70,
	  "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ" },
	{ "\xfb\xff\xbf", 3, "-_-_" },
	{ "\0\0", 2, "AAA" },
};

static void test_vectors(void **state)
{
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		const struct vector *v = &vectors[i];
		unsigned char *bytes;
		size_t len;
		char *text;

		assert_int_equal(ag_b64url_encode((const unsigned char *)v->bytes, v->len, &text), AG_OK);
		assert_string_equal(text, v->text);
		free(text);

		assert_int_equal(ag_b64url_decode(v->text, strlen(v->text), &bytes, &len), AG_OK);
		assert_int_equal(len, v->len);
		assert_memory_equal(bytes, v->bytes, v->len);
		assert_int_equal(bytes[len], '\0'); /* the extra terminator */
		ag_free_secret_n(bytes, len);
	}
}

static void test_roundtrip_all_lengths(void **state)
{
	unsigned char in[97];

	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(i * 151 + 7);
	for (size_t len = 0; len <= sizeof in; len++) {
		unsigned char *out;
		size_t out_len;
		char *text;

		assert_int_equal(ag_b64url_encode(in, len, &text), AG_OK);
		assert_int_equal(strlen(text), (len * 4 + 2) / 3);
		assert_null(strpbrk(text, "+/="));
		assert_int_equal(ag_b64url_decode(text, strlen(text), &out, &out_len), AG_OK);
		assert_int_equal(out_len, len);
		assert_memory_equal(out, in, len);
		free(out);
		free(text);
	}
}

static void expect_invalid(const char *text, size_t len)
{
	unsigned char *out = (unsigned char *)1;
	size_t out_len = 99;

	assert_int_equal(ag_b64url_decode(text, len, &out, &out_len), AG_ERR_PARSE);
	assert_null(out);
	assert_int_equal(out_len, 0);
}

static void test_invalid_characters(void **state)
{
	expect_invalid("Zm+v", 4);      /* base64, not base64url */
	expect_invalid("Zm/v", 4);
	expect_invalid("Zm9 v", 5);
	expect_invalid("Zm9v\n", 5);
	expect_invalid("Zm\0v", 4);     /* NUL inside the given length */
	expect_invalid("Zm9v\xc3\xa9", 6);
	expect_invalid(".m9v", 4);
	/* every byte outside the alphabet, alone in a valid-length string */
	for (int c = 0; c < 256; c++) {
		char s[4] = { 'A', 'A', 'A', (char)c };

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
			continue;
		expect_invalid(s, 4);
	}
}

static void test_padding_refused(void **state)
{
	expect_invalid("Zg==", 4);
	expect_invalid("Zm8=", 4);
	expect_invalid("Zg=", 3);
	expect_invalid("=", 1);
	expect_invalid("====", 4);
}

static void test_bad_lengths(void **state)
{
	expect_invalid("Z", 1);
	expect_invalid("Zm9vY", 5);
	expect_invalid("Zm9vYmFyZ", 9);
}

static void test_non_canonical_trailing_bits(void **state)
{
	/* "Zg" is canonical for "f"; "Zh".."Zv" carry bits no encoder writes. */
	expect_invalid("Zh", 2);
	expect_invalid("Zv", 2);
	/* "Zm8" is canonical for "fo"; "Zm9" sets the two unused bits. */
	expect_invalid("Zm9", 3);
	expect_invalid("AAB", 3);
	expect_invalid("AB", 2);
}

static void test_null_arguments(void **state)
{
	unsigned char *out;
	size_t out_len;
	char *text;

	assert_int_equal(ag_b64url_decode(NULL, 4, &out, &out_len), AG_ERR_INVALID_ARG);
	assert_int_equal(ag_b64url_decode("Zg", 2, NULL, &out_len), AG_ERR_INVALID_ARG);
	assert_int_equal(ag_b64url_encode(NULL, 3, &text), AG_ERR_INVALID_ARG);
	assert_int_equal(ag_b64url_decode(NULL, 0, &out, &out_len), AG_OK);
	assert_int_equal(out_len, 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_roundtrip_all_lengths),
		cmocka_unit_test(test_invalid_characters),
		cmocka_unit_test(test_padding_refused),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_non_canonical_trailing_bits),
		cmocka_unit_test(test_null_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
