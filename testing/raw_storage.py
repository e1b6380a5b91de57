"""Look for text in what services *store*, bypassing every API: each row of each table of a
PostgreSQL database (bytes as bytes, JSON as JSON text), and each byte of each file under a
folder (attachments, a JetStream store, a Maildir). Used to prove an erasure left no copy.

Needles are matched case-insensitively on their UTF-8 bytes, and on their JSON-escaped form,
so a name stored inside JSON with ``\\u00e1`` escapes is found too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql


def _forms(needle: str) -> list[bytes]:
    plain = needle.lower().encode()
    escaped = json.dumps(needle.lower())[1:-1].encode()
    return [plain] if plain == escaped else [plain, escaped]


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).encode()
    return str(value).encode()


def found_in(blob: bytes, needles: Iterable[str]) -> list[str]:
    lowered = blob.lower()
    return [n for n in needles if any(form in lowered for form in _forms(n))]


def scan_postgres(env: Mapping[str, str], needles: list[str]) -> list[str]:
    """``schema.table: needle`` for every table row holding a needle."""
    hits: list[str] = []
    with psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        dbname=env["POSTGRES_DBNAME"],
    ) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("SELECT * FROM {}.{}").format(
                sql.Identifier(str(schema)), sql.Identifier(str(table))
            )
            for row in conn.execute(query):
                blob = b"\x00".join(_bytes(value) for value in row)
                hits.extend(f"{schema}.{table}: {n}" for n in found_in(blob, needles))
    return sorted(set(hits))


def scan_files(root: Path, needles: list[str]) -> list[str]:
    """``path: needle`` for every file under ``root`` holding a needle."""
    hits: list[str] = []
    if not root.exists():
        return hits
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hits.extend(f"{path}: {n}" for n in found_in(path.read_bytes(), needles))
    return hits
