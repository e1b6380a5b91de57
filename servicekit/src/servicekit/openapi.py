"""The OpenAPI document each service publishes, made to tell the truth about the wire.

FastAPI describes what it can see: routes, parameters, bodies. Clients also rely on what it
cannot see, because it happens in dependencies, middleware and exception handlers: which
operations need a credential (and which kinds: a bearer key or token, or ``X-API-Key``), that
every error is an RFC 9457 problem document (FastAPI would publish its own ``HTTPValidationError``
for 422, which the services never send), and the headers that come with answers (``ETag``,
``Location``, ``Retry-After``, the rate-limit fields). ``publish`` rewrites the generated document
once, from the routes themselves, so a generated client or a conformance fuzzer gets the
contract the runtime keeps and no view has to repeat it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from servicekit.problems import MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
"""Either scheme is enough (OpenAPI: alternatives are separate requirement objects)."""

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`sdk_…`), an OIDC access token (JWT) or, in development, "
        "a development key: `Authorization: Bearer <credential>`.",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key, for clients that cannot set `Authorization`.",
    },
}


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "schema": schema or {"type": "string"}}


HEADERS: dict[str, dict[str, Any]] = {
    "ETag": _header('The ticket\'s version, e.g. `"3"`: send it back as `If-Match`.'),
    "Location": _header("The URL of the created resource."),
    "Idempotent-Replayed": _header(
        "`true` when this is the stored answer to an earlier request with the same "
        "`Idempotency-Key`; nothing was done again.",
        {"type": "string", "enum": ["true"]},
    ),
    "Retry-After": _header("Seconds to wait before retrying.", {"type": "integer"}),
    "WWW-Authenticate": _header("The scheme to authenticate with (`Bearer`)."),
    "RateLimit-Policy": _header(
        'The caller\'s quota (draft-ietf-httpapi-ratelimit-headers), e.g. `"per-principal";'
        "q=600;w=60`: 600 requests in a moving 60 s window."
    ),
    "RateLimit": _header(
        'Where the caller stands, e.g. `"per-principal";r=598;t=42`: 598 requests left; '
        "in 42 s the window frees one."
    ),
}

STANDARD_ERRORS = {
    400: "A malformed request (see code)",
    401: "No credential, or one that is unknown, revoked or expired",
    403: "The credential's holder may not do this (role, tenant, deactivated)",
    404: "Not found among the caller's tenants",
    409: "Not allowed in the current state, or a concurrent change won",
    412: "If-Match names an older version; ETag carries the current one",
    413: "The body is larger than allowed",
    422: "Invalid fields or parameters (see errors)",
    429: "Too many requests; Retry-After says when to retry",
    503: "A dependency is unreachable; Retry-After says when to retry",
}


class FieldError(BaseModel):
    """One part of the request at fault."""

    field: str = Field(description="The parameter or body field, dotted (`intake.nit`).")
    message: str
    type: str | None = Field(None, description="A stable kind of error, to branch on.")


class ProblemDocument(BaseModel):
    """RFC 9457: ``detail`` in Spanish, or English on ``Accept-Language: en``."""

    model_config = ConfigDict(
        title="Problem",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://supportdesk.dev/problems/stale-version",
                    "title": "Precondition failed",
                    "status": 412,
                    "detail": "El ticket cambió: está en la versión 4. Léalo de nuevo y reintente.",
                    "instance": "/v1/tickets/BIT-000123/assign",
                    "code": "stale-version",
                }
            ]
        },
    )

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The path the problem happened on.")
    code: str = Field(description="Stable, to branch on (the last segment of `type`).")
    errors: list[FieldError] | None = Field(None, description="For invalid input: what is wrong.")


def problems(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """The problem answers a route gives beyond those every route of its kind gives, for its
    ``responses=`` (descriptions default to ``STANDARD_ERRORS``)."""
    return {
        status: {
            "description": descriptions.get(f"d{status}", STANDARD_ERRORS.get(status, "Error")),
            "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
        for status in statuses
    }


def with_headers(*names: str, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """Declare headers a route sends with its answer, for its ``responses=``."""
    return {status: {"headers": {n: HEADERS[n] for n in names}}}


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def publish(
    app: FastAPI,
    *,
    authenticated: Collection[Callable[..., Any]],
    always: Mapping[int, str] | None = None,
    with_body: Mapping[int, str] | None = None,
    rate_limited: bool = False,
) -> None:
    """Make ``app.openapi()`` return the truthful document (built once, on first request).

    - ``authenticated``: the dependencies that resolve the caller; a route depending on one,
      however deep, requires ``bearer`` or ``apiKey`` and can answer 401, 403 and 429.
    - ``always``: problems any authenticated operation can give (the store unreachable: 503);
      one with a path parameter can also answer 404 (the thing it names is not there).
    - ``with_body``: problems any operation with a request body can give (413, malformed JSON).
    - ``rate_limited``: authenticated answers carry ``RateLimit-Policy`` and ``RateLimit``.

    Every 4xx/5xx becomes ``application/problem+json`` with the shared ``Problem`` schema
    (FastAPI's ``HTTPValidationError`` goes); operation ids are the route's ``operation_id``
    or its function's name in camelCase, and must be unique (a generated client's methods).
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(
                app,
                authenticated=set(authenticated),
                always=dict(always or {}),
                with_body=dict(with_body or {}),
                rate_limited=rate_limited,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(
    app: FastAPI,
    *,
    authenticated: set[Callable[..., Any]],
    always: dict[int, str],
    with_body: dict[int, str],
    rate_limited: bool,
) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schema = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas["Problem"] = schema
    components["securitySchemes"] = SECURITY_SCHEMES
    seen: dict[str, str] = {}
    # Routers are included lazily (FastAPI's route contexts): each context reads like the
    # APIRoute it stands for, with the including router's prefix and dependencies.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = document["paths"][route.path_format][method.lower()]
            operation_id = route.operation_id or camel_case(route.name or "")
            if operation_id in seen:
                raise ValueError(
                    f"operation id {operation_id} of {method} {route.path_format} is also "
                    f"{seen[operation_id]}'s: set operation_id= on one of them"
                )
            seen[operation_id] = f"{method} {route.path_format}"
            operation["operationId"] = operation_id
            _describe(operation, _needs(route.dependant, authenticated), always, with_body)
            if rate_limited and "security" in operation:
                for status, answer in operation["responses"].items():
                    if status != "401":
                        answer.setdefault("headers", {}).update(
                            {n: HEADERS[n] for n in ("RateLimit-Policy", "RateLimit")}
                        )
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if schemas.pop("ProblemDocument", None) is not None:
        # A body that embeds the model (a bulk item's problem) made FastAPI publish it under
        # its class name too; two schemas titled "Problem" are two clashing client classes.
        text = json.dumps(document).replace(
            '"#/components/schemas/ProblemDocument"', '"#/components/schemas/Problem"'
        )
        document = json.loads(text)
    return document


def _describe(
    operation: dict[str, Any],
    authenticated: bool,
    always: dict[int, str],
    with_body: dict[int, str],
) -> None:
    responses: dict[str, Any] = operation["responses"]
    errors: dict[int, str] = {}
    if authenticated:  # health checks answer their own bodies, never a problem
        operation["security"] = SECURITY
        errors |= always | {s: STANDARD_ERRORS[s] for s in (401, 403, 429)}
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            errors[404] = STANDARD_ERRORS[404]
    if "requestBody" in operation:
        errors |= with_body
    if operation.get("parameters") or "requestBody" in operation:
        errors[422] = STANDARD_ERRORS[422]
    for code, description in errors.items():
        responses.setdefault(str(code), {"description": description})
    for status, answer in responses.items():
        if status.isdigit() and int(status) >= 400:
            if answer.get("description") in (None, "", "Validation Error"):
                answer["description"] = STANDARD_ERRORS.get(int(status), "Error")
            answer["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
            retry = {"Retry-After": HEADERS["Retry-After"]} if status in ("429", "503") else {}
            if status == "401":
                retry = {"WWW-Authenticate": HEADERS["WWW-Authenticate"]}
            if retry:
                answer.setdefault("headers", {}).update(retry)
    operation["responses"] = dict(sorted(responses.items()))


def _needs(dependant: Dependant, wanted: set[Callable[..., Any]]) -> bool:
    return any(d.call in wanted for d in _all(dependant))


def _all(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _all(dependency)
