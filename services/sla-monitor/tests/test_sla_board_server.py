"""The board's server side against a real PostgreSQL, without a browser: the live queue's
first page (read in the database's order and stopped early) is the one the whole queue ranks
first.

Tickets of two policies and three calendars (BITAM's Mexico City hours; ITAC's 8x5 and 24x7
modalities): opened on Friday and during Monday's first hours, awaiting the
customer (paused), breached, resolved.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from fastapi.testclient import TestClient
from introspection import DEV_DIRECTORY, dev_introspection
from test_sla_api import (
    AGENT_ACTOR,
    CUSTOMER_ACTOR,
    MEXICO,
    POLICIES,
    replied,
    resolved,
    run,
    settings_for,
)

from contracts.events import ticket as te
from servicekit.clock import ManualClock
from sla_monitor.api import hub as hub_module
from sla_monitor.api.deps import SlaReader
from sla_monitor.api.hub import RECONNECT, Change, ClockHub, listen
from sla_monitor.main import create_app
from sla_monitor.projection import SlaProjection
from sla_monitor.web import service
from sla_monitor.web.queue import OPEN_CLOCKS, Filters, FirstPage, QueueRow
from sla_monitor.web.service import open_where
from sla_monitor.web.session import SESSION_COOKIE

MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=MEXICO)


def opened_as(n: int, *, ticket_type: str, priority: str, modality: str | None = None) -> te.Opened:
    return te.Opened(
        actor=CUSTOMER_ACTOR,
        case_number=f"BIT-{n:06d}",
        contact=te.Contact(id="contact-ana", name="Ana", email="ana@acme.example"),
        title=f"Caso {n}",
        description="Error 500",
        ticket_type=ticket_type,
        priority=priority,
        modality=modality,
    )


async def connect(env: dict[str, str]) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        database=env["POSTGRES_DBNAME"],
    )


async def store(env: dict[str, str], stories: list[tuple[str, str, list[Any]]]) -> None:
    """Store and project each ticket's story (tenant, policy, [(event, at)])."""
    conn = await connect(env)
    projection = SlaProjection(POLICIES)
    try:
        await SlaProjection.setup(conn)
        for tenant, policy, story in stories:
            ticket = uuid4()
            async with conn.transaction():
                for version, (payload, at) in enumerate(story, start=1):
                    await conn.execute(
                        "INSERT INTO sla_ticket_events VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        ticket,
                        version,
                        payload.event_name,
                        json.dumps(payload.model_dump(mode="json")),
                        at,
                        policy,
                        tenant,
                    )
                await projection.refresh(conn, ticket, announce=False)
    finally:
        await conn.close()


def a_mixed_desk() -> list[tuple[str, str, list[Any]]]:
    friday_1300 = MONDAY_0900 - timedelta(days=2, hours=20)
    stories: list[tuple[str, str, list[Any]]] = []
    for n in range(1, 61):
        tenant = ("acme", "globex", "initech")[n % 3]
        at = (
            friday_1300 + timedelta(minutes=n)
            if n % 4 == 0
            else MONDAY_0900 - timedelta(minutes=(n * 7) % 50)
        )
        if n % 5 == 0:
            story: list[Any] = [
                (opened_as(n, ticket_type="incidente", priority="critico", modality="24x7"), at)
            ]
            stories.append((tenant, "itac", story))
            continue
        if n % 5 == 1:
            story = [
                (opened_as(n, ticket_type="incidente", priority="importante", modality="8x5"), at)
            ]
            stories.append((tenant, "itac", story))
            continue
        priority = "urgente" if n % 2 else "alta"
        story = [(opened_as(n, ticket_type="soporte", priority=priority), at)]
        if n % 7 == 0:  # answered, then waiting on the customer: the resolution clock stops
            story += [
                (replied(), at + timedelta(minutes=1)),
                (te.AwaitingCustomer(actor=AGENT_ACTOR, request="¿Y ahora?"), at),
            ]
        elif n % 11 == 0:
            story += [(replied(), at + timedelta(minutes=1)), (resolved(), at)]
        stories.append((tenant, "bitam", story))
    return stories


