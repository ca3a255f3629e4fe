"""Typed parameters of tabular_modelling: the protocol, each model family's block, fairness, the explanation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from promotion_cnn.params import Params

SelectionMetric = Literal["cv_f1_tuned", "cv_f1", "cv_roc_auc", "cv_average_precision", "train_accuracy"]


class ParallelFits(Params):
    """Where the independent variant and fold fits run (``tabular_protocol.parallel``), through joblib.

    ``loky`` (default) and ``threading`` run them on this machine, ``parallel_fits`` at a time; ``dask`` runs them on
    a Dask ``distributed`` cluster (joblib's Dask backend, every worker thread of the cluster, ``parallel_fits`` not
    used): the scheduler at ``scheduler_address``, or, with null, a ``LocalCluster`` started for the node and closed
    after it (``n_workers`` processes of one thread each; null: one per core). ``distributed`` is imported only for
    ``dask``.
    """

    backend: Literal["loky", "threading", "dask"] = Field(
        default="loky", description="loky | threading: this machine; dask: a Dask distributed cluster."
    )
    scheduler_address: str | None = Field(
        default=None, description="dask: the scheduler to connect to, e.g. tcp://10.0.0.5:8786; null: a LocalCluster."
    )
    n_workers: int | None = Field(
        default=None, ge=1, description="dask without an address: LocalCluster worker processes; null: one per core."
    )

    @model_validator(mode="after")
    def _dask_only(self) -> ParallelFits:
        if self.backend != "dask" and (self.scheduler_address is not None or self.n_workers is not None):
            raise ValueError("scheduler_address and n_workers are for backend: dask")
        if self.scheduler_address is not None and self.n_workers is not None:
            raise ValueError("n_workers sizes a LocalCluster: leave it null with a scheduler_address")
        return self


def _renamed_n_jobs(data: Any) -> Any:
    """``n_jobs`` of a protocol or family block is now ``parallel_fits``: say so rather than "extra input"."""
    if isinstance(data, dict) and "n_jobs" in data:
        raise ValueError(
            "n_jobs was renamed parallel_fits (independent fits at a time); the threads of one fit are the "
            "estimator's own n_jobs, in base_params"
        )
    return data


class TabularProtocol(Params):
    """How every family is cross-validated, selected and thresholded (``tabular_protocol``)."""

    cv_folds: int = Field(ge=0, description="Stratified folds on the training part; 0 = no cross-validation.")
    selection_metric: SelectionMetric = Field(description="The metric a family's variant is chosen by.")
    threshold_source: Literal["out_of_fold", "in_sample"] = Field(
        description="Predictions the threshold is tuned on (the study: in_sample)."
    )
    random_state: int = Field(description="Seed of the folds and samples.")
    use_out_of_bag: bool = Field(
        default=True, description="Bootstrap forests: score out-of-bag from one fit instead of k folds."
    )
    train_accuracy_sample: int | None = Field(
        default=None, ge=0, description="Rows (seeded) on which training accuracy is measured; 0 or null: every row."
    )
    parallel_fits: int = Field(
        description="Independent fits (variants x folds) run at a time, joblib's n_jobs (-1: every core); a family may "
        "set its own. Not the threads inside one fit: those are an estimator parameter (base_params.n_jobs)."
    )
    progress: int = Field(default=5, ge=0, description="joblib verbosity: progress of the fits on the console.")
    parallel: ParallelFits = Field(
        default_factory=ParallelFits, description="Where the fits run: loky (default), threading or a Dask cluster."
    )

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return _renamed_n_jobs(data)

    @model_validator(mode="after")
    def _folds(self) -> TabularProtocol:
        if self.cv_folds == 1:
            raise ValueError("cv_folds must be 0 (no cross-validation) or at least 2, got 1")
        if self.parallel_fits == 0:
            raise ValueError("parallel_fits must not be 0 (joblib: 1 = sequential, -1 = every core)")
        return self


class ThresholdRule(Params):
    """How a family's decision threshold is chosen (``<family>.threshold``)."""

    method: Literal["f1", "youden", "default", "fixed"] = Field(
        description="f1: max F1 on the precision-recall curve; youden; default (0.5 / 0); fixed: value."
    )
    value: float | None = Field(default=None, description="The threshold when method is fixed.")

    @model_validator(mode="after")
    def _value(self) -> ThresholdRule:
        if self.method == "fixed" and self.value is None:
            raise ValueError("method 'fixed' needs a value")
        return self


