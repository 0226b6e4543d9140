"""The Ed25519 key that signs checkpoints: where it lives, how it is made, what exactly is signed.

The private key is a PEM file, never in the database: by default next to a SQLite ledger
(`ledger.sqlite` → `ledger.sqlite.signing-key.pem`), or for PostgreSQL in misflag's user data folder under
`ledger-keys/`. MISFLAG_LEDGER_KEY or an explicit path overrides both. Public keys are stored in the ledger.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from platformdirs import user_data_dir
from sqlalchemy.engine import make_url

from misflag.errors import LedgerError

CHECKPOINT_FORMAT = "misflag-ledger-checkpoint/1"


def default_key_path(url: str) -> Path:
    """Where the signing key of the ledger at `url` is kept unless configured otherwise."""
    configured = os.environ.get("MISFLAG_LEDGER_KEY")
    if configured:
        return Path(configured)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database + ".signing-key.pem")
    where = parsed.set(password=None).render_as_string(hide_password=False)
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return Path(user_data_dir("misflag", appauthor=False)) / "ledger-keys" / f"{digest}.pem"


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """Read the PEM key at `path`, creating it (mode 0600) when absent."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise LedgerError(f"signing key {path} is not a readable PEM key: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise LedgerError(f"signing key {path} is not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    except FileExistsError:
        return load_or_create(path)
    except OSError as error:
        raise LedgerError(f"cannot write the signing key {path}: {error}") from None
    return key


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: bytes) -> str:
    """A short, stable name of a public key: the first 16 bytes of its SHA-256, hex."""
    return hashlib.sha256(public_key).hexdigest()[:32]


def checkpoint_message(tree_size: int, root: bytes, timestamp: str, key: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return f"{CHECKPOINT_FORMAT}\n{tree_size}\n{root.hex()}\n{timestamp}\n{key}\n".encode()


def signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether an Ed25519 signature over `message` is valid for the raw 32-byte public key."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
