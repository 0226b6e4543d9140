"""`misflag ledger ...`: the tamper-evident record of automated flags and human decisions."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from misflag._text import shown_path
from misflag.commands._ledger_input import env_number, pinned_keys, read_events
from misflag.errors import InputError, LedgerError, literal
from misflag.io import read_data_file
from misflag.ledger import (
    Event,
    Ledger,
    RuleSet,
    check_proof,
    consistency_proof,
    create_token,
    export_decision_log,
    export_ledger,
    inclusion_proof,
    key_file_path,
    list_tokens,
    revoke_token,
    token_id,
    verify_export,
)
from misflag.ledger._engine import first_line
from misflag.ledger._guard import restore
from misflag.ledger._verify import MAX_SKEW

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
PUBLIC_KEY_HELP = (
    "A trusted public key, KEY_ID=HEX or a file of such lines (repeatable), as handed to you out of "
    "band; or give --key-fingerprint."
)
WITNESS_HELP = (
    "A witness file of published heads (repeatable): every head must lie on the ledger's history, and "
    "the witnesses on one history with each other (else the fork is named)."
)
_err = Console(stderr=True, highlight=False)


def _db(db: str | None) -> str:
    return db or os.environ.get("MISFLAG_LEDGER_DB") or "ledger.sqlite"


def _open(db: str | None, key: Path | None = None, create: bool = False) -> Ledger:
    return Ledger.open(_db(db), key_path=key_file_path(key, "--key"), create=create)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True) + "\n")


@app.command("init")
def init(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    writer_role: str | None = typer.Option(
        None,
        "--writer-role",
        help="PostgreSQL: grant this role INSERT and SELECT only (run init as the owner; the service then "
        "connects as the writer role).",
    ),
) -> None:
    """Create (or migrate) a ledger and its signing key, and make again any append-only trigger found missing
    or altered; print the key fingerprint to publish."""
    ledger = Ledger.open(_db(db), key_path=key_file_path(key, "--key"), create=True, owner="allow")
    try:
        with ledger.engine.begin() as connection:
            restored = restore(connection)
    except SQLAlchemyError as error:
        raise LedgerError(
            f"cannot restore the ledger's append-only triggers at {ledger.named_url}: {first_line(error)} "
            "(run `misflag ledger init` as the owner of its tables)"
        ) from None
    mark = ledger.checkpoint()
    public = ledger.pinned_keys().get(mark["key_id"], b"")
    report: dict[str, Any] = {
        "db": ledger.safe_url,
        "key": str(ledger.key_path),
        "key_id": mark["key_id"],
        "public_key": f"{mark['key_id']}={public.hex()}",
        "public_key_file": str(ledger.key_path.with_suffix(".pub")),
        "heads_file": str(ledger.heads_path),
        "entries": mark["tree_size"],
        "restored": restored,
    }
    if ledger.postgres:
        report["writer_grants"] = ledger.grant_writer(
            writer_role or "misflag_writer", execute=writer_role is not None
        )
    _print_json(report)
    typer.echo(
        f"key fingerprint to pin: {mark['key_id']}\n"
        f"write it down outside this machine and publish it; verifiers run "
        f"`misflag ledger verify --key-fingerprint {mark['key_id']}` (a key file next to the database is "
        f"not trusted by itself); hand out {shown_path(report['public_key_file'])} and copies of "
        f"{shown_path(ledger.heads_path)}; back up {shown_path(ledger.key_path)} and "
        f"{shown_path(ledger.writer_key_path)} apart from the database",
        err=True,
    )


@app.command("append")
def append(
    source: str = typer.Argument(..., help="Events as JSON, a JSON array or JSON lines; - for stdin."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    actor: str | None = typer.Option(None, "--actor", help="Actor of every event (overrides the file)."),
    role: str | None = typer.Option(None, "--role", help="Role of every event (overrides the file)."),
) -> None:
    """Append events atomically (all or none), enforcing the due-process rules; print the receipts."""
    events = [Event.from_dict(item, actor=actor, role=role) for item in read_events(source)]
    ledger = _open(db, key)
    ledger.require_signing_key()  # refused before anything is written, not after
    receipts = ledger.append(events)
    ledger.checkpoint()  # a command-line append leaves no unsealed tail behind
    _print_json(receipts)


@app.command("verify")
def verify(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    export_file: Path | None = typer.Option(
        None, "--export", help="Verify this ledger export offline instead of a database."
    ),
    public_key: list[str] = typer.Option([], "--public-key", help=PUBLIC_KEY_HELP),
    key_fingerprint: str | None = typer.Option(
        None,
        "--key-fingerprint",
        help="The key id you were told out of band (printed by `init`): the key found next to the ledger "
        "or in it is trusted only if its id is this.",
    ),
    witness: list[Path] = typer.Option([], "--witness", help=WITNESS_HELP),
    require_sealed: bool = typer.Option(
        False, "--require-sealed", help="Fail if any entry follows the last signed checkpoint."
    ),
    allow_unsigned: bool = typer.Option(
        False, "--allow-unsigned", help="Accept a ledger without any signed checkpoint (says so)."
    ),
    max_skew: float = typer.Option(
        MAX_SKEW, "--max-skew", help="Seconds an entry's time may be ahead of this machine's clock."
    ),
    allow_unprotected: bool = typer.Option(
        False,
        "--allow-unprotected",
        help="Accept a store missing an append-only trigger (or granting a role UPDATE, DELETE or "
        "TRUNCATE) when every row checks out (says so).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the chain, the Merkle tree, every checkpoint and published head against the key you pinned,
    and that the store still refuses rewrites (its append-only triggers); exit 2 on any problem. Trusts only the key named by --public-key or --key-fingerprint, never a key
    file next to the database by itself, nor the keys stored in it."""
    pinned = pinned_keys(public_key)
    if not pinned and key_fingerprint is None:
        raise InputError(
            "verify needs the key you were told out of band: --public-key FILE|KEY_ID=HEX or "
            "--key-fingerprint ID (printed by `misflag ledger init`); a key file next to the database "
            "is not trusted by itself"
        )
    if max_skew < 0:
        raise InputError("--max-skew must be 0 or more seconds")
    options: dict[str, Any] = {
        "require_sealed": require_sealed,
        "allow_unsigned": allow_unsigned,
        "skew": max_skew,
        "key_fingerprint": key_fingerprint,
    }
    with _err.status("verifying the ledger", spinner="dots"):
        if export_file is not None:
            report = verify_export(
                export_file,
                pinned,
                witness,
                checkpoint_every=int(env_number("MISFLAG_LEDGER_CHECKPOINT_EVERY", 1000)),
                checkpoint_seconds=env_number("MISFLAG_LEDGER_CHECKPOINT_SECONDS", 10),
                **options,
            )
        else:
            ledger = _open(db, key)
            report = ledger.verify(
                public_keys=pinned or None,
                witnesses=witness,
                allow_unprotected=allow_unprotected,
                **options,
            )
    if as_json:
        _print_json(report.to_dict())
    if not report.ok:
        raise LedgerError(f"ledger verification FAILED: {literal(report.problem or '')}")
    if not as_json:
        typer.echo(
            f"ok: {report.entries:,} entries chained; {report.checkpoints:,} signed checkpoints valid; "
            f"{report.heads:,} published heads consistent (latest at {report.witnessed:,}); unsealed tail: "
            f"{report.unsealed:,} entries after the last checkpoint ({report.seconds:.2f} s)"
        )
        if not report.checkpoints:
            typer.echo("warning: no signed checkpoint; accepted only because of --allow-unsigned", err=True)
        for finding in report.protection:
            typer.echo(f"warning: {finding} (accepted only because of --allow-unprotected)", err=True)


