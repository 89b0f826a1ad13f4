#include "closeloop/util/jwt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#define NOW ((time_t)1700000000)

/* One throwaway key per run, in both PEM flavours GitHub users meet: PKCS#8
 * ("BEGIN PRIVATE KEY") and PKCS#1 ("BEGIN RSA PRIVATE KEY", what GitHub downloads). */
struct fixture {
    EVP_PKEY *key;
    char *pkcs8; /* PEM text */
    char *pkcs8_path;
    char *pkcs1_path;
    char *pubkey; /* public key PEM, to verify with the public half only */
};

static char *write_tmp(const char *text, size_t len)
{
    char *path = cl_strdup("/tmp/closeloop-jwt-XXXXXX");
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return path;
}

static char *bio_text(BIO *bio)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *s = cl_strndup(data, (size_t)len);

    BIO_free(bio);
    return s;
}

static char *pem_pkcs1(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    OSSL_ENCODER_CTX *ectx =
        OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "PEM", "type-specific", NULL);

    assert_non_null(ectx);
    assert_int_equal(OSSL_ENCODER_to_bio(ectx, bio), 1);
    OSSL_ENCODER_CTX_free(ectx);
    return bio_text(bio);
}

static int setup(void **state)
{
    struct fixture *f = cl_calloc(1, sizeof(*f));
    BIO *bio;
    char *pkcs1;

    f->key = EVP_RSA_gen(2048);
    if (f->key == NULL)
        return -1;
    bio = BIO_new(BIO_s_mem());
    if (PEM_write_bio_PrivateKey(bio, f->key, NULL, NULL, 0, NULL, NULL) != 1)
        return -1;
    f->pkcs8 = bio_text(bio);
    bio = BIO_new(BIO_s_mem());
    if (PEM_write_bio_PUBKEY(bio, f->key) != 1)
        return -1;
    f->pubkey = bio_text(bio);
    pkcs1 = pem_pkcs1(f->key);
    if (strstr(pkcs1, "BEGIN RSA PRIVATE KEY") == NULL)
        return -1;
    f->pkcs8_path = write_tmp(f->pkcs8, strlen(f->pkcs8));
    f->pkcs1_path = write_tmp(pkcs1, strlen(pkcs1));
    free(pkcs1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    unlink(f->pkcs8_path);
    unlink(f->pkcs1_path);
    free(f->pkcs8_path);
    free(f->pkcs1_path);
    free(f->pkcs8);
    free(f->pubkey);
    EVP_PKEY_free(f->key);
    free(f);
    return 0;
}

/* Strict base64url decoder (no padding allowed); returns a NUL-terminated heap copy. */
static char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = cl_malloc(n * 3 / 4 + 1);
    unsigned acc = 0;
    int bits = 0;
    size_t i;
    size_t o = 0;

    assert_true(n % 4 != 1);
    for (i = 0; i < n; i++) {
        const char *p = memchr(tbl, s[i], 64);

        assert_non_null(p);
        acc = (acc << 6 | (unsigned)(p - tbl)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* Splits token into its three parts and decodes them. */
struct jwt_parts {
    char *header;
    char *claims;
    unsigned char *sig;
    size_t siglen;
    size_t signed_len; /* length of "header.claims" */
};

static void jwt_split(struct jwt_parts *p, const char *token)
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    size_t len;

    assert_non_null(dot1);
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    assert_null(strpbrk(token, "=+/ \n"));
    p->header = b64url_decode(token, (size_t)(dot1 - token), &len);
    p->claims = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
    p->sig = (unsigned char *)b64url_decode(dot2 + 1, strlen(dot2 + 1), &p->siglen);
    p->signed_len = (size_t)(dot2 - token);
}

static void jwt_parts_dispose(struct jwt_parts *p)
{
    free(p->header);
    free(p->claims);
    free(p->sig);
}

/* Verifies RS256 with a key read back from the public PEM only. */
static int rs256_verify(const char *pubpem, const char *data, size_t len, const unsigned char *sig,
                        size_t siglen)
{
    BIO *bio = BIO_new_mem_buf(pubpem, -1);
    EVP_PKEY *pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    assert_non_null(pub);
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub), 1);
    ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pub);
    BIO_free(bio);
    return ok;
}

