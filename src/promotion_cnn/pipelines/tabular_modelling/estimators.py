"""A variant's unfitted model: the (cloned) reducer or the family's preprocessing, then the classifier."""

from __future__ import annotations

from kedro.utils import load_obj
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .params import ModelFamily

PREPROCESSING = ("none", "one_hot_scale")
CALIBRATION = (None, "sigmoid", "isotonic")


def _preprocessor(kind: str | None) -> list[tuple[str, BaseEstimator]]:
    """Steps before the classifier: none, or one-hot for ``category`` columns and standard scaling for the rest."""
    if kind in (None, "none"):
        return []
    if kind == "one_hot_scale":
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        return [
            (
                "encode",
                ColumnTransformer(
                    [("one_hot", encoder, make_column_selector(dtype_include="category"))],
                    remainder=StandardScaler(),
                    verbose_feature_names_out=False,
                ),
            )
        ]
    raise ValueError(f"preprocessing must be one of {PREPROCESSING}, got {kind!r}")


def build_estimator(family: ModelFamily, variant: str, reducer: BaseEstimator | None) -> Pipeline:
    """Unfitted model pipeline: the (cloned) reducer or the family's preprocessing, then the classifier.

    A ``calibration`` key (family-wide, or per variant) wraps the classifier in ``CalibratedClassifierCV``
    (``sigmoid`` or ``isotonic``, ``calibration_folds`` internal folds); it is not an estimator parameter.
    Built once per variant and node; every fit fits a clone (``cross_validation.fit_and_score``).
    """
    settings = {**family.base_params, **family.variants[variant]}
    calibration = settings.pop("calibration", family.calibration)
    if calibration not in CALIBRATION:
        raise ValueError(f"calibration must be one of {CALIBRATION}, got {calibration!r}")
    classifier = load_obj(family.estimator)(**settings)
    if calibration:
        classifier = CalibratedClassifierCV(classifier, method=calibration, cv=family.calibration_folds)
    steps = list(clone(reducer).steps) if family.use_reducer and reducer is not None else []
    return Pipeline([*steps, *_preprocessor(family.preprocessing), ("model", classifier)])


def supports_out_of_bag(estimator: Pipeline) -> bool:
    """Whether the classifier is a bootstrap ensemble that can score its own out-of-bag rows."""
    params = estimator.named_steps["model"].get_params()
    return "oob_score" in params and params.get("bootstrap", False)
