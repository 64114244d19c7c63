"""A BigQuery REST emulator for the billing-export read: ``POST /bigquery/v2/projects/<p>/queries`` (jobs.query).

It holds one billing export table as rows and answers the one query shape the bot sends
(``core.costs.sources.bigquery.QUERY``): the named table, flattened columns, ``export_time > @since`` ordered by
``export_time``, timestamps as int64 microseconds as the real client asks (``formatOptions.useInt64Timestamp``).
A large answer comes in pages (``page_size``): the client then reads the job (``jobs.get``) and the next pages
(``jobs.getQueryResults`` with ``pageToken``), as with BigQuery. Faults answer the next request with a Google
error body (403, 404, 500).
Usable outside pytest: ``with running("p.d.t") as bq: bq.rows.extend(...)``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.billing_export import Line

COLUMNS = (("billing_account_id", "STRING"), ("service_description", "STRING"), ("sku_description", "STRING"),
           ("usage_start_time", "TIMESTAMP"), ("usage_end_time", "TIMESTAMP"), ("project_id", "STRING"),
           ("project_name", "STRING"), ("labels", "STRING"), ("cost", "STRING"), ("currency", "STRING"),
           ("credits", "STRING"), ("invoice_month", "STRING"), ("export_time", "STRING"))
STATUS = {403: "PERMISSION_DENIED", 404: "NOT_FOUND", 500: "INTERNAL"}
REASON = {403: "accessDenied", 404: "notFound", 500: "backendError"}


def row_of(line: Line) -> dict[str, Any]:
    """A billing-export line as the flattened row the bot's query selects."""
    v = line.values()
    return {"billing_account_id": v["billing_account_id"], "service_description": v["service.description"],
            "sku_description": v["sku.description"], "usage_start_time": _moment(v["usage_start_time"]),
            "usage_end_time": _moment(v["usage_end_time"]), "project_id": v["project.id"],
            "project_name": v["project.name"], "labels": v["labels"], "cost": v["cost"], "currency": v["currency"],
            "credits": v["credits"], "invoice_month": v["invoice.month"], "export_time": _moment(v["export_time"])}


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC)


@dataclass
class BigQueryEmulator:
    """The table, the queries received, and the faults to answer with."""

    table: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    url: str = ""
    page_size: int = 0
    """When set, at most this many rows an answer (else what the client asks for); the rest come by page token."""
    jobs: dict[str, tuple[str, list[dict[str, Any]]]] = field(default_factory=dict)
    """Each query's job: its SQL and the rows it chose, for jobs.get and jobs.getQueryResults."""

    def add(self, lines: Iterable[Line]) -> None:
        """Append export lines to the table."""
        self.rows.extend(row_of(line) for line in lines)

    def answer(self, path: str, body: dict[str, Any], method: str = "POST",
               params: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer to one request."""
        self.queries.append({"path": path, "method": method, "params": params or {}, **body})
        parts = path.strip("/").split("/")
        if len(parts) < 5 or parts[:3] != ["bigquery", "v2", "projects"]:
            return _error(404, f"Not found: {path}")
        if self.faults:
            code = self.faults.pop(0)
            return _error(code, {403: "Access Denied: the caller does not have bigquery.jobs.create permission",
                                 404: f"Not found: Table {self.table}", 500: "An internal error occurred"}[code])
        project, rest = parts[3], parts[4:]
        if method == "POST" and rest == ["queries"]:
            return self._query(project, body)
        if method == "GET" and len(rest) == 2 and rest[0] == "jobs" and rest[1] in self.jobs:
            return 200, self._job(project, rest[1])
        if method == "GET" and len(rest) == 2 and rest[0] == "queries" and rest[1] in self.jobs:
            return 200, self._page(project, rest[1], params or {})
        return _error(404, f"Not found: {method} {path}")

    def _query(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        query = str(body.get("query", ""))
        if f"FROM `{self.table}`" not in query:
            return _error(404, "Not found: Table in query")
        since = _since(body.get("queryParameters") or [])
        chosen = sorted((r for r in self.rows if r["export_time"] > since), key=lambda r: r["export_time"])
        job_id = f"job_{len(self.jobs) + 1}"
        self.jobs[job_id] = (query, chosen)
        return 200, {"kind": "bigquery#queryResponse", **self._page(project, job_id, {
            "maxResults": str(body.get("maxResults") or 0)})}

    def _job(self, project: str, job_id: str) -> dict[str, Any]:
        query, _chosen = self.jobs[job_id]
        return {"kind": "bigquery#job", "id": f"{project}:US.{job_id}",
                "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
                "configuration": {"query": {"query": query, "useLegacySql": False}, "jobType": "QUERY"},
                "status": {"state": "DONE"},
                "statistics": {"creationTime": "1767225600000", "startTime": "1767225600000",
                               "endTime": "1767225601000", "query": {"totalBytesProcessed": "0",
                                                                     "statementType": "SELECT"}}}

    def _page(self, project: str, job_id: str, params: dict[str, str]) -> dict[str, Any]:
        _query, chosen = self.jobs[job_id]
        start = int(params.get("pageToken") or 0)
        wanted = int(params.get("maxResults") or 0) or len(chosen)
        size = min(wanted, self.page_size) if self.page_size else wanted
        rows = chosen[start:start + size]
        answer: dict[str, Any] = {
            "jobComplete": True, "totalRows": str(len(chosen)),
            "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
            "schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in COLUMNS]},
            "rows": [{"f": [{"v": _cell(r[n], t)} for n, t in COLUMNS]} for r in rows]}
        if start + size < len(chosen):
            answer["pageToken"] = str(start + size)
        return answer


def _cell(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if kind == "TIMESTAMP":
        return str(int(value.timestamp() * 1_000_000))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    return str(value)


def _since(params: list[dict[str, Any]]) -> datetime:
    for param in params:
        if param.get("name") == "since":
            text = str(param["parameterValue"]["value"])
            return datetime.fromisoformat(text.replace(" ", "T")).astimezone(UTC)
    raise ValueError("the query has no @since parameter")


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": STATUS.get(code, "UNKNOWN"),
                            "errors": [{"message": message, "domain": "global", "reason": REASON.get(code, "")}]}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator: BigQueryEmulator

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        from urllib.parse import parse_qsl, urlsplit
        url = urlsplit(self.path)
        status, answer = self.emulator.answer(url.path, body, self.command, dict(parse_qsl(url.query)))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def running(table: str) -> Iterator[BigQueryEmulator]:
    """The emulator serving on 127.0.0.1 (a free port) until the block ends."""
    emulator = BigQueryEmulator(table)
    handler = type("Handler", (_Handler,), {"emulator": emulator})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    emulator.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="bigquery-emulator", daemon=True)
    thread.start()
    try:
        yield emulator
    finally:
        server.shutdown()
        server.server_close()
