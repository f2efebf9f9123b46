/*
 * e2ee client: peers' identity keys. The first key seen for a user is trusted (from a bundle
 * or a pre-key message); another key later is a change: an event reports it, and the policy
 * either trusts it at once (sessions with the old key are dropped) or blocks the peer until
 * the application calls e2ee_client_trust_peer() with the new fingerprint.
 *
 * The store keeps 64 bytes per key: the Ed25519 and the X25519 public keys (what the
 * fingerprint covers; the DH signature is checked whenever a key arrives).
 */
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

#define PEER_KEY_LEN (E2EE_ED25519_PK_LEN + E2EE_X25519_KEY_LEN)

static void peer_key(const e2ee__identity_pub *pub, uint8_t out[PEER_KEY_LEN])
{
    memcpy(out, pub->sign_pk, E2EE_ED25519_PK_LEN);
    memcpy(out + E2EE_ED25519_PK_LEN, pub->dh_pk, E2EE_X25519_KEY_LEN);
}

static int fingerprint_hex(const uint8_t *key, size_t len, char out[E2EE_FINGERPRINT_SIZE])
{
    e2ee__identity_pub pub;
    uint8_t fp[E2EE_FINGERPRINT_LEN];
    int rc = len == PEER_KEY_LEN ? E2EE_OK : E2EE_ERR_CORRUPT;

    out[0] = '\0';
    memset(&pub, 0, sizeof pub);
    if (rc == E2EE_OK) {
        memcpy(pub.sign_pk, key, E2EE_ED25519_PK_LEN);
        memcpy(pub.dh_pk, key + E2EE_ED25519_PK_LEN, E2EE_X25519_KEY_LEN);
        rc = e2ee__fingerprint(fp, &pub);
    }
    if (rc == E2EE_OK)
        e2ee__client_hex(fp, sizeof fp, out);
    return rc;
}

static void change_event(struct e2ee_client *c, const char *user,
                         const struct e2ee__store_peer *before, const uint8_t *key,
                         int accepted)
{
    char old_fp[E2EE_FINGERPRINT_SIZE], new_fp[E2EE_FINGERPRINT_SIZE];
    struct e2ee__event_item *it = NULL;

    if (fingerprint_hex(before->trusted_key, before->trusted_len, old_fp) == E2EE_OK &&
        fingerprint_hex(key, PEER_KEY_LEN, new_fp) == E2EE_OK)
        it = e2ee__event_add(c, E2EE_EVENT_PEER_IDENTITY_CHANGED);
    if (!it)
        goto done;
    it->ev.identity.user = e2ee__event_str(it, user);
    it->ev.identity.old_fingerprint = e2ee__event_str(it, old_fp);
    it->ev.identity.new_fingerprint = e2ee__event_str(it, new_fp);
    it->ev.identity.accepted = accepted;
    e2ee__client_log(c, E2EE_LOG_WARNING, "identity key of %s changed (%s)", user,
                     accepted ? "accepted by policy" : "blocked until trusted");
done:
    return;
}

/* A change: trusted at once (ACCEPT), or kept pending (BLOCK). */
static int on_change(struct e2ee_client *c, const char *user,
                     const struct e2ee__store_peer *before, const uint8_t *key)
{
    int reported = before->pending_len == PEER_KEY_LEN &&
                   memcmp(before->pending_key, key, PEER_KEY_LEN) == 0;
    int rc = E2EE_ERR_UNTRUSTED_IDENTITY;

    if (c->policy == E2EE_IDENTITY_ACCEPT) {
        rc = e2ee__store_peer_trust(c->st, user, key, PEER_KEY_LEN,
                                    e2ee__client_wall_ms() / 1000);
        if (rc == E2EE_OK)
            rc = e2ee__store_session_delete_user(c->st, user, NULL);
        if (rc == E2EE_OK)
            change_event(c, user, before, key, 1);
    } else if (!reported) {
        change_event(c, user, before, key, 0);
    }
    return rc;
}

int e2ee__peer_observe(struct e2ee_client *c, const char *user, const e2ee__identity_pub *pub)
{
    struct e2ee__store_peer before;
    enum e2ee__store_peer_status status = E2EE__STORE_PEER_NEW;
    uint8_t key[PEER_KEY_LEN];
    int rc = e2ee__store_peer_get(c->st, user, &before);

    peer_key(pub, key);
    if (rc == E2EE_ERR_NOT_FOUND) {
        memset(&before, 0, sizeof before);
        rc = E2EE_OK;
    }
    if (rc == E2EE_OK)
        rc = e2ee__store_peer_observe(c->st, user, key, sizeof key,
                                      e2ee__client_wall_ms() / 1000, &status);
    if (rc == E2EE_OK && status == E2EE__STORE_PEER_CHANGED)
        rc = on_change(c, user, &before, key);
    return rc;
}

/* Observing pub for user cannot change what is trusted (no session is dropped) when the
 * user is unknown or pub is its trusted key: callers may then verify the key first by the
 * X3DH that needs it anyway and observe it after (one Ed25519 verification less). *trusted
 * (may be NULL): pub is the trusted key, whose binding was verified when it was first seen
 * (every key is verified before it is observed), so it need not be verified again. */
