"""The signing key's file: generated once, never overwritten, refused when unusable; the
keyring export that rotation and the bundle verifier read."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from engine.store.signing import KEYS_FORMAT, Signer, SigningKeyError, write_new_key


def test_a_key_is_generated_once_readable_by_its_owner_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "data" / "signing-key.pem"
    signers: list[Signer] = []
    threads = [threading.Thread(target=lambda: signers.append(Signer.from_files(path, create=True)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s.key_id for s in signers}) == 1  # racing first runs all end with one key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["signing-key.pem"]
    with pytest.raises(SigningKeyError, match="never overwritten"):
        write_new_key(path)


def test_a_named_key_file_must_exist_and_be_an_ed25519_key(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="does not exist"):
        Signer.from_files(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM"):
        Signer.from_files(tmp_path / "junk.pem")


def test_retired_keys_come_from_an_export_and_their_ids_are_recomputed(tmp_path: Path) -> None:
    old, new = Signer.generate(), tmp_path / "new.pem"
    write_new_key(new)
    export = old.keyring.export()
    assert export["format"] == KEYS_FORMAT and export["keys"][0]["current"] is True
    (tmp_path / "retired.json").write_text(json.dumps(export))
    rotated = Signer.from_files(new, tmp_path / "retired.json")
    assert old.key_id in rotated.keyring and rotated.key_id in rotated.keyring
    assert rotated.keyring.verify(old.key_id, old.sign(b"m"), b"m")
    assert not rotated.keyring.verify(old.key_id, old.sign(b"m"), b"other")
    export["keys"][0]["public_key"] = "00" * 31
    (tmp_path / "bad.json").write_text(json.dumps(export))
    with pytest.raises(SigningKeyError, match="32-byte"):
        Signer.from_files(new, tmp_path / "bad.json")
