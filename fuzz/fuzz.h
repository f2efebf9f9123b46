/*
 * e2ee fuzzing: what the libFuzzer targets, the corpus generator and the replay tests share.
 *
 * Every target is a file fuzz_<name>.c defining LLVMFuzzerTestOneInput(). The same file is
 * built three ways: with libFuzzer, ASan and UBSan (cmake -DE2EE_FUZZ=ON with clang, `make
 * fuzz`); into a replay program of the normal build that runs the files of
 * fuzz/regressions/<name>/ and fuzz/corpus/<name>/ through it (ctest fuzz_replay_<name>);
 * and next to gen_corpus.c, which writes the seed corpora from real frames and records.
 *
 * Targets check behaviour, not only memory safety: a broken invariant (a record changed by a
 * refused message, a message accepted twice, a relay frame that does not decode, an encoding
 * that does not round-trip) calls fz_fail(), which aborts, so libFuzzer keeps the input.
 *
 * Fixtures (parties, sessions, sender keys) come from a deterministic generator and are
 * built once per process; every input starts from the same state.
 */
#ifndef E2EE_FUZZ_H
#define E2EE_FUZZ_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/group_cipher.h"
#include "proto/identity.h"
#include "proto/prekey.h"
#include "proto/rng.h"
#include "proto/sender_key.h"
#include "proto/sender_key_distribution.h"
#include "proto/sender_key_record.h"
#include "proto/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- checks ---- */

__attribute__((noreturn)) void fz_fail(const char *what, const char *file, int line);
#define FZ_CHECK(cond)                                  \
    do {                                                \
        if (!(cond))                                    \
            fz_fail(#cond, __FILE__, __LINE__);         \
    } while (0)

/* Initialises the crypto layer once (aborts when it cannot). */
void fz_init(void);

/* ---- deterministic randomness ---- */

struct fz_drbg {
    uint8_t key[32];
    uint64_t counter;
};

void fz_drbg_init(struct fz_drbg *d, uint64_t seed);
void fz_drbg_bytes(struct fz_drbg *d, uint8_t *out, size_t len);
/* An e2ee__rng drawing from d (d must outlive it). */
e2ee__rng fz_rng(struct fz_drbg *d);

/* ---- reading a fuzz input as a program ---- */

struct fz_in {
    const uint8_t *p;
    size_t n;
};

/* Each returns 0 once the input is spent. */
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
/* Up to max bytes (at most what is left): *out points into the input. Returns the count. */
size_t fz_bytes(struct fz_in *in, size_t max, const uint8_t **out);

/* ---- protobuf ---- */

/* Reads every field of m (strings to their NUL, bytes in full, repeated and nested); returns
 * a digest of what it read, so that nothing is optimised away. */
uint64_t fz_walk(const ProtobufCMessage *m);
/* Packs m, decodes the result and packs again: both encodings must be equal. */
void fz_roundtrip(const ProtobufCMessage *m);

/* ---- stored records ---- */

/*
 * Private pairwise records end with a checksum field (pwcodec.h). Returns a malloc'd copy of
 * in whose trailing checksum field (if any) is replaced by the right one for label, so that
 * mutated records reach the checks behind it. *out_len receives its length.
 */
uint8_t *fz_reseal_pairwise(const uint8_t *in, size_t len, const char *label, size_t *out_len);
/* Group-layer blobs end with a 16-byte check (sender_key.h): same idea (len >= 17). */
uint8_t *fz_reseal_group(const uint8_t *in, size_t len, const char *label, size_t *out_len);

/* ---- pairwise fixtures ---- */

struct fz_party {
    struct fz_drbg drbg;
    e2ee__rng rng;
    e2ee__address addr;
    e2ee__identity *id;
    e2ee__signed_prekey spk;
    e2ee__one_time_prekey opk;
    e2ee__prekey_keys keys;
    e2ee__prekey_source source; /* serves spk and opk */
};

#define FZ_PW_MSGS 8

/* A real conversation between alice and bob, made once. */
struct fz_pairwise {
    struct fz_party alice, bob;
    uint8_t *alice_initiated;     /* alice's record right after initiating (pending) */
    size_t alice_initiated_len;
    uint8_t *bob_established;     /* bob's record: accepted m[0], replied, decrypted m[1] */
    size_t bob_established_len;
    uint8_t *m[FZ_PW_MSGS];       /* alice to bob: m[0] pre-key, m[1..] ratchet messages */
    size_t m_len[FZ_PW_MSGS];
    uint8_t *reply;               /* bob to alice, after m[0] */
    size_t reply_len;
    uint8_t *prekey_no_opk;       /* a pre-key message made from a bundle without opk */
    size_t prekey_no_opk_len;
};

const struct fz_pairwise *fz_pairwise(void);
/* Deserializes a record (aborts on failure). */
e2ee__session_record *fz_record_load(const uint8_t *buf, size_t len);
/* Serializes a record into a malloc'd buffer (aborts on failure). */
uint8_t *fz_record_save(const e2ee__session_record *rec, size_t *len);
/* 1 when rec serializes to exactly buf/len. */
int fz_record_is(const e2ee__session_record *rec, const uint8_t *buf, size_t len);

/* ---- group fixtures ---- */

#define FZ_GROUP_ID "fuzz-group"
#define FZ_GROUP_MSGS 8
#define FZ_GROUP_NOW_MS 1000000000ull

/* Alice's sender keys in a group and bob's record of them, made once. */
struct fz_group {
    uint8_t *own;                 /* alice's current own key (serialized), iteration 0 */
    size_t own_len;
    uint8_t *record;              /* bob's record: previous key (retired) and current key */
    size_t record_len;
    uint8_t *dist;                /* distribution of the current key at iteration 0 */
    size_t dist_len;
    uint8_t *dist_prev;           /* distribution of the previous key */
    size_t dist_prev_len;
    uint8_t *m[FZ_GROUP_MSGS];    /* current key: iterations 0, 1, 2, 3, 10, 40, 41, 500 */
    size_t m_len[FZ_GROUP_MSGS];
    uint8_t *m_prev;              /* previous key, iteration 3 */
    size_t m_prev_len;
};

const struct fz_group *fz_group(void);
e2ee__sender_key_record *fz_skr_load(const uint8_t *buf, size_t len);
uint8_t *fz_skr_save(const e2ee__sender_key_record *r, size_t *len);
int fz_skr_is(const e2ee__sender_key_record *r, const uint8_t *buf, size_t len);

#endif
