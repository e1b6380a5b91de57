"""``/v1/webhooks``: integrators manage their own subscriptions (Zendesk- and Zammad-style).

Admins only (ticket-api's ``admin`` role). An admin serving some tenants manages those
tenants' subscriptions — the directory's staff tenants make "a tenant's admin" — and must name
the tenant; an admin of every tenant may also subscribe to all tenants at once. Another
tenant's subscription answers 404, as everywhere (ADR 14). The secret is in the answer of
create and rotate only. Views parse, call the store or the sender, and shape the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response

from contracts.events import EVENTS
from contracts.policy import SupportPolicy
from notifier import examples
from notifier.api import DeliveryOut, DeliveryPage, after, cursor_after
from notifier.subscriptions import models as m
from notifier.subscriptions.addresses import DestinationRules, UnsafeDestination, check_destination
from notifier.subscriptions.sending import SubscriptionSender
from notifier.subscriptions.store import NewSubscription, Scope, Subscription, Subscriptions
from notifier.subscriptions.store import address_of as subscription_address
from servicekit.clock import Clock
from servicekit.paging import DEFAULT_LIMIT, Cursor, KnownParameters, Limit, link_next
from servicekit.web import Principal, Problem, current_principal

FAMILIES = {"*", *(name.split(".")[0] + ".*" for name in EVENTS)}


@dataclass
class WebhookDesk:
    """What the views need, wired by the app factory (the sender once the client exists)."""

    store: Subscriptions
    policies: dict[str, SupportPolicy]
    rules: DestinationRules
    clock: Clock
    overlap: timedelta
    page_size_cap: int = 200
    sender: SubscriptionSender | None = field(default=None)


def answer_example(value: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """This operation's own example of its answer (where its model's would mislead)."""
    return {200: {"content": {"application/json": {"example": value}}}}


def desk_of(request: Request) -> WebhookDesk:
    desk: WebhookDesk = request.app.state.webhooks
    return desk


def admin(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    if principal.kind != "admin":
        raise Problem(
            403,
            "not-allowed",
            en="Only admins manage webhook subscriptions.",
            es="Solo los administradores gestionan suscripciones de webhook.",
        )
    return principal


Admin = Annotated[Principal, Depends(admin)]
Desk = Annotated[WebhookDesk, Depends(desk_of)]
WebhookId = Annotated[str, Path(max_length=64)]
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], dependencies=[KnownParameters])


def not_found(subscription_id: str) -> Problem:
    """Also the answer for another tenant's subscription: its existence is not disclosed."""
    return Problem(
        404,
        "webhook-not-found",
        en=f"There is no webhook subscription {subscription_id!r}.",
        es=f"No existe la suscripción de webhook {subscription_id!r}.",
    )


def invalid(code: str, name: str, *, en: str, es: str) -> Problem:
    return Problem(422, code, en=en, es=es, field=name)


async def validated(body: m.WebhookIn, principal: Principal, desk: WebhookDesk) -> NewSubscription:
    """The subscription to store, after the tenant, filter and destination rules."""
    if body.tenant is None and not principal.sees_all:
        raise invalid(
            "tenant-required",
            "tenant",
            en="Name the tenant whose events to send.",
            es="Indique el cliente (tenant) cuyos eventos enviar.",
        )
    if body.tenant is not None and not principal.may_see(body.tenant):
        raise Problem(
            403,
            "not-allowed",
            field="tenant",
            en=f"You do not administer tenant {body.tenant!r}.",
            es=f"Usted no administra el cliente {body.tenant!r}.",
        )
    unknown = [e for e in body.events if e not in EVENTS and e not in FAMILIES]
    if unknown:
        raise invalid(
            "unknown-event-type",
            "events",
            en=f"Unknown event types: {unknown}.",
            es=f"Tipos de evento desconocidos: {unknown}.",
        )
    if body.policy is not None and body.policy not in desk.policies:
        raise invalid(
            "unknown-policy",
            "policy",
            en=f"There is no policy {body.policy!r}.",
            es=f"No existe la política {body.policy!r}.",
        )
    if body.priority is not None:
        chosen = [desk.policies[body.policy]] if body.policy else list(desk.policies.values())
        if not any(p.id == body.priority for policy in chosen for p in policy.priorities):
            raise invalid(
                "unknown-priority",
                "priority",
                en=f"No policy has the priority {body.priority!r}.",
                es=f"Ninguna política tiene la prioridad {body.priority!r}.",
            )
    await safe(body.url, desk.rules)
    return NewSubscription(
        url=body.url,
        events=list(dict.fromkeys(body.events)),
        tenant=body.tenant,
        policy=body.policy,
        priority=body.priority,
        description=body.description,
        owner_email=body.owner_email,
    )


