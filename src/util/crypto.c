#include "closeloop/util/crypto.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define CRYPTO_SHA256_LEN 32

static void crypto_hex(char *out, const unsigned char *md, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * len] = '\0';
}

void crypto_sha256_hex(char out[CRYPTO_SHA256_HEX_LEN + 1], const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != CRYPTO_SHA256_LEN)
        abort(); /* SHA-256 cannot fail short of memory exhaustion */
    crypto_hex(out, md, mdlen);
}

void crypto_hmac_sha256_hex(char out[CRYPTO_SHA256_HEX_LEN + 1], const void *key, size_t keylen,
                            const void *data, size_t len)
{
    static const unsigned char empty = 0; /* never hand OpenSSL a NULL key, even an empty one */
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, keylen > 0 ? key : &empty, keylen,
                  len > 0 ? data : &empty, len, mac, sizeof(mac), &maclen) == NULL ||
        maclen != CRYPTO_SHA256_LEN)
        abort(); /* like SHA-256: only memory exhaustion or a broken libcrypto gets here */
    crypto_hex(out, mac, maclen);
}

/* Only the exact form GitHub sends verifies: "sha256=" and 64 lower-case hex digits.
 * Upper-case hex is not normalised but rejected, because GitHub never produces it and a
 * single accepted spelling keeps the check a plain constant-time compare. An empty
 * secret never verifies: anyone can compute an HMAC under the empty key. */
bool crypto_verify_sha256_header(const char *header, const char *secret, const void *body,
                                 size_t len)
{
    static const char prefix[] = "sha256=";
    const size_t plen = sizeof(prefix) - 1;
    char want[CRYPTO_SHA256_HEX_LEN + 1];

    if (header == NULL || secret == NULL || secret[0] == '\0')
        return false;
    if (strncmp(header, prefix, plen) != 0 || strlen(header) != plen + CRYPTO_SHA256_HEX_LEN)
        return false;
    crypto_hmac_sha256_hex(want, secret, strlen(secret), body, len);
    return crypto_equal(header + plen, want, CRYPTO_SHA256_HEX_LEN);
}

int crypto_random(void *buf, size_t len, struct cl_err *err)
{
    if (len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1)
        return cl_fail(err, CL_EIO, "random bytes: OpenSSL RAND_bytes failed");
    return CL_OK;
}

char *crypto_base64(const void *in, size_t len)
{
    char *out = cl_malloc(4 * ((len + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, in, (int)len); /* writes the NUL too */
    return out;
}

void crypto_base64url(char *out, const unsigned char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i;
    size_t o = 0;

    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = tbl[v >> 6 & 63];
        out[o++] = tbl[v & 63];
    }
    if (len - i == 1) {
        out[o++] = tbl[in[i] >> 2];
        out[o++] = tbl[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 8 | in[i + 1];

        out[o++] = tbl[v >> 10 & 63];
        out[o++] = tbl[v >> 4 & 63];
        out[o++] = tbl[(v & 15) << 2];
    }
    out[o] = '\0';
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
