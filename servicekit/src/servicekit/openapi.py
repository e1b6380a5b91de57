"""The OpenAPI document each service publishes, made to tell the truth about the wire.

long: each rewrite (security, problems, headers, examples, paging, operation ids) walks the same
operations of the same document and several read what another added; one pass over one document,
in one place, keeps their order evident.

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
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from servicekit.problems import MEDIA_TYPE, problem_document

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
    "Link": _header(
        "The next page, when there is one (RFC 8288): `</v1/tickets?cursor=…&limit=50>; "
        'rel="next"`, the same URL as the body\'s `next_cursor` with the other parameters kept.'
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


PROBLEM_EXAMPLES: dict[int, tuple[str, str, list[dict[str, str]] | None]] = {
    400: (
        "unknown-parameter",
        "Parámetro de consulta desconocido 'stauts'. Se aceptan: cursor, limit, status.",
        None,
    ),
    401: (
        "not-authenticated",
        "Envíe una clave o token válidos: 'Authorization: Bearer <clave>' (vea README).",
        None,
    ),
    403: ("not-allowed", "Su rol (customer) no puede hacer esto.", None),
    404: ("not-found", "No existe entre los clientes (tenants) que usted atiende.", None),
    409: (
        "illegal-transition",
        "No se puede reabrir un ticket abierto: solo uno resuelto o cerrado.",
        None,
    ),
    412: (
        "stale-version",
        "El ticket cambió: está en la versión 4. Léalo de nuevo y reintente.",
        None,
    ),
    413: ("body-too-large", "El cuerpo supera el máximo de 1 MiB.", None),
    422: (
        "invalid-request",
        "La solicitud no es válida: vea errors.",
        [{"field": "limit", "message": "Input should be greater than or equal to 1"}],
    ),
    428: ("if-match-required", "Envíe If-Match con la versión que leyó.", None),
    429: ("too-many-requests", "Demasiadas solicitudes: reintente en 12 s.", None),
    503: ("database-unavailable", "La base de datos no responde. Reintente en breve.", None),
}
"""A realistic problem per status, for the operations' examples (codes the services send)."""

PARAMETER_EXAMPLES: dict[str, Any] = {
    "ticket_ref": "BIT-000123",
    "ticket_id": "BIT-000123",
    "attachment_id": "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4",
    "policy_id": "bitam",
    "slug": "acme",
    "space": "portal-clientes",
    "contact_id": "contact-ana",
    "staff_id": "agent-lucia",
    "key_id": "3f9a1c7e2b4d",
    "notification_id": 8123,
    "delivery_id": "5c1e9a7b3d2f4e6a8b0c1d2e3f4a5b6c",
    "webhook_id": "wh_8c3f1a9e2d7b4c6a5e0f",
    "if-match": '"3"',
    "idempotency-key": "4b0d7c8e-2f6a-4c1b-9e3d-5a7f8b9c0d1e",
    "q": "factura electrónica",
    "status": "open",
    "priority": "urgente",
    "policy": "bitam",
    "tenant": "acme",
    "assignee": "agent-lucia",
    "contact": "contact-ana",
    "level": 1,
    "updated_since": "2026-11-30T09:00:00-06:00",
    "created_since": "2026-11-01T00:00:00Z",
    "created_before": "2026-12-01T00:00:00Z",
    "since": "2026-11-23T00:00:00-06:00",
    "until": "2026-11-30T00:00:00-06:00",
    "as_of": "2026-11-30T09:30:00-06:00",
    "within": "2h",
    "case_number": "BIT-000123",
}
"""Examples of parameters by name, where the route declares none (all three services)."""


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
    from servicekit.paging import reject_unknown_parameters  # servicekit.web imports us

    strict: set[Callable[..., Any]] = {reject_unknown_parameters}
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
            _paging(operation, strict=_needs(route.dependant, strict))
            for status, declared in route.responses.items():  # FastAPI dropped their nulls
                for media, spec in declared.get("content", {}).items():
                    if "example" in spec:
                        answer = operation["responses"][str(status)]["content"][media]
                        answer["example"] = spec["example"]
            if rate_limited and "security" in operation:
                for status, answer in operation["responses"].items():
                    if status != "401":
                        answer.setdefault("headers", {}).update(
                            {n: HEADERS[n] for n in ("RateLimit-Policy", "RateLimit")}
                        )
    _restore_examples(schemas, app.routes)
    _examples(document)
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


