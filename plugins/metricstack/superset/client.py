"""A small client of Superset's REST API, for tests, the demo and health checks."""

from __future__ import annotations

from typing import Any

import httpx


class SupersetError(RuntimeError):
    """Superset answered with an error status."""


class SupersetClient:
    """Logs in with a database user and calls /api/v1.

    Reads only need the bearer token. Writes also need a CSRF token, the session cookie
    it was issued with and a Referer (see STACK_NOTES): ``login`` fetches all three and
    the underlying httpx client keeps the cookie.
    """

    def __init__(
        self, base_url: str, username: str, password: str, *, timeout: float = 60.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._csrf_token: str | None = None

    def __enter__(self) -> SupersetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------------
    def login(self) -> None:
        response = self._http.post(
            "/api/v1/security/login",
            json={
                "username": self.username,
                "password": self._password,
                "provider": "db",
                "refresh": False,
            },
        )
        body = self._check(response, "login")
        self._http.headers["Authorization"] = f"Bearer {body['access_token']}"
        csrf = self._check(self._http.get("/api/v1/security/csrf_token/"), "csrf token")
        self._csrf_token = csrf["result"]

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """JSON body of an API call; logs in on first use."""
        if self._csrf_token is None:
            self.login()
        headers = dict(kwargs.pop("headers", {}) or {})
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers["X-CSRFToken"] = self._csrf_token or ""
            headers["Referer"] = self.base_url + "/"
        response = self._http.request(method, path, headers=headers, **kwargs)
        return self._check(response, f"{method} {path}")

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: Any) -> Any:
        return self.request("POST", path, json=payload)

    def put(self, path: str, payload: Any) -> Any:
        return self.request("PUT", path, json=payload)

    def _list(self, resource: str, columns: str | None = None) -> list[dict[str, Any]]:
        """Every item of a list endpoint the user may see, page by page (``columns``:
        comma-separated, or the endpoint's default set)."""
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            # rison query string: Superset's list endpoints take their options this way
            selected = f"columns:!({columns})," if columns else ""
            body = self.get(f"/api/v1/{resource}/", q=f"({selected}page:{page},page_size:100)")
            found.extend(body["result"])
            if len(found) >= body["count"] or not body["result"]:
                return found
            page += 1

    @staticmethod
    def _check(response: httpx.Response, what: str) -> Any:
        if response.is_error:
            raise SupersetError(f"Superset {what}: HTTP {response.status_code}: {response.text}")
        return response.json()

    # -- what tests and the demo ask -------------------------------------------------
    def dashboards(self) -> list[dict[str, Any]]:
        """Every dashboard the user may see (id, dashboard_title, slug, …)."""
        return self._list("dashboard")

    def dashboard(self, id_or_slug: int | str) -> dict[str, Any]:
        dashboard: dict[str, Any] = self.get(f"/api/v1/dashboard/{id_or_slug}")["result"]
        return dashboard

    def dashboard_charts(self, id_or_slug: int | str) -> list[dict[str, Any]]:
        """The charts on a dashboard, each with id, slice_name, form_data, …"""
        charts: list[dict[str, Any]] = self.get(f"/api/v1/dashboard/{id_or_slug}/charts")["result"]
        return charts

    def chart(self, chart_id: int) -> dict[str, Any]:
        chart: dict[str, Any] = self.get(f"/api/v1/chart/{chart_id}")["result"]
        return chart

    def charts(self) -> list[dict[str, Any]]:
        """Every chart the user may see (id, slice_name, …)."""
        return self._list("chart", "id,slice_name")

    def datasets(self) -> list[dict[str, Any]]:
        """Every dataset the user may see (id, table_name, …)."""
        return self._list("dataset", "id,table_name")

    def dataset(self, dataset_id: int) -> dict[str, Any]:
        dataset: dict[str, Any] = self.get(f"/api/v1/dataset/{dataset_id}")["result"]
        return dataset

    def chart_data_response(
        self, chart_id: int, *, force: bool = False, result_format: str = "json"
    ) -> httpx.Response:
        """The raw answer of GET /api/v1/chart/<id>/data/ (the chart's saved query_context),
        without raising on an error status: callers check permissions with it."""
        if self._csrf_token is None:
            self.login()
        params = {"format": result_format, "type": "full"}
        if force:
            params["force"] = "true"
        return self._http.get(f"/api/v1/chart/{chart_id}/data/", params=params)

    def chart_data(self, chart_id: int, *, force: bool = False) -> list[dict[str, Any]]:
        """Rows of the chart's (first) query, run from the chart's saved query_context;
        ``force`` skips the cache and refreshes it."""
        response = self.chart_data_response(chart_id, force=force)
        body = self._check(response, f"chart {chart_id} data")
        rows: list[dict[str, Any]] = body["result"][0]["data"]
        return rows

    def export_dashboards(self, ids: list[int]) -> bytes:
        """Superset's export ZIP of these dashboards, with their charts, datasets and
        database (GET /api/v1/dashboard/export/; passwords masked)."""
        if self._csrf_token is None:
            self.login()
        query = "!(" + ",".join(str(i) for i in ids) + ")"
        response = self._http.get("/api/v1/dashboard/export/", params={"q": query})
        if response.is_error:
            raise SupersetError(
                f"Superset dashboard export: HTTP {response.status_code}: {response.text}"
            )
        return response.content
