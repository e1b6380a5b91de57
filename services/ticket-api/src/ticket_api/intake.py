"""The intake rules of a policy, applied to a request to open a ticket.

Each refusal names the rule (a stable code), the field and the reason in Spanish and English:
"requests that do not follow the process are ignored" (000) only helps customers if they are
told which part of the process they missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from contracts.policy import SupportPolicy
from contracts.policy.models import IntakeFieldKind
from ticket_api.domain.errors import PolicyRuleBroken

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class CheckedRequest:
    """What the policy made of the request: the priority that applies, the intake to keep."""

    priority: str
    intake: dict[str, Any]


def _known(kind_es: str, kind_en: str, value: str, options: list[str], field: str) -> None:
    if value not in options:
        listed = ", ".join(options)
        raise PolicyRuleBroken(
            f"unknown-{field.replace('_', '-')}",
            field=field,
            en=f"{value!r} is not a {kind_en} of this policy; use one of: {listed}.",
            es=f"{value!r} no es un(a) {kind_es} de esta política; use uno de: {listed}.",
        )


def check_open_request(
    policy: SupportPolicy,
    *,
    ticket_type: str,
    priority: str | None,
    subcategory: str | None,
    category: str | None,
    product: str | None,
    product_version: str | None,
    modality: str | None,
    intake: dict[str, Any],
    require_intake: bool = True,
) -> CheckedRequest:
    """Check a new request against its policy; raise ``PolicyRuleBroken`` on the first refusal."""
    _known(
        "tipo de ticket",
        "ticket type",
        ticket_type,
        [t.id for t in policy.ticket_types],
        "ticket_type",
    )
    kind = policy.ticket_type(ticket_type)
    priority = _priority(policy, ticket_type, priority, subcategory, kind.default_priority)
    if category is not None:
        excluded = next((x for x in policy.out_of_scope if x.id == category), None)
        if excluded is not None:
            raise PolicyRuleBroken(
                "out-of-scope",
                field="category",
                en=f"Support does not cover '{excluded.name}' under this policy.",
                es=f"El soporte no cubre '{excluded.name}' según esta política.",
            )
    if require_intake or product is not None:
        _product(policy, product, product_version)
    if policy.modalities:
        if modality is None:
            raise PolicyRuleBroken(
                "modality-required",
                field="modality",
                en="Say which contracted modality applies: "
                + ", ".join(m.id for m in policy.modalities)
                + ".",
                es="Indique la modalidad contratada: "
                + ", ".join(m.id for m in policy.modalities)
                + ".",
            )
        _known("modalidad", "modality", modality, [m.id for m in policy.modalities], "modality")
    elif modality is not None:
        raise PolicyRuleBroken(
            "no-modalities",
            field="modality",
            en="This policy has no contracted modalities.",
            es="Esta política no tiene modalidades contratadas.",
        )
    return CheckedRequest(
        priority=priority, intake=_intake(policy, ticket_type, intake, require_intake)
    )


def check_contact(policy: SupportPolicy, contact: dict[str, Any]) -> None:
    """The contact's agreed channel must be one the policy offers, and reachable (002)."""
    channel = contact.get("channel")
    if channel is None:
        return
    allowed = [c.value for c in policy.notifications.customer_channel.allowed]
    if channel not in allowed:
        raise PolicyRuleBroken(
            "channel-not-offered",
            field="contact.channel",
            en=f"This policy agrees on one of: {', '.join(allowed)}; not {channel!r}.",
            es=f"Esta política acuerda uno de: {', '.join(allowed)}; no {channel!r}.",
        )
    if channel in ("sms", "whatsapp") and not contact.get("phone"):
        raise PolicyRuleBroken(
            "phone-required",
            field="contact.phone",
            en=f"A contact told by {channel} needs a phone number (E.164, e.g. +573001234567).",
            es=f"Un contacto avisado por {channel} necesita un teléfono (E.164, p. ej. "
            "+573001234567).",
        )


@dataclass(frozen=True)
class Classification:
    """A ticket's type, priority and subcategory."""

    ticket_type: str
    priority: str
    subcategory: str | None


def check_reclassification(
    policy: SupportPolicy,
    current: Classification,
    *,
    ticket_type: str | None,
    priority: str | None,
    subcategory: str | None,
) -> Classification:
    """What a reclassification asks for, completed from the ticket and checked like a new
    request: an unnamed type stays; an unnamed subcategory stays unless the type changes (a
    subcategory belongs to its type); a subcategory decides the priority (004), and with
    neither subcategory nor priority named the priority stays."""
    kind = ticket_type or current.ticket_type
    _known(
        "tipo de ticket", "ticket type", kind, [t.id for t in policy.ticket_types], "ticket_type"
    )
    if subcategory is None and ticket_type is None:
        subcategory = current.subcategory
    if subcategory is None and priority is None:
        priority = current.priority
    return Classification(kind, _priority(policy, kind, priority, subcategory, None), subcategory)


