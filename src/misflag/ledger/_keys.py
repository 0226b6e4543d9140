"""The Ed25519 key that signs checkpoints, the trust anchors pinned outside the database, published heads.

The private key is a PEM file, never in the database: by default next to a SQLite ledger
(`ledger.sqlite` → `ledger.sqlite.signing-key.pem`), or for PostgreSQL in misflag's user data folder under
`ledger-keys/`. MISFLAG_LEDGER_KEY or an explicit path overrides both. It must be readable by its owner only
(as ssh demands). Next to it: `*.pub`, the pinned public keys (`KEY_ID=HEX` lines, written when the key is
made: the trust anchor `verify` uses), and `*.heads.jsonl`, the signed tree heads the store publishes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from platformdirs import user_data_dir

from misflag._text import PATH_SHOWN, printable, shown
from misflag.errors import InputError, LedgerError, literal, named_path
from misflag.io import read_regular_file
from misflag.ledger._engine import file_problem, parse_url

CHECKPOINT_FORMAT = "misflag-ledger-checkpoint/1"
HEAD_FORMAT = "misflag-ledger-head/1"
HEAD_FIELDS = ("tree_size", "root", "timestamp", "key_id", "signature")
#: The largest key or public-key file read (bytes), and the largest witness file of signed tree heads.
KEY_FILE_LIMIT = 1 << 20
WITNESS_FILE_LIMIT = 1 << 30


def default_key_path(url: str) -> Path:
    """Where the signing key of the ledger at `url` is kept unless configured otherwise."""
    configured = os.environ.get("MISFLAG_LEDGER_KEY")
    if configured:
        return Path(configured)
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database + ".signing-key.pem")
    where = parsed.set(password=None).render_as_string(hide_password=False)
    digest = hashlib.sha256(where.encode()).hexdigest()[:16]
    return Path(user_data_dir("misflag", appauthor=False)) / "ledger-keys" / f"{digest}.pem"


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """Read the PEM key at `path`, creating it (mode 0600, with its pinned public key) when absent.

    A key that others can read (any group or world bit) is refused, as ssh refuses it.
    """
    if path.exists():
        check_private(path)
        try:
            key = serialization.load_pem_private_key(read_regular_file(path, KEY_FILE_LIMIT), password=None)
        except (OSError, ValueError) as error:
            raise LedgerError(
                f"signing key {named_path(path)} is not a readable PEM key: {file_problem(error, path)}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise LedgerError(f"signing key {named_path(path)} is not an Ed25519 key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        write_private(path, pem)
    except FileExistsError:
        return load_or_create(path)
    anchors = anchors_path(path)
    if not anchors.exists():
        public = public_bytes(key)
        anchors.write_text(f"# misflag ledger public key (publish it)\n{key_id(public)}={public.hex()}\n")
    return key


def write_private(path: Path, data: bytes) -> None:
    """Create `path` (mode 0600, never over an existing file) holding `data`, durable when this returns:
    the file and its folder are fsynced, so a crash right after cannot lose a key already in use. The
    data is written to a temporary file first and linked into place, so no one (another process making
    the same key at once) ever finds `path` half-written; FileExistsError when it exists already."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:  # mkstemp's mode is 0600
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            _link(temporary, path, data)
        finally:
            os.unlink(temporary)
        sync_folder(path.parent)
    except FileExistsError:
        raise
    except OSError as error:
        raise LedgerError(
            f"cannot write the key file {named_path(path)}: {file_problem(error, path)}"
        ) from None


def _link(temporary: str, path: Path, data: bytes) -> None:
    """Link the written `temporary` file as `path` (atomic; FileExistsError when it exists); on a
    filesystem without hard links, create `path` exclusively and write it in place, as before."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def sync_folder(folder: Path) -> None:
    """fsync a folder, so that files created, linked or renamed in it survive a crash."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def key_file_path(key: Any, option: str) -> Path | None:
    """A signing key's path as a user gives it with `option` (it need not exist: `init` makes it, and the
    `.pub` and `.writer-key` beside it are what readers use), refused in one line (InputError) where it
    cannot name such a file: not text, blank, a NUL byte, a folder, a name the system cannot look up."""
    if key is None:
        return None
    if not isinstance(key, str | Path) or not str(key).strip() or "\x00" in str(key):
        raise InputError(f"{option} must be the path of the ledger's signing key file (PEM)")
    path = Path(key)
    try:
        folder = path.name == "" or path.is_dir()
    except OSError as problem:  # e.g. a name past the system's limits
        raise InputError(f"{option} {named_path(key)}: {problem.strerror}") from None
    if folder:
        raise InputError(
            f"{option} {named_path(key)} is a folder: give the signing key's file in it "
            "(its `.pub` and `.writer-key` are read beside it)"
        )
    return path


