"""Thread safety and asyncio: the handle is shared by threads and event loops."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

import certloop
from conftest import request


def test_parallel_threads_issue_distinct_valid_certificates(cl: certloop.Certloop) -> None:
    names = [f"t{i}.threads.internal" for i in range(48)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        issued = list(pool.map(lambda n: cl.issue(request(n)), names))
    assert len({i.certificate_id for i in issued}) == len(names)
    assert len({i.serial_number for i in issued}) == len(names)
    issuing = x509.load_pem_x509_certificate(issued[0].issuing_ca_certificate.encode())
    key = issuing.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    for one, name in zip(issued, names):
        cert = x509.load_pem_x509_certificate(one.certificate.encode())
        assert cert.subject.rfc4514_string() == f"CN={name}"
        assert cert.signature_hash_algorithm is not None
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    assert {r.common_name for r in cl.list()} == set(names)
    assert len([e for e in cl.audit_log({"limit": 1000}) if e.action == "issued"]) == len(names)


def test_parallel_threads_mix_reads_writes_and_revocations(cl: certloop.Certloop) -> None:
    issued = [cl.issue(request(f"m{i}.mix.internal")) for i in range(12)]

    def work(i: int) -> Any:
        one = issued[i]
        if i % 3 == 0:
            return cl.revoke(one.certificate_id).state
        if i % 3 == 1:
            return cl.renew(one.certificate_id).certificate_id
        return cl.show(one.certificate_id).state

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(12)))
    assert results[0::3] == ["revoked"] * 4
    assert results[2::3] == ["issued"] * 4
    crl = x509.load_pem_x509_crl(cl.crl().pem.encode())
    assert {r.serial_number for r in crl} == {int(issued[i].serial_number, 16) for i in range(0, 12, 3)}


class Recorder:
    """A stand-in for the sync handle that records which thread ran each call and makes two
    calls meet at a barrier: they only both get through if they run at the same time, off the
    event loop's thread."""

    def __init__(self, real: certloop.Certloop) -> None:
        self.real = real
        self.threads: set = set()
        self.barrier = threading.Barrier(2, timeout=30)

    def issue(self, req: Any) -> certloop.IssuedCertificate:
        self.threads.add(threading.get_ident())
        self.barrier.wait()
        return self.real.issue(req)


def test_async_calls_run_off_the_event_loop_and_overlap(cl: certloop.Certloop) -> None:
    recorder = Recorder(cl)

    async def main() -> list:
        loop_thread = threading.get_ident()
        handle = certloop.AsyncCertloop(recorder, ThreadPoolExecutor(max_workers=2))  # type: ignore[arg-type]
        issued = await asyncio.gather(handle.issue(request("a.async.internal")),
                                      handle.issue(request("b.async.internal")))
        assert loop_thread not in recorder.threads
        return issued

    issued = asyncio.run(main())
    assert [i.certificate_id for i in issued] != [None, None]
    assert {cl.show(i.certificate_id).common_name for i in issued} == {"a.async.internal", "b.async.internal"}


def test_async_handle_covers_the_flow() -> None:
    async def main() -> None:
        handle = await certloop.AsyncCertloop.in_memory()
        await handle.init_default()
        results = await asyncio.gather(*[handle.issue(request(f"x{i}.aio.internal")) for i in range(10)])
        assert len({r.serial_number for r in results}) == 10
        assert len(await handle.list()) == 10
        await handle.revoke(results[0].certificate_id, "superseded")
        assert (await handle.show(results[0].certificate_id)).state == "revoked"
        crl = await handle.crl()
        assert results[0].serial_number in {r["serialNumber"] for r in certloop.inspect_crl(crl.pem).revoked}
        try:
            await handle.show("missing")
        except certloop.NotFound as e:
            assert e.id == "missing"
        else:
            raise AssertionError("show of a missing id did not raise")

    asyncio.run(main())
