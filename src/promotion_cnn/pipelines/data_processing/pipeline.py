"""data_processing: the tabular part (tag ``tabular``) and the image part (tag ``image``)."""

from kedro.pipeline import Pipeline, pipeline

from .image_pipeline import create_image_pipeline as _image_nodes
from .tabular_pipeline import create_tabular_pipeline as _tabular_nodes


def create_tabular_pipeline(**kwargs) -> Pipeline:
    """Tabular processing nodes, tagged ``tabular``."""
    return pipeline(_tabular_nodes(), tags="tabular")


def create_image_pipeline(**kwargs) -> Pipeline:
    """Image processing nodes, tagged ``image``."""
    return pipeline(_image_nodes(), tags="image")


def create_pipeline(**kwargs) -> Pipeline:
    """Both halves of data processing."""
    return create_tabular_pipeline() + create_image_pipeline()
