#include "closeloop/util/buf.h"
#include "closeloop/util/crypto.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_buf__grows_and_steals(void **state)
{
    struct buf b;
    char *s;
    size_t len;
    int i;

    (void)state;
    buf_init(&b);
    for (i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    s = buf_steal(&b, &len);
    assert_int_equal(len, strlen(s));
    assert_true(strncmp(s, "0,1,2,", 6) == 0);
    assert_non_null(strstr(s, ",999,"));
    assert_null(b.data);
    free(s);
}

static void test_buf__json_string_escapes(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_json_string(&b, "a\"b\\c\nd\x01");
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000ad\\u0001\"");
    buf_dispose(&b);
}

static void test_digest__sha256_and_base64url(void **state)
{
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    char b64[16];

    (void)state;
    crypto_sha256_hex(hex, "abc", 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    crypto_base64url(b64, (const unsigned char *)"\xfb\xff", 2);
    assert_string_equal(b64, "-_8");
    crypto_base64url(b64, (const unsigned char *)"abcd", 4);
    assert_string_equal(b64, "YWJjZA");
    assert_true(crypto_equal("abc", "abc", 3));
    assert_false(crypto_equal("abc", "abd", 3));
}

/* RFC 4648 §10 test vectors, and Basic credentials as Jira Cloud takes them. */
static void test_digest__base64_with_padding(void **state)
{
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    size_t i;
    char *out;

    (void)state;
    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        out = crypto_base64(vec[i][0], strlen(vec[i][0]));
        assert_string_equal(out, vec[i][1]);
        free(out);
    }
    out = crypto_base64("me@example.com:t0k+/n", 21);
    assert_string_equal(out, "bWVAZXhhbXBsZS5jb206dDBrKy9u");
    free(out);
}

#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY   "Hello, World!"
#define GH_SIG    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static void test_digest__hmac_sha256_vectors(void **state)
{
    char hex[CRYPTO_SHA256_HEX_LEN + 1];

    (void)state;
    crypto_hmac_sha256_hex(hex, GH_SECRET, strlen(GH_SECRET), GH_BODY, strlen(GH_BODY));
    assert_string_equal(hex, GH_SIG + 7);
    /* RFC 4231 test case 2 */
    crypto_hmac_sha256_hex(hex, "Jefe", 4, "what do ya want for nothing?", 28);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* empty key and empty message (openssl dgst -sha256 -hmac '' < /dev/null) */
    crypto_hmac_sha256_hex(hex, NULL, 0, NULL, 0);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_digest__verify_header_accepts_github_vector(void **state)
{
    (void)state;
    assert_true(crypto_verify_sha256_header(GH_SIG, GH_SECRET, GH_BODY, strlen(GH_BODY)));
}

static void test_digest__verify_header_rejects_tampering(void **state)
{
    char sig[] = GH_SIG;

    (void)state;
    sig[sizeof(sig) - 2] = '6'; /* last hex digit 7 -> 6 */
    assert_false(crypto_verify_sha256_header(sig, GH_SECRET, GH_BODY, strlen(GH_BODY)));
    sig[sizeof(sig) - 2] = '7';
    sig[7] = '6'; /* first hex digit 7 -> 6 */
    assert_false(crypto_verify_sha256_header(sig, GH_SECRET, GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header(GH_SIG, GH_SECRET, "Hello, World?", 13));
    assert_false(crypto_verify_sha256_header(GH_SIG, "It's a secret to everybody", GH_BODY,
                                             strlen(GH_BODY)));
}

static void test_digest__verify_header_rejects_malformed(void **state)
{
    char sig[] = GH_SIG;
    char longer[sizeof(GH_SIG) + 1];

    (void)state;
    sig[sizeof(sig) - 2] = '\0'; /* truncated by one hex digit */
    assert_false(crypto_verify_sha256_header(sig, GH_SECRET, GH_BODY, strlen(GH_BODY)));
    snprintf(longer, sizeof(longer), "%s0", GH_SIG);
    assert_false(crypto_verify_sha256_header(longer, GH_SECRET, GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header(GH_SIG + 7, GH_SECRET, GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header(
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", GH_SECRET, GH_BODY,
        strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header(
        "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", GH_SECRET,
        GH_BODY, strlen(GH_BODY)));
    /* upper-case hex is rejected, not normalised: GitHub only sends lower-case */
    assert_false(crypto_verify_sha256_header(
        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", GH_SECRET,
        GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header("", GH_SECRET, GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header("sha256=", GH_SECRET, GH_BODY, strlen(GH_BODY)));
}

static void test_digest__verify_header_rejects_null_and_empty_secret(void **state)
{
    char hex[CRYPTO_SHA256_HEX_LEN + 1];
    char sig[8 + CRYPTO_SHA256_HEX_LEN];

    (void)state;
    assert_false(crypto_verify_sha256_header(NULL, GH_SECRET, GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header(GH_SIG, NULL, GH_BODY, strlen(GH_BODY)));
    assert_false(crypto_verify_sha256_header(GH_SIG, "", GH_BODY, strlen(GH_BODY)));
    /* even a header correctly computed under the empty key: anyone can make one */
    crypto_hmac_sha256_hex(hex, "", 0, GH_BODY, strlen(GH_BODY));
    snprintf(sig, sizeof(sig), "sha256=%s", hex);
    assert_false(crypto_verify_sha256_header(sig, "", GH_BODY, strlen(GH_BODY)));
}

/* One spacing for every JSON the API sends (issue 9, defect 17). */
static void respace(const char *in, const char *want)
{
    struct buf b;

    buf_init(&b);
    buf_json_respace(&b, in, strlen(in));
    assert_string_equal(b.data != NULL ? b.data : "", want);
    buf_dispose(&b);
}

static void test_buf__json_respace(void **state)
{
    (void)state;
    respace("{\"id\" : 1, \"a\" : [1,2 , {\"b\":null}]}",
            "{\"id\": 1, \"a\": [1, 2, {\"b\": null}]}");
    respace("{\"items\":[],\"next_cursor\":null}\n", "{\"items\": [], \"next_cursor\": null}\n");
    /* strings are copied as they are: separators, spaces and escaped quotes inside */
    respace("{\"t\" : \"a : b,  c \\\" d\\\\\"}", "{\"t\": \"a : b,  c \\\" d\\\\\"}");
    respace("{\n  \"x\": 1\n}", "{\"x\": 1}");
    respace("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf__grows_and_steals),
        cmocka_unit_test(test_buf__json_string_escapes),
        cmocka_unit_test(test_digest__sha256_and_base64url),
        cmocka_unit_test(test_digest__base64_with_padding),
        cmocka_unit_test(test_digest__hmac_sha256_vectors),
        cmocka_unit_test(test_digest__verify_header_accepts_github_vector),
        cmocka_unit_test(test_digest__verify_header_rejects_tampering),
        cmocka_unit_test(test_digest__verify_header_rejects_malformed),
        cmocka_unit_test(test_digest__verify_header_rejects_null_and_empty_secret),
        cmocka_unit_test(test_buf__json_respace),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
