"""``GET /metrics``: Prometheus text format (services/prometheus.py), behind ``METRICS_TOKEN``
when it is set (``Authorization: Bearer <token>``); ``METRICS_ENABLED=false`` turns it off."""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from .base import BaseHandler


class MetricsHandler(BaseHandler):
    def get(self, *_: Any) -> None:
        s = self.ctx.settings
        self.set_header("Cache-Control", "no-store")
        if not s.metrics_enabled:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("metrics are turned off (METRICS_ENABLED=false)\n")
            return
        if s.metrics_token:
            header = self.request.headers.get("Authorization", "")
            given = header[7:].strip() if header[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), s.metrics_token.encode()):
                self.set_status(401)
                self.set_header("WWW-Authenticate", 'Bearer realm="metrics"')
                self.set_header("Content-Type", "text/plain; charset=utf-8")
                self.finish("a bearer token is required (METRICS_TOKEN)\n")
                return
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(self.ctx.exposition.render())


routes = [(r"/metrics", MetricsHandler)]
