/* e2ee crypto: randomness, wiping, constant-time comparison and guarded secret buffers. */
#include <sodium.h>
#include <stdlib.h>

#include "crypto/crypto_internal.h"

int e2ee__random_bytes(uint8_t *buf, size_t len)
{
    if (len == 0)
        return E2EE_OK;
    if (!buf)
        return E2EE_ERR_ARG;
    if (!E2EE_CRYPTO_READY()) {
        sodium_memzero(buf, len);
        return E2EE_ERR_CRYPTO;
    }
    randombytes_buf(buf, len);
    return E2EE_OK;
}

uint32_t e2ee__random_u32(void)
{
    if (!E2EE_CRYPTO_READY())
        abort(); /* no CSPRNG: continuing would hand out predictable ids */
    return randombytes_random();
}

void e2ee__wipe(void *p, size_t len)
{
    if (p && len)
        sodium_memzero(p, len);
}

int e2ee__ct_equal(const void *a, const void *b, size_t len)
{
    if (!a || !b)
        return 0;
    if (len == 0)
        return 1;
    return sodium_memcmp(a, b, len) == 0;
}

int e2ee__is_zero(const void *p, size_t len)
{
    if (!p)
        return 0;
    return sodium_is_zero(p, len);
}

int e2ee__secret_new(e2ee__secret **out, size_t len)
{
    if (!out)
        return E2EE_ERR_ARG;
    *out = NULL;
    if (len == 0 || len > E2EE_CRYPTO_MAX_INPUT)
        return E2EE_ERR_LENGTH;
    if (!E2EE_CRYPTO_READY())
        return E2EE_ERR_CRYPTO;
    e2ee__secret *s = calloc(1, sizeof *s);
    if (!s)
        return E2EE_ERR_NOMEM;
    s->ptr = sodium_malloc(len);
    if (!s->ptr) {
        free(s);
        return E2EE_ERR_NOMEM;
    }
    sodium_memzero(s->ptr, len);
    s->len = len;
    *out = s;
    return E2EE_OK;
}

void e2ee__secret_free(e2ee__secret *s)
{
    if (!s)
        return;
    sodium_free(s->ptr); /* wipes before releasing */
    free(s);
}
