"""``AsyncCertloop``: the asyncio face of :class:`certloop.Certloop`.

Every native call releases the GIL while it does crypto, I/O or store work, so running it in
an executor thread keeps the event loop free; the loop only waits on a future.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import functools
import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, TypeVar, Union

from certloop._native import (
    AuditEvent,
    CaSummary,
    Certloop,
    CertificateRecord,
    CertloopError,
    Crl,
    DefaultSetup,
    DueRenewal,
    IssuedCertificate,
    Profile,
    Template,
)

T = TypeVar("T")


class AsyncCertloop:
    """Awaitable wrapper around a :class:`Certloop` handle.

    ``executor`` runs the blocking native calls (default: the loop's default executor).
    """

    def __init__(
        self,
        certloop: Certloop,
        executor: Optional[concurrent.futures.Executor] = None,
    ) -> None:
        self.sync = certloop
        self._executor = executor

    @classmethod
    async def open(
        cls, path: Union[str, "os.PathLike[str]"], executor: Optional[concurrent.futures.Executor] = None
    ) -> "AsyncCertloop":
        loop = asyncio.get_running_loop()
        handle = await loop.run_in_executor(executor, Certloop.open, path)
        return cls(handle, executor)

    @classmethod
    async def in_memory(cls, executor: Optional[concurrent.futures.Executor] = None) -> "AsyncCertloop":
        loop = asyncio.get_running_loop()
        handle = await loop.run_in_executor(executor, Certloop.in_memory)
        return cls(handle, executor)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(call, *args))

    async def init_default(self) -> DefaultSetup:
        return await self._run(self.sync.init_default)

    async def create_ca(self, spec: Mapping[str, Any]) -> CaSummary:
        return await self._run(self.sync.create_ca, spec)

    async def list_cas(self) -> List[CaSummary]:
        return await self._run(self.sync.list_cas)

    async def get_ca(self, id_or_name: str) -> CaSummary:
        return await self._run(self.sync.get_ca, id_or_name)

    async def save_template(self, template: Mapping[str, Any]) -> Template:
        return await self._run(self.sync.save_template, template)

    async def get_template(self, id_or_slug: str) -> Template:
        return await self._run(self.sync.get_template, id_or_slug)

    async def list_templates(self) -> List[Template]:
        return await self._run(self.sync.list_templates)

    async def save_profile(self, profile: Mapping[str, Any]) -> Profile:
        return await self._run(self.sync.save_profile, profile)

    async def get_profile(self, id_or_slug: str) -> Profile:
        return await self._run(self.sync.get_profile, id_or_slug)

    async def list_profiles(self) -> List[Profile]:
        return await self._run(self.sync.list_profiles)

    async def issue(self, request: Mapping[str, Any]) -> IssuedCertificate:
        return await self._run(self.sync.issue, request)

    async def issue_many(
        self, requests: Iterable[Mapping[str, Any]]
    ) -> List[Union[IssuedCertificate, CertloopError]]:
        return await self._run(self.sync.issue_many, list(requests))

    async def renew(self, id: str) -> IssuedCertificate:
        return await self._run(self.sync.renew, id)

    async def revoke(self, id: str, reason: str = "unspecified") -> CertificateRecord:
        return await self._run(self.sync.revoke, id, reason)

    async def suspend(self, id: str) -> CertificateRecord:
        return await self._run(self.sync.suspend, id)

    async def unsuspend(self, id: str) -> CertificateRecord:
        return await self._run(self.sync.unsuspend, id)

    async def crl(self, ca: Optional[str] = None) -> Crl:
        return await self._run(self.sync.crl, ca)

    async def list(self, query: Optional[Mapping[str, Any]] = None) -> List[CertificateRecord]:
        return await self._run(self.sync.list, query)

    async def show(self, id: str) -> CertificateRecord:
        return await self._run(self.sync.show, id)

    async def expiring_within(self, days: int) -> List[CertificateRecord]:
        return await self._run(self.sync.expiring_within, days)

    async def audit_log(self, query: Optional[Mapping[str, Any]] = None) -> List[AuditEvent]:
        return await self._run(self.sync.audit_log, query)

    async def renewals_due(self) -> List[DueRenewal]:
        return await self._run(self.sync.renewals_due)

    async def expire_overdue(self) -> List[CertificateRecord]:
        return await self._run(self.sync.expire_overdue)

    async def list_orders(self) -> List[Dict[str, Any]]:
        return await self._run(self.sync.list_orders)

    async def get_order(self, id: str) -> Dict[str, Any]:
        return await self._run(self.sync.get_order, id)

    async def resume_order(self, id: str) -> IssuedCertificate:
        return await self._run(self.sync.resume_order, id)

    async def acme_register(self, profile: str) -> Dict[str, Any]:
        return await self._run(self.sync.acme_register, profile)

    async def write_keystore(
        self, issued: IssuedCertificate, spec: Mapping[str, Any], keep: int = 3
    ) -> List[str]:
        return await self._run(self.sync.write_keystore, issued, spec, keep)

    async def save_target(self, target: Mapping[str, Any]) -> Dict[str, Any]:
        return await self._run(self.sync.save_target, target)

    async def deploy(self, id: str, target: str, rollback: Optional[bool] = None) -> Dict[str, Any]:
        return await self._run(self.sync.deploy, id, target, rollback)

    async def deploy_with_report(
        self, id: str, target: str, rollback: Optional[bool] = None
    ) -> Dict[str, Any]:
        return await self._run(self.sync.deploy_with_report, id, target, rollback)

    async def pin_check(
        self, id: str, endpoint: str, server_name: Optional[str] = None
    ) -> Dict[str, Any]:
        return await self._run(self.sync.pin_check, id, endpoint, server_name)

    async def manage(self, request: Mapping[str, Any]) -> Dict[str, Any]:
        return await self._run(self.sync.manage, request)

    async def manage_many(self, requests: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
        return await self._run(self.sync.manage_many, list(requests))

    async def get_managed(self, id_or_name: str) -> Dict[str, Any]:
        return await self._run(self.sync.get_managed, id_or_name)

    async def list_managed(self, query: Optional[Mapping[str, Any]] = None) -> List[Dict[str, Any]]:
        return await self._run(self.sync.list_managed, query)

    async def bulk_configure(
        self, ids: Iterable[str], patch: Mapping[str, Any]
    ) -> List[Dict[str, Any]]:
        return await self._run(self.sync.bulk_configure, list(ids), patch)

    async def act(self, id_or_name: str, action: Mapping[str, Any]) -> Dict[str, Any]:
        return await self._run(self.sync.act, id_or_name, action)

    async def batch(
        self,
        ids: Iterable[str],
        action: Mapping[str, Any],
        options: Optional[Mapping[str, Any]] = None,
        progress: Optional[Callable[[int, int], object]] = None,
    ) -> Dict[str, Any]:
        """Like :meth:`Certloop.batch`; ``progress`` runs on the executor thread."""
        return await self._run(self.sync.batch, list(ids), action, options, progress)

    async def sweep(self, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        return await self._run(self.sync.sweep, options)

    async def next_due_at(self) -> Optional[datetime.datetime]:
        return await self._run(self.sync.next_due_at)

    async def count(self, query: Optional[Mapping[str, Any]] = None) -> int:
        return await self._run(self.sync.count, query)

    async def discover_files(self, options: Mapping[str, Any]) -> Dict[str, Any]:
        return await self._run(self.sync.discover_files, options)

    async def discover_network(self, options: Mapping[str, Any]) -> Dict[str, Any]:
        return await self._run(self.sync.discover_network, options)

    async def discover_host(self, options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        return await self._run(self.sync.discover_host, options)

    async def discovered_locations(self) -> List[Dict[str, Any]]:
        return await self._run(self.sync.discovered_locations)

    async def rediscover(self) -> Dict[str, Any]:
        return await self._run(self.sync.rediscover)
