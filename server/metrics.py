"""Prometheus metrics of one app instance (its own registry, so several apps can share a process)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from verifiers.contract import Status, Verdict

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _SharedQueueCollector:
    """Figures of the shared Redis queue, read from the executor's last view at scrape time."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        m = self.read()
        yield GaugeMetricFamily("referee_queue_depth", "tasks on the shared queue, queued or running (all API "
                                                       "processes)", value=m["queue_depth"])
        yield GaugeMetricFamily("referee_inflight_tasks", "tasks this API process is waiting for",
                                value=m["inflight"])
        yield GaugeMetricFamily("referee_live_workers", "workers with a recent heartbeat", value=len(m["workers"]))
        done = CounterMetricFamily("referee_worker_tasks", "tasks each worker has answered (rate() gives its "
                                                           "throughput)", labels=["worker"])
        for worker, count in sorted(m["workers"].items()):
            done.add_metric([worker], count)
        yield done
        yield CounterMetricFamily("referee_reclaimed_tasks", "tasks taken over from a worker that went silent",
                                  value=m["reclaimed"])
        yield CounterMetricFamily("referee_poison_tasks", "tasks answered `error` after killing too many workers",
                                  value=m["poison"])
        yield CounterMetricFamily("referee_expired_tasks", "tasks a worker picked up past their queue budget",
                                  value=m["expired"])


class Metrics:
    def __init__(self, worker_restarts: Callable[[], dict[str, int]] | None = None,
                 pending_items: Callable[[], int] | None = None,
                 executor_metrics: Callable[[], dict[str, Any]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("referee_requests", "HTTP requests", ["route", "code"], registry=self.registry)
        self.items = Counter("referee_items", "items scored", ["verifier", "status"], registry=self.registry)
        self.latency = Histogram("referee_verify_seconds", "time one verifier took on one item", ["verifier"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.timeouts = Counter("referee_timeouts", "items cut off at their deadline", ["verifier"],
                                registry=self.registry)
        self.errors = Counter("referee_errors", "items whose verifier failed", ["verifier"], registry=self.registry)
        self.cache_hits = Counter("referee_cache_hits", "verdicts served from the result cache",
                                  registry=self.registry)
        if worker_restarts is not None:
            restarts = Gauge("referee_worker_restarts", "worker processes replaced", ["reason"],
                             registry=self.registry)
            for reason in ("timeout", "crash"):
                restarts.labels(reason).set_function(lambda r=reason: worker_restarts().get(r, 0))
        if pending_items is not None:
            pending = Gauge("referee_pending_items", "items queued or running in the executor (the bound "
                            "is REFEREE_MAX_PENDING_ITEMS)", registry=self.registry)
            pending.set_function(pending_items)
        if executor_metrics is not None:
            self.registry.register(_SharedQueueCollector(executor_metrics))

    def observe(self, verdicts: Sequence[Verdict]) -> None:
        tally = Tally((v.verifier or "unknown", v.status) for v in verdicts)
        for (verifier, status), n in tally.items():
            self.items.labels(verifier, status.value).inc(n)
            if status is Status.timeout:
                self.timeouts.labels(verifier).inc(n)
            elif status is Status.error:
                self.errors.labels(verifier).inc(n)
        hits = 0
        latencies: dict[str, list[float]] = {}
        for v in verdicts:
            if v.cached:
                hits += 1
            elif v.verifier and v.status is not Status.invalid_input:
                latencies.setdefault(v.verifier, []).append(v.elapsed_ms / 1000)
        for verifier, seconds in latencies.items():
            histogram = self.latency.labels(verifier)  # one label lookup per verifier, not per item
            for s in seconds:
                histogram.observe(s)
        if hits:
            self.cache_hits.inc(hits)

    def render(self) -> bytes:
        return generate_latest(self.registry)
