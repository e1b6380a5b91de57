"""What one email may ask of the intake, checked before the standard library parses it.

The ``email`` package parses MIME recursively (a multipart nested 3,000 levels deep raises
RecursionError), builds an object per address and per part, and parses a header only when it
is read. A message well within the size limit can therefore still cost seconds of CPU and
hundreds of MiB: 50,000 addresses in one ``To:``, 10,000 attachments, 200,000 header lines.
So each message is measured three times, each time before the costlier step that follows:

1. ``prescan`` reads the raw bytes with regular expressions only: the top-level header
   section (fields, bytes per field, addresses per field, recipients) and the number of
   ``Content-Type:`` declarations — every nested part the parser recurses into needs one, so
   bounding them bounds its recursion before it starts.
2. ``check_structure`` walks the parsed tree iteratively (depth, parts, each part's header
   section) using the raw header values, before any header of a part is interpreted.
3. The intake checks subject, text and attachments as it extracts them (``email_intake``).

A message past any limit is refused whole, with a stable reason naming the setting; nothing
of it is stored. Text that is merely dirty is not refused but cleaned (``clean_text``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, fields
from email.message import Message

from ticket_api.settings import Settings

_FIELD = re.compile(rb"[^ \t\r\n][^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*")
"""One header field with its folded continuation lines."""
_NEWLINE = re.compile(rb"\r\n|\r|\n")
_LINE_START = rb"(?:^|(?<=\r))"  # the parser also ends lines at a lone CR
_CONTENT_TYPE = re.compile(_LINE_START + rb"content-type:", re.IGNORECASE | re.MULTILINE)
_BOUNDARY = re.compile(rb'boundary(?:\*\d+)?\*?[ \t]*=[ \t]*"?([^"\s;]+)', re.IGNORECASE)
"""A declared boundary, or the first piece of one split by RFC 2231 (``boundary*0=``)."""
ADDRESS_FIELDS = frozenset(
    {"from", "sender", "reply-to", "to", "cc", "bcc", "delivered-to", "resent-to", "resent-cc"}
)
RECIPIENT_FIELDS = frozenset({"to", "cc", "delivered-to"})
"""The fields the intake reads recipients from (which policy's address the mail was sent to)."""
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class EmailLimits:
    """The limits of one message: settings ``TICKET_API_EMAIL_MAX_<NAME>``, whose defaults and
    reasons are in ``settings.py`` (and the README)."""

    depth: int
    parts: int
    attachments: int
    headers: int
    header_bytes: int
    addresses: int
    recipients: int
    subject_chars: int
    body_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> EmailLimits:
        return cls(**{f.name: getattr(settings, f"email_max_{f.name}") for f in fields(cls)})


_WHAT = {
    "depth": (
        "parts (or header comments) nested more than {n} levels deep",
        "partes (o comentarios de cabecera) anidadas a más de {n} niveles",
    ),
    "parts": ("more than {n} MIME parts", "más de {n} partes MIME"),
    "attachments": ("more than {n} attachments", "más de {n} adjuntos"),
    "headers": (
        "more than {n} header fields in one section",
        "más de {n} campos de cabecera en una sección",
    ),
    "header_bytes": (
        "a header field longer than {n} bytes",
        "un campo de cabecera de más de {n} bytes",
    ),
    "addresses": (
        "more than {n} addresses in one header field",
        "más de {n} direcciones en un campo de cabecera",
    ),
    "recipients": ("more than {n} recipients", "más de {n} destinatarios"),
    "subject_chars": ("a subject longer than {n} characters", "un asunto de más de {n} caracteres"),
    "body_chars": ("a text longer than {n} characters", "un texto de más de {n} caracteres"),
}
_SIZES = frozenset({"header_bytes", "subject_chars", "body_chars"})


class EmailTooComplex(Exception):
    """The message breaks a limit: a permanent failure of the message itself, whoever sent
    it, so it is refused as a whole and nothing of it is kept."""

    code = "email-too-complex"

    def __init__(self, limit: str, value: int) -> None:
        en, es = (text.format(n=value) for text in _WHAT[limit])
        self.limit, self.setting = limit, f"TICKET_API_EMAIL_MAX_{limit.upper()}"
        self.en = f"Message refused: it has {en} (limit {self.setting}). Nothing was kept."
        self.es = f"Mensaje rechazado: tiene {es} (límite {self.setting}). No se guardó nada."
        super().__init__(self.en)

    @property
    def smtp_reply(self) -> str:
        """RFC 3463: too big for the system (5.3.4), or a media error (5.6.0); permanent."""
        status = "552 5.3.4" if self.limit in _SIZES else "554 5.6.0"
        return f"{status} {self.en}"


def prescan(raw: bytes, limits: EmailLimits) -> None:
    """Refuse what would make the parser slow or recursive, from the raw bytes alone: the
    message's header section; every ``Content-Type`` (the one field the parser interprets
    while parsing, and the one a nested part needs); every part's header section, found
    after the delimiter lines of the boundaries declared anywhere in the message."""
    _header_section(raw, 0, limits, top=True)
    for count, declared in enumerate(_CONTENT_TYPE.finditer(raw), 1):
        if count > limits.parts:
            raise EmailTooComplex("parts", limits.parts)
        field = _FIELD.match(raw, declared.start())
        if field is not None and len(field.group()) > limits.header_bytes:
            raise EmailTooComplex("header_bytes", limits.header_bytes)
    boundaries = {found.group(1) for found in _BOUNDARY.finditer(raw)}
    if len(boundaries) > limits.parts:
        raise EmailTooComplex("parts", limits.parts)
    if not boundaries:
        return
    delimiter = re.compile(
        _LINE_START + rb"--(?:" + b"|".join(map(re.escape, boundaries)) + rb")[^\r\n]*",
        re.MULTILINE,
    )
    # Each part follows one delimiter line; each multipart also has a closing one.
    for count, line in enumerate(delimiter.finditer(raw), 1):
        if count > limits.parts + len(boundaries):
            raise EmailTooComplex("parts", limits.parts)
        newline = _NEWLINE.match(raw, line.end())
        if newline is not None:
            _header_section(raw, newline.end(), limits)


def _header_section(raw: bytes, start: int, limits: EmailLimits, *, top: bool = False) -> None:
    """Check the header fields from ``start`` to the first empty line; at the top, also the
    addresses (a part's address fields are never read)."""
    position, recipients = start, 0
    for count in itertools.count(1):
        field = _FIELD.match(raw, position)
        if field is None:  # an empty line, or the end: the section is over
            return
        if count > limits.headers:
            raise EmailTooComplex("headers", limits.headers)
        value = field.group()
        if len(value) > limits.header_bytes:
            raise EmailTooComplex("header_bytes", limits.header_bytes)
        name = value.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        if top and name in ADDRESS_FIELDS:
            addresses = address_count(value)
            if addresses > limits.addresses:
                raise EmailTooComplex("addresses", limits.addresses)
            if name in RECIPIENT_FIELDS:
                recipients += addresses
                if recipients > limits.recipients:
                    raise EmailTooComplex("recipients", limits.recipients)
        newline = _NEWLINE.match(raw, field.end())
        if newline is None:
            return
        position = newline.end()


def address_count(field: bytes) -> int:
    """At least as many as the addresses in a field: its commas outside quoted names, plus
    one. Counted without parsing: parsing 50,000 addresses is the cost being avoided."""
    return sum(chunk.count(b",") for chunk in field.split(b'"')[::2]) + 1


def check_structure(message: Message, limits: EmailLimits) -> None:
    """Refuse a parsed tree too deep or too wide, or a part with an oversized header section.
    Iterative, and on raw header values: nothing here parses a header or recurses."""
    pending: list[tuple[Message, int]] = [(message, 0)]
    parts = 0
    while pending:
        part, depth = pending.pop()
        parts += 1
        if parts > limits.parts:
            raise EmailTooComplex("parts", limits.parts)
        if depth > limits.depth:
            raise EmailTooComplex("depth", limits.depth)
        headers = list(part.raw_items())
        if len(headers) > limits.headers:
            raise EmailTooComplex("headers", limits.headers)
        if any(len(name) + len(str(value)) + 2 > limits.header_bytes for name, value in headers):
            raise EmailTooComplex("header_bytes", limits.header_bytes)
        if part.is_multipart():
            children = part.get_payload()
            assert isinstance(children, list)
            pending.extend((child, depth + 1) for child in children if isinstance(child, Message))


def clean_text(text: str) -> str:
    """Text fit to keep: no control characters but tabs and line breaks (a NUL is garbage
    from a broken client, not content), and no lone surrogates (left by decoding bytes that
    were not the charset they claimed) — those become U+FFFD, so the damage stays visible."""
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))
