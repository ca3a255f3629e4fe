"""Where the data came from: a fingerprint of a raw input, so reports and trackers say what they show."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd


def describe_source(table: pd.DataFrame) -> dict[str, Any]:
    """The raw input's origin (file or generator), rows, columns and a SHA-256 of its content."""
    content = pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes()
    return {
        "source": table.attrs.get("source", "unknown"),
        "synthetic": table.attrs.get("synthetic"),  # None for real data, else how it was generated
        "rows": int(len(table)),
        "columns": [str(c) for c in table.columns],
        "sha256": hashlib.sha256(content).hexdigest(),
    }
