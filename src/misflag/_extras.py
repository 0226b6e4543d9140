"""Optional dependencies: which pip extra brings which module, and one clear line when one is missing.

`pip install misflag` brings what the decision audit and the demo need; the rest comes with extras
(`misflag[linkage]`, `[ledger]`, `[postgres]`, `[serve]`, `[report]`, `[spark]`, `[pandas]`,
`[polars]`, or `[all]`). `require` is called where a feature starts; the CLI turns an import of a missing
optional module anywhere into the same line (`missing_extra`).
"""

from __future__ import annotations

import importlib.util

from misflag.errors import MisflagError

#: Top-level module -> the extra that installs it.
EXTRAS: dict[str, str] = {
    "splink": "linkage",
    "sqlalchemy": "ledger",
    "alembic": "ledger",
    "cryptography": "ledger",
    "psycopg": "postgres",
    "fastapi": "serve",
    "starlette": "serve",
    "uvicorn": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
    "fastapi_offline": "serve",
    "jinja2": "report",
    "altair": "report",
    "pyspark": "spark",
    "pandas": "pandas",
    "polars": "polars",
}


class MissingExtraError(MisflagError):
    """An optional dependency is not installed; the message names the extra that brings it."""


def message(module: str, extra: str) -> str:
    """The one line telling the user what to install."""
    return f"this needs misflag's [{extra}] extra ({module} is not installed): pip install 'misflag[{extra}]'"


def require(module: str, extra: str | None = None) -> None:
    """Raise MissingExtraError naming the extra unless `module` can be imported."""
    top = module.split(".", 1)[0]
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):  # a module entry without a spec (blocked, or half-imported)
        found = False
    if not found:
        raise MissingExtraError(message(top, extra or EXTRAS.get(top, "all")))


def missing_extra(error: ImportError) -> MissingExtraError | None:
    """The MissingExtraError matching an ImportError of an optional module; None for anything else."""
    name = (getattr(error, "name", None) or "").split(".", 1)[0]
    if name in EXTRAS:
        return MissingExtraError(message(name, EXTRAS[name]))
    return None
