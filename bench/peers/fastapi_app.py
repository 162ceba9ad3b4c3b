"""
Peer server for bench/tenant-throughput.ts: Tenantry's hot path (`GET /api/users/me`) on the stack of the
system Tenantry replaces, FastAPI + asyncpg + uvloop (Debian packages, see scripts/install-bench-peer.sh).
NO authentication: the bearer token is ignored. Only the routing (X-TENANT -> tenant database), the per-tenant
connection pools and the primary-key select are done, and the answer has Tenantry's JSON shape.

    cd bench/peers && PEER_TENANTS=/tmp/tenants.json PEER_USER_ID=1 PORT=8002 \\
      /usr/bin/python3 -m uvicorn fastapi_app:app --host 127.0.0.1 --port 8002 --loop uvloop --http h11 \\
      --workers 1 --no-access-log --log-level warning

Environment:
  PEER_TENANTS          path of a JSON file {"<organization id>": "<database name>", ...} (required)
  PEER_DATABASE_URL     server URL, its database part replaced per tenant
                        (default postgres://postgres@127.0.0.1:5432/postgres)
  PEER_USER_ID          the tenant user id answered for every tenant (required)
  PEER_MAX_CONNECTIONS  total connection budget over all tenants (default 40)
  PEER_POOL_SIZE        largest per-tenant pool (default 4)

Connection bound: every tenant gets a pool of
    per_tenant = min(PEER_POOL_SIZE, max(1, PEER_MAX_CONNECTIONS // number of tenants in PEER_TENANTS))
connections, and at most max_pools = max(1, PEER_MAX_CONNECTIONS // per_tenant) pools are open at once (least
recently used idle pool closed to make room; a request waits while every open pool is in use). So the process
never holds more than PEER_MAX_CONNECTIONS connections, whatever the number of tenants.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import OrderedDict
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

USER_BY_ID = "select id, email, role, is_active, created_at from tenant_users where id = $1"
CONNECT_TIMEOUT_S = 5.0
QUERY_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 5.0


def _env_int(name: str, default: int) -> int:
    value = int(os.environ.get(name, str(default)))
    if value < 1:
        raise SystemExit(f"{name} must be >= 1")
    return value


def _load_tenants(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise SystemExit(f"{path}: expected a JSON object of id -> database name")
    return {str(k): v for k, v in raw.items()}


def _dsn_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def _iso(ts: datetime) -> str:
    """JavaScript's Date.toISOString(): UTC, milliseconds, `Z` (Tenantry's timestamp format)."""
    ts = ts.astimezone(timezone.utc)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status)


class _Entry:
    __slots__ = ("pool", "users")

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.users = 0


class TenantPools:
    """Lazily created per-tenant asyncpg pools, LRU, bounded in total connections (see the module doc)."""

    def __init__(self, server_url: str, budget: int, per_tenant: int) -> None:
        self.server_url = server_url
        self.per_tenant = per_tenant
        self.max_pools = max(1, budget // per_tenant)
        self.pools: OrderedDict[str, _Entry] = OrderedDict()
        self.closing = 0
        self.waiters: list[asyncio.Future[None]] = []

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _close(self, pool: asyncpg.Pool) -> None:
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - a stuck server must not keep the slot
            pool.terminate()

    async def enter(self, database: str) -> _Entry:
        while True:
            entry = self.pools.get(database)
            if entry is not None:
                self.pools.move_to_end(database)
                entry.users += 1
                return entry
            if len(self.pools) + self.closing < self.max_pools:
                # min_size=0: initialising the pool connects nothing and never suspends, so no other request
                # can run between the capacity check above and the insertion below (connections are made by
                # acquire(), each bounded by CONNECT_TIMEOUT_S).
                pool = asyncpg.create_pool(
                    _dsn_for(self.server_url, database),
                    min_size=0,
                    max_size=self.per_tenant,
                    timeout=CONNECT_TIMEOUT_S,
                    command_timeout=QUERY_TIMEOUT_S,
                    server_settings={"application_name": "tenantry-bench-peer"},
                )
                await pool
                entry = _Entry(pool)
                self.pools[database] = entry
                entry.users += 1
                return entry
            victim = next((name for name, e in self.pools.items() if e.users == 0), None)
            if victim is not None:
                old = self.pools.pop(victim)
                self.closing += 1
                try:
                    await self._close(old.pool)
                finally:
                    self.closing -= 1
                    self._wake()
                continue
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter

    def leave(self, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0 and self.waiters:
            self._wake()

    async def close_all(self) -> None:
        entries = list(self.pools.values())
        self.pools.clear()
        await asyncio.gather(*(self._close(e.pool) for e in entries), return_exceptions=True)


TENANTS = _load_tenants(os.environ["PEER_TENANTS"])
USER_ID = int(os.environ["PEER_USER_ID"])
BUDGET = _env_int("PEER_MAX_CONNECTIONS", 40)
POOL_SIZE = _env_int("PEER_POOL_SIZE", 4)
PER_TENANT = min(POOL_SIZE, BUDGET, max(1, BUDGET // max(1, len(TENANTS))))
pools = TenantPools(
    os.environ.get("PEER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"), BUDGET, PER_TENANT
)

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.on_event("shutdown")
async def _shutdown() -> None:
    await pools.close_all()


@app.get("/health/ready")
async def ready() -> dict:
    return {
        "status": "ready",
        "tenants": len(TENANTS),
        "per_tenant_pool": PER_TENANT,
        "max_open_pools": pools.max_pools,
    }


@app.get("/api/users/me")
async def users_me(x_tenant: str | None = Header(default=None)):
    # Authorization: Bearer <token> is sent by the benchmark and deliberately not read (no auth).
    if not x_tenant:
        return _error(400, "TENANT_REQUIRED", "This route needs an X-TENANT header")
    database = TENANTS.get(x_tenant)
    if database is None:
        return _error(404, "TENANT_NOT_FOUND", "Organization not found")
    entry = await pools.enter(database)
    try:
        async with entry.pool.acquire() as conn:
            row = await conn.fetchrow(USER_BY_ID, USER_ID)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return _error(503, "SERVICE_UNAVAILABLE", "Tenant database unavailable")
    finally:
        pools.leave(entry)
    if row is None:
        return _error(404, "NOT_FOUND", "User not found")
    return {
        "id": row["id"],
        "email": row["email"],
        "role": row["role"],
        "is_active": row["is_active"],
        "created_at": _iso(row["created_at"]),
    }
