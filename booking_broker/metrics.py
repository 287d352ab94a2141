"""Prometheus metrics of the broker. Labels name links, events, actions and outcomes, never patients."""

from __future__ import annotations

from prometheus_client import Gauge

from party_common.links.metrics import LinkMetrics


class BrokerMetrics(LinkMetrics):
    def __init__(self):
        super().__init__()
        self.outbox_depth = Gauge("testbed_outbox_depth", "Messages waiting in the reliable-delivery outbox",
                                  registry=self.registry)
