"""Settings, rules and results files: JSON or YAML read with one clear error for every problem."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from misflag.errors import InputError, MisflagError

YAML_SUFFIXES = (".yaml", ".yml")


def load_yaml(text: str) -> Any:
    """YAML text parsed by the safe loader, anchors and aliases refused (raises yaml.YAMLError); PyYAML
    is imported here, on the first YAML file, not by every command that might read one."""
    from misflag.io._yaml import load_yaml as load

    return load(text)


def _yaml_errors(yaml_file: bool) -> tuple[type[BaseException], ...]:
    """PyYAML's error class when a YAML file was read (then yaml is loaded), else nothing."""
    if not yaml_file:
        return ()
    import yaml

    return (yaml.YAMLError,)


def read_data_file(path: str | Path, what: str, error: type[MisflagError] = InputError) -> dict[str, Any]:
    """A JSON (or, by suffix, YAML) file holding one object; `what` names it in the error, e.g. "rule file"."""
    source = Path(path)
    if not source.is_file():
        raise error(f"{what} {source} does not exist")
    yaml_file = source.suffix.lower() in YAML_SUFFIXES
    unreadable: tuple[type[BaseException], ...] = (
        OSError,
        UnicodeDecodeError,
        ValueError,
        *_yaml_errors(yaml_file),
    )
    try:
        text = source.read_text(encoding="utf-8")
        data = load_yaml(text) if yaml_file else json.loads(text)
    except RecursionError:
        raise error(f"{what} {source} is nested too deeply to read") from None
    except unreadable as problem:
        detail = str(problem).splitlines()[0] if str(problem) else type(problem).__name__
        kind = "YAML" if yaml_file else "JSON"
        raise error(f"{what} {source} does not parse (not valid {kind}: {detail})") from None
    if not isinstance(data, dict):
        raise error(f"{what} {source} must hold an object (key: value pairs), not {type(data).__name__}")
    return data


def read_regular_file(path: str | Path, limit: int) -> bytes:
    """The bytes of a small file a user names (a key, a register): a FIFO, a device or a directory is
    refused without blocking (opened non-blocking, checked on the open descriptor), and so is a file over
    `limit` bytes, each as an OSError whose strerror says why, for the caller's one-line message."""
    import errno
    import stat

    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if status.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(descriptor)
    if len(data) > limit:  # grown since the check
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes")
    return data


def write_atomic(path: str | Path, write: Callable[[Path], None], what: str = "output") -> Path:
    """Write a file through a temporary name in the same folder, so nothing is ever half-written.

    `write` writes the content to the path it is given. Raises InputError (and leaves no temporary file)
    when the folder is missing, the path is a folder, or the system refuses the write.
    """
    target = Path(path)
    if target.is_dir():
        raise InputError(f"cannot write the {what}: {target} is a folder; give a file name")
    if not target.parent.is_dir():
        raise InputError(f"cannot write the {what}: folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        write(partial)
        partial.replace(target)
    except OSError as problem:
        raise InputError(f"cannot write the {what} to {target}: {problem.strerror or problem}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return target
