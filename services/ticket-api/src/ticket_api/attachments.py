"""Where the files that come with requests are kept: content-addressed, checked, bounded.

A file is stored once under the SHA-256 of its content (two customers sending the same
screenshot share it); tickets record its id, name, media type and size. The store refuses what
the desk does not accept: a type outside the allow-list, or a file over the size limit. The
embedded default keeps files on disk beside the event store; a deployment mounts a volume
there (or puts an object store behind this same interface).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AttachmentRefused(Exception):
    """This file is not accepted (type or size); the reason says which, in both languages."""

    def __init__(self, name: str, *, en: str, es: str) -> None:
        super().__init__(en)
        self.name, self.en, self.es = name, en, es


@dataclass(frozen=True)
class AttachmentStore:
    root: Path
    max_bytes: int
    allowed_types: frozenset[str]

    def put(self, name: str, media_type: str, content: bytes) -> dict[str, Any]:
        """Keep a file; returns what a ticket records of it."""
        media_type = media_type.lower().split(";")[0].strip()
        if media_type not in self.allowed_types:
            raise AttachmentRefused(
                name,
                en=f"{name}: files of type {media_type} are not accepted.",
                es=f"{name}: no se aceptan archivos de tipo {media_type}.",
            )
        if len(content) > self.max_bytes:
            raise AttachmentRefused(
                name,
                en=f"{name}: larger than {self.max_bytes // 1_048_576} MiB.",
                es=f"{name}: supera {self.max_bytes // 1_048_576} MiB.",
            )
        digest = hashlib.sha256(content).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed, so a crash never leaves half a file under its id.
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
                part.write(content)
            os.replace(part.name, path)
        clean = name.replace("/", "_").replace("\\", "_").strip()[:200] or "adjunto"
        return {"id": digest, "name": clean, "media_type": media_type, "size": len(content)}

    def read(self, attachment_id: str) -> bytes | None:
        if not _HEX64.fullmatch(attachment_id):
            return None
        path = self._path(attachment_id)
        return path.read_bytes() if path.exists() else None

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def delete(self, attachment_id: str) -> bool:
        """Remove a file for good (an erasure, ADR 23); False if it was not kept."""
        if not _HEX64.fullmatch(attachment_id):
            return False
        path = self._path(attachment_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True
