"""`python -m misflag`: the `misflag` console script (`misflag._console.run`), as installed."""

from misflag._console import run

if __name__ == "__main__":
    run()
