"""The orders the ticket list can be read in, and their keyset cursors.

Every order pages by keyset (the last row's sort key and a unique tie-breaker), never OFFSET:
pages stay stable and cheap while tickets change. Only commit order (``updated``, the default)
keeps the promise that paging to the end sees every change: a ticket changed after its page was
read moves past the cursor and comes again. In the other orders a ticket whose key changes behind
the cursor (a new priority; in ``-updated`` any change) is not shown again — follow changes in
the default order. ``created`` is immutable, so every ticket that existed when paging began is
seen exactly once.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Literal

SortName = Literal["updated", "-updated", "created", "-created", "priority", "-priority"]
DEFAULT_SORT: SortName = "updated"


class InvalidCursor(ValueError):
    """A pagination cursor that this server did not hand out (or for another sort)."""


@dataclass(frozen=True)
class Order:
    """One ``sort``: its column and tie-breaker, and how a cursor names a position in it."""

    name: str
    column: str
    tie: str
    descending: bool

    def sql(self) -> str:
        way = " DESC" if self.descending else ""
        if self.column == self.tie:
            return f"{self.column}{way}"
        return f"{self.column}{way}, {self.tie}{way}"

    def after(self, cursor: str) -> tuple[str, dict[str, Any]]:
        """The WHERE clause for rows after ``cursor``, and its parameters (key as text)."""
        key, tie = _decode(cursor, self.name)
        sign = "<" if self.descending else ">"
        if self.column == self.tie:
            return f"{self.tie} {sign} :after_tie", {"after_tie": int(tie)}
        clause = f"({self.column}, {self.tie}) {sign} (:after_key, :after_tie)"
        return clause, {"after_key": key, "after_tie": tie}

    def cursor(self, row: dict[str, Any], key: str) -> str:
        """The cursor after ``row``; ``key`` is its sort key as text."""
        if self.name == DEFAULT_SORT:  # the cursors handed out before sorts existed
            raw = f"after:{row['log_position']}"
        else:
            raw = f"{self.name}|{key}|{row[self.tie]}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


ORDERS: dict[str, Order] = {
    "updated": Order("updated", "log_position", "log_position", descending=False),
    "-updated": Order("-updated", "log_position", "log_position", descending=True),
    "created": Order("created", "created_at", "id", descending=False),
    "-created": Order("-created", "created_at", "id", descending=True),
    "priority": Order("priority", "priority_rank", "id", descending=False),
    "-priority": Order("-priority", "priority_rank", "id", descending=True),
}
"""``priority``: most urgent first, by each ticket's place in its policy's list of priorities."""


def _decode(cursor: str, sort: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor(cursor) from exc
    if sort == DEFAULT_SORT:
        prefix, _, digits = raw.partition(":")
        if prefix != "after" or not re.fullmatch(r"\d{1,18}", digits, re.ASCII):
            raise InvalidCursor(cursor)
        return digits, digits
    parts = raw.split("|")
    tie = r"\d{1,18}" if ORDERS[sort].tie == "log_position" else r"[0-9a-f-]{36}"
    if (
        len(parts) != 3
        or parts[0] != sort
        or not re.fullmatch(r"[\w:.+-]{1,64}", parts[1], re.ASCII)
        or not re.fullmatch(tie, parts[2], re.ASCII)
    ):
        raise InvalidCursor(cursor)
    return parts[1], parts[2]
