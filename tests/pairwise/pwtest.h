/* e2ee tests: helpers shared by the pairwise test programs. */
#ifndef E2EE_PWTEST_H
#define E2EE_PWTEST_H

#include <stddef.h>
#include <stdint.h>

#include "proto/fingerprint.h"
#include "proto/identity.h"
#include "proto/prekey.h"
#include "proto/session.h"
#include "testutil.h"

#define PW_MAX_OPKS 16

/* e2ee__rng over a tu_drbg. */
e2ee__rng pw_rng(struct tu_drbg *d);

/* One client device: identity, prekeys (with used tombstones), its rng. */
struct pw_party {
    struct tu_drbg drbg;
    e2ee__rng rng;
    e2ee__address addr;
    e2ee__identity *id;
    e2ee__signed_prekey spk;
    e2ee__one_time_prekey opk[PW_MAX_OPKS];
    int opk_used[PW_MAX_OPKS];
    size_t n_opk;
    size_t next_opk; /* next one handed out in a bundle */
    e2ee__prekey_source source;
};

/* Creates a party with a fresh identity, signed prekey 1 and PW_MAX_OPKS one-time prekeys
 * with ids 100, 101, ... */
void pw_party_init(struct pw_party *p, const char *user, uint64_t seed);
void pw_party_cleanup(struct pw_party *p);

/* Bundle of p with its next unused one-time prekey (with_opk) or none. */
void pw_party_bundle(struct pw_party *p, int with_opk, e2ee__prekey_bundle *b);

/* Marks a one-time prekey used (as the client's store would, after a successful decrypt). */
void pw_party_mark_used(struct pw_party *p, uint32_t id);

/* Decrypts msg from `from` into rec (p's record of `from`); marks a used one-time prekey.
 * Returns the e2ee code; on success *pt and *ptlen receive a malloc'd copy (NULL allowed). */
int pw_decrypt(struct pw_party *p, e2ee__session_record *rec, const struct pw_party *from,
               const uint8_t *msg, size_t len, uint8_t **pt, size_t *ptlen);

/* Serializes rec into a malloc'd buffer (asserts success). */
uint8_t *pw_snapshot(const e2ee__session_record *rec, size_t *len);
/* Asserts rec still serializes to exactly snap/len, then frees snap. */
void pw_assert_unchanged(const e2ee__session_record *rec, uint8_t *snap, size_t len);

/* Serialize + deserialize (asserts success); returns the new record, frees the old. */
e2ee__session_record *pw_reload(e2ee__session_record *rec);

#endif
