"""Domain errors: a rule of the ticket's lifecycle refused a command, with a reason a person
understands in Spanish and English."""

from __future__ import annotations

from typing import ClassVar


class TicketRuleBroken(Exception):
    """A command the ticket (or its policy) does not allow; ``code`` is stable for clients."""

    def __init__(self, code: str, *, en: str, es: str) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.es = es

    def message(self, language: str) -> str:
        """The reason in the requested language (Spanish unless English is asked for)."""
        return self.en if language.startswith("en") else self.es


class RequestRefused(TicketRuleBroken):
    """A refusal caused by one field of the request (answered 422, naming the field)."""

    title: ClassVar[str] = "Unprocessable request"

    def __init__(self, code: str, *, field: str, en: str, es: str) -> None:
        super().__init__(code, en=en, es=es)
        self.field = field


class PolicyRuleBroken(RequestRefused):
    """A request the ticket's support policy refuses; ``field`` is where the problem is."""

    title = "Refused by the support policy"


class InvalidCommand(RequestRefused):
    """A command whose own values are wrong (a level that does not exist, an ETR in the
    past), as opposed to one the ticket's current state does not allow."""

    title = "Invalid command"


class NotRegistered(LookupError):
    """A tenant, contact, staff member or key the directory does not have (answered 404)."""

    def __init__(self, code: str, *, en: str, es: str) -> None:
        super().__init__(en)
        self.code, self.en, self.es = code, en, es

    def message(self, language: str) -> str:
        return self.en if language.startswith("en") else self.es


class AccessRefused(NotRegistered):
    """Known, but not allowed to ask for support now: an inactive tenant, a contact who is not
    a space's authorized contact, a policy the tenant has not contracted (answered 403)."""


class UncarriableInput(RequestRefused):
    """Input the event contract cannot carry (a NUL or another control character, a lone
    surrogate, a value too large for the wire): refused before anything is stored, because a
    stored event that cannot be published would stop every event behind it."""

    title = "Input the events cannot carry"
