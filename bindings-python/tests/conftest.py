"""Shared fixtures: a fresh certloop with the embedded default CAs and profile."""

from __future__ import annotations

import pytest

import certloop


@pytest.fixture
def cl() -> certloop.Certloop:
    handle = certloop.Certloop.in_memory()
    handle.init_default()
    return handle


def request(cn: str, **attributes: object) -> dict:
    """An issue request for `cn` with a DNS SAN, in the wire shape."""
    attrs: dict = {"commonName": cn, "altNames": [{"type": "DNS", "value": cn}], "ttl": "30d"}
    attrs.update(attributes)
    return {"attributes": attrs}
