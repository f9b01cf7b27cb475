"""Prometheus metrics at /metrics, read from counters the server keeps anyway (no cost on the hot path)."""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from parley.service import ChatService
from parley.transports.connections import Connections


class ParleyCollector(Collector):
    def __init__(self, service: ChatService, connections: Connections) -> None:
        self.service = service
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        c, s = self.connections, self.service
        yield GaugeMetricFamily("parley_connections", "Open connections (every transport)", value=len(c.open))
        yield CounterMetricFamily("parley_connections_opened", "Connections accepted (every transport)",
                                  value=c.total("opened"))
        yield CounterMetricFamily("parley_slow_consumer_drops", "Connections dropped for unsent output over "
                                  "the cap", value=c.total("slow_drops"))
        yield CounterMetricFamily("parley_heartbeat_drops", "Connections dropped after two missed heartbeats",
                                  value=c.total("heartbeat_drops"))
        by_transport = GaugeMetricFamily("parley_transport_connections", "Open connections per transport",
                                         labels=["transport"])
        for name, m in sorted(c.metrics.items()):
            by_transport.add_metric([name], m.open)
        yield by_transport
        yield CounterMetricFamily("parley_polls", "Long-poll requests received", value=c.total("polls"))
        yield GaugeMetricFamily("parley_rooms_active", "Rooms with members on this node", value=s.rooms_active)
        yield CounterMetricFamily("parley_messages_stored", "Room events written to the store", value=s.stored)
        yield CounterMetricFamily("parley_store_batches", "Store transactions (group commits)", value=s.batches)
        yield CounterMetricFamily("parley_deliveries", "Events queued to members", value=s.deliveries)


def render(service: ChatService, connections: Connections) -> bytes:
    registry = CollectorRegistry()
    registry.register(ParleyCollector(service, connections))
    return generate_latest(registry)
