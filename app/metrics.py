"""`/metrics` in Prometheus format: requests by method, route pattern and status class, their
latency, and the responses stored per wave.

Responses are counted by the database when Prometheus scrapes (one GROUP BY), not by a counter
in the process that stored them: any worker answers a scrape with the same, true figure, and
a restart loses nothing. Request metrics do live in each worker; `supervision-survey serve`
with several workers gives them a shared directory (prometheus-client's multiprocess mode) so
that a scrape sums every worker's.

Only the monitoring system reads it, with `METRICS_TOKEN` as a bearer token: an open wave's
running total, watched minute by minute, would tell when someone sent their answers.
"""

from __future__ import annotations

import hmac
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.deps import BearerDep
from app.deps import SettingsDep
from app.models import Response as StoredResponse
from app.models import Survey, Wave

LOG = logging.getLogger(__name__)
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LABELS = ("method", "route", "status")


class ResponsesPerWave(Collector):
    """`survey_responses_stored{survey, wave}`, counted by the database at each scrape. Counts
    per wave only: nothing per team, nothing about answers."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        query = (
            select(Survey.key, Wave.key, func.count(StoredResponse.id))
            .select_from(Wave)
            .join(Survey, Wave.survey_id == Survey.id)
            .outerjoin(StoredResponse, StoredResponse.wave_id == Wave.id)
            .group_by(Survey.key, Wave.key)
        )
        try:
            with self.session_factory() as session:
                rows = session.execute(query).all()
        except SQLAlchemyError as error:  # the request metrics still help while it is down
            LOG.warning("responses per wave not counted: %s", type(error).__name__)
            return
        family = self._family()
        for survey, wave, count in rows:
            family.add_metric([survey, wave], count)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "survey_responses_stored",
            "Responses stored in each wave.",
            labels=("survey", "wave"),
        )


class Metrics:
    """One app's metrics: request counters and latencies, and the database-backed collector."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = MULTIPROCESS_DIRECTORY in os.environ
        self.requests = Counter(
            "http_requests",
            "Requests served, by method, route pattern and status class.",
            LABELS,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to serve a request, by method, route pattern and status class.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.responses = ResponsesPerWave(session_factory)
        self.registry.register(self.responses)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Labels from fixed sets only (a client's made-up method is `other`), so no request can
        add a series."""
        labels = (method if method in KNOWN_METHODS else "other", route, f"{status // 100}xx")
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def exposition(self, accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        if not self.multiprocess:
            return encoder(self.registry), content_type
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
        every_worker.register(self.responses)
        return encoder(every_worker), content_type


@contextmanager
def metrics_shared_by_workers(workers: int) -> Iterator[None]:
    """For several workers, a fresh directory where each keeps its request metrics, so that a
    scrape answered by any of them sums them all; removed when the server stops. One worker
    needs none, and a directory the operator chose is left to them."""
    if workers == 1 or MULTIPROCESS_DIRECTORY in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="supervision-survey-metrics-") as directory:
        os.environ[MULTIPROCESS_DIRECTORY] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIRECTORY]


router = APIRouter(include_in_schema=False)
NEEDS_TOKEN = "Metrics need the METRICS_TOKEN, sent as `Authorization: Bearer <token>`."


@router.get("/metrics")
def metrics(request: Request, settings: SettingsDep, bearer: BearerDep) -> Response:
    expected = settings.metrics_token
    if (
        expected is None
        or bearer is None
        or not hmac.compare_digest(bearer.credentials.encode(), expected.encode())
    ):
        raise HTTPException(401, NEEDS_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    service_metrics: Metrics = request.app.state.metrics
    body, content_type = service_metrics.exposition(request.headers.get("accept", ""))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
