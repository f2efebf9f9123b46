/*
 * e2ee internal (proto layer): signed prekeys, one-time prekeys and prekey bundles.
 *
 * A client generates one signed prekey (X25519 pair signed by its identity key over
 * "e2ee-signed-prekey-v1" || u32be id || public key; rotated by the caller) and batches of
 * one-time prekeys with caller-chosen ids. It uploads the public parts (PreKeyUpload) and
 * keeps the private parts in its store (SignedPreKeyRecord, OneTimePreKeyRecord). The relay
 * hands out a PreKeyBundle per request with at most one one-time prekey.
 *
 * One-time prekey reuse: ids must never be reused by a client (allocate them from a
 * counter). When e2ee__session_decrypt() reports that it used a one-time prekey, the caller
 * must, in the same store transaction that saves the session record, delete the private key
 * and remember the id as used (a tombstone, or "every id below the counter that is not
 * present is used"). Its e2ee__prekey_source then answers E2EE_ERR_REPLAY for that id, and
 * a second pre-key message naming it is rejected with E2EE_ERR_REPLAY.
 *
 * Value types here hold secrets: wipe them with the _wipe functions when done.
 */
#ifndef E2EE_PROTO_PREKEY_H
#define E2EE_PROTO_PREKEY_H

#include <stddef.h>
#include <stdint.h>

#include "proto/identity.h"
#include "proto/rng.h"

#define E2EE_SIGNED_PREKEY_LABEL "e2ee-signed-prekey-v1"
#define E2EE_PREKEY_VERSION 1          /* version of every prekey message and record */
#define E2EE_SIGNED_PREKEY_RECORD_LABEL "e2ee-signed-prekey-record-v1"
#define E2EE_ONE_TIME_PREKEY_RECORD_LABEL "e2ee-one-time-prekey-record-v1"
#define E2EE_PREKEY_BATCH_MAX 1000     /* one-time prekeys in one upload */
#define E2EE_PREKEY_RECORD_MAX 512     /* longest serialized prekey record accepted */
#define E2EE_PREKEY_BUNDLE_MAX 1024    /* longest serialized bundle accepted */
#define E2EE_PREKEY_UPLOAD_MAX (1024 + 48 * E2EE_PREKEY_BATCH_MAX)

typedef struct e2ee__signed_prekey {
    uint32_t id;
    uint8_t pk[E2EE_X25519_KEY_LEN];
    uint8_t sk[E2EE_X25519_KEY_LEN];
    uint8_t sig[E2EE_ED25519_SIG_LEN];
    uint64_t created_at; /* caller's clock, seconds; lets the caller rotate */
} e2ee__signed_prekey;

typedef struct e2ee__one_time_prekey {
    uint32_t id;
    uint8_t pk[E2EE_X25519_KEY_LEN];
    uint8_t sk[E2EE_X25519_KEY_LEN];
} e2ee__one_time_prekey;

/* Public bundle of one device of a user, as the relay hands it out. Plain value type. */
typedef struct e2ee__prekey_bundle {
    e2ee__address address;
    e2ee__identity_pub identity;
    uint32_t spk_id;
    uint8_t spk_pk[E2EE_X25519_KEY_LEN];
    uint8_t spk_sig[E2EE_ED25519_SIG_LEN];
    int has_opk;
    uint32_t opk_id;
    uint8_t opk_pk[E2EE_X25519_KEY_LEN];
} e2ee__prekey_bundle;

/*
 * Where the responder finds its private prekeys (implemented by the caller's store). Each
 * callback copies the key with that id into *out and returns E2EE_OK, or returns
 * E2EE_ERR_UNKNOWN_KEY (no such id) or, for one-time prekeys, E2EE_ERR_REPLAY (the id was
 * used already), or another negative code (store failure), which is passed through.
 * Callbacks are called synchronously on the caller's thread; *out is wiped after use.
 */
typedef struct e2ee__prekey_source {
    int (*signed_prekey)(void *ctx, uint32_t id, e2ee__signed_prekey *out);
    int (*one_time_prekey)(void *ctx, uint32_t id, e2ee__one_time_prekey *out);
    void *ctx;
} e2ee__prekey_source;

/* Keys for e2ee__prekey_source_from_keys (borrowed; opk may be NULL). */
typedef struct e2ee__prekey_keys {
    const e2ee__signed_prekey *spk;
    const e2ee__one_time_prekey *opk;
} e2ee__prekey_keys;

/*
 * Makes *src serve exactly the keys in *keys (E2EE_ERR_UNKNOWN_KEY for any other id): for a
 * caller that looked up the ids named by e2ee__pairwise_message_peek itself and passes the
 * private keys in. *keys (and what it points to) must outlive the use of *src.
 */
