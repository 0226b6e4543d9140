"""misflag's version: one constant, read by the build (pyproject.toml) and by `misflag --version`."""

__version__ = "0.1.0"
