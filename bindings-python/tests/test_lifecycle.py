"""Managed certificates through the binding: manage (file targets in a temp dir), bulk
configure, act, batch with a progress callback, sweep, next_due_at and count; and the
AsyncCertloop forms."""

from __future__ import annotations

import asyncio
import datetime
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

import certloop


def fingerprint_of(path: Path) -> str:
    """SHA-256 of the first certificate in `path`, as `cryptography` reads it."""
    return x509.load_pem_x509_certificates(path.read_bytes())[0].fingerprint(hashes.SHA256()).hex()


def with_managed(cl: certloop.Certloop, tmp_path: Path, count: int) -> List[dict]:
    """`count` managed certificates `m0`, `m1`, ..., each with its own nginx-type file target."""
    requests = []
    for i in range(count):
        cl.save_target({"name": f"files-{i}", "type": "nginx",
                        "certPath": str(tmp_path / f"m{i}.crt"), "keyPath": str(tmp_path / f"m{i}.key")})
        issued = cl.issue({"attributes": {"commonName": f"m{i}.example.internal"}, "manageKey": True})
        requests.append({"name": f"m{i}", "certificateId": issued.certificate_id,
                         "config": {"profile": "tls-server", "targets": [f"files-{i}"]}})
    return cl.manage_many(requests)


def test_manage_list_get_and_bulk_configure(cl: certloop.Certloop, tmp_path: Path) -> None:
    managed = with_managed(cl, tmp_path, 3)
    assert [m["name"] for m in managed] == ["m0", "m1", "m2"]
    for m in managed:
        assert m["state"] == "managed"
        assert m["config"]["profile"] == "tls-server"
        assert isinstance(m["nextCheckAt"], str), "renewal is scheduled"
    assert cl.get_managed("m1")["id"] == managed[1]["id"]
    assert cl.get_managed(managed[2]["id"])["name"] == "m2"
    assert len(cl.list_managed()) == 3
    assert [m["name"] for m in cl.list_managed({"certificateId": managed[0]["certificateId"]})] == ["m0"]

    with pytest.raises(certloop.AlreadyExists):
        cl.manage({"certificateId": managed[0]["certificateId"], "config": {"profile": "tls-server"}})
    with pytest.raises(certloop.InvalidInput) as bad:
        cl.manage({"config": {"profile": "tls-server", "bogus": 1}})
    assert bad.value.field.startswith("request")
    with pytest.raises(certloop.NotFound):
        cl.get_managed("nope")

    configured = cl.bulk_configure(["m0", managed[1]["id"]], {"rollback": False, "validity": "30d"})
    assert [(m["name"], m["config"]["rollback"], m["config"]["validity"]) for m in configured] == [
        ("m0", False, "30d"), ("m1", False, "30d")]
    assert cl.get_managed("m2")["config"]["rollback"] is True, "m2 was not in the batch"
    with pytest.raises(certloop.InvalidInput) as empty:
        cl.bulk_configure(["m0"], {})
    assert empty.value.field == "patch"
    with pytest.raises(certloop.NotFound):
        cl.bulk_configure(["m0", "nope"], {"rollback": True})
    assert cl.get_managed("m0")["config"]["rollback"] is False, "all or none"


def test_act_rotates_and_deploys_then_suspends(cl: certloop.Certloop, tmp_path: Path) -> None:
    before = with_managed(cl, tmp_path, 1)[0]["certificateId"]
    rotated = cl.act("m0", {"action": "rotate"})
    now = rotated["managed"]["certificateId"]
    assert now != before
    assert rotated["managed"]["state"] == "deployed"
    assert cl.show(before).renewed_by == now
    assert fingerprint_of(tmp_path / "m0.crt") == cl.show(now).fingerprint_sha256
    assert cl.act("m0", {"action": "suspend"})["managed"]["state"] == "suspended"
    assert [m["name"] for m in cl.list_managed({"states": ["suspended"]})] == ["m0"]
    with pytest.raises(certloop.InvalidInput) as bad:
        cl.act("m0", {"action": "explode"})
    assert bad.value.field.startswith("action")


def test_batch_rotates_with_progress_and_files_land(cl: certloop.Certloop, tmp_path: Path) -> None:
    managed = with_managed(cl, tmp_path, 4)
    calls: List[Tuple[int, int]] = []
    report = cl.batch([m["id"] for m in managed], {"action": "rotate"}, {"concurrency": 2},
                      lambda done, total: calls.append((done, total)))
    assert report["action"] == "rotate"
    assert (report["total"], report["succeeded"], report["failed"]) == (4, 4, 0)
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for m in managed:
        now = cl.get_managed(m["id"])
        assert now["certificateId"] != m["certificateId"], f"{m['name']} rotated"
        assert now["state"] == "deployed"
        assert fingerprint_of(tmp_path / f"{m['name']}.crt") == cl.show(now["certificateId"]).fingerprint_sha256

    # An unknown id is its own failed item, not an exception.
    mixed = cl.batch(["m0", "no-such-certificate"], {"action": "pinCheck"})
    assert [i["ok"] for i in mixed["items"]] == [True, False]
    assert isinstance(mixed["items"][1]["errorCode"], str)


