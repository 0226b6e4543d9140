"""`misflag ledger ...`: the tamper-evident record of automated flags and human decisions."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from misflag.errors import InputError, LedgerError
from misflag.io import read_data_file
from misflag.ledger import (
    Event,
    Ledger,
    RuleSet,
    check_proof,
    consistency_proof,
    create_token,
    export_decision_log,
    inclusion_proof,
    list_tokens,
    revoke_token,
    token_id,
)

app = typer.Typer(
    help="Decision ledger: tamper-evident record of flags, reviews, notices and appeals.",
    no_args_is_help=True,
)
token_app = typer.Typer(
    help="API tokens with roles (recorder, reviewer, auditor, admin).", no_args_is_help=True
)
rules_app = typer.Typer(help="The due-process rule set in force.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(rules_app, name="rules")

DB_HELP = "Ledger store: a file path, sqlite:///PATH or postgresql://... (default: $MISFLAG_LEDGER_DB or ledger.sqlite)."
KEY_HELP = "Ed25519 signing key (PEM); default next to a SQLite file, or $MISFLAG_LEDGER_KEY."
_err = Console(stderr=True, highlight=False)


def _db(db: str | None) -> str:
    return db or os.environ.get("MISFLAG_LEDGER_DB") or "ledger.sqlite"


def _open(db: str | None, key: Path | None = None, create: bool = False) -> Ledger:
    return Ledger.open(_db(db), key_path=key, create=create)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


@app.command("init")
def init(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Create (or migrate) a ledger and its signing key; print where they are."""
    ledger = _open(db, key, create=True)
    mark = ledger.checkpoint()
    _print_json(
        {
            "db": ledger.safe_url,
            "key": str(ledger.key_path),
            "key_id": mark["key_id"],
            "entries": mark["tree_size"],
        }
    )


def _read_events(source: str) -> list[dict[str, Any]]:
    """Events from a JSON object, a JSON array or JSON lines (a file, or - for stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read events from {source}: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as error:
            raise InputError(f"{source} is neither JSON nor JSON lines: {error}") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InputError(f"{source} holds no events")
    return items


@app.command("append")
def append(
    source: str = typer.Argument(..., help="Events as JSON, a JSON array or JSON lines; - for stdin."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    actor: str | None = typer.Option(None, "--actor", help="Actor of every event (overrides the file)."),
    role: str | None = typer.Option(None, "--role", help="Role of every event (overrides the file)."),
) -> None:
    """Append events atomically (all or none), enforcing the due-process rules; print the receipts."""
    events = [Event.from_dict(item, actor=actor, role=role) for item in _read_events(source)]
    _print_json(_open(db, key).append(events))


@app.command("verify")
def verify(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    require_sealed: bool = typer.Option(
        False, "--require-sealed", help="Fail if entries follow the last signed checkpoint."
    ),
    public_key: list[str] = typer.Option(
        [], "--public-key", help="KEY_ID=HEX of a trusted key (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the whole hash chain, the Merkle tree and every signed checkpoint; exit 2 on any problem."""
    ledger = _open(db)
    with _err.status("verifying the ledger", spinner="dots"):
        report = ledger.verify(require_sealed=require_sealed, public_keys=_pinned(public_key))
    if as_json:
        _print_json(report.to_dict())
    if not report.ok:
        raise LedgerError(f"ledger verification FAILED: {report.problem}")
    if not as_json:
        typer.echo(
            f"ok: {report.entries:,} entries chained; {report.checkpoints:,} signed checkpoints valid; "
            f"{report.unsealed:,} after the last checkpoint ({report.seconds:.2f} s)"
        )


def _pinned(values: list[str]) -> dict[str, bytes] | None:
    if not values:
        return None
    keys = {}
    for value in values:
        name, _, hexed = value.partition("=")
        try:
            keys[name] = bytes.fromhex(hexed)
        except ValueError:
            raise InputError(f"--public-key must be KEY_ID=HEX, got {value!r}") from None
    return keys


