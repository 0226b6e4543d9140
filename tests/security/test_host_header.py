"""Host headers are RFC 3986 `host [":" port]` only: look-alikes of an allowed name are refused (issue 20).

A parser that cuts at the first `]` or `:` serves `[::1].evil.com` and `127.0.0.1:8000@evil.com` as
loopback, which is what a DNS-rebinding page sends. Each refused value is also sent with an upload: the
service answers 400 and writes nothing (the canary is the data folder, unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from misflag.api import create_app
from misflag.api._guard import host_name, host_of_header
from misflag.errors import InputError

BASE = "http://127.0.0.1:8000"
REFUSED = [
    "[::1].evil.com",
    "[::1]evil.com",
    "[::1]:8000.evil.com",
    "127.0.0.1:8000@evil.com",
    "127.0.0.1@evil.com",
    "evil.com@127.0.0.1",
    "127.0.0.1:8000:9000",
    "127.0.0.1:",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:99999999",
    "127.0.0.1:-1",
    "127.0.0.1:+80",
    "127.0.0.1:8o",
    "::1",
    "[::1",
    "::1]",
    "[]",
    "[fe80::1%25eth0]",
    "[v1.fe]",
    "[127.0.0.1]",
    "localhost..",
    ".localhost",
    "local_host",
    "local%68ost",
    "localhost/",
    "localhost?x",
    "localhost#x",
    "localhost\\",
    "-localhost",
    "localhost-",
    "localhost,evil.com",
    "localhost evil.com",
    "",
    "x" * 64 + ".localhost",
]
ACCEPTED = {
    "127.0.0.1": "127.0.0.1",
    "127.0.0.1:8000": "127.0.0.1",
    "127.0.0.1:1": "127.0.0.1",
    "127.0.0.1:65535": "127.0.0.1",
    "localhost": "localhost",
    "LocalHost.": "localhost",
    "[::1]": "[::1]",
    "[::1]:8000": "[::1]",
    "[0:0:0:0:0:0:0:1]": "[::1]",
    "[::FFFF:127.0.0.1]": "[::ffff:7f00:1]",
    "audit.example.org": "audit.example.org",
    "a-b.example:443": "a-b.example",
}


@pytest.mark.parametrize("value", REFUSED)
def test_malformed_host_is_no_host(value: str) -> None:
    assert host_of_header(value) is None


@pytest.mark.parametrize("value", sorted(ACCEPTED))
def test_host_and_port_are_read_as_rfc_3986(value: str) -> None:
    assert host_of_header(value) == ACCEPTED[value]


def test_kelvin_sign_is_not_lowered_into_ascii() -> None:
    # "\u212a".lower() == "k": a name checked after lower() would let a non-ASCII look-alike through
    assert "\u212a".lower() == "k"
    assert host_of_header("loc\u212aalhost") is None
    assert host_of_header("\u0131ocalhost") is None  # dotless i


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    data = tmp_path_factory.mktemp("hosts")
    with TestClient(create_app(data_dir=data, allowed_hosts=["audit.example.org"]), base_url=BASE) as client:
        yield client, data


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("value", [v for v in REFUSED if v.isprintable() and " " not in v])
def test_service_refuses_the_host_and_writes_nothing(service: tuple[TestClient, Path], value: str) -> None:
    client, data = service
    before = _files(data)
    reply = client.post(
        "/api/uploads",
        files={"file": ("log.csv", b"g,flag,truth\na,1,0\n", "text/csv")},
        headers={"host": value},
    )
    assert reply.status_code == 400, (value, reply.status_code)
    assert "answers only to the host names" in reply.json()["detail"]
    assert _files(data) == before
    assert client.get("/openapi.json", headers={"host": value}).status_code == 400


@pytest.mark.parametrize("value", ["[::1]:8000", "localhost.", "audit.example.org:443", "AUDIT.example.org"])
def test_service_answers_to_allowed_names(service: tuple[TestClient, Path], value: str) -> None:
    client, _data = service
    assert client.get("/openapi.json", headers={"host": value}).status_code == 200


@pytest.mark.parametrize("entry", ["evil.com/x", "[::1].evil.com", "a b", "", "host:0"])
def test_a_malformed_allowed_host_is_refused_at_start(entry: str, tmp_path: Path) -> None:
    # an entry read as "" would match every malformed Host header, so none is read that way
    with pytest.raises(InputError, match="is not a host name"):
        host_name(entry)
    with pytest.raises(InputError, match="is not a host name"):
        create_app(data_dir=tmp_path, allowed_hosts=[entry])


def test_bound_ipv6_address_is_an_allowed_entry() -> None:
    assert host_name("2001:DB8::1") == "[2001:db8::1]"
    assert host_name("::1") == "[::1]"
