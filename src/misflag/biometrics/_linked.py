"""A biometric audit through the release register its spec names (docs/biometrics.md, "Linked releases").

`run_biometrics_linked` is the one entry of the CLI, the Python API (`audit_biometrics`) and the web
service's jobs: without `release_register`, `protect_releases` or `ledger` it is the plain audit; with
one, the output is protected jointly with the earlier biometric releases of the same scores (the input's
sha256) recorded there, or refused in one line naming them, and recorded on success. Neither the
register's path nor the ledger's URL is published: the output's spec has them null and
`protect_releases` true, as the decision audit's (`disclosure._register`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from misflag.biometrics._audit import Progress, run_biometrics
from misflag.biometrics._scan import precheck
from misflag.errors import InputError

if TYPE_CHECKING:
    from misflag.biometrics._spec import BiometricSpec
    from misflag.result import AuditResult


def run_biometrics_linked(
    spec: BiometricSpec,
    source: Any,
    *,
    engine: str = "duckdb",
    table: str | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """`run_biometrics(spec, source)`, protected against the earlier releases of the register or ledger
    the spec names and recorded there (the plain audit when it names none)."""
    precheck(spec)  # a refused expression costs its parse: no engine starts, no register or input is read
    if not spec.registered:
        return run_biometrics(spec, source, engine=engine, table=table, progress=progress)
    if table is not None:
        raise InputError(
            "a release register keys releases by the input file's sha256: give a file, not {table}"
        )
    # imported only here: the plain audit loads neither the register nor the reader of earlier releases
    from misflag.biometrics._released import linked

    inner = replace(spec, release_register=None, protect_releases=False, ledger=None)

    def run(earlier: list[dict[str, Any]]) -> AuditResult:
        with linked(earlier):
            result = run_biometrics(inner, source, engine=engine, table=table, progress=progress)
        result.metadata["spec"]["protect_releases"] = True  # as recorded in the register too
        return result

    def describe(number: int) -> str:
        return release_name(spec, number)

    if spec.ledger is not None:
        from misflag.disclosure._ledger_register import audit_linked_in_ledger

        return audit_linked_in_ledger(spec.ledger, source, "biometrics", run, describe)
    from misflag.disclosure._register import audit_linked

    return audit_linked(source, spec.release_register, "biometrics", run, describe)


def release_name(spec: BiometricSpec, number: int) -> str:
    """A biometric release's name in the register: its number and what it publishes."""
    tables = [f"by {spec.group}"] if spec.group is not None else []
    tables += [f"{spec.group_a} × {spec.group_b}"] if spec.group_a is not None else []
    words = [f"{number}: biometrics {', '.join(tables) or 'overall'}"]
    words += [f"where {spec.where}"] if spec.where is not None else []
    return " ".join(words)[:300]