@app.command("checkpoint")
def checkpoint(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """Seal every entry so far under a signed Merkle root."""
    _print_json(_open(db, key).checkpoint())


@app.command("prove")
def prove(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    seq: int | None = typer.Option(None, "--seq", help="Inclusion proof of this entry."),
    first: int | None = typer.Option(
        None, "--from", help="Consistency proof from the checkpoint of this size."
    ),
    size: int | None = typer.Option(None, "--size", help="The checkpoint (tree size) to prove against."),
    out: Path | None = typer.Option(None, "--out", help="Write the proof here instead of stdout."),
) -> None:
    """An inclusion proof (--seq) or a consistency proof (--from) as JSON, checkable offline."""
    if (seq is None) == (first is None):
        raise InputError("give exactly one of --seq (inclusion) or --from (consistency)")
    ledger = _open(db)
    proof = (
        inclusion_proof(ledger, seq, size) if seq is not None else consistency_proof(ledger, first or 0, size)
    )
    if out:
        out.write_text(json.dumps(proof, indent=2) + "\n", encoding="utf-8")
    else:
        _print_json(proof)


@app.command("check-proof")
def check(
    proof_file: Path = typer.Argument(..., help="A proof written by `misflag ledger prove`."),
    public_key: list[str] = typer.Option([], "--public-key", help="KEY_ID=HEX of a trusted key."),
) -> None:
    """Check a proof offline (no database needed); exit 2 if it does not hold."""
    proof = read_data_file(proof_file, "proof file")
    typer.echo("ok: " + check_proof(proof, _pinned(public_key)))


@app.command("export")
def export(
    out: Path = typer.Argument(..., help="Decision log to write (.csv or .parquet)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    file_format: str | None = typer.Option(None, "--format", help="csv or parquet (default: suffix)."),
) -> None:
    """Write the decision log (one row per case) that `misflag decisions audit` reads."""
    ledger = _open(db)
    with _err.status("exporting the decision log", spinner="dots"):
        written = export_decision_log(ledger, out, file_format)
    typer.echo(f"wrote {written['cases']:,} cases to {written['path']} ({written['format']})")


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="Who holds it (the actor of its events)."),
    role: str = typer.Option(..., "--role", help="recorder, reviewer, auditor or admin."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str = typer.Option("local-admin", "--actor", help="Who creates it (logged)."),
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    token = create_token(_open(db), name, role, actor=actor)
    _err.print(
        f"token id {token_id(token)} (use it to list or revoke the token; the token is not shown again)"
    )
    typer.echo(token)


@token_app.command("list")
def token_list(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Every token ever made, as JSON: id, holder, role, when made, and when and by whom revoked."""
    _print_json(list_tokens(_open(db)))


@token_app.command("revoke")
def token_revoke(
    identifier: str = typer.Argument(..., help="The token's id (16 hex digits, from `token list`)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    actor: str = typer.Option("local-admin", "--actor", help="Who revokes it (logged)."),
) -> None:
    """Revoke a token for good; the revocation is a ledger entry."""
    _print_json(revoke_token(_open(db), identifier, actor=actor))


@rules_app.command("show")
def rules_show(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Print the rule set in force as JSON."""
    _print_json(_open(db).rules().to_dict())


@rules_app.command("set")
def rules_set(
    rule_file: Path = typer.Argument(..., help="Rule set (JSON or YAML)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    actor: str = typer.Option("local-admin", "--actor", help="Who changes the rules (logged)."),
    reason: str = typer.Option("", "--reason", help="Why; required when a rule is turned off."),
) -> None:
    """Put a new rule set in force, as a signed ledger entry sealed by a checkpoint."""
    receipt = _open(db, key).set_rules(RuleSet.load(rule_file), actor=actor, reason=reason)
    _print_json(receipt)