static void test_jwt__token_header_claims_signature(void **state)
{
    struct fixture *f = *state;
    struct cl_err err = CL_ERR_INIT;
    struct jwt_parts p;
    EVP_PKEY *key = NULL;
    char *token = NULL;

    assert_int_equal(jwt_key_load(&key, f->pkcs8_path, &err), CL_OK);
    assert_int_equal(jwt_app_assertion(&token, key, "Iv1.0123abcd", NOW, &err), CL_OK);
    assert_int_equal(err.code, CL_OK);
    jwt_split(&p, token);
    assert_string_equal(p.header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
    assert_string_equal(p.claims,
                        "{\"iat\":1699999940,\"exp\":1700000540,\"iss\":\"Iv1.0123abcd\"}");
    assert_int_equal(p.siglen, 256);
    assert_int_equal(rs256_verify(f->pubkey, token, p.signed_len, p.sig, p.siglen), 1);
    jwt_parts_dispose(&p);
    free(token);
    EVP_PKEY_free(key);
}

static void test_jwt__tampered_token_fails_verification(void **state)
{
    struct fixture *f = *state;
    struct cl_err err = CL_ERR_INIT;
    struct jwt_parts p;
    EVP_PKEY *key = NULL;
    char *token = NULL;

    assert_int_equal(jwt_key_load(&key, f->pkcs1_path, &err), CL_OK);
    assert_int_equal(jwt_app_assertion(&token, key, "12345", NOW, &err), CL_OK);
    jwt_split(&p, token);
    assert_int_equal(rs256_verify(f->pubkey, token, p.signed_len, p.sig, p.siglen), 1);
    token[p.signed_len - 1] ^= 1; /* last claims character */
    assert_int_equal(rs256_verify(f->pubkey, token, p.signed_len, p.sig, p.siglen), 0);
    jwt_parts_dispose(&p);
    free(token);
    EVP_PKEY_free(key);
}

static void test_jwt__issuer_is_json_escaped(void **state)
{
    struct fixture *f = *state;
    struct cl_err err = CL_ERR_INIT;
    struct jwt_parts p;
    char *token = NULL;

    assert_int_equal(jwt_app_assertion(&token, f->key, "a\"b\\c\n", 60, &err), CL_OK);
    jwt_split(&p, token);
    assert_string_equal(p.claims, "{\"iat\":0,\"exp\":600,\"iss\":\"a\\\"b\\\\c\\u000a\"}");
    jwt_parts_dispose(&p);
    free(token);
}

static void test_jwt__empty_issuer_rejected(void **state)
{
    struct fixture *f = *state;
    struct cl_err err = CL_ERR_INIT;
    char *token = NULL;

    assert_int_equal(jwt_app_assertion(&token, f->key, "", NOW, &err), CL_EINVAL);
    assert_null(token);
    cl_err_clear(&err);
    assert_int_equal(jwt_app_assertion(&token, f->key, NULL, NOW, &err), CL_EINVAL);
    assert_null(token);
}

static void test_jwt__parse_matches_load(void **state)
{
    struct fixture *f = *state;
    struct cl_err err = CL_ERR_INIT;
    EVP_PKEY *loaded = NULL;
    EVP_PKEY *parsed = NULL;
    char *t1 = NULL;
    char *t2 = NULL;

    assert_int_equal(jwt_key_load(&loaded, f->pkcs8_path, &err), CL_OK);
    assert_int_equal(jwt_key_parse(&parsed, f->pkcs8, strlen(f->pkcs8), &err), CL_OK);
    assert_int_equal(EVP_PKEY_eq(loaded, parsed), 1);
    /* PKCS#1 v1.5 signatures are deterministic: same key, same token */
    assert_int_equal(jwt_app_assertion(&t1, loaded, "Iv1.x", NOW, &err), CL_OK);
    assert_int_equal(jwt_app_assertion(&t2, parsed, "Iv1.x", NOW, &err), CL_OK);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    EVP_PKEY_free(loaded);
    EVP_PKEY_free(parsed);
}

static void test_jwt__missing_file(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    EVP_PKEY *key = NULL;

    (void)state;
    assert_int_equal(jwt_key_load(&key, "/nonexistent/closeloop/app.pem", &err), CL_EIO);
    assert_null(key);
    assert_int_equal(err.code, CL_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/closeloop/app.pem"));
}

static void test_jwt__non_key_file_names_path_not_content(void **state)
{
    static const char text[] = "-----BEGIN RSA PRIVATE KEY-----\nSECRETSTUFF\n"
                               "-----END RSA PRIVATE KEY-----\n";
    struct cl_err err = CL_ERR_INIT;
    EVP_PKEY *key = NULL;
    char *path = write_tmp(text, strlen(text));

    (void)state;
    assert_int_equal(jwt_key_load(&key, path, &err), CL_EINVAL);
    assert_null(key);
    assert_non_null(strstr(err.msg, path));
    assert_null(strstr(err.msg, "SECRETSTUFF"));
    assert_non_null(strstr(err.msg, "not a PEM private key"));
    cl_err_clear(&err);
    assert_int_equal(jwt_key_parse(&key, text, strlen(text), &err), CL_EINVAL);
    assert_null(key);
    assert_null(strstr(err.msg, "SECRETSTUFF"));
    assert_int_equal(ERR_peek_error(), 0); /* no stale OpenSSL errors left behind */
    unlink(path);
    free(path);
}

static void test_jwt__ec_key_rejected(void **state)
{
    struct cl_err err = CL_ERR_INIT;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    EVP_PKEY *key = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *token = NULL;
    char *pem;
    char *path;

    (void)state;
    assert_non_null(ec);
    assert_int_equal(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL), 1);
    pem = bio_text(bio);
    path = write_tmp(pem, strlen(pem));
    assert_int_equal(jwt_key_load(&key, path, &err), CL_EINVAL);
    assert_null(key);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "RSA"));
    cl_err_clear(&err);
    assert_int_equal(jwt_app_assertion(&token, ec, "x", NOW, &err), CL_EINVAL);
    assert_null(token);
    unlink(path);
    free(path);
    free(pem);
    EVP_PKEY_free(ec);
}

