"""Custom Kedro datasets: CSV input tables, embedded default data the project generates itself, image folders,
optional inputs, self-describing model artifacts."""

from .csv_table import CSVTableDataset, EmptyFileError
from .digits_images import DigitsImageFileListDataset, DigitsImagesDataset, write_digits_folder
from .figure import FigureDataset, RenderedFigure
from .image_folder import (
    ImageFileListDataset,
    ImageFolderDataset,
    ImageSet,
    index_image_folder,
    inspect_image,
    read_image_rgb,
)
from .mlflow_models import RegisteredImageModelsDataset, RegisteredRecommenderDataset
from .model_artifacts import ImageModelDataset, StampedJSONDataset, StampedPickleDataset
from .optional import OptionalDataset, OptionalInputsHook
from .synthetic_employees import SyntheticEmployeesDataset, generate_employees

__all__ = [
    "CSVTableDataset",
    "DigitsImageFileListDataset",
    "DigitsImagesDataset",
    "EmptyFileError",
    "FigureDataset",
    "RenderedFigure",
    "ImageFileListDataset",
    "ImageFolderDataset",
    "ImageModelDataset",
    "ImageSet",
    "OptionalDataset",
    "OptionalInputsHook",
    "RegisteredImageModelsDataset",
    "RegisteredRecommenderDataset",
    "StampedJSONDataset",
    "StampedPickleDataset",
    "SyntheticEmployeesDataset",
    "generate_employees",
    "index_image_folder",
    "inspect_image",
    "read_image_rgb",
    "write_digits_folder",
]
