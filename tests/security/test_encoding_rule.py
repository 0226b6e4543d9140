"""One encoding rule for every reader: the same hostile files through decisions, monitor, biometrics,
linkage and inventory are read alike (UTF-8, UTF-8 with BOM, Windows-1252 anywhere in the file, gzip) or
refused with the same one line (UTF-16 with or without its byte-order mark, mixed UTF-8 and Windows-1252,
bytes Windows-1252 leaves undefined, as binary data has).

The group names hold characters where Windows-1252 and Latin-1 differ (the euro sign and curly quotes),
so a file decoded as Latin-1, or as UTF-8 with replacement characters, would not give these names back.
"""

from __future__ import annotations

import gzip
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from misflag.biometrics import audit_biometrics
from misflag.decisions import audit_decisions
from misflag.errors import InputError
from misflag.inventory import load_inventories
from misflag.inventory._load import read_table
from misflag.io._dialect import SAMPLE_BYTES
from misflag.linkage import LinkageAuditSpec, audit_linkage
from misflag.monitor import monitor

GROUPS = ("São €5", "Zoë “quoted”")
HEADER = "id;day;grp;flag;truth;score;genuine;cluster\n"
PER_GROUP = 60


def _rows(groups: tuple[str, str], first_id: int = 0) -> str:
    """60 people per group over 30 days; flag = truth for the first group, flag = 1 - truth for the second."""
    lines = []
    for g, name in enumerate(groups):
        for i in range(PER_GROUP):
            truth = i % 2
            flag = truth if g == 0 else 1 - truth
            person = first_id + g * PER_GROUP + i
            day = f"2026-01-{1 + i % 30:02d}"
            lines.append(f"{person};{day};{name};{flag};{truth};0,{i % 10}5;{truth};{person // 2}\n")
    return "".join(lines)


