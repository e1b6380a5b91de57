"""A three-node nats-server cluster with JetStream on 127.0.0.1, for the scale-out tests.

Each node is a ``NatsServer`` with its own store, client port and cluster port, routed to the
others. ``start`` returns once the JetStream meta group has elected a leader (a log line, not a
guess), so R3 streams can be created at once.
"""

from __future__ import annotations

import socket
from pathlib import Path

from nats_server import NatsServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NatsCluster:
    def __init__(self, root: Path, size: int = 3, name: str = "supportdesk") -> None:
        cluster_ports = [_free_port() for _ in range(size)]
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports)
        self.nodes = []
        for i, port in enumerate(cluster_ports):
            store = root / f"node{i}"
            store.mkdir(parents=True, exist_ok=True)
            self.nodes.append(
                NatsServer(
                    store,
                    server_name=f"n{i}",
                    log_file=root / f"node{i}.log",
                    extra_args=[
                        "--cluster_name",
                        name,
                        "--cluster",
                        f"nats://127.0.0.1:{port}",
                        "--routes",
                        routes,
                    ],
                )
            )

    @property
    def url(self) -> str:
        """All members, comma-separated, as the services' ``*_NATS_URL`` settings take them."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            # the leader says "Self is new JetStream cluster metadata leader", the others
            # "JetStream cluster new metadata leader: n1/supportdesk"
            node.wait_for_log(
                ("Self is new JetStream cluster metadata leader", "cluster new metadata leader"),
                timeout=60,
            )

    def node(self, server_name: str) -> NatsServer:
        return next(n for n in self.nodes if n.server_name == server_name)

    def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                node.stop()