static void test_jwt__encrypted_key_rejected_without_prompt(void **state)
{
    struct fixture *f = *state;
    struct cl_err err = CL_ERR_INIT;
    EVP_PKEY *key = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;

    assert_int_equal(PEM_write_bio_PrivateKey(bio, f->key, EVP_aes_256_cbc(),
                                              (const unsigned char *)"pw", 2, NULL, NULL),
                     1);
    pem = bio_text(bio);
    assert_non_null(strstr(pem, "ENCRYPTED"));
    assert_int_equal(jwt_key_parse(&key, pem, strlen(pem), &err), CL_EINVAL);
    assert_null(key);
    assert_non_null(strstr(err.msg, "PEM text"));
    assert_non_null(strstr(err.msg, "encrypted"));
    assert_int_equal(ERR_peek_error(), 0);
    free(pem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt__token_header_claims_signature),
        cmocka_unit_test(test_jwt__tampered_token_fails_verification),
        cmocka_unit_test(test_jwt__issuer_is_json_escaped),
        cmocka_unit_test(test_jwt__empty_issuer_rejected),
        cmocka_unit_test(test_jwt__parse_matches_load),
        cmocka_unit_test(test_jwt__missing_file),
        cmocka_unit_test(test_jwt__non_key_file_names_path_not_content),
        cmocka_unit_test(test_jwt__ec_key_rejected),
        cmocka_unit_test(test_jwt__encrypted_key_rejected_without_prompt),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
