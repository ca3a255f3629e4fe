"""promotion_cnn: Kedro pipelines for the promotion-prediction and image-classification study."""

__version__ = "0.1.0"
