"""Tabular code shared by several pipelines (never a pipeline itself).

- ``tables``: the named errors of an unusable employee table and the ``validate_table`` node;
- ``features``: the feature-building nodes (cleaning, encoding);
- ``feature_pipeline``: the feature pipeline builder and the feature-set names (``study``, ``full``);
- ``scoring``: positive-class scores of a fitted model (``predict_scores``).
"""
