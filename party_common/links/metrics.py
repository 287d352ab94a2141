"""Prometheus metrics of the messages a party carries over its links. Labels name links, events,
actions and outcomes, never patients."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class LinkMetrics:
    def __init__(self):
        # One registry per app, so several parties in one test process do not collide.
        self.registry = CollectorRegistry()
        self.messages = Counter("testbed_messages", "Message attempts by link, event, fault action and outcome",
                                ["link", "event", "action", "outcome"], registry=self.registry)
        self.latency = Histogram("testbed_delivery_latency_seconds", "Delivery latency per link", ["link"],
                                 buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
                                 registry=self.registry)
