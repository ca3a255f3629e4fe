"""Raw employees in, ranked recommendations out, with the batch ``promotion_scoring`` pipeline's own nodes.

``RecommenderScorer`` runs the nodes of ``promotion_scoring`` that lead to ``promotion_recommendations``
(validation, the ``full_features`` feature nodes, ``score_employees``) in their order, in memory, with the
parameters the pipeline reads: the same code and the same parameters as ``kedro run --pipelines promotion_scoring``,
without a Kedro session per request. ``RecommenderPyfunc`` carries it as an MLflow pyfunc model (the recommender
pickle and the parameters as artifacts; the code is this package).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline

CONTRACT = ("params:employees_schema", "params:employee_contract", "params:promotion_scoring")  # table_to_score's
OUTPUT = "promotion_recommendations"
INPUT = "employees_to_score"
MODEL = "recommender"


def scoring_pipeline() -> Pipeline:
    """The batch pipeline's nodes up to the ranked recommendations (no summary)."""
    from promotion_cnn.pipelines.promotion_scoring import create_pipeline

    return create_pipeline().to_outputs(OUTPUT)


def _lookup(parameters: dict[str, Any], name: str) -> Any:
    value: Any = parameters
    for key in name.removeprefix("params:").split("."):
        value = value[key]
    return value


def scoring_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The ``params:`` inputs of the scoring nodes, resolved from a project's parameters (JSON-serialisable)."""
    names = sorted({n for n in scoring_pipeline().inputs() if n.startswith("params:")} | set(CONTRACT))
    values = {name: _lookup(parameters, name) for name in names}
    return {name: v.model_dump(mode="json") if hasattr(v, "model_dump") else v for name, v in values.items()}


def typed_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The ``params:`` values as the nodes take them: blocks type-hinted with a model become that model (as in a run)."""
    from kedro.validation.type_extractor import TypeExtractor

    typed = dict(parameters)
    for key, model in TypeExtractor({"scoring": scoring_pipeline()}).extract_types_from_pipelines().items():
        name = f"params:{key}"
        if name in typed and hasattr(model, "model_validate"):
            typed[name] = model.model_validate(typed[name])
    return typed


class RecommenderScorer:
    """The batch scoring nodes as one function of a raw employee table."""

    def __init__(self, recommender: dict[str, Any], parameters: dict[str, Any]) -> None:
        self.recommender = recommender
        self.parameters = parameters  # JSON-serialisable, as saved beside the model
        self._nodes = scoring_pipeline().nodes
        missing = sorted({n for node in self._nodes for n in node.inputs if n.startswith("params:")} - set(parameters))
        if missing:
            raise ValueError(f"scoring parameters missing: {missing}")
        self._typed = typed_parameters(parameters)
        self._contracts: dict[str, Any] = {}  # per source: the pandera schemas are built once, not per request

    @property
    def version(self) -> str:
        return str(self.recommender.get("version", "unsaved"))

    @property
    def model(self) -> str:
        return f"{self.recommender['family']}/{self.recommender['variant']}"

    def contract(self, source: str) -> Any:
        """The catalog's validator of ``employees_to_score``, as the batch run applies it, naming ``source``."""
        from promotion_cnn.validation import TableContract

        if source not in self._contracts:
            self._contracts[source] = TableContract(
                "promotion_cnn.validation.table_to_score",
                source=source,
                parameters={name.removeprefix("params:"): self.parameters[name] for name in CONTRACT},
            )
        return self._contracts[source]

    def score(self, employees: pd.DataFrame, source: str = "the request") -> pd.DataFrame:
        """``employee_id``, probability, recommended, rank, model, model_version: the batch pipeline's table."""
        from promotion_cnn.tabular.tables import InvalidTableError
        from promotion_cnn.validation import ContractError

        employees = employees.copy()
        employees.attrs["source"] = source  # errors name where the rows came from, as in the batch run
        try:
            self.contract(source).validate(employees)
        except ContractError as error:
            raise InvalidTableError(str(error)) from error
        data: dict[str, Any] = {INPUT: employees, MODEL: self.recommender, **self._typed}
        for node in self._nodes:
            data.update(node.run({name: data[name] for name in node.inputs}))
        return data[OUTPUT]

    def save(self, folder: Path) -> dict[str, str]:
        """Write the recommender and the parameters as files (MLflow model artifacts)."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"recommender": folder / "recommender.pkl", "parameters": folder / "scoring_parameters.json"}
        paths["recommender"].write_bytes(pickle.dumps(self.recommender))
        paths["parameters"].write_text(json.dumps(self.parameters, indent=1))
        return {name: str(path) for name, path in paths.items()}

    @classmethod
    def from_files(cls, recommender: str, parameters: str) -> RecommenderScorer:
        """The scorer saved by ``save``."""
        return cls(pickle.loads(Path(recommender).read_bytes()), json.loads(Path(parameters).read_text()))


try:  # the pyfunc wrapper needs mlflow; the scorer itself does not
    import mlflow.pyfunc

    class RecommenderPyfunc(mlflow.pyfunc.PythonModel):
        """An MLflow pyfunc model: ``predict(raw employees)`` returns the ranked recommendations."""

        def load_context(self, context: Any) -> None:
            self.scorer = RecommenderScorer.from_files(
                context.artifacts["recommender"], context.artifacts["parameters"]
            )

        def predict(
            self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
        ) -> pd.DataFrame:
            return self.scorer.score(pd.DataFrame(model_input))

except ImportError:  # pragma: no cover - mlflow not installed
    RecommenderPyfunc = None  # type: ignore[assignment,misc]