async def everything_ranked(
    reader: SlaReader, filters: Filters, scope: list[str] | None
) -> list[QueueRow]:
    """Every open clock moved to now and ranked: what the first page must begin with."""
    where = open_where(filters, scope)
    async with reader.db().acquire() as conn:
        records = await conn.fetch(OPEN_CLOCKS.format(where=where.sql()), *where.args)
    whole = FirstPage(reader.policies, reader.clock.now(), len(records) + 1)
    for record in records:
        whole.offer(record)
    return whole.rows()


@pytest.mark.parametrize("hours_later", [0.25, 0.75, 9.5, 80])
def test_the_first_page_is_the_head_of_the_whole_queue_ranked(
    postgres_env: dict[str, str], hours_later: float
) -> None:
    run(store(postgres_env, a_mixed_desk()))
    clock = ManualClock(MONDAY_0900 + timedelta(hours=hours_later))

    async def compare() -> None:
        settings = settings_for(postgres_env)
        reader = SlaReader(settings, POLICIES, clock)
        reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
        try:
            for filters, scope in [
                (Filters(), None),
                (Filters(), ["globex"]),
                (Filters(policy="itac"), None),
                (Filters(priority="urgente"), ["acme", "initech"]),
            ]:
                whole = await everything_ranked(reader, filters, scope)
                assert whole, "the desk has open tickets"
                for size in (1, 3, 7, 20, 200):
                    page, total = await service.queue_now(
                        reader=reader, scope=scope, filters=filters, page=size
                    )
                    assert total == len(whole)
                    assert [(r.ticket_id, r.remaining) for r in page] == [
                        (r.ticket_id, r.remaining) for r in whole[:size]
                    ], (filters, scope, size)
        finally:
            await reader.pool.close()

    run(compare())


def test_tied_deadlines_come_in_the_order_of_the_index(postgres_env: dict[str, str]) -> None:
    """Tickets opened overnight are all due at once: the page takes the first by ticket id."""
    friday_night = MONDAY_0900 - timedelta(days=2, hours=12)
    run(
        store(
            postgres_env,
            [
                ("acme", "bitam", [(opened_as(n, ticket_type="soporte", priority="urgente"), at)])
                for n, at in enumerate([friday_night + timedelta(minutes=m) for m in range(30)])
            ],
        )
    )

    async def first_five() -> list[UUID]:
        settings = settings_for(postgres_env)
        reader = SlaReader(settings, POLICIES, ManualClock(MONDAY_0900))
        reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
        try:
            page, total = await service.queue_now(
                reader=reader, scope=None, filters=Filters(), page=5
            )
        finally:
            await reader.pool.close()
        assert total == 30
        assert {r.remaining for r in page} == {1800.0}  # 8:30 opening, an hour's promise
        return [r.ticket_id for r in page]

    shown = run(first_five())
    assert shown == sorted(shown)


# --- the stream: one reader of changes per process ------------------------------------------


async def everyone() -> list[str] | None:
    return None


async def next_changes(stream: Any, wanted: int) -> tuple[list[Change], list[str]]:
    """Changes until ``wanted`` came (and the protocol lines seen), each wait bounded."""
    changes: list[Change] = []
    lines: list[str] = []
    while len(changes) < wanted:
        item = await asyncio.wait_for(anext(stream), 20)
        if isinstance(item, str):
            lines.append(item)
            if item == RECONNECT:
                break
        else:
            changes.extend(item)
    return changes, lines


async def opened_now(env: dict[str, str], tenant: str, n: int, at: datetime) -> None:
    await store(
        env, [(tenant, "bitam", [(opened_as(n, ticket_type="soporte", priority="urgente"), at)])]
    )


