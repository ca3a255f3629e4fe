"""Custom Kedro datasets: embedded default data that the project generates itself."""

from .synthetic_employees import SyntheticEmployeesDataset, generate_employees

__all__ = ["SyntheticEmployeesDataset", "generate_employees"]
from .digits_images import DigitsImageFolderDataset, write_digits_folder  # noqa: E402
from .image_folder import ImageFolderDataset, index_image_folder, inspect_image, read_image_rgb  # noqa: E402

__all__ += [
    "DigitsImageFolderDataset",
    "ImageFolderDataset",
    "index_image_folder",
    "inspect_image",
    "read_image_rgb",
    "write_digits_folder",
]