@app.command("checkpoint")
def checkpoint(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    publish: list[Path] = typer.Option(
        [],
        "--publish",
        help="Also append the signed head to this witness file (append-only JSON lines; repeatable, one "
        "per independent witness).",
    ),
) -> None:
    """Seal every entry so far under a signed Merkle root; with --publish, hand the head to witnesses."""
    _print_json(_open(db, key).checkpoint(publish=publish))


@app.command("rotate-key")
def rotate_key(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
    actor: str = typer.Option("local-admin", "--actor", help="Who rotates it (logged)."),
) -> None:
    """Hand signing over to a new key: a chain entry signed by the old key; the old key file is retired."""
    _print_json(_open(db, key).rotate_key(actor=actor))


@app.command("prove")
def prove(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    seq: int | None = typer.Option(None, "--seq", help="Inclusion proof of this entry."),
    first: int | None = typer.Option(
        None, "--from", help="Consistency proof from the checkpoint of this size."
    ),
    size: int | None = typer.Option(None, "--size", help="The checkpoint (tree size) to prove against."),
    out: Path | None = typer.Option(None, "--out", help="Write the proof here instead of stdout."),
    key: Path | None = typer.Option(None, "--key", help=KEY_HELP),
) -> None:
    """An inclusion proof (--seq) or a consistency proof (--from) as JSON, checkable offline; refused on a
    checkpoint that the pinned keys do not verify."""
    if (seq is None) == (first is None):
        raise InputError("give exactly one of --seq (inclusion) or --from (consistency)")
    ledger = _open(db, key)
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
    public_key: list[str] = typer.Option(
        [], "--public-key", help="A trusted public key, KEY_ID=HEX or a file of them (required)."
    ),
) -> None:
    """Check a proof offline against a pinned key (no database needed); exit 2 if it does not hold."""
    proof = read_data_file(proof_file, "proof file")
    typer.echo("ok: " + check_proof(proof, pinned_keys(public_key)))


@app.command("export")
def export(
    out: Path = typer.Argument(..., help="File to write: decision log (.csv, .parquet) or ledger (.jsonl)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    key: Path | None = typer.Option(
        None,
        "--key",
        help=KEY_HELP + " Its folder's writer key vouches for the decision log's entries after the last "
        "checkpoint; its `.pub` pins the key that checkpoints are checked with.",
    ),
    file_format: str | None = typer.Option(
        None,
        "--format",
        help="csv or parquet (the decision log), or ledger (every row, for offline verify); default: suffix.",
    ),
) -> None:
    """Write the decision log (one row per case) that `misflag decisions audit` reads, or the whole ledger.
    The decision log holds only entries it vouches for (under a checkpoint signed by the pinned key, or
    after it with a valid writer proof); exit 2 naming the entry or the unsealed count otherwise."""
    ledger = _open(db, key)
    chosen = file_format or ("ledger" if out.suffix.lower() == ".jsonl" else None)
    with _err.status("exporting", spinner="dots"):
        if chosen == "ledger":
            written = export_ledger(ledger, out)
            typer.echo(f"wrote {written['entry']:,} entries to {written['path']} (ledger export)")
            return
        written = export_decision_log(ledger, out, chosen)
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
