/* jwt: RS256-signed JSON Web Tokens built from a PEM private key (OpenSSL libcrypto),
 * as an app proves who it is before it is given an access token (GitHub Apps do).
 * Pure functions, any thread. */
#ifndef CLOSELOOP_JWT_H
#define CLOSELOOP_JWT_H

#include "closeloop/util/cl.h"

#include <openssl/evp.h>
#include <time.h>

/* Loads an RSA private key from a PEM file. *out is freed with EVP_PKEY_free(). The
 * error names the file but never includes key material. */
int jwt_key_load(EVP_PKEY **out, const char *path, struct cl_err *err);
/* The same from PEM text in memory (e.g. an environment variable). */
int jwt_key_parse(EVP_PKEY **out, const char *pem, size_t len, struct cl_err *err);

/* Builds base64url(header).base64url(claims).base64url(signature) with header
 * {"alg":"RS256","typ":"JWT"} and claims {"iat":now-60,"exp":now+540,"iss":"<issuer>"}
 * (issuer: the app's client id or numeric app id, as a JSON string). *out is heap-allocated. */
int jwt_app_assertion(char **out, EVP_PKEY *key, const char *issuer, time_t now,
                      struct cl_err *err);

#endif
