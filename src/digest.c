#include "closeloop/digest.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

void digest_sha256_hex(char out[DIGEST_SHA256_HEX_LEN + 1], const void *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    unsigned int i;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        abort(); /* SHA-256 cannot fail short of memory exhaustion */
    for (i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
}

int digest_random(void *buf, size_t len, struct cl_err *err)
{
    if (len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1)
        return cl_fail(err, CL_EIO, "random bytes: OpenSSL RAND_bytes failed");
    return CL_OK;
}

void digest_base64url(char *out, const unsigned char *in, size_t len)
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

bool digest_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