def unsafe(exc: UnsafeDestination) -> Problem:
    return invalid(
        "unsafe-url",
        "url",
        en=f"This URL cannot receive webhooks: {exc}.",
        es=f"Esta URL no puede recibir webhooks: {exc}.",
    )


async def safe(url: str, rules: DestinationRules) -> None:
    try:
        await check_destination(url, rules)
    except UnsafeDestination as exc:
        raise unsafe(exc) from exc


async def found(desk: WebhookDesk, subscription_id: str, scope: Scope) -> Subscription:
    subscription = await desk.store.get(subscription_id, scope)
    if subscription is None:
        raise not_found(subscription_id)
    return subscription


def shown(
    desk: WebhookDesk, subscription: Subscription | None, subscription_id: str
) -> m.WebhookOut:
    if subscription is None:
        raise not_found(subscription_id)
    return m.WebhookOut.of(subscription, desk.clock.now())


@router.post(
    "",
    operation_id="createWebhook",
    status_code=201,
    summary="Subscribe a receiver to events",
    responses=m.problems(401, 403, 422, 503),
)
async def create(body: m.WebhookIn, principal: Admin, desk: Desk) -> m.WebhookWithSecret:
    """The answer holds the signing secret (`whsec_…`): shown this once, never again."""
    spec = await validated(body, principal, desk)
    subscription, secret = await desk.store.create(spec, by=principal.id)
    out = m.WebhookOut.of(subscription, desk.clock.now())
    return m.WebhookWithSecret(**out.model_dump(), secret=secret)


