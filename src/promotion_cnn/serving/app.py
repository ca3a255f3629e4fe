"""HTTP scoring service: POST employees in the raw schema, get the ranked recommendations of the batch pipeline.

``POST /score`` (also ``/invocations``, MLflow's path) takes JSON records (a list, ``{"employees": [...]}`` or
MLflow's ``{"dataframe_records": [...]}`` / ``{"dataframe_split": {...}}``) or a CSV body (``Content-Type:
text/csv``), and answers JSON ``{"model", "model_version", "n_employees", "recommendations": [{employee_id,
probability, recommended, rank}, ...]}`` (``Accept: text/csv``: the batch pipeline's table as CSV). A table the
batch pipeline would refuse gets 422 with the same named error (``{"error": "InvalidTableError", "message":
...}``), an unreadable body 400, an unsupported content type 415; never a traceback. ``GET /health`` names the
model and version. Run it with ``python -m promotion_cnn.serving`` (docs/serving.md).
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .scorer import RecommenderScorer

logger = logging.getLogger(__name__)

COLUMNS = ["employee_id", "probability", "recommended", "rank"]


class BadRequestError(ValueError):
    """A body that is not a table: not JSON, not CSV, or JSON of another shape."""


def _error(status: int, error: Exception | str, message: str | None = None) -> JSONResponse:
    name = error if isinstance(error, str) else type(error).__name__
    return JSONResponse({"error": name, "message": message or str(error)}, status_code=status)


def parse_body(body: bytes, content_type: str) -> pd.DataFrame:
    """The employees of a request body: JSON records or CSV."""
    media = content_type.split(";")[0].strip().lower()
    if not body.strip():
        return pd.DataFrame()
    if media in ("text/csv", "application/csv"):
        try:
            return pd.read_csv(io.BytesIO(body))
        except (ValueError, pd.errors.ParserError) as error:
            raise BadRequestError(f"the request body is not readable CSV: {error}") from error
    if media not in ("application/json", ""):
        raise TypeError(f"unsupported content type {media!r}: send application/json or text/csv")
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise BadRequestError(f"the request body is not valid JSON: {error}") from error
    if isinstance(payload, dict):
        if "dataframe_split" in payload:
            split = payload["dataframe_split"]
            return pd.DataFrame(split.get("data", []), columns=split.get("columns"))
        payload = payload.get("employees", payload.get("dataframe_records", payload.get("inputs")))
    if not isinstance(payload, list) or not all(isinstance(row, dict) for row in payload):
        raise BadRequestError('send a JSON list of employee records, or {"employees": [...]}')
    return pd.DataFrame.from_records(payload)


def create_app(scorer: RecommenderScorer, model_name: str) -> FastAPI:
    """The service around one loaded recommender (``model_name``: where it came from, e.g. the registered model)."""
    model_version = scorer.version
    app = FastAPI(title="promotion_cnn recommender", version=model_version)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "model_version": model_version, "family": scorer.model}

    async def score(request: Request) -> Response:
        try:
            employees = parse_body(await request.body(), request.headers.get("content-type", "application/json"))
        except TypeError as error:
            return _error(415, "UnsupportedMediaType", str(error))
        except BadRequestError as error:
            return _error(400, error)
        try:
            table = await run_in_threadpool(scorer.score, employees, "the request")
        except ValueError as error:  # InvalidTableError and the feature nodes' named errors
            return _error(422, error)
        except Exception as error:  # noqa: BLE001 - a bug answers 500 without a traceback; the log has it
            logger.exception("Scoring failed")
            return _error(500, "InternalError", f"scoring failed ({type(error).__name__}); see the service log")
        if "text/csv" in request.headers.get("accept", ""):
            return Response(table.to_csv(index=False), media_type="text/csv")
        records = table[COLUMNS].to_json(orient="records", double_precision=15)
        content = (
            f'{{"model": {json.dumps(scorer.model)}, "model_version": {json.dumps(model_version)}, '
            f'"registered_model": {json.dumps(model_name)}, "n_employees": {len(table)}, "recommendations": {records}}}'
        )
        return Response(content, media_type="application/json")

    app.add_api_route("/score", score, methods=["POST"])
    app.add_api_route("/invocations", score, methods=["POST"])
    return app
