"""Fairness audit (fairlearn), metric intervals and calibration of a family's test predictions."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import demographic_parity_ratio, equalized_odds_difference

from promotion_cnn.params import AgeBands, Fairness
from promotion_cnn.pipelines.tabular_modelling.assessment_nodes import (
    assess_calibration,
    audit_fairness,
    bootstrap_test_metrics,
)
from promotion_cnn.pipelines.tabular_modelling.params import Bootstrap, CalibrationCheck

FAIRNESS = Fairness(attribute="gender", reference_group="m", disparate_impact_bounds=(0.8, 1.25))
BOOTSTRAP = Bootstrap(n_boot=200, confidence=0.95, seed=0)


def _scores(score: pd.Series, threshold: float) -> pd.DataFrame:
    """Test scores as evaluate_model writes them: the ``score`` column, recommended at ``threshold``."""
    return pd.DataFrame({"score": score, "recommended": score >= threshold})


def _hand_case():
    index = [10, 11, 12, 13, 14, 15, 16, 17]
    employees = pd.DataFrame(
        {"gender": ["m", "m", "m", "m", "f", "f", "f", "f"], "age": [25, 35, 35, 45, 25, 35, 45, 55]}, index=index
    )
    score = pd.Series([0.9, 0.8, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1], index=index)
    target = pd.DataFrame({"is_promoted": [1, 0, 1, 0, 1, 1, 0, 0]}, index=index)
    return employees, score, target


def test_audit_fairness_by_hand():
    employees, score, target = _hand_case()
    audit, summary = audit_fairness(_scores(score, 0.5), target, employees, FAIRNESS, BOOTSTRAP)
    audit = audit.set_index("group")
    assert audit.loc["m", "selection_rate"] == 0.5 and audit.loc["f", "selection_rate"] == 0.25
    assert audit.loc["m", "recall"] == 0.5 and audit.loc["f", "recall"] == 0.5
    assert audit.loc["m", "fpr"] == 0.5 and audit.loc["f", "fpr"] == 0.0
    assert audit.loc["f", "disparate_impact"] == 0.5 and audit.loc["m", "disparate_impact"] == 1.0
    assert audit.loc["f", "flagged"] and not audit.loc["m", "flagged"]
    assert audit.loc["f", "recall_difference"] == 0.0 and audit.loc["f", "n"] == 4
    assert (audit["selection_rate_low"] <= audit["selection_rate"]).all()
    assert (audit["selection_rate"] <= audit["selection_rate_high"]).all()
    row = summary.set_index("attribute").loc["gender"]
    chosen, groups = (score >= 0.5).to_numpy(), employees.gender.to_numpy()
    assert row["demographic_parity_ratio"] == pytest.approx(
        demographic_parity_ratio(target, chosen, sensitive_features=groups)
    )
    assert row["equalized_odds_difference"] == pytest.approx(
        equalized_odds_difference(target, chosen, sensitive_features=groups)
    )
    assert row["demographic_parity_difference"] == pytest.approx(0.25)
    fair, _ = audit_fairness(_scores(score, 0.05), target, employees, FAIRNESS, BOOTSTRAP)
    assert not fair.flagged.any()


def test_age_bands_and_proxies_are_audited_and_only_protected_groups_flagged():
    employees, score, target = _hand_case()
    employees = employees.assign(region=["a", "a", "b", "b", "a", "b", "b", "b"])
    fairness = FAIRNESS.model_copy(
        update={
            "age_bands": AgeBands(column="age", edges=[18, 30, 40, 100], reference_group="30-39"),
            "proxies": ["region", "no_such_column"],
        }
    )
    audit, summary = audit_fairness(_scores(score, 0.5), target, employees, fairness, BOOTSTRAP)
    assert summary.attribute.tolist() == ["gender", "age_band", "region"]
    ages = audit[audit.attribute == "age_band"].set_index("group")
    assert ages.n.to_dict() == {"18-29": 2, "30-39": 3, "40-99": 3} and ages.loc["30-39", "disparate_impact"] == 1
    proxies = audit[audit.attribute == "region"]
    assert (proxies.role == "proxy").all() and not proxies.flagged.any()


def test_audit_fairness_needs_the_rows_and_the_reference_group():
    employees = pd.DataFrame({"gender": ["m", "f"]}, index=[0, 1])
    score = pd.Series([0.9, 0.1], index=[1, 2])
    target = pd.DataFrame({"is_promoted": [1, 0]}, index=[1, 2])
    with pytest.raises(ValueError, match="not in the validated table"):
        audit_fairness(_scores(score, 0.5), target, employees, FAIRNESS, BOOTSTRAP)
    with pytest.raises(ValueError, match="reference group 'x'"):
        audit_fairness(
            _scores(score.set_axis([0, 1]), 0.5),
            target.set_axis([0, 1]),
            employees,
            FAIRNESS.model_copy(update={"reference_group": "x"}),
            BOOTSTRAP,
        )


def test_metric_intervals_hold_the_point_estimate_and_narrow_with_more_rows():
    rng = np.random.default_rng(1)
    widths = []
    for n in (400, 4000):
        y = rng.random(n) < 0.2
        score = pd.Series(np.clip(0.2 + 0.4 * y + rng.normal(0, 0.25, n), 0, 1))
        table = bootstrap_test_metrics(_scores(score, 0.45), pd.DataFrame({"t": y.astype(int)}), BOOTSTRAP)
        table = table.set_index("metric")
        assert table.index.tolist() == ["f1", "roc_auc", "precision", "recall"]
        assert ((table.low <= table.value) & (table.value <= table.high)).all()
        widths.append((table.high - table.low).mean())
    assert widths[1] < widths[0] / 2


def test_calibration_separates_calibrated_from_overconfident_scores():
    rng = np.random.default_rng(2)
    p = rng.random(20000)
    y = pd.DataFrame({"t": (rng.random(20000) < p).astype(int)})
    settings = CalibrationCheck(n_bins=10, ece_limit=0.02)
    calibrated = assess_calibration(_scores(pd.Series(p), 0.5), y, settings)
    assert calibrated["expected_calibration_error"] < 0.02 and calibrated["well_calibrated"]
    assert sum(b["n"] for b in calibrated["reliability"]) == 20000 and len(calibrated["reliability"]) == 10
    overconfident = assess_calibration(_scores(pd.Series(np.where(p > 0.5, 0.99, 0.01)), 0.5), y, settings)
    assert overconfident["expected_calibration_error"] > 0.2 and not overconfident["well_calibrated"]
    assert overconfident["brier_score"] > calibrated["brier_score"]
    margins = assess_calibration(_scores(pd.Series(p * 4 - 2), 0.0), y, settings)  # an SVM's decision function
    assert margins["expected_calibration_error"] is None and margins["reliability"] == []