def test_every_connection_gets_the_same_change_read_once(postgres_env: dict[str, str]) -> None:
    async def scenario() -> None:
        settings = settings_for(postgres_env)
        clock = ManualClock(MONDAY_0900)
        reader = SlaReader(settings, POLICIES, clock)
        reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
        await store(postgres_env, [])  # the tables
        hub = ClockHub(reader)
        # From 9:03: the tickets opened at 9:01 and 9:02 are not caught up from the database
        # but pushed by the hub (written while it listened, inside the stream's overlap).
        start = MONDAY_0900 + timedelta(minutes=3)
        streams = [listen(hub, start, policy=None, scope=everyone) for _ in range(5)]
        agent = listen(hub, start, policy=None, scope=only_globex)
        try:
            for stream in [*streams, agent]:
                assert (await anext(stream)).startswith("retry: 2000")
            await opened_now(postgres_env, "acme", 7, MONDAY_0900 + timedelta(minutes=1))
            await opened_now(postgres_env, "globex", 8, MONDAY_0900 + timedelta(minutes=2))
            got = [(await next_changes(s, 8))[0] for s in streams]
            assert len(hub.subscribers) == 6
            first = got[0]
            assert {c.tenant for c in first} == {"acme", "globex"}
            for other in got[1:]:  # the very same objects, built once
                assert all(a is b for a, b in zip(first, other, strict=True))
            seen_by_agent, _ = await next_changes(agent, 4)
            assert {c.tenant for c in seen_by_agent} == {"globex"}
        finally:
            for stream in [*streams, agent]:
                await stream.aclose()
            await reader.pool.close()
        assert not hub.subscribers

    run(asyncio.wait_for(scenario(), 60))  # a bound on a hang, not a speed


async def only_globex() -> list[str] | None:
    return ["globex"]


def test_a_connection_too_far_behind_is_told_to_reconnect(postgres_env: dict[str, str]) -> None:
    async def scenario() -> None:
        settings = settings_for(postgres_env)
        reader = SlaReader(settings, POLICIES, ManualClock(MONDAY_0900))
        reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
        await store(postgres_env, [])  # the tables
        hub = ClockHub(reader, limit=6)
        slow = listen(hub, MONDAY_0900, policy=None, scope=everyone)
        keeping_up = listen(hub, MONDAY_0900, policy=None, scope=everyone)
        try:
            assert (await anext(slow)).startswith("retry: 2000")
            assert (await anext(keeping_up)).startswith("retry: 2000")
            for n in range(3):  # 4 clocks each: 12 changes, within one poll or several
                await opened_now(postgres_env, "acme", 20 + n, MONDAY_0900 + timedelta(minutes=1))
                changes, _ = await next_changes(keeping_up, 4)
                assert len(changes) == 4
            changes, lines = await next_changes(slow, 13)
            assert lines[-1] == RECONNECT
            with pytest.raises(StopAsyncIteration):
                await anext(slow)
            assert len(hub.subscribers) == 1
        finally:
            await slow.aclose()
            await keeping_up.aclose()
            await reader.pool.close()

    run(asyncio.wait_for(scenario(), 60))  # a bound on a hang, not a speed


def test_a_connection_from_the_past_is_caught_up_in_pages_and_once(
    postgres_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_module, "CATCH_UP_PAGE", 3)
    earlier = MONDAY_0900 - timedelta(minutes=30)
    run(
        store(
            postgres_env,
            [
                ("acme", "bitam", [(opened_as(n, ticket_type="soporte", priority="urgente"), at)])
                for n, at in enumerate([earlier + timedelta(minutes=m) for m in range(4)])
            ],
        )
    )

    async def scenario() -> None:
        settings = settings_for(postgres_env)
        reader = SlaReader(settings, POLICIES, ManualClock(MONDAY_0900))
        reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
        hub = ClockHub(reader)
        stream = listen(hub, earlier - timedelta(seconds=1), policy=None, scope=everyone)
        try:
            assert (await anext(stream)).startswith("retry: 2000")
            pages = [await anext(stream) for _ in range(6)]  # 4 tickets x 4 clocks, by 3
            assert [len(p) for p in pages] == [3, 3, 3, 3, 3, 1]
            caught = [(c.ticket_id, c.metric) for p in pages for c in p]
            assert len(set(caught)) == 16
            await opened_now(postgres_env, "acme", 99, MONDAY_0900)
            later, _ = await next_changes(stream, 4)
            assert not {(c.ticket_id, c.metric) for c in later} & set(caught)
        finally:
            await stream.aclose()
            await reader.pool.close()

    run(asyncio.wait_for(scenario(), 60))  # a bound on a hang, not a speed


# --- sessions in the database ---------------------------------------------------------------


