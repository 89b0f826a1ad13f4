#include "closeloop/util/jwt.h"

#include "closeloop/util/buf.h"
#include "closeloop/util/crypto.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

/* A 4096-bit RSA key is about 3.3 KB of PEM; anything far larger is not a key file. */
#define JWT_PEM_MAX (64 * 1024)

static const char jwt_header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";

/* Refuses encrypted PEM instead of letting OpenSSL prompt on the terminal. */
static int jwt_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return -1;
}

/* OpenSSL's reason for the last failure (a fixed string, never key bytes); empties the
 * thread's error queue so that later, unrelated calls do not see stale entries. */
static const char *jwt_ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

    ERR_clear_error();
    return reason != NULL ? reason : "unknown error";
}

/* name labels the source in messages: the file path, or "PEM text". */
static int jwt_key_from_pem(EVP_PKEY **out, const char *pem, size_t len, const char *name,
                            struct cl_err *err)
{
    BIO *bio = NULL;
    EVP_PKEY *key = NULL;
    const char *type;
    bool encrypted;
    int rc = CL_OK;

    if (len > INT_MAX)
        return cl_fail(err, CL_EINVAL, "%s: too large for a PEM private key", name);
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        rc = cl_fail(err, CL_EIO, "%s: %s", name, jwt_ssl_reason());
        goto cleanup;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, jwt_no_passphrase, NULL);
    if (key == NULL) {
        /* OpenSSL 3's decoder reasons ("unsupported") do not help; say what we saw */
        encrypted = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_BAD_PASSWORD_READ;
        ERR_clear_error();
        rc = cl_fail(err, CL_EINVAL, "%s: %s", name,
                     encrypted ? "encrypted private keys are not supported"
                               : "not a PEM private key");
        goto cleanup;
    }
    if (!EVP_PKEY_is_a(key, "RSA")) {
        type = EVP_PKEY_get0_type_name(key);
        rc = cl_fail(err, CL_EINVAL, "%s: %s key, but a GitHub App key must be RSA", name,
                     type != NULL ? type : "non-RSA");
        goto cleanup;
    }
    *out = key;
    key = NULL;
cleanup:
    EVP_PKEY_free(key);
    BIO_free(bio);
    return rc;
}

int jwt_key_load(EVP_PKEY **out, const char *path, struct cl_err *err)
{
    FILE *f = fopen(path, "rb");
    char *pem = NULL;
    size_t len = 0;
    int rc;

    struct stat st;

    if (f == NULL)
        return cl_fail(err, CL_EIO, "open %s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
        fclose(f);
        return cl_fail(err, CL_EINVAL,
                       "%s is a private key that every user can read (mode %04o): chmod 600 it",
                       path, (unsigned)(st.st_mode & 07777));
    }
    pem = cl_malloc(JWT_PEM_MAX + 1);
    len = fread(pem, 1, JWT_PEM_MAX + 1, f);
    if (ferror(f))
        rc = cl_fail(err, CL_EIO, "read %s: %s", path, strerror(errno));
    else if (len > JWT_PEM_MAX)
        rc = cl_fail(err, CL_EINVAL, "%s: larger than %d bytes, not a PEM private key", path,
                     JWT_PEM_MAX);
    else
        rc = jwt_key_from_pem(out, pem, len, path, err);
    OPENSSL_cleanse(pem, len); /* the buffer held the private key */
    free(pem);
    fclose(f);
    return rc;
}

int jwt_key_parse(EVP_PKEY **out, const char *pem, size_t len, struct cl_err *err)
{
    assert(pem != NULL);
    return jwt_key_from_pem(out, pem, len, "PEM text", err);
}

/* base64url without padding, on the heap. */
static char *jwt_b64(const void *data, size_t len)
{
    char *out = cl_malloc(4 * ((len + 2) / 3) + 1);

    crypto_base64url(out, data, len);
    return out;
}

/* GitHub rejects an iat in the future, so it is backdated a minute for clock drift; exp
 * stays at now + 9 minutes, under GitHub's 10-minute maximum. */
static char *jwt_claims(const char *issuer, time_t now)
{
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "{\"iat\":%lld,\"exp\":%lld,\"iss\":", (long long)now - 60,
               (long long)now + 540);
    buf_json_string(&b, issuer);
    buf_puts(&b, "}");
    return buf_steal(&b, NULL);
}

/* RSASSA-PKCS1-v1_5 with SHA-256 over input; *out is heap-allocated. */
static int jwt_sign(unsigned char **out, size_t *outlen, EVP_PKEY *key, const char *input,
                    struct cl_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL; /* borrowed from ctx */
    const unsigned char *in = (const unsigned char *)input;
    unsigned char *sig = NULL;
    size_t len = 0;
    int rc = CL_OK;

    if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_DigestSign(ctx, NULL, &len, in, strlen(input)) != 1) {
        rc = cl_fail(err, CL_EIO, "jwt: RS256 signing failed (%s)", jwt_ssl_reason());
        goto cleanup;
    }
    sig = cl_malloc(len);
    if (EVP_DigestSign(ctx, sig, &len, in, strlen(input)) != 1) {
        rc = cl_fail(err, CL_EIO, "jwt: RS256 signing failed (%s)", jwt_ssl_reason());
        goto cleanup;
    }
    *out = sig;
    *outlen = len;
    sig = NULL;
cleanup:
    free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int jwt_app_assertion(char **out, EVP_PKEY *key, const char *issuer, time_t now, struct cl_err *err)
{
    char *claims = NULL;
    char *head64 = NULL;
    char *claims64 = NULL;
    char *input = NULL;
    char *sig64 = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc;

    assert(key != NULL);
    if (issuer == NULL || issuer[0] == '\0')
        return cl_fail(err, CL_EINVAL, "jwt: empty issuer (the GitHub App's client id or app id)");
    if (!EVP_PKEY_is_a(key, "RSA"))
        return cl_fail(err, CL_EINVAL, "jwt: RS256 needs an RSA key");
    claims = jwt_claims(issuer, now);
    head64 = jwt_b64(jwt_header, strlen(jwt_header));
    claims64 = jwt_b64(claims, strlen(claims));
    input = cl_asprintf("%s.%s", head64, claims64);
    rc = jwt_sign(&sig, &siglen, key, input, err);
    if (rc != CL_OK)
        goto cleanup;
    sig64 = jwt_b64(sig, siglen);
    *out = cl_asprintf("%s.%s", input, sig64);
cleanup:
    free(sig64);
    free(sig);
    free(input);
    free(claims64);
    free(head64);
    free(claims);
    return rc;
}
