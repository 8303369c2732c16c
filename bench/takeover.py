"""Shard takeover benchmark: two `server start` processes on one PostgreSQL database,
N open workflows (each waiting on a one-hour timer and a signal), SIGKILL of one
process, and how long until the other serves the dead process's workflows.

Printed per run:

- workflows on the dead process's shards at the kill;
- SIGKILL -> every shard leased by the survivor (read from the ``shards`` table), to be
  compared with the lease expiry (``LEASE_TTL``, 4 s) + 1 s;
- SIGKILL -> a signal to a workflow of a dead process's shard, sent to the survivor,
  has its result (the run is loaded on demand, its workflow task read from the
  durable backlog);
- the survivor's RSS before and after.

Usage::

    python bench/takeover.py [--n 10000] [--shards 8] [--pg-admin-url URL]

Temporal's dev server has no multi-process mode, so there is no reference column.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from pytemporal.cluster.membership import LEASE_TTL
from scale import build_worker, fill, stop_worker, timed_result
from scale_workflows import SIGNALLED, ScaleWait
from throughput import (
    DEFAULT_PG_ADMIN_URL,
    PG_START_COMMAND,
    PgDatabase,
    ServerProcess,
    connect_when_ready,
    machine_info,
    pg_environment,
)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
READY_TIMEOUT_S = 90.0
TAKEOVER_TIMEOUT_S = 120.0
TARGET_S = LEASE_TTL + 1.0


class ClusterProcess(ServerProcess):
    def sigkill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait()
        self.stop()


async def member_of(conn: Any, port: int) -> str:
    row = await conn.fetchrow(
        "SELECT member_id FROM cluster_members WHERE address LIKE $1 ORDER BY heartbeat DESC",
        f"%:{port}",
    )
    if row is None:
        raise RuntimeError(f"no member row for port {port}")
    return str(row["member_id"])


async def owned_shards(conn: Any, member: str) -> list[int]:
    rows = await conn.fetch(
        "SELECT shard_id FROM shards WHERE owner = $1 AND lease_until > $2 AND shard_id > 0",
        member,
        time.time(),
    )
    return sorted(int(r["shard_id"]) for r in rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    database = PgDatabase(args.pg_admin_url)
    tmp = tempfile.TemporaryDirectory(prefix="bench-takeover-")
    workdir = Path(tmp.name)

    def env(port: int) -> dict[str, str]:
        return pg_environment(database.url, port, args.shards)

    procs = [
        ClusterProcess(f"takeover-{i}", workdir, lambda _p: list(PG_START_COMMAND), env)
        for i in range(2)
    ]
    survivor, victim = procs
    conn: Any = None
    try:
        await database.create()
        await database.setup_schema()
        clients = []
        for proc in procs:
            proc.start()
            clients.append(await connect_when_ready(proc, READY_TIMEOUT_S))
        await database.settle_shards(2, args.shards, READY_TIMEOUT_S)
        client = clients[0]
        conn = await asyncpg.connect(database.url, timeout=10)
        task_queue = f"takeover-{uuid.uuid4().hex[:8]}"
        ids = [f"takeover-{i}" for i in range(args.n)]
        worker = build_worker(client, task_queue, args, cache=0)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(worker)
            t0 = time.perf_counter()
            await fill("takeover", survivor, client, task_queue, ids, args)
            fill_s = time.perf_counter() - t0
        await stop_worker(worker)
        victim_member = await member_of(conn, victim.port)
        survivor_member = await member_of(conn, survivor.port)
        victim_shards = await owned_shards(conn, victim_member)
        on_victim = await conn.fetchval(
            "SELECT count(*) FROM executions WHERE status = 1 AND shard_id = ANY($1::bigint[])",
            victim_shards,
        )
        probe = await conn.fetchval(
            "SELECT workflow_id FROM executions WHERE status = 1"
            " AND shard_id = ANY($1::bigint[]) ORDER BY workflow_id LIMIT 1",
            victim_shards,
        )
        rss_before = survivor.rss_mb()
        print(
            f"[takeover] {on_victim} of {args.n} open workflows on the victim's shards"
            f" {victim_shards}; killing it",
            flush=True,
        )
        killed = time.perf_counter()
        victim.sigkill()
        deadline = killed + TAKEOVER_TIMEOUT_S
        while set(victim_shards) - set(await owned_shards(conn, survivor_member)):
            if time.perf_counter() > deadline:
                raise TimeoutError("the survivor did not take the victim's shards")
            await asyncio.sleep(0.05)
        takeover_s = time.perf_counter() - killed
        print(f"[takeover] all shards leased by the survivor after {takeover_s:.2f}s", flush=True)
        worker = build_worker(client, task_queue, args, cache=100)
        async with worker:
            handle = client.get_workflow_handle(probe)
            await handle.signal(ScaleWait.finish)
            await timed_result(client, probe, SIGNALLED, args.check_timeout)
            signal_s = time.perf_counter() - killed
        print(f"[takeover] signal -> result on a moved workflow {signal_s:.2f}s after the kill")
        return {
            "n": args.n,
            "shards": args.shards,
            "fill_s": round(fill_s, 1),
            "victim_shards": victim_shards,
            "workflows_on_victim_shards": int(on_victim),
            "kill_to_all_shards_leased_s": round(takeover_s, 3),
            "target_s": TARGET_S,
            "kill_to_signal_result_s": round(signal_s, 3),
            "survivor_rss_before_mb": round(rss_before, 1),
            "survivor_rss_after_mb": round(survivor.rss_mb(), 1),
            "commands": [
                shlex.join(
                    [
                        *(
                            f"{k}={v}"
                            for k, v in sorted((p.env or {}).items())
                            if "PYTEMPORAL" in k
                        ),
                        *p.command,
                    ]
                )
                for p in procs
            ],
        }
    finally:
        if conn is not None:
            await conn.close()
        for proc in procs:
            proc.sigkill()
        await database.drop()
        tmp.cleanup()


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN_URL)
    p.add_argument("--start-concurrency", type=int, default=200)
    p.add_argument("--workflow-tasks", type=int, default=400)
    p.add_argument("--pollers", type=int, default=10)
    p.add_argument("--fill-timeout", type=float, default=None)
    p.add_argument("--check-timeout", type=float, default=60.0)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.fill_timeout is None:
        args.fill_timeout = 300.0 + 0.05 * args.n
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = asyncio.run(run(args))
    verdict = "PASS" if result["kill_to_all_shards_leased_s"] <= TARGET_S else "FAIL"
    print()
    print(f"N = {args.n:,} open workflows, {args.shards} shards, 2 processes")
    print(f"  on the killed process's shards       {result['workflows_on_victim_shards']:>8,}")
    print(
        f"  SIGKILL -> all shards leased (s)     {result['kill_to_all_shards_leased_s']:>8.2f}"
        f"  {verdict} <= {TARGET_S:.0f} s (lease expiry + 1 s)"
    )
    print(f"  SIGKILL -> signal result (s)         {result['kill_to_signal_result_s']:>8.2f}")
    print(
        f"  survivor RSS before / after (MB)     {result['survivor_rss_before_mb']:>8.1f}"
        f" / {result['survivor_rss_after_mb']:.1f}"
    )
    command = shlex.join([sys.executable, *sys.argv])
    print(f"\ncommand: {command}")
    out = args.json or RESULTS_DIR / (
        f"takeover_n{args.n}_{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    )
    out.write_text(
        json.dumps({"command": command, "machine": machine_info(), "result": result}, indent=1)
        + "\n"
    )
    print(f"json: {out}")


if __name__ == "__main__":
    main()