def _priority(
    policy: SupportPolicy,
    ticket_type: str,
    priority: str | None,
    subcategory: str | None,
    default: str | None,
) -> str:
    """The priority that applies: a subcategory decides it (004), else the request or type."""
    if subcategory is not None:
        _known(
            "subcategoría",
            "subcategory",
            subcategory,
            [s.id for s in policy.subcategories],
            "subcategory",
        )
        sub = next(s for s in policy.subcategories if s.id == subcategory)
        if sub.ticket_type is not None and sub.ticket_type != ticket_type:
            raise PolicyRuleBroken(
                "subcategory-type",
                field="subcategory",
                en=f"'{sub.name}' belongs to ticket type '{sub.ticket_type}'.",
                es=f"'{sub.name}' corresponde al tipo de ticket '{sub.ticket_type}'.",
            )
        if priority is not None and priority != sub.priority:
            raise PolicyRuleBroken(
                "subcategory-priority",
                field="priority",
                en=f"'{sub.name}' is priority '{sub.priority}' under this policy, "
                f"not '{priority}'.",
                es=f"'{sub.name}' tiene prioridad '{sub.priority}' según esta política, "
                f"no '{priority}'.",
            )
        return sub.priority
    chosen = priority or default
    if chosen is None:
        raise PolicyRuleBroken(
            "priority-required",
            field="priority",
            en="Give a priority: " + ", ".join(p.id for p in policy.priorities) + ".",
            es="Indique la prioridad: " + ", ".join(p.id for p in policy.priorities) + ".",
        )
    _known("prioridad", "priority", chosen, [p.id for p in policy.priorities], "priority")
    return chosen


def _product(policy: SupportPolicy, product: str | None, version: str | None) -> None:
    """Only released products, and only their supported versions (000: the latest two)."""
    if not policy.products:
        return
    if product is None or version is None:
        raise PolicyRuleBroken(
            "product-required",
            field="product" if product is None else "product_version",
            en="Say which product and version the request is about.",
            es="Indique el producto y la versión a los que se refiere la solicitud.",
        )
    _known("producto", "product", product, [p.id for p in policy.products], "product")
    supported = policy.supported_versions(product)
    if version not in supported:
        raise PolicyRuleBroken(
            "unsupported-version",
            field="product_version",
            en=f"Version {version} is not supported; supported versions: {', '.join(supported)}.",
            es=f"La versión {version} no tiene soporte; versiones con soporte: "
            f"{', '.join(supported)}.",
        )


def _intake(
    policy: SupportPolicy, ticket_type: str, intake: dict[str, Any], require: bool = True
) -> dict[str, Any]:
    """Required fields present (unless ``require`` is off), no unknown ones, each of the right
    kind. A request by email cannot fill a form: the agent asks for what is missing."""
    needed = policy.required_fields_for(ticket_type)
    required = needed if require else []
    allowed = {*needed, *policy.ticket_type(ticket_type).optional_fields}
    fields = {f.id: f for f in policy.intake_fields}
    if unknown := sorted(set(intake) - allowed):
        raise PolicyRuleBroken(
            "unknown-intake-field",
            field=f"intake.{unknown[0]}",
            en=f"This ticket type does not take {', '.join(unknown)}; it takes: "
            f"{', '.join(sorted(allowed)) or 'no intake fields'}.",
            es=f"Este tipo de ticket no admite {', '.join(unknown)}; admite: "
            f"{', '.join(sorted(allowed)) or 'ningún campo adicional'}.",
        )
    for name in required:
        value = intake.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            label = fields[name].label
            raise PolicyRuleBroken(
                "intake-field-required",
                field=f"intake.{name}",
                en=f"'{label.en}' is required for this ticket type.",
                es=f"'{label.es}' es obligatorio para este tipo de ticket.",
            )
    for name, value in intake.items():
        spec = fields[name]
        if spec.kind is IntakeFieldKind.FILE:
            media = value.get("media_type") if isinstance(value, dict) else None
            if not isinstance(value, dict) or not value.get("name") or not media:
                raise PolicyRuleBroken(
                    "intake-file",
                    field=f"intake.{name}",
                    en=f'\'{spec.label.en}\' must be a file: {{"name": ..., "media_type": ...}}.',
                    es=f"'{spec.label.es}' debe ser un archivo: "
                    '{"name": ..., "media_type": ...}.',
                )
            if spec.file_types and media not in spec.file_types:
                raise PolicyRuleBroken(
                    "intake-file-type",
                    field=f"intake.{name}",
                    en=f"'{spec.label.en}' accepts {', '.join(spec.file_types)}, not {media}.",
                    es=f"'{spec.label.es}' admite {', '.join(spec.file_types)}, no {media}.",
                )
        elif not isinstance(value, str):
            raise PolicyRuleBroken(
                "intake-text",
                field=f"intake.{name}",
                en=f"'{spec.label.en}' must be text.",
                es=f"'{spec.label.es}' debe ser texto.",
            )
        elif spec.kind is IntakeFieldKind.EMAIL and not _EMAIL.match(value):
            raise PolicyRuleBroken(
                "intake-email",
                field=f"intake.{name}",
                en=f"'{spec.label.en}' must be an email address.",
                es=f"'{spec.label.es}' debe ser una dirección de correo.",
            )
    return dict(intake)
