"""NATS JetStream plumbing every service shares: streams, and the consumer toolkit.

Services never import each other; what they must do alike with the event stream lives here.
"""
