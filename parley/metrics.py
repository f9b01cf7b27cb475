"""Prometheus metrics at /metrics, read from counters the server keeps anyway (no cost on the hot path)."""

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from parley.service import ChatService
from parley.transports.websocket import Connections


class ParleyCollector(Collector):
    def __init__(self, service: ChatService, connections: Connections) -> None:
        self.service = service
        self.connections = connections

    def collect(self) -> Iterator[Metric]:
        c, s = self.connections, self.service
        yield GaugeMetricFamily("parley_connections", "Open WebSocket connections", value=len(c.open))
        yield CounterMetricFamily("parley_connections_opened", "WebSocket connections accepted", value=c.total)
        yield CounterMetricFamily("parley_slow_consumer_drops", "Connections dropped for unsent output over "
                                  "the cap", value=c.slow_drops)
        yield CounterMetricFamily("parley_heartbeat_drops", "Connections dropped after two missed pongs",
                                  value=c.heartbeat_drops)
        yield GaugeMetricFamily("parley_rooms_active", "Rooms with members on this node", value=len(s.hub.rooms))
        yield CounterMetricFamily("parley_messages_stored", "Messages written to the store",
                                  value=s.committer.stored)
        yield CounterMetricFamily("parley_store_batches", "Store transactions (group commits)",
                                  value=s.committer.batches)
        yield CounterMetricFamily("parley_deliveries", "Messages queued to members", value=s.hub.delivered)


def render(service: ChatService, connections: Connections) -> bytes:
    registry = CollectorRegistry()
    registry.register(ParleyCollector(service, connections))
    return generate_latest(registry)
