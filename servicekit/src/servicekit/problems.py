"""RFC 9457 problem documents, the error format every service answers with.

Clients integrate against one shape: a stable ``type`` URI and ``code`` to branch on, a
``title``, a ``detail`` in the language they asked for (Spanish by default, English with
``Accept-Language: en``), the ``instance`` path and, for invalid input, the ``errors`` at fault.

``Problem`` is the one exception every service raises for an answer it gives as-is; the web
edge (``servicekit.web``) turns it into the document.
"""

from __future__ import annotations

from typing import Any

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://supportdesk.dev/problems/"
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An error answered as-is (raised by views), in both languages."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        en: str,
        es: str,
        headers: dict[str, str] | None = None,
        field: str | None = None,
        title_en: str | None = None,
        title_es: str | None = None,
    ) -> None:
        super().__init__(en)
        self.status, self.code, self.en, self.es = status, code, en, es
        self.headers = headers or {}
        self.field = field
        """The request's part at fault (a parameter, a field), listed in ``errors``."""
        self.title_en, self.title_es = title_en, title_es
        """A title in each language, for problems a person reads on screen (the 429); the
        others keep the status's standard English title, which clients may already match."""

    def copy(self) -> Problem:
        """The same problem as a new exception (for problems kept and raised again)."""
        return Problem(
            self.status,
            self.code,
            en=self.en,
            es=self.es,
            headers=dict(self.headers),
            field=self.field,
            title_en=self.title_en,
            title_es=self.title_es,
        )


def prefers_english(accept_language: str | None) -> bool:
    """Details are Spanish unless the client asks for English first."""
    return (accept_language or "").strip().lower().startswith("en")


def problem_document(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The body of one problem response."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body
