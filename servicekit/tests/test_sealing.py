"""Sealing personal fields: what is sealed, that it opens only with its key, and how an
erased event reads (ADR 23)."""

from __future__ import annotations

import json

import pytest
from cryptography.exceptions import InvalidTag

from contracts.events.ticket import Opened
from servicekit.personal_data import ERASED, SEALED, new_data_key, personal_paths, seal, unseal

OPENED = {
    "actor": {"kind": "customer", "id": "c-9", "name": "Zoila Quintanilla"},
    "case_number": "BIT-000001",
    "contact": {"id": "c-9", "name": "Zoila Quintanilla", "email": "zq@acme.example",
                "phone": "+573009871234", "locale": "es"},
    "title": "Falla al timbrar",
    "description": "Escribe Zoila desde su casa",
    "ticket_type": "soporte",
    "priority": "alta",
    "channel": "portal",
    "intake": {"telefono": "+57 300"},
    "attachments": [{"id": "a" * 64, "name": "cv-zoila.pdf", "media_type": "application/pdf",
                     "size": 3}],
}  # fmt: skip


def test_every_personal_field_is_sealed_and_nothing_else() -> None:
    assert personal_paths("ticket.opened", OPENED) == [
        "contact.name",
        "contact.email",
        "contact.phone",
        "title",
        "description",
        "intake",
        "attachments.0.name",
        "actor.name",
    ]
    key = new_data_key()
    sealed = seal("ticket.opened", OPENED, "k-1", key)
    text = json.dumps(sealed)
    assert "Zoila" not in text and "zq@acme" not in text and "3009871234" not in text
    assert sealed["case_number"] == "BIT-000001" and sealed["contact"]["id"] == "c-9"
    assert OPENED["contact"]["name"] == "Zoila Quintanilla"  # the caller's state is untouched
    assert unseal(sealed, key) == OPENED


def test_a_box_opens_only_with_its_key_and_reads_as_erased_without_it() -> None:
    sealed = seal("ticket.opened", OPENED, "k-1", new_data_key())
    with pytest.raises(InvalidTag):
        unseal(sealed, new_data_key())
    erased = unseal(sealed, None)
    assert SEALED not in erased
    assert erased["contact"]["name"] == erased["title"] == ERASED
    assert erased["contact"]["phone"] is None and erased["intake"] == {}
    assert Opened.model_validate(erased).title == ERASED  # the contract accepts it