def sign_in(client: TestClient, credential: str) -> str:
    form = client.get("/board/sign-in").text
    csrf = form.split('name="csrf" value="')[1].split('"')[0]
    signed = client.post(
        "/board/sign-in",
        data={"csrf": csrf, "credential": credential, "then": "/board"},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text[:300]
    return signed.cookies[SESSION_COOKIE]


def board_app(env: dict[str, str], clock: ManualClock) -> TestClient:
    return TestClient(
        create_app(settings_for(env), clock=clock, principals=dev_introspection()),
        follow_redirects=False,
    )


async def stored_sessions(env: dict[str, str]) -> list[dict[str, Any]]:
    conn = await connect(env)
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM sla_board_sessions")]
    finally:
        await conn.close()


def test_a_session_survives_a_restart_and_the_table_holds_no_credential_nor_token(
    postgres_env: dict[str, str],
) -> None:
    clock = ManualClock(MONDAY_0900)
    with board_app(postgres_env, clock) as client:
        cookie = sign_in(client, "dev-supervisor")
        assert client.get("/board").status_code == 200
    [row] = run(stored_sessions(postgres_env))
    assert row["principal"] == "supervisor:" + DEV_DIRECTORY["dev-supervisor"].id
    assert b"dev-supervisor" not in row["credential"] and cookie.encode() != row["token_hash"]

    with board_app(postgres_env, clock) as restarted:  # another process, the same database
        restarted.cookies.set(SESSION_COOKIE, cookie)
        page = restarted.get("/board")
        assert page.status_code == 200 and 'id="queue"' in page.text
        restarted.cookies.set(SESSION_COOKIE, cookie[:-2] + "xy")  # not a token we gave
        assert restarted.get("/board").headers["location"].startswith("/board/sign-in")


def test_an_expired_session_is_refused_and_purged(postgres_env: dict[str, str]) -> None:
    clock = ManualClock(MONDAY_0900)
    hours = settings_for(postgres_env).board_session_hours
    with board_app(postgres_env, clock) as client:
        cookie = sign_in(client, "dev-supervisor")
        clock.set(MONDAY_0900 + timedelta(hours=hours, seconds=-1))
        assert client.get("/board").status_code == 200
        clock.set(MONDAY_0900 + timedelta(hours=hours))
        refused = client.get("/board")
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/board/sign-in")
        sign_in(client, "dev-agent")  # opening a session purges the expired ones
    assert [r["principal"] for r in run(stored_sessions(postgres_env))] == [
        "agent:" + DEV_DIRECTORY["dev-agent"].id
    ]
    assert cookie


def test_signing_out_ends_the_session_for_every_replica(postgres_env: dict[str, str]) -> None:
    clock = ManualClock(MONDAY_0900)
    with board_app(postgres_env, clock) as one, board_app(postgres_env, clock) as other:
        cookie = sign_in(one, "dev-supervisor")
        other.cookies.set(SESSION_COOKIE, cookie)
        assert other.get("/board").status_code == 200
        csrf = one.get("/board").text.split('name="csrf" value="')[1].split('"')[0]
        assert one.post("/board/sign-out", data={"csrf": csrf}).status_code == 303
        assert other.get("/board").status_code == 303
    assert run(stored_sessions(postgres_env)) == []


def test_a_change_the_hub_announced_while_a_connection_caught_up_is_sent_once(
    postgres_env: dict[str, str],
) -> None:
    async def scenario() -> None:
        settings = settings_for(postgres_env)
        reader = SlaReader(settings, POLICIES, ManualClock(MONDAY_0900))
        reader.pool = await asyncpg.create_pool(**settings.pool_kwargs())
        await store(postgres_env, [])  # the tables
        hub = ClockHub(reader)
        stream = listen(hub, MONDAY_0900, policy=None, scope=everyone)
        try:
            assert (await anext(stream)).startswith("retry: 2000")  # subscribed, not caught up
            await opened_now(postgres_env, "acme", 31, MONDAY_0900 + timedelta(minutes=1))
            while hub.polls == 0 or not hub.sent:  # the hub announced it to the queue
                await asyncio.sleep(0.01)
            # The catch-up now reads the same rows from the database: sent once, not twice.
            caught = await anext(stream)
            assert isinstance(caught, list) and len(caught) == 4
            await opened_now(postgres_env, "acme", 32, MONDAY_0900 + timedelta(minutes=2))
            pushed, _ = await next_changes(stream, 4)
            keys = [(c.ticket_id, c.metric) for c in [*caught, *pushed]]
            assert len(keys) == len(set(keys)) == 8
        finally:
            await stream.aclose()
            await reader.pool.close()

    run(asyncio.wait_for(scenario(), 60))  # a bound on a hang, not a speed
