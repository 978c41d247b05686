"""The engine's signing key: Ed25519 signatures on what it writes, with a key kept out of the database.

A hash chain shows that history was edited only to someone who cannot re-hash it; anyone
with write access to the database can. So the engine signs each event's chain link and
each snapshot with a private key read from a file (a secret mount in production, a file
generated on first run in the embedded default's data directory). Whoever holds the
public keys can check that every link was written by the engine.

Keys are named by a key id: the first 8 bytes of SHA-256 of the raw 32-byte public key.
Rotation keeps old public keys in a *keyring* (the current key plus retired public keys
from a file the operator keeps), so what an old key signed stays valid.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any, Iterable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_ID_BYTES = 8
KEYS_FORMAT = "serviceorder-public-keys-v1"


class SigningKeyError(ValueError):
    """The signing key or the keyring file cannot be used."""


def key_id_of(public: bytes) -> bytes:
    return hashlib.sha256(public).digest()[:KEY_ID_BYTES]


def raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Keyring:
    """The public keys whose signatures are trusted, by key id: the current key and every
    retired one. Public keys come from outside the database, never from what is verified."""

    def __init__(self, publics: Iterable[bytes], current: bytes | None = None) -> None:
        self._raw: dict[bytes, bytes] = {key_id_of(p): p for p in publics}
        self._keys = {k: Ed25519PublicKey.from_public_bytes(p) for k, p in self._raw.items()}
        self.current = current

    def __contains__(self, key_id: bytes) -> bool:
        return key_id in self._keys

    def verify(self, key_id: bytes, signature: bytes, message: bytes) -> bool:
        """Does ``signature`` by the key ``key_id`` hold for ``message``? False for an unknown key."""
        key = self._keys.get(key_id)
        if key is None:
            return False
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def public_keys(self, key_ids: Iterable[bytes] | None = None) -> dict[str, str]:
        """{key id: raw public key}, hex: what bundles, digests and anchors publish."""
        wanted = self._raw if key_ids is None else {k: self._raw[k] for k in key_ids if k in self._raw}
        return {k.hex(): p.hex() for k, p in sorted(wanted.items())}

    def export(self) -> dict[str, Any]:
        """The keyring as a document to publish (and to give ``tools/verify_bundle.py --keys``)."""
        return {"format": KEYS_FORMAT,
                "keys": [{"key_id": k, "public_key": p, "current": self.current is not None
                          and k == self.current.hex()} for k, p in self.public_keys().items()]}


class Signer:
    """Signs with the current private key; verifies with the whole keyring."""

    def __init__(self, private: Ed25519PrivateKey, retired: Iterable[bytes] = ()) -> None:
        self._private = private
        public = raw_public(private)
        self.key_id = key_id_of(public)
        self.keyring = Keyring([public, *retired], current=self.key_id)

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_files(cls, key_file: Path, retired_keys_file: Path | None = None, *, create: bool = False) -> Signer:
        """The signer of ``key_file`` (PEM, PKCS#8), made first if ``create`` and absent; with the
        retired public keys of ``retired_keys_file`` (a ``serviceorder audit keys`` export)."""
        if create and not key_file.exists():
            try:
                write_new_key(key_file)
            except SigningKeyError:
                pass  # another process of the same deployment made it first: use theirs
        try:
            private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except FileNotFoundError:
            raise SigningKeyError(f"the signing key file {key_file} does not exist") from None
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{key_file} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningKeyError(f"{key_file} holds a {type(private).__name__}, not an Ed25519 key")
        retired = read_public_keys(retired_keys_file) if retired_keys_file else []
        return cls(private, retired)


def write_new_key(path: Path) -> bytes:
    """Generate a private key into ``path`` (readable by its owner only; never overwritten:
    SigningKeyError if it exists). Returns its key id."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked into place: a process starting at the same
    # time sees either no key or a complete one, and a key is never overwritten.
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    try:
        os.link(partial, path)
    except FileExistsError:
        raise SigningKeyError(f"{path} exists; a signing key is never overwritten") from None
    finally:
        partial.unlink()
    return key_id_of(raw_public(key))


def read_public_keys(path: Path) -> list[bytes]:
    """The public keys of a keyring export; each key id is recomputed, never trusted."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != KEYS_FORMAT:
            raise SigningKeyError(f"{path} is not a {KEYS_FORMAT} document")
        publics = [bytes.fromhex(k["public_key"]) for k in document["keys"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SigningKeyError(f"cannot read public keys from {path}: {exc}") from None
    for p in publics:
        if len(p) != 32:
            raise SigningKeyError(f"{path}: {p.hex()} is not a 32-byte Ed25519 public key")
    return publics