def _paging(operation: dict[str, Any], *, strict: bool) -> None:
    """A route refusing undeclared parameters can answer 400; a paged list (one taking
    ``cursor``) can also refuse a cursor, and sends ``Link: rel="next"`` with its pages."""
    responses: dict[str, Any] = operation["responses"]
    paged = any(
        p.get("in") == "query" and p.get("name") == "cursor"
        for p in operation.get("parameters", [])
    )
    if strict or paged:
        reasons = ["an undeclared query parameter (unknown-parameter)"] if strict else []
        reasons += ["a cursor this server did not give out (invalid-cursor)"] if paged else []
        answer = responses.setdefault("400", {"description": "Bad request"})
        if answer.get("description") in (None, "", STANDARD_ERRORS[400], "Bad request"):
            answer["description"] = "Refused: " + "; ".join(reasons)
        answer["content"] = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
    if paged:
        for status, answer in responses.items():
            if status.startswith("2"):
                answer.setdefault("headers", {})["Link"] = HEADERS["Link"]
    operation["responses"] = dict(sorted(responses.items()))


def _needs(dependant: Dependant, wanted: set[Callable[..., Any]]) -> bool:
    return any(d.call in wanted for d in _all(dependant))


def _all(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _all(dependency)


_MISSING = object()


def _examples(document: dict[str, Any]) -> None:
    """An example for every parameter, body and answer, where FastAPI left none.

    Models carry theirs (``json_schema_extra``); an operation gets its body's and its answers'
    example from them (a list answer: a list of one), each parameter its declared example, its
    first allowed value, a realistic one by name (``PARAMETER_EXAMPLES``) or its default, and
    each problem answer a problem document with a code the services send for that status.
    """
    schemas: dict[str, Any] = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            instance = path
            for parameter in operation.get("parameters", []):
                if "example" not in parameter and "examples" not in parameter:
                    value = _parameter_example(parameter)
                    if value is not _MISSING:
                        parameter["example"] = value
                if parameter["in"] == "path" and "example" in parameter:
                    instance = instance.replace(
                        "{" + parameter["name"] + "}", str(parameter["example"])
                    )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _lift(media, schemas)
            for status, answer in operation["responses"].items():
                for media in answer.get("content", {}).values():
                    if status.isdigit() and int(status) >= 400:
                        media.setdefault("example", _problem_example(int(status), instance))
                    else:
                        _lift(media, schemas)


def _problem_example(status: int, instance: str) -> dict[str, Any]:
    code, detail, errors = PROBLEM_EXAMPLES.get(status, ("http-error", "Error.", None))
    return problem_document(status, code, detail, instance=instance, errors=errors)


def _lift(media: dict[str, Any], schemas: dict[str, Any]) -> None:
    if "example" in media or "examples" in media or "schema" not in media:
        return
    value = _schema_example(media["schema"], schemas)
    if value is not _MISSING:
        media["example"] = value


def _schema_example(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if schema.get("type") == "array" and "items" in schema:
        item = _schema_example(schema["items"], schemas)
        return _MISSING if item is _MISSING else [item]
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            value = _schema_example(branch, schemas)
            if value is not _MISSING:
                return value
    return _MISSING


def _parameter_example(parameter: dict[str, Any]) -> Any:
    schema = parameter.get("schema", {})
    branches = [schema, *(b for b in schema.get("anyOf", []) if b.get("type") != "null")]
    for branch in branches:
        if branch.get("examples"):
            return branch["examples"][0]
    for branch in branches:
        if branch.get("enum"):
            return branch["enum"][0]
        if "const" in branch:
            return branch["const"]
    value = PARAMETER_EXAMPLES.get(parameter["name"], _MISSING)
    patterns = [b["pattern"] for b in branches if "pattern" in b]
    if value is not _MISSING and not (patterns and not re.search(patterns[0], str(value))):
        return value
    if schema.get("default") is not None:
        return schema["default"]
    return _MISSING


def _restore_examples(schemas: dict[str, Any], routes: Sequence[Any]) -> None:
    """Put back the models' examples as they were written: FastAPI drops every ``null`` from
    the document it builds, examples included, and ``"met_at": null`` is part of an answer."""
    found: dict[str, list[Any]] = {}
    seen: set[type] = set()

    def walk(kind: Any) -> None:
        if isinstance(kind, type) and issubclass(kind, BaseModel) and kind not in seen:
            seen.add(kind)
            extra = kind.model_config.get("json_schema_extra")
            values = extra.get("examples") if isinstance(extra, dict) else None
            if isinstance(values, list) and values:
                found[kind.__name__] = found[str(kind.model_config.get("title"))] = values
            for field in kind.model_fields.values():
                walk(field.annotation)
        for argument in get_args(kind):
            walk(argument)

    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        walk(route.response_model)
        for body in route.dependant.body_params:
            walk(body.field_info.annotation)
        for answer in route.responses.values():
            walk(answer.get("model"))
    for name, schema in schemas.items():
        base = name.removesuffix("-Input").removesuffix("-Output")
        if base in found:
            schema["examples"] = found[base]