int e2ee__peer_settled(struct e2ee_client *c, const char *user, const e2ee__identity_pub *pub,
                       int *settled, int *trusted)
{
    struct e2ee__store_peer p;
    uint8_t key[PEER_KEY_LEN];
    int rc = e2ee__store_peer_get(c->st, user, &p);
    int same = 0;

    *settled = 0;
    peer_key(pub, key);
    if (rc == E2EE_ERR_NOT_FOUND) {
        *settled = 1;
        rc = E2EE_OK;
    } else if (rc == E2EE_OK) {
        same = p.trusted_len == PEER_KEY_LEN && memcmp(p.trusted_key, key, PEER_KEY_LEN) == 0;
        *settled = same;
    }
    if (trusted)
        *trusted = same;
    return rc;
}

int e2ee__peer_blocked(struct e2ee_client *c, const char *user)
{
    struct e2ee__store_peer p;
    int rc = e2ee__store_peer_get(c->st, user, &p);
    return rc == E2EE_OK && p.changed && c->policy == E2EE_IDENTITY_BLOCK;
}

/* ---- public API ---- */

static int peer_args(e2ee_client *c, const char *user, void *out)
{
    int rc = c && out ? E2EE_OK : E2EE_ERR_ARG;
    if (rc == E2EE_OK && user)
        rc = e2ee__client_id_check(user);
    return rc;
}

/* The trusted key of user (64 bytes): NO_SUCH_USER when none is known. mu held. */
static int trusted_key(struct e2ee_client *c, const char *user, struct e2ee__store_peer *p)
{
    int rc = e2ee__store_peer_get(c->st, user, p);
    return rc == E2EE_ERR_NOT_FOUND ? E2EE_ERR_NO_SUCH_USER : rc;
}

int e2ee_client_fingerprint(e2ee_client *c, const char *user, char out[E2EE_FINGERPRINT_SIZE])
{
    struct e2ee__store_peer p;
    int rc = peer_args(c, user, out);

    if (out)
        out[0] = '\0';
    if (rc != E2EE_OK)
        goto done;
    if (!user || strcmp(user, c->user_id) == 0) {
        uint8_t key[PEER_KEY_LEN];
        peer_key(e2ee__identity_public(c->id), key);
        rc = fingerprint_hex(key, sizeof key, out);
        goto done;
    }
    pthread_mutex_lock(&c->mu);
    rc = trusted_key(c, user, &p);
    if (rc == E2EE_OK)
        rc = fingerprint_hex(p.trusted_key, p.trusted_len, out);
    pthread_mutex_unlock(&c->mu);
done:
    return rc;
}

int e2ee_client_safety_number(e2ee_client *c, const char *peer,
                              char out[E2EE_SAFETY_NUMBER_SIZE])
{
    struct e2ee__store_peer p;
    e2ee__identity_pub other;
    char num[E2EE_SAFETY_NUMBER_LEN];
    int rc = peer && out ? peer_args(c, peer, out) : E2EE_ERR_ARG;

    if (out)
        out[0] = '\0';
    if (rc == E2EE_OK && strcmp(peer, c->user_id) == 0)
        rc = E2EE_ERR_ARG;
    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = trusted_key(c, peer, &p);
    pthread_mutex_unlock(&c->mu);
    if (rc == E2EE_OK && p.trusted_len != PEER_KEY_LEN)
        rc = E2EE_ERR_CORRUPT;
    if (rc != E2EE_OK)
        goto done;
    memset(&other, 0, sizeof other);
    memcpy(other.sign_pk, p.trusted_key, E2EE_ED25519_PK_LEN);
    memcpy(other.dh_pk, p.trusted_key + E2EE_ED25519_PK_LEN, E2EE_X25519_KEY_LEN);
    rc = e2ee__safety_number(num, e2ee__identity_public(c->id), &other);
    if (rc == E2EE_OK)
        memcpy(out, num, sizeof num);
done:
    return rc;
}

/* Trusts p's pending key and drops the sessions made with the old one. mu held. */
static int trust_pending(struct e2ee_client *c, const char *peer,
                         const struct e2ee__store_peer *p)
{
    int rc = e2ee__store_begin(c->st);
    if (rc != E2EE_OK)
        goto done;
    rc = e2ee__store_peer_trust(c->st, peer, p->pending_key, p->pending_len,
                                e2ee__client_wall_ms() / 1000);
    if (rc == E2EE_OK)
        rc = e2ee__store_session_delete_user(c->st, peer, NULL);
    if (rc == E2EE_OK)
        rc = e2ee__store_commit(c->st);
    else
        (void)e2ee__store_rollback(c->st);
done:
    return rc;
}

int e2ee_client_trust_peer(e2ee_client *c, const char *peer, const char *fingerprint)
{
    struct e2ee__store_peer p;
    char fp[E2EE_FINGERPRINT_SIZE];
    int rc = peer && fingerprint ? peer_args(c, peer, fp) : E2EE_ERR_ARG;

    if (rc != E2EE_OK)
        goto done;
    pthread_mutex_lock(&c->mu);
    rc = trusted_key(c, peer, &p);
    if (rc == E2EE_OK && p.changed)
        rc = fingerprint_hex(p.pending_key, p.pending_len, fp);
    else if (rc == E2EE_OK)
        rc = fingerprint_hex(p.trusted_key, p.trusted_len, fp);
    /* the key the user verified must be the one presented now */
    if (rc == E2EE_OK && strcmp(fp, fingerprint) != 0)
        rc = E2EE_ERR_STATE;
    if (rc == E2EE_OK && p.changed)
        rc = trust_pending(c, peer, &p);
    if (rc == E2EE_OK)
        c->pump_dirty = 1;
    pthread_mutex_unlock(&c->mu);
    if (rc == E2EE_OK)
        e2ee__client_wake(c);
done:
    return rc;
}
