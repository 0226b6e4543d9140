"""Helpers of the web service's tests: a loopback test client and the pages' anti-forgery token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

#: The service answers only to loopback host names; TestClient's default "testserver" is refused.
BASE_URL = "http://127.0.0.1:8000"


def form_token(client: TestClient, path: str = "/") -> str:
    """The anti-forgery token of a page's form (the page also sets the cookie it is bound to)."""
    page = client.get(path, headers={"accept": "text/html"})
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)
