"""Fan-out between nodes behind one interface (base.Broker); the backend is chosen by the --broker URL."""

from parley.broker.base import Broker, BrokerEvents


def broker_for_url(url: str) -> Broker:
    scheme = url.split(":", 1)[0].lower()
    if scheme == "memory":
        from parley.broker.memory import MemoryBroker

        return MemoryBroker()
    if scheme in ("redis", "rediss"):
        from parley.broker.redis import RedisBroker

        return RedisBroker(url)
    raise ValueError(f"unsupported --broker URL {url!r}: use memory:// or redis://host:6379/0")


__all__ = ["Broker", "BrokerEvents", "broker_for_url"]
