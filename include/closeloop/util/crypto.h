/* crypto: hashing and randomness through OpenSSL libcrypto. Thread-safe, no state. */
#ifndef CLOSELOOP_CRYPTO_H
#define CLOSELOOP_CRYPTO_H

#include "closeloop/util/cl.h"

#include <stdbool.h>
#include <stddef.h>

#define CRYPTO_SHA256_HEX_LEN 64

/* Writes the lower-case hex SHA-256 of data and a NUL into out. */
void crypto_sha256_hex(char out[CRYPTO_SHA256_HEX_LEN + 1], const void *data, size_t len);

/* Fills buf with cryptographically strong random bytes; CL_EIO if the CSPRNG fails. */
int crypto_random(void *buf, size_t len, struct cl_err *err);

/* Standard base64 with padding (RFC 4648 §4), on the heap: for HTTP Basic credentials. */
char *crypto_base64(const void *in, size_t len);

/* URL-safe base64 without padding; out needs 4*ceil(len/3)+1 bytes. */
void crypto_base64url(char *out, const unsigned char *in, size_t len);

/* Writes the lower-case hex HMAC-SHA256 of data under key, and a NUL, into out. */
void crypto_hmac_sha256_hex(char out[CRYPTO_SHA256_HEX_LEN + 1], const void *key, size_t keylen,
                            const void *data, size_t len);

/* Checks a GitHub-style signature header "sha256=<hex>" over body with secret, in
 * constant time after a length check. False for NULL or malformed headers. */
bool crypto_verify_sha256_header(const char *header, const char *secret, const void *body,
                                 size_t len);

/* Compares two buffers in time that depends only on len. */
bool crypto_equal(const void *a, const void *b, size_t len);

#endif