def test_batch_progress_exception_is_reported_not_raised(
    cl: certloop.Certloop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_managed(cl, tmp_path, 2)
    reported: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    thrown = []

    def progress(done: int, total: int) -> None:
        thrown.append(done)
        raise RuntimeError("progress callback failure")

    report = cl.batch(["m0", "m1"], {"action": "pinCheck"}, None, progress)
    assert report["total"] == 2
    assert len(thrown) == len(reported) >= 2
    assert all(isinstance(e, RuntimeError) for e in reported)
    with pytest.raises(certloop.InvalidInput) as not_callable:
        cl.batch(["m0"], {"action": "rotate"}, None, 42)  # type: ignore[arg-type]
    assert not_callable.value.field == "progress"
    with pytest.raises(certloop.InvalidInput) as not_a_list:
        cl.batch("m0", {"action": "rotate"})
    assert not_a_list.value.field == "ids"


def test_sweep_orders_and_deploys_what_is_due(cl: certloop.Certloop, tmp_path: Path) -> None:
    assert cl.next_due_at() is None, "nothing managed, nothing due"
    cl.save_target({"name": "fresh-files", "type": "nginx",
                    "certPath": str(tmp_path / "fresh.crt"), "keyPath": str(tmp_path / "fresh.key")})
    alt = [{"type": "DNS", "value": "fresh.example.internal"}]
    fresh = cl.manage({"name": "fresh", "config": {
        "profile": "tls-server", "targets": ["fresh-files"], "deployment": {},
        "csr": {"mode": "fullOverride", "commonName": "fresh.example.internal", "altNames": alt}}})
    assert fresh.get("certificateId") is None, "nothing is issued before the first sweep"
    due = cl.next_due_at()
    assert due is not None and due <= datetime.datetime.now(datetime.timezone.utc)

    report = cl.sweep({"owner": "python-test", "concurrency": 1})
    assert (report["processed"], report["renewed"], report["deployed"], report["failed"]) == (1, 1, 1, 0)
    after = cl.get_managed("fresh")
    assert after["state"] == "deployed"
    assert fingerprint_of(tmp_path / "fresh.crt") == cl.show(after["certificateId"]).fingerprint_sha256
    later = cl.next_due_at()
    assert later is not None and later > datetime.datetime.now(datetime.timezone.utc)
    assert cl.sweep()["processed"] == 0, "a second sweep finds nothing due"
    assert cl.count({"san": "fresh.example.internal"}) == 1
    assert cl.count() >= 1
    with pytest.raises(certloop.InvalidInput) as bad:
        cl.sweep({"lease": 10})
    assert bad.value.field.startswith("options")


def test_async_forms(tmp_path: Path) -> None:
    async def main() -> None:
        acl = await certloop.AsyncCertloop.in_memory()
        await acl.init_default()
        managed = with_managed(acl.sync, tmp_path, 2)
        calls: List[Tuple[int, int]] = []
        report = await acl.batch(["m0", "m1"], {"action": "rotate"}, None,
                                 lambda d, t: calls.append((d, t)))
        assert report["succeeded"] == 2 and calls == [(1, 2), (2, 2)]
        assert len(await acl.list_managed()) == 2
        assert (await acl.get_managed("m1"))["id"] == managed[1]["id"]
        assert len(await acl.bulk_configure(["m0"], {"rollback": False})) == 1
        assert (await acl.act("m0", {"action": "pinCheck"}))["managed"]["name"] == "m0"
        assert (await acl.sweep())["failed"] == 0
        assert await acl.next_due_at() is not None
        assert await acl.count() >= 4
        # The deployed files are known places: unchanged since the rotation.
        again = await acl.rediscover()
        assert again["drifts"] == [] and again["checked"] == again["unchanged"]
        assert isinstance(await acl.discovered_locations(), list)
        outcome = await acl.discover_files({"roots": [str(tmp_path)]})
        assert {i["certificateId"] for i in outcome["items"]} <= {
            m["certificateId"] for m in await acl.list_managed()}
        assert (await acl.discover_host({"procRoot": str(tmp_path / "no-proc")}))["items"] == []

    asyncio.run(main())