def check_private(path: Path) -> None:
    """Refuse a signing key file that its group or others may read or write (as ssh refuses it)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise LedgerError(
            f"signing key {named_path(path)} is readable by others (mode {mode:04o}): {_chmod(path)}"
        )


def _chmod(path: Path) -> str:
    """The remedy: a `chmod` command to paste (the path shell-quoted, `./` before a leading dash) where the
    path is printable and at most PATH_SHOWN characters; else the same in words, since a path cut short or
    with its escapes replaced would name another file."""
    text = str(path)
    if printable(text) != text or len(text) > PATH_SHOWN:
        return "make it readable and writable by its owner only (mode 600)"
    return f"run `chmod 600 {shlex.quote('./' + text if text.startswith('-') else text)}`"


def anchors_path(key_path: Path) -> Path:
    """The pinned public keys kept next to a signing key: `signing-key.pem` → `signing-key.pub`."""
    return key_path.with_suffix(".pub")


def heads_path(key_path: Path) -> Path:
    """Where the store publishes its signed tree heads by default: `signing-key.heads.jsonl`."""
    return key_path.with_suffix(".heads.jsonl")


def parse_trusted(spec: str) -> dict[str, bytes]:
    """Trusted public keys from `KEY_ID=HEX` or from a file of such lines (`#` comments allowed)."""
    if "=" in spec and not Path(spec).exists():
        lines = [spec]
    else:
        try:
            lines = read_regular_file(spec, KEY_FILE_LIMIT).decode("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise LedgerError(
                f"cannot read public keys from {named_path(spec)}: {file_problem(error, spec)}"
            ) from None
    keys: dict[str, bytes] = {}
    for line in (line.strip() for line in lines):
        if not line or line.startswith("#"):
            continue
        name, _, hexed = line.partition("=")
        try:
            public = bytes.fromhex(hexed.strip())
        except ValueError:
            raise LedgerError(
                f"a public key must be KEY_ID=HEX (64 hex digits), got {literal(shown(line))}"
            ) from None
        if len(public) != 32 or key_id(public) != name.strip():
            raise LedgerError(
                f"public key {literal(shown(name.strip()))}: the id is not the SHA-256 of a 32-byte key"
            )
        keys[name.strip()] = public
    if not keys:
        raise LedgerError(f"no public key in {named_path(spec)}")
    return keys


def pin_fingerprint(fingerprint: str, candidates: Iterable[bytes]) -> dict[str, bytes]:
    """The one key among `candidates` whose id is `fingerprint` (what the verifier was told out of band):
    a key found next to the ledger or in it is trusted only through this match."""
    wanted = fingerprint.strip().lower()
    if len(wanted) != 32 or any(c not in "0123456789abcdef" for c in wanted):
        raise LedgerError(
            f"a key fingerprint is 32 hex digits (the key id `init` printed), got {literal(shown(fingerprint))}"
        )
    for public in candidates:
        if key_id(bytes(public)) == wanted:
            return {wanted: bytes(public)}
    raise LedgerError(
        f"no public key with fingerprint {wanted} next to the ledger or in it: give --public-key FILE "
        "(the key you were handed), or the ledger is not signed by the key you pinned"
    )


def signed_head(mark: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint as a signed tree head, the line a witness keeps."""
    return {"format": HEAD_FORMAT} | {name: mark[name] for name in HEAD_FIELDS}


def publish_head(path: Path, mark: Mapping[str, Any]) -> None:
    """Append one signed tree head to an append-only JSON-lines file (created 0644) and fsync it."""
    line = json.dumps(signed_head(mark), sort_keys=True) + "\n"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(descriptor, line.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise LedgerError(
            f"cannot publish the checkpoint to {named_path(path)}: {file_problem(error, path)}"
        ) from None


def read_heads(path: Path) -> list[dict[str, Any]]:
    """The signed tree heads of a witness file; a malformed line is an error (witness files are evidence)."""
    try:
        text = read_regular_file(path, WITNESS_FILE_LIMIT).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise LedgerError(
            f"cannot read the witness file {named_path(path)}: {file_problem(error, path)}"
        ) from None
    heads = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            head = json.loads(line)
            if head.get("format") != HEAD_FORMAT or any(name not in head for name in HEAD_FIELDS):
                raise ValueError("not a signed tree head")
            heads.append({name: head[name] for name in HEAD_FIELDS} | {"tree_size": int(head["tree_size"])})
        except (ValueError, TypeError, AttributeError, RecursionError) as error:
            raise LedgerError(
                f"witness file {named_path(path)}, line {number}: {literal(str(error))}"
            ) from None
    return heads


def public_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: bytes) -> str:
    """A short, stable name of a public key: the first 16 bytes of its SHA-256, hex."""
    return hashlib.sha256(public_key).hexdigest()[:32]


def checkpoint_message(tree_size: int, root: bytes, timestamp: str, key: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return f"{CHECKPOINT_FORMAT}\n{tree_size}\n{root.hex()}\n{timestamp}\n{key}\n".encode()


def rotation_message(old_key: str, new_key: str, new_public: bytes) -> bytes:
    """The exact bytes the old key signs to hand signing over to a new key."""
    return f"misflag-ledger-key-rotation/1\n{old_key}\n{new_key}\n{new_public.hex()}\n".encode()


def signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether an Ed25519 signature over `message` is valid for the raw 32-byte public key."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