Calibration = Literal["sigmoid", "isotonic"] | None


class ModelFamily(Params):
    """One model family (``random_forest``, ``svm``, ``hist_gradient_boosting``, ...): its place in the pipelines
    (feature set, reducer, candidacy: read at registration by ``promotion_cnn.model_lists``), estimator, variants."""

    estimator: str = Field(pattern=r"^[\w.]+\.\w+$", description="Dotted path of the scikit-learn classifier.")
    feature_set: Literal["study", "full"] = Field(
        description="study: the study's one-hot features (features_train ...); full: every column but the id and "
        "gender (full_features_train ...)."
    )
    use_reducer: bool = Field(
        default=True,
        description="Min-max + PCA from data_processing, refitted per fold; study feature set only. feature_reducer "
        "is an input of this family's nodes only when true.",
    )
    recommender_candidate: bool = Field(
        default=False,
        description="select_recommender may choose this family; full feature set only (promotion_scoring builds "
        "those features for new employees).",
    )
    preprocessing: Literal["none", "one_hot_scale"] | None = Field(
        default=None, description="none, or one_hot_scale: one-hot the category columns, standardise the rest."
    )
    calibration: Calibration = Field(default=None, description="null | sigmoid | isotonic: CalibratedClassifierCV.")
    calibration_folds: int = Field(default=3, ge=2, description="Internal folds of the calibration.")
    selection_sample: int | None = Field(
        default=None, gt=0, description="Rank variants on a seeded stratified sample of this many rows; null: all."
    )
    parallel_fits: int | None = Field(
        default=None,
        description="This family's independent fits at a time; null: tabular_protocol.parallel_fits. An n_jobs in "
        "base_params or a variant is the estimator's own (e.g. a forest's threads during one fit; it predicts on one).",
    )
    base_params: dict[str, Any] = Field(default={}, description="Estimator parameters shared by every variant.")
    variants: dict[str, dict[str, Any]] = Field(
        min_length=1, description="Variant name -> estimator parameters (and optionally calibration)."
    )
    threshold: ThresholdRule = Field(description="How the decision threshold is chosen.")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return _renamed_n_jobs(data)

    @model_validator(mode="after")
    def _feature_set(self) -> ModelFamily:
        if self.use_reducer and self.feature_set != "study":
            raise ValueError("use_reducer needs feature_set study (the reducer is fitted on the study's features)")
        if self.recommender_candidate and self.feature_set != "full":
            raise ValueError("recommender_candidate needs feature_set full (promotion_scoring builds those features)")
        return self

    @model_validator(mode="after")
    def _variant_calibration(self) -> ModelFamily:
        for name, settings in self.variants.items():
            if settings.get("calibration", None) not in (None, "sigmoid", "isotonic"):
                raise ValueError(f"variants.{name}.calibration must be null, sigmoid or isotonic")
        return self


class PermutationImportanceParams(Params):
    """Permutation importance of the recommender on the test part (``permutation_importance``)."""

    scoring: str = Field(description="A scikit-learn scorer name, e.g. roc_auc.")
    n_repeats: int = Field(gt=0, description="Shuffles per column.")
    random_state: int = Field(description="Seed of the shuffles.")
    n_jobs: int = Field(
        default=1,
        description="scikit-learn's permutation_importance n_jobs, under its name: columns permuted at a time.",
    )


class Bootstrap(Params):
    """Percentile bootstrap over the test rows (``assessment.bootstrap``)."""

    n_boot: int = Field(ge=10, description="Resamples of the test rows.")
    confidence: float = Field(gt=0, lt=1, description="Interval coverage, e.g. 0.95.")
    seed: int = Field(description="Seed of the resampling.")


class CalibrationCheck(Params):
    """Calibration check of the test scores (``assessment.calibration``)."""

    n_bins: int = Field(ge=2, description="Equal-width probability bins of the reliability table.")
    ece_limit: float = Field(gt=0, lt=1, description="Expected calibration error above this: warned.")
