"""Typed clients generated from a service's live OpenAPI document, and the app on a socket.

``openapi-python-client`` (pinned in the dev group) turns the document into a package, which a
test imports and drives against the app served by uvicorn on 127.0.0.1, as an integrator
would: if the document lied (a status it does not list, a body that does not match), the
generated client would hand back ``None`` or raise.
"""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn


def generate_client(document: dict[str, Any], where: Path, package: str) -> Any:
    """Generate a client package from ``document`` under ``where`` and import it."""
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document))
    cli = Path(sys.executable).parent / "openapi-python-client"
    command = ["generate", "--path", str(spec), "--meta", "none"]
    subprocess.run(
        [str(cli), *command, "--output-path", str(where / package)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(where))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on a real socket (uvicorn in a thread, lifespan included); yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