@router.get(
    "",
    operation_id="listWebhooks",
    summary="The subscriptions of your tenants",
    responses=m.problems(401, 403, 503),
)
async def list_webhooks(
    principal: Admin,
    desk: Desk,
    request: Request,
    response: Response,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> m.WebhookPage:
    limit = min(limit, desk.page_size_cap)
    rows = await desk.store.page(principal.scope(None), after=after(cursor), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    now = desk.clock.now()
    page = m.WebhookPage(
        items=[m.WebhookOut.of(s, now) for _, s in rows],
        next_cursor=cursor_after(rows[-1][0]) if more else None,
    )
    link_next(request, response, page.next_cursor)
    return page


@router.get(
    "/{webhook_id}",
    operation_id="getWebhook",
    summary="One subscription",
    responses=m.problems(401, 403, 404, 503),
)
async def read(webhook_id: WebhookId, principal: Admin, desk: Desk) -> m.WebhookOut:
    return shown(desk, await desk.store.get(webhook_id, principal.scope(None)), webhook_id)


@router.delete(
    "/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=204,
    summary="Unsubscribe",
    responses=m.problems(401, 403, 404, 503),
)
async def delete(webhook_id: WebhookId, principal: Admin, desk: Desk) -> Response:
    """Deliveries still pending for it become dead letters (`the subscription was deleted`)."""
    if not await desk.store.delete(webhook_id, principal.scope(None)):
        raise not_found(webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/pause",
    operation_id="pauseWebhook",
    summary="Stop sending for now",
    responses=m.problems(401, 403, 404, 503),
)
async def pause(
    webhook_id: WebhookId,
    principal: Admin,
    desk: Desk,
    body: Annotated[m.PauseIn | None, Body()] = None,
) -> m.WebhookOut:
    """Events while paused are not sent to it (their deliveries die with the reason)."""
    reason = (body or m.PauseIn()).reason
    return shown(
        desk, await desk.store.pause(webhook_id, principal.scope(None), reason), webhook_id
    )


@router.post(
    "/{webhook_id}/resume",
    operation_id="resumeWebhook",
    summary="Send again (failure count reset)",
    responses=m.problems(401, 403, 404, 503),
)
async def resume(webhook_id: WebhookId, principal: Admin, desk: Desk) -> m.WebhookOut:
    return shown(desk, await desk.store.resume(webhook_id, principal.scope(None)), webhook_id)


@router.post(
    "/{webhook_id}/rotate",
    operation_id="rotateWebhookSecret",
    summary="A new secret; the old one signs for a while too",
    responses=m.problems(401, 403, 404, 503) | answer_example(examples.ROTATED),
)
async def rotate(
    webhook_id: WebhookId,
    principal: Admin,
    desk: Desk,
    body: Annotated[m.RotateIn | None, Body()] = None,
) -> m.WebhookWithSecret:
    """Until `rotation_ends_at` (24 h by default) every delivery carries two signatures in
    `webhook-signature` (new, old); afterwards only the new one. The new secret is shown once."""
    seconds = body.overlap_seconds if body and body.overlap_seconds is not None else None
    overlap = desk.overlap if seconds is None else timedelta(seconds=seconds)
    rotated = await desk.store.rotate(webhook_id, principal.scope(None), overlap)
    if rotated is None:
        raise not_found(webhook_id)
    out = m.WebhookOut.of(rotated[0], desk.clock.now())
    return m.WebhookWithSecret(**out.model_dump(), secret=rotated[1])


@router.post(
    "/{webhook_id}/test",
    operation_id="testWebhook",
    summary="Send a signed ping now, see the answer",
    responses=m.problems(401, 403, 404, 422, 503),
)
async def test(webhook_id: WebhookId, principal: Admin, desk: Desk) -> m.PingOut:
    """A CloudEvent of type `supportdesk.webhook.ping`, signed like every delivery, sent at
    once (paused or not; not logged). 200 whatever the receiver answered: read `delivered`."""
    subscription = await found(desk, webhook_id, principal.scope(None))
    assert desk.sender is not None, "the app's lifespan wires the sender"
    try:
        answer = await desk.sender.ping(subscription)
    except UnsafeDestination as exc:  # it resolves inwards now (or the rules changed)
        raise unsafe(exc) from exc
    except LookupError as exc:
        raise not_found(webhook_id) from exc
    delivered = answer.status is not None and 200 <= answer.status < 300
    return m.PingOut(
        webhook_id=answer.webhook_id,
        delivered=delivered,
        status=answer.status,
        body=answer.body,
        error=answer.error,
    )


@router.get(
    "/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="What was sent to it, from the delivery log",
    responses=m.problems(401, 403, 404, 503) | answer_example(examples.WEBHOOK_DELIVERY_PAGE),
)
async def deliveries(
    webhook_id: WebhookId,
    principal: Admin,
    desk: Desk,
    request: Request,
    response: Response,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> DeliveryPage:
    await found(desk, webhook_id, principal.scope(None))
    limit = min(limit, desk.page_size_cap)
    async with desk.store.db().acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM deliveries WHERE channel = 'webhook' AND address = $1 AND seq > $2"
            " ORDER BY seq LIMIT $3",
            subscription_address(webhook_id),
            after(cursor),
            limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    page = DeliveryPage(
        items=[DeliveryOut.of(r) for r in rows],
        next_cursor=cursor_after(rows[-1]["seq"]) if more else None,
    )
    link_next(request, response, page.next_cursor)
    return page
