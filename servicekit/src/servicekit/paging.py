"""One way to page and one way to refuse a stray parameter, for every list of every service.

ticket-api set the style (ADR 22) and the read services follow it:

- ``?limit=`` (default 50) and ``?cursor=``; the answer is ``{"items": [...], "next_cursor":
  ...}`` and, while there is more, a ``Link: <…>; rel="next"`` header (RFC 8288) with the same
  URL the client would build from ``next_cursor``. ``next_cursor`` is ``null`` on the last page.
- A cursor is opaque: whatever the server handed out. One it did not hand out is a 400
  ``invalid-cursor`` problem, never an empty page.
- A query parameter the route does not declare is a 400 ``unknown-parameter`` naming it
  (``KnownParameters``): a misspelt filter (``?stauts=open``) would otherwise return everything
  and look like it worked.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant

from servicekit.web import Problem

DEFAULT_LIMIT = 50
CURSOR_DESCRIPTION = (
    'Opaque: the `next_cursor` of the previous page (also in its `Link: rel="next"` header). '
    "Leave out for the first page."
)

Cursor = Annotated[
    str | None,
    Query(max_length=500, description=CURSOR_DESCRIPTION, examples=["WzQyXQ"]),
]
Limit = Annotated[
    int,
    Query(
        ge=1,
        description="Page size; a value above the server's cap (200 by default) gives the cap.",
        examples=[50],
    ),
]


def invalid_cursor() -> Problem:
    return Problem(
        400,
        "invalid-cursor",
        en="The cursor is not one this server gave out: start again without it.",
        es="El cursor no es uno que este servidor haya dado: empiece de nuevo sin él.",
        field="cursor",
    )


def encode_cursor(*key: Any) -> str:
    """An opaque cursor for the position after the row whose sort key is ``key``."""
    raw = json.dumps(list(key), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The key ``encode_cursor`` packed (``size`` values), or a 400 ``invalid-cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if not isinstance(key, list) or len(key) != size:
        raise invalid_cursor()
    return key


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Set ``Link: <this URL with cursor=next>; rel="next"`` when there is a next page."""
    if next_cursor is not None:
        url = request.url.remove_query_params("cursor").include_query_params(cursor=next_cursor)
        target = url.path + ("?" + url.query if url.query else "")
        response.headers["Link"] = f'<{target}>; rel="next"'


# -- unknown parameters ------------------------------------------------------------------------

_declared: dict[int, frozenset[str]] = {}


def declared_parameters(route: Any) -> frozenset[str]:
    """The query parameters a route accepts (its own and its dependencies'), by their alias."""
    if id(route) not in _declared:
        _declared[id(route)] = frozenset(_query_names(route.dependant))
    return _declared[id(route)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_parameters(request: Request) -> None:
    """400 ``unknown-parameter`` naming the first query parameter the route does not declare."""
    accepted = declared_parameters(request.scope["route"])
    for name in request.query_params:
        if name not in accepted:
            listed = ", ".join(sorted(accepted)) or "-"
            raise Problem(
                400,
                "unknown-parameter",
                en=f"Unknown query parameter {name!r}. Accepted: {listed}.",
                es=f"Parámetro de consulta desconocido {name!r}. Se aceptan: {listed}.",
                field=name,
            )


KnownParameters = Depends(reject_unknown_parameters)
"""For a router's or a route's ``dependencies=``; ``openapi.publish`` declares its 400."""
