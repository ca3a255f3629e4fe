"""A seeded generator of an employee table with the real HR table's schema.

The marginals, category levels and missingness pattern are facts measured on the
study's table (54,808 rows, see ``docs/data.md``); no row of it is copied. A
planted signal makes promotion depend on the previous year's rating, awards, a
training score far above the department's norm and a hidden KPI flag (the real
source table's dropped ``KPIs_met >80%`` column), so that models learn something
real but cannot be perfect.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from kedro.io import AbstractDataset, DatasetError

COLUMNS = [
    "employee_id",
    "department",
    "region",
    "education",
    "gender",
    "recruitment_channel",
    "no_of_trainings",
    "age",
    "previous_year_rating",
    "length_of_service",
    "awards_won?",
    "avg_training_score",
    "is_promoted",
]

# department: (share of employees, mean and std of avg_training_score), from the real table
DEPARTMENTS = {
    "Sales & Marketing": (0.3073, 50.3, 5.6),
    "Operations": (0.2071, 60.2, 4.8),
    "Technology": (0.1302, 79.9, 3.4),
    "Procurement": (0.1302, 70.1, 4.3),
    "Analytics": (0.0976, 84.6, 2.9),
    "Finance": (0.0463, 60.2, 4.9),
    "HR": (0.0441, 50.0, 4.7),
    "Legal": (0.0190, 59.9, 4.1),
    "R&D": (0.0182, 84.6, 2.9),
}
REGION_SHARES = {  # region_1 ... region_34
    1: 0.0111,
    2: 0.2252,
    3: 0.0063,
    4: 0.0311,
    5: 0.0140,
    6: 0.0126,
    7: 0.0884,
    8: 0.0120,
    9: 0.0077,
    10: 0.0118,
    11: 0.0240,
    12: 0.0091,
    13: 0.0483,
    14: 0.0151,
    15: 0.0512,
    16: 0.0267,
    17: 0.0145,
    18: 0.0006,
    19: 0.0159,
    20: 0.0155,
    21: 0.0075,
    22: 0.1173,
    23: 0.0214,
    24: 0.0093,
    25: 0.0149,
    26: 0.0412,
    27: 0.0303,
    28: 0.0240,
    29: 0.0181,
    30: 0.0120,
    31: 0.0353,
    32: 0.0172,
    33: 0.0049,
    34: 0.0053,
}
EDUCATION = {"Bachelor's": 0.669, "Master's & above": 0.2723, "Below Secondary": 0.0147}
EDUCATION_MISSING = 0.044
GENDER = {"m": 0.7024, "f": 0.2976}
CHANNEL = {"other": 0.5555, "sourcing": 0.4237, "referred": 0.0208}
TRAININGS = {
    1: 0.8097,
    2: 0.1457,
    3: 0.0324,
    4: 0.0085,
    5: 0.0023,
    6: 0.0008,
    7: 0.0002,
    8: 0.0002,
    9: 0.0001,
    10: 0.0001,
}
RATINGS = {1.0: 0.1135, 2.0: 0.0771, 3.0: 0.3397, 4.0: 0.1802, 5.0: 0.2142}
RATING_MISSING_IF_NEW = 0.907  # 4,124 of the 4,547 one-year employees have no rating
AWARD_RATE = 0.0232
HIGH_SCORER_RATE = 0.027  # share scoring > 2 department std above the department mean
PROMOTION_RATE = 0.0852


def _choice(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    levels = list(shares)
    p = np.array(list(shares.values()), dtype=float)
    return np.array(levels, dtype=object)[rng.choice(len(levels), size=n, p=p / p.sum())]


def _calibrated_intercept(logit: np.ndarray, rate: float) -> float:
    """Intercept that makes the mean promotion probability equal ``rate`` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logit + mid)))).mean() > rate:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def generate_employees(n_rows: int = 20_000, seed: int = 42) -> pd.DataFrame:
    """Generate a deterministic employee table with the real table's 13 columns."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    rng = np.random.default_rng(seed)
    n = n_rows
    department = _choice(rng, {d: v[0] for d, v in DEPARTMENTS.items()}, n)
    region = _choice(rng, {f"region_{k}": v for k, v in REGION_SHARES.items()}, n)
    education = _choice(rng, EDUCATION, n)
    education[rng.random(n) < EDUCATION_MISSING] = None
    gender = _choice(rng, GENDER, n)
    channel = _choice(rng, CHANNEL, n)
    trainings = _choice(rng, TRAININGS, n).astype(int)
    age = np.clip(np.round(20 + rng.gamma(4.0, 3.7, n)), 20, 60).astype(int)
    service = np.clip(np.round(0.6 + rng.gamma(1.9, 1.0, n) * (age - 17) / 6.5), 1, age - 17).astype(int)
    rating = _choice(rng, RATINGS, n).astype(float)
    rating[(service == 1) & (rng.random(n) < RATING_MISSING_IF_NEW)] = np.nan
    rated = np.nan_to_num(rating, nan=3.0)
    awards = (rng.random(n) < AWARD_RATE * (0.6 + 0.9 * (rated == 5))).astype(int)
    high_scorer = rng.random(n) < HIGH_SCORER_RATE
    z = np.where(high_scorer, 2 + rng.exponential(1.5, n), np.clip(rng.normal(0, 0.9, n), -2.5, 2))
    mean = np.array([DEPARTMENTS[d][1] for d in department])
    std = np.array([DEPARTMENTS[d][2] for d in department])
    score = np.clip(np.round(mean + std * z), 39, 99).astype(int)
    kpi_met = rng.random(n) < 0.2 + 0.06 * rated  # the real source's hidden KPIs_met column
    logit = (
        1.8 * kpi_met
        + 0.3 * (rated - 3)
        + 0.5 * (rated == 5)
        - 1.0 * (rating == 1)
        + 1.8 * awards
        + 5.0 * high_scorer
        + 0.8 * np.clip(z - 0.8, 0, None)
        - 0.1 * (trainings - 1)
        + 0.15 * (education == "Master's & above")
        + 0.3 * (channel == "referred")
    )
    logit = logit + _calibrated_intercept(logit, PROMOTION_RATE)
    promoted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    employee_id = rng.permutation(np.arange(1, 3 * n + 1))[:n]
    frame = pd.DataFrame(
        {
            "employee_id": employee_id,
            "department": department,
            "region": region,
            "education": education,
            "gender": gender,
            "recruitment_channel": channel,
            "no_of_trainings": trainings,
            "age": age,
            "previous_year_rating": rating,
            "length_of_service": service,
            "awards_won?": awards,
            "avg_training_score": score,
            "is_promoted": promoted,
        }
    )
    for column in ("department", "region", "education", "gender", "recruitment_channel"):
        frame[column] = frame[column].astype("str")
    return frame[COLUMNS]


class SyntheticEmployeesDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only Kedro dataset that generates the embedded employee table on load.

    Example catalog entry::

        employees_raw:
          type: promotion_cnn.datasets.SyntheticEmployeesDataset
          n_rows: 20000
          seed: 42
          include_target: true   # false: current employees to score, without is_promoted
    """

    def __init__(
        self, n_rows: int = 20_000, seed: int = 42, include_target: bool = True, metadata: dict[str, Any] | None = None
    ):
        self._n_rows = n_rows
        self._seed = seed
        self._include_target = include_target
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        table = generate_employees(self._n_rows, self._seed)
        table = table if self._include_target else table.drop(columns="is_promoted")
        table.attrs["synthetic"] = f"generated by SyntheticEmployeesDataset (n_rows {self._n_rows}, seed {self._seed})"
        return table

    def save(self, data: None) -> None:
        raise DatasetError("SyntheticEmployeesDataset is read-only: it generates the embedded default table")

    def _describe(self) -> dict[str, Any]:
        return {"n_rows": self._n_rows, "seed": self._seed, "include_target": self._include_target}

    def preview(self, nrows: int = 10) -> dict:
        """Table preview for kedro-viz."""
        return self.load().head(nrows).to_dict(orient="split")
