"""The ledger's signing key: refused when it would silently be a second key, listed in the chain, rotated.

`KeyedStore` holds what the sealer (`_seal.SealingStore`) needs of the key: the key itself, loaded or
made once, and the completion of a rotation that a crash cut short.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, func, insert, select

from misflag.errors import LedgerError, named_path
from misflag.ledger import _schema as schema
from misflag.ledger._base import LOG, Store
from misflag.ledger._engine import now
from misflag.ledger._keys import (
    key_id,
    load_or_create,
    public_bytes,
    rotation_message,
    signature_valid,
    sync_folder,
)


class KeyedStore(Store):
    """A store that signs with one Ed25519 key per ledger and finishes an interrupted key rotation."""

    def require_signing_key(self) -> None:
        """Refuse (LedgerError) before any write when signing would need a key this ledger never had."""
        if self._key is None and not self.key_path.exists():
            with self._read() as connection:
                self._refuse_new_key(connection)

    def _refuse_new_key(self, connection: Connection) -> None:
        # a key file that is missing (wrong --key, another machine's default path) must not silently
        # become a second signing key: its checkpoints would fail every pinned verification
        if connection.execute(select(func.count()).select_from(schema.checkpoints)).scalar():
            raise LedgerError(
                f"signing key {named_path(self.key_path)} does not exist, but this ledger is already signed by another "
                "key: point --key (or $MISFLAG_LEDGER_KEY) at its key file; a new key comes only from "
                "`misflag ledger init` on a new ledger or from `misflag ledger rotate-key`"
            )

    def _signing_key(self, connection: Connection) -> Ed25519PrivateKey:
        if self._key is None:
            self._finish_rotation(connection)  # a rotation cut short by a crash hands over first
            if not self.key_path.exists():
                self._refuse_new_key(connection)
            self._key = load_or_create(self.key_path)
        public = public_bytes(self._key)
        name = key_id(public)
        if name != self._key_listed:  # once the key's row is found committed, it is not looked up again
            known = self._fetch(connection, "SELECT 1 FROM ledger_keys WHERE key_id = ?", (name,))
            if known:
                self._key_listed = name
            else:
                connection.execute(insert(schema.keys), [{"key_id": name, "public_key": public, "ts": now()}])
        return self._key

    @property
    def fresh_key_path(self) -> Path:
        """Where `rotate-key` keeps the next key until its rotation is in the chain and the files move."""
        return self.key_path.with_suffix(".new.pem")

    def _finish_rotation(self, connection: Connection) -> str | None:
        """If the chain holds a rotation, signed by the key file's key, to the key in `fresh_key_path`
        (a crash came between the commit and the file moves), move the files now; return the new key id.

        The old key is first linked to `*.retired-<id>.pem`, then the new key replaces the key file, so
        a key file exists at every instant and no step deletes the only copy of a key.
        """
        fresh = self.fresh_key_path
        if not (fresh.exists() and self.key_path.exists()):
            return None
        new_public = public_bytes(load_or_create(fresh))
        old_public = public_bytes(load_or_create(self.key_path))
        old_id, new_id = key_id(old_public), key_id(new_public)
        message = rotation_message(old_id, new_id, new_public)
        bodies = connection.execute(
            select(schema.entries.c.body).where(schema.entries.c.kind == "key_rotated")
        ).scalars()
        for body in bodies:
            payload = json.loads(body)["payload"]
            names = (payload.get("old_key_id"), payload.get("new_key_id"))
            if names == (old_id, new_id) and signature_valid(
                old_public, bytes.fromhex(payload.get("signature", "")), message
            ):
                break
        else:
            return None
        retired = self.key_path.with_suffix(f".retired-{old_id[:12]}.pem")
        if not retired.exists():
            os.link(self.key_path, retired)
        os.replace(fresh, self.key_path)
        sync_folder(self.key_path.parent)
        fresh.with_suffix(".pub").unlink(missing_ok=True)
        self._key = None
        LOG.warning("misflag ledger: finished the rotation to key %s after an interruption", new_id)
        return new_id
