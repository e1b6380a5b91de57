"""Generate the published contracts: JSON Schemas and the AsyncAPI document of the subjects.

The models are the source of truth; the files under ``contracts/schema/`` and
``contracts/asyncapi.yaml`` are what other teams and tools read. ``contracts-export``
rewrites them, and a test fails when they drift from the models.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from contracts.events.base import EventPayload
from contracts.events.envelope import (
    EVENTS,
    SLA_STREAM,
    STREAM_SUBJECTS,
    TICKETS_STREAM,
    TYPE_PREFIX,
    CloudEvent,
    dataschema,
)
from contracts.policy.policy import SupportPolicy

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
"""The ``contracts/`` folder of the repository (where the published files live)."""


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _payload_schema(cls: type[EventPayload]) -> dict[str, Any]:
    schema = cls.model_json_schema(by_alias=True)
    schema["$id"] = dataschema(cls)
    schema["title"] = cls.__name__
    schema["description"] = cls.meaning
    return schema


def _hoisted(schema: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """Move a schema's ``$defs`` into ``shared`` and point its refs at AsyncAPI components."""

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else rewrite(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    schema = dict(schema)
    for name, definition in schema.pop("$defs", {}).items():
        shared[name] = rewrite(definition)
    return dict(rewrite(schema))


def _camel(name: str) -> str:
    head, *rest = name.replace(".", "_").split("_")
    return head + "".join(part.title() for part in rest)


def asyncapi() -> dict[str, Any]:
    """AsyncAPI 3.0 description of every subject and its CloudEvent payload."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name, cls in EVENTS.items():
        key = _camel(name)
        family, event = name.split(".", 1)
        root = "tickets" if family == "ticket" else family
        messages[key] = {
            "name": TYPE_PREFIX + name,
            "title": cls.__name__,
            "summary": cls.meaning,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {
                        "type": "string",
                        "description": "Deduplication key (the CloudEvent id).",
                    },
                    "traceparent": {"type": "string", "description": "W3C trace context."},
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": TYPE_PREFIX + name},
                            "dataschema": {"const": dataschema(cls)},
                            "data": _hoisted(_payload_schema(cls), schemas),
                        },
                    },
                ]
            },
        }
        channels[key] = {
            "address": f"{root}.{{tenant}}.{{ticketId}}.{event}",
            "title": name,
            "description": cls.meaning,
            "parameters": {
                "tenant": {"description": "Tenant (customer organisation) slug."},
                "ticketId": {"description": "Ticket id (UUID)."},
            },
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish{key[0].upper()}{key[1:]}"] = {
            "action": "send",
            "title": f"Publish {name}",
            "summary": (
                f"Published by ticket-api's outbox relay to stream {TICKETS_STREAM}."
                if family == "ticket"
                else f"Published by sla-monitor to stream {SLA_STREAM}."
            ),
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    schemas["CloudEvent"] = _hoisted(CloudEvent.model_json_schema(), schemas)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Support desk events",
            "version": "1.0.0",
            "description": (
                "Ticket and SLA events as CloudEvents 1.0 (structured JSON) on NATS JetStream. "
                + ", ".join(f"stream {s}: subjects {p}" for s, p in STREAM_SUBJECTS.items())
                + "."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The embedded nats-server started by `make run`.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def published_files() -> dict[Path, str]:
    """Every generated file (path relative to ``contracts/``) with its expected content."""
    files: dict[Path, str] = {
        Path("schema/support-policy.schema.json"): _json(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "urn:supportdesk:schema:support-policy:v1",
                **SupportPolicy.model_json_schema(),
            }
        ),
        Path("schema/cloudevent.schema.json"): _json(CloudEvent.model_json_schema()),
        Path("asyncapi.yaml"): yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True),
    }
    for name, cls in EVENTS.items():
        path = Path(f"schema/events/{name}.v{cls.schema_version}.schema.json")
        files[path] = _json(_payload_schema(cls))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the JSON Schemas and AsyncAPI document.")
    parser.add_argument("--root", type=Path, default=PACKAGE_ROOT, help="the contracts/ folder")
    args = parser.parse_args(argv)
    for relative, content in published_files().items():
        target = args.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