void e2ee__prekey_source_from_keys(e2ee__prekey_source *src, e2ee__prekey_keys *keys);

void e2ee__signed_prekey_wipe(e2ee__signed_prekey *spk);
void e2ee__one_time_prekey_wipe(e2ee__one_time_prekey *opk);

/*
 * Generates signed prekey `id` (32 random bytes from rng as the X25519 secret), signs it
 * with identity `owner`, records `now` as its creation time.
 */
E2EE_MUST_CHECK int e2ee__signed_prekey_generate(e2ee__signed_prekey *out,
                                                 const e2ee__identity *owner, uint32_t id,
                                                 uint64_t now, const e2ee__rng *rng);

/* E2EE_OK when sig is owner's signature of signed prekey (id, pk), else E2EE_ERR_AUTH. */
E2EE_MUST_CHECK int e2ee__signed_prekey_verify(const e2ee__identity_pub *owner, uint32_t id,
                                               const uint8_t pk[E2EE_X25519_KEY_LEN],
                                               const uint8_t sig[E2EE_ED25519_SIG_LEN]);

/*
 * Generates `count` (1..E2EE_PREKEY_BATCH_MAX) one-time prekeys with ids first_id,
 * first_id + 1, ... into out[0..count). E2EE_ERR_RANGE when the ids would wrap past
 * UINT32_MAX. On failure every element of out is wiped.
 */
E2EE_MUST_CHECK int e2ee__one_time_prekeys_generate(e2ee__one_time_prekey *out, size_t count,
                                                    uint32_t first_id, const e2ee__rng *rng);

/* Private records for the caller's store (secret: free with e2ee__wire_buf_free). */
E2EE_MUST_CHECK int e2ee__signed_prekey_serialize(const e2ee__signed_prekey *spk,
                                                  uint8_t **out, size_t *out_len);
E2EE_MUST_CHECK int e2ee__one_time_prekey_serialize(const e2ee__one_time_prekey *opk,
                                                    uint8_t **out, size_t *out_len);

/*
 * Parse private records. The public key is recomputed from the secret and compared.
 * E2EE_OK; E2EE_ERR_VERSION (unknown version); E2EE_ERR_CORRUPT (anything malformed or
 * inconsistent). *out is wiped on failure.
 */
E2EE_MUST_CHECK int e2ee__signed_prekey_deserialize(e2ee__signed_prekey *out,
                                                    const uint8_t *buf, size_t len);
E2EE_MUST_CHECK int e2ee__one_time_prekey_deserialize(e2ee__one_time_prekey *out,
                                                      const uint8_t *buf, size_t len);

/*
 * Serializes what is uploaded to the relay: the identity, the signed prekey's public part
 * and the public parts of opks[0..n) (n may be 0; at most E2EE_PREKEY_BATCH_MAX). The
 * buffer holds no secret (free with free()).
 */
E2EE_MUST_CHECK int e2ee__prekey_upload_serialize(const e2ee__identity_pub *identity,
                                                  const e2ee__signed_prekey *spk,
                                                  const e2ee__one_time_prekey *opks, size_t n,
                                                  uint8_t **out, size_t *out_len);

/* Fills a bundle from local material (opk may be NULL). Used by tests and tools. */
E2EE_MUST_CHECK int e2ee__prekey_bundle_make(e2ee__prekey_bundle *out,
                                             const e2ee__address *addr,
                                             const e2ee__identity_pub *identity,
                                             const e2ee__signed_prekey *spk,
                                             const e2ee__one_time_prekey *opk);

/* Serializes a bundle as a PreKeyBundle message (free with free()). */
E2EE_MUST_CHECK int e2ee__prekey_bundle_serialize(const e2ee__prekey_bundle *b, uint8_t **out,
                                                  size_t *out_len);

/*
 * Parses a PreKeyBundle with every length checked (signatures are NOT verified here:
 * e2ee__session_initiate verifies them). E2EE_ERR_DECODE (malformed), E2EE_ERR_VERSION,
 * E2EE_ERR_TOO_LARGE (over E2EE_PREKEY_BUNDLE_MAX). *out is zeroed on failure.
 */
E2EE_MUST_CHECK int e2ee__prekey_bundle_parse(e2ee__prekey_bundle *out, const uint8_t *buf,
                                              size_t len);

/* Verifies the identity's DH signature and the signed prekey's signature: E2EE_OK or
 * E2EE_ERR_AUTH. */
E2EE_MUST_CHECK int e2ee__prekey_bundle_verify(const e2ee__prekey_bundle *b);

#endif
