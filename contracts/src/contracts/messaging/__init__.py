"""NATS JetStream plumbing every service shares: streams, and the consumer toolkit.

Services never import each other; what they must do alike with the event stream lives here.
"""


def servers(url: str) -> list[str]:
    """The NATS servers of a URL setting: one, or a cluster's as a comma-separated list
    (``nats://a:4222,nats://b:4222,nats://c:4222``), so a client reaches the cluster through
    whichever member is up."""
    return [part.strip() for part in url.split(",") if part.strip()]