TEXT = HEADER + _rows(GROUPS)
#: 77 KB of ASCII rows first: the sniffer's 64 KiB sample sees no byte that is not ASCII.
ASCII_FIRST = (
    HEADER + "".join(_rows(("plain a", "plain b"), 1000 * (k + 1)) for k in range(16)) + _rows(GROUPS)
)
ACCEPTED: dict[str, tuple[bytes, str]] = {
    "utf-8": (TEXT.encode("utf-8"), "utf-8"),
    "utf-8 with BOM": (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8"),
    "windows-1252": (TEXT.encode("cp1252"), "cp1252"),
    "windows-1252 after 64 KiB of ASCII": (ASCII_FIRST.encode("cp1252"), "cp1252"),
}
REFUSED: dict[str, tuple[bytes, str]] = {
    "utf-16": (TEXT.encode("utf-16"), "is UTF-16 text (by its byte-order mark); save it as UTF-8 CSV"),
    "mixed": (
        TEXT.encode("utf-8") + "99;2026-01-01;Zoë;1;0;0,5;0;99\n".encode("cp1252"),
        "mixes UTF-8 with another encoding",
    ),
    "mixed after 64 KiB": (
        ASCII_FIRST.encode("utf-8") + "99;2026-01-01;Zoë;1;0;0,5;0;99\n".encode("cp1252"),
        "mixes UTF-8 with another encoding",
    ),
    "undefined byte": (
        TEXT.encode("cp1252") + b"99;2026-01-01;x\x81;1;0;0,5;0;99\n",
        "is neither UTF-8 nor Windows-1252 text (byte 0x81",
    ),
    "utf-16 without BOM": (TEXT.encode("utf-16-le"), "looks like UTF-16 text without a byte-order mark"),
    "binary": (bytes(range(256)) * 300, "is neither UTF-8 nor Windows-1252 text (byte 0x81 at offset 129"),
}


def test_the_late_files_start_with_more_ascii_than_the_sniffer_reads() -> None:
    assert ASCII_FIRST.index(GROUPS[0]) > SAMPLE_BYTES


def _decisions(path: Path) -> set[str]:
    result = audit_decisions(path, flag="flag = 1", truth="truth", groups=["grp"], min_cell=1)
    assert result.value("fpr", GROUPS[0], attribute="grp") == 0.0  # flag = truth: no false positive
    assert result.value("fpr", GROUPS[1], attribute="grp") == 1.0  # flag = 1 - truth: every negative
    return set(result.table.column("group").to_pylist())


def _monitor(path: Path) -> set[str]:
    result = monitor(
        path, time="day", group="grp", reference=GROUPS[0], truth="truth", flag="flag = 1",
        baseline_periods=5, min_cell=1, horizon=40,
    )  # fmt: skip
    return set(result.table.column("group").to_pylist())


def _biometrics(path: Path) -> set[str]:
    result = audit_biometrics(path, score="score", genuine="genuine", group="grp", threshold=0.5, min_cell=1)
    return set(result.table.column("group").to_pylist())


def _linkage(path: Path) -> set[str]:
    pairs = path.with_name("pairs.csv")
    pairs.write_text("id_l,id_r,score\n0,1,0.9\n60,61,0.9\n2,4,0.8\n", encoding="utf-8")
    spec = LinkageAuditSpec(
        id_column="id", cluster_column="cluster", groups=("grp",), thresholds=(0.5,), min_cell=1
    )
    result = audit_linkage(pairs, path, spec=spec)
    return set(result.table.column("group").to_pylist())


def _inventory(path: Path) -> set[str]:
    table, _encoding = read_table(path)
    return set(table.column("grp").to_pylist())


READERS: dict[str, Callable[[Path], set[str]]] = {
    "decisions": _decisions,
    "monitor": _monitor,
    "biometrics": _biometrics,
    "linkage": _linkage,
    "inventory": _inventory,
}


def _file(tmp_path: Path, data: bytes, gz: bool = False) -> Path:
    path = tmp_path / ("input.csv.gz" if gz else "input.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("form", sorted(ACCEPTED))
def test_every_reader_reads_the_accepted_encodings_to_the_same_names(
    tmp_path: Path, reader: str, form: str
) -> None:
    data, _encoding = ACCEPTED[form]
    assert set(GROUPS) <= READERS[reader](_file(tmp_path, data))


@pytest.mark.parametrize("reader", ["decisions", "inventory"])
def test_gzip_windows_1252_is_read_alike(tmp_path: Path, reader: str) -> None:
    assert set(GROUPS) <= READERS[reader](_file(tmp_path, TEXT.encode("cp1252"), gz=True))


def test_the_input_says_which_encoding_was_read(tmp_path: Path) -> None:
    for form, (data, encoding) in ACCEPTED.items():
        path = _file(tmp_path, data)
        result = audit_decisions(path, flag="flag = 1", truth="truth", groups=["grp"], min_cell=1)
        assert result.metadata["input"]["description"].endswith(
            f"semicolon-separated, decimal comma, {encoding})"
        ), form
        assert read_table(path)[1] == encoding, form


@pytest.mark.parametrize("form", sorted(REFUSED))
def test_every_reader_refuses_the_same_files_with_the_same_line(tmp_path: Path, form: str) -> None:
    data, expected = REFUSED[form]
    path = _file(tmp_path, data)
    messages = {}
    for reader, read in READERS.items():
        with pytest.raises(InputError) as caught:
            read(path)
        messages[reader] = str(caught.value)
    with pytest.raises(InputError) as caught:
        load_inventories([path])
    messages["inventory scorecard"] = str(caught.value)
    for reader, message in messages.items():
        assert expected in message and str(path) in message and "\n" not in message, (reader, message)
    assert len(set(messages.values())) == 1, messages


def test_the_utf8_copy_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Windows-1252 file whose UTF-8 copy would pass the limit is refused in one line, nothing left over."""
    monkeypatch.setattr("misflag.io._encoding.TRANSCODE_LIMIT_BYTES", 1000)
    scratch = tmp_path / "tmp"  # this test's own temporary folder: other processes' copies never land here
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = _file(tmp_path, TEXT.encode("cp1252"))
    with pytest.raises(InputError, match="is Windows-1252 text over 1,000 bytes as UTF-8; save it as UTF-8"):
        _decisions(path)
    assert list(scratch.iterdir()) == []
