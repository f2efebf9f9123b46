#!/usr/bin/env python3
"""Independent derivation of the pairwise known-answer values in test_pairwise_kat.c.

Implements docs/PROTOCOL.md section 1 from scratch with Python's hashlib/hmac and the
`cryptography` package (X25519, Ed25519, AES-GCM), without any e2ee code, and prints the
values the C test hard-codes. Run: python3 tests/pairwise/kat_gen.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def hkdf(ikm, salt, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def raw(pub):
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def x_pub(sk):
    return raw(X25519PrivateKey.from_private_bytes(sk).public_key())


def dh(sk, pk):
    return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))


def identity(seed, dh_sk):
    ed = Ed25519PrivateKey.from_private_bytes(seed)
    dh_pk = x_pub(dh_sk)
    sig = ed.sign(b"e2ee-identity-dh-v1" + dh_pk)
    return ed, raw(ed.public_key()), dh_pk, sig


def binding(user, device, sign_pk, dh_pk):
    return bytes([len(user)]) + user + struct.pack(">I", device) + sign_pk + dh_pk


def kdf_ck(ck):
    return (hmac.new(ck, b"\x01", hashlib.sha256).digest(),
            hmac.new(ck, b"\x02", hashlib.sha256).digest())


# The C test's scripted rng hands out these 32-byte chunks in this order.
chunk = [bytes([0x10 + i]) * 32 for i in range(8)]
a_seed, a_x, b_seed, b_x, spk_sk, opk_sk, ek, a_r1 = chunk

a_ed, a_sign, a_dh, a_sig = identity(a_seed, a_x)
b_ed, b_sign, b_dh, b_sig = identity(b_seed, b_x)
spk_id, opk_id = 7, 9
spk_pk, opk_pk = x_pub(spk_sk), x_pub(opk_sk)
spk_sig = b_ed.sign(b"e2ee-signed-prekey-v1" + struct.pack(">I", spk_id) + spk_pk)
bind_a = binding(b"alice", 1, a_sign, a_dh)
bind_b = binding(b"bob", 1, b_sign, b_dh)

ikm = b"\xff" * 32 + dh(a_x, spk_pk) + dh(ek, b_dh) + dh(ek, spk_pk) + dh(ek, opk_pk)
sk = hkdf(ikm, b"\x00" * 32, b"e2ee-x3dh-v1" + bind_a + bind_b, 32)
print("identity_a_dh_sig", a_sig.hex())
print("spk_sig", spk_sig.hex())
print("x3dh_sk", sk.hex())

# Alice's first message: sending DH step with ratchet key a_r1 against Bob's signed prekey.
okm = hkdf(dh(a_r1, spk_pk), sk, b"e2ee-ratchet-root-v1", 64)
rk1, cks = okm[:32], okm[32:]
mk, cks = kdf_ck(cks)
keys = hkdf(mk, b"\x00" * 32, b"e2ee-ratchet-msg-v1", 44)
header = x_pub(a_r1) + struct.pack(">II", 0, 0)
ad = b"e2ee-pairwise-ad-v1" + bind_a + bind_b + header
ct = AESGCM(keys[:32]).encrypt(keys[32:], b"hello bob", ad)
print("first_root", rk1.hex())
print("first_ciphertext", ct.hex())

fa = hashlib.sha256(b"e2ee-fingerprint-v1" + a_sign + a_dh).digest()
fb = hashlib.sha256(b"e2ee-fingerprint-v1" + b_sign + b_dh).digest()


def digits(fp):
    return [
        "%05d" % (int.from_bytes(fp[5 * g:5 * g + 5], "big") % 100000) for g in range(6)
    ]


lo, hi = sorted([fa, fb])
print("safety_number", " ".join(digits(lo) + digits(hi)))
