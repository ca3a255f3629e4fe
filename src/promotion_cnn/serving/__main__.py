"""``python -m promotion_cnn.serving``: serve the recommender over HTTP on 127.0.0.1 (docs/serving.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .scorer import RecommenderScorer, scoring_parameters

logger = logging.getLogger("promotion_cnn.serving")
QUIET = ("promotion_cnn.pipelines", "promotion_cnn.tabular", "kedro")  # their INFO lines come with every request


def quiet_request_logs() -> None:
    """Per-request INFO lines of the nodes off (warnings kept): they went to logs/kedro_run.log on every request."""
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def load_from_project(project: Path, env: str | None) -> tuple[RecommenderScorer, str]:
    """The recommender the project's catalog names (as ``promotion_scoring`` loads it) and its parameters."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env) as session:
        context = session.load_context()
        recommender = context.catalog.load("recommender")
        parameters = scoring_parameters(context.params)
    return RecommenderScorer(recommender, parameters), "recommender (project catalog)"


def load_from_registry(model_uri: str, tracking_uri: str | None) -> tuple[RecommenderScorer, str]:
    """The recommender of a registered model version, with the scoring parameters it was logged with."""
    from promotion_cnn.datasets.mlflow_models import load_registered_recommender

    recommender, parameters = load_registered_recommender(model_uri, tracking_uri)
    return RecommenderScorer(recommender, parameters), model_uri


def main(argv: list[str] | None = None) -> None:
    """Load the recommender, then serve it with uvicorn until stopped."""
    parser = argparse.ArgumentParser(prog="python -m promotion_cnn.serving", description=__doc__)
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="Kedro project (default: cwd)")
    parser.add_argument("--env", default=None, help="Kedro environment of the project's catalog")
    parser.add_argument("--model-uri", default=None, help="models:/promotion_recommender@champion (default: catalog)")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store (default: the project's mlflow.db)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.model_uri:
        tracking_uri = args.tracking_uri or f"sqlite:///{args.project.resolve()}/mlflow.db"
        scorer, name = load_from_registry(args.model_uri, tracking_uri)
    else:
        scorer, name = load_from_project(args.project.resolve(), args.env)
    quiet_request_logs()
    logger.info("Serving %s (%s, version %s) on http://%s:%d", name, scorer.model, scorer.version, args.host, args.port)

    import uvicorn

    from .app import create_app

    uvicorn.run(create_app(scorer, name), host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
