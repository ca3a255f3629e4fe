"""Custom Kedro datasets: embedded default data that the project generates itself."""

from .optional import OptionalDataset, OptionalInputsHook
from .synthetic_employees import SyntheticEmployeesDataset, generate_employees

__all__ = ["OptionalDataset", "OptionalInputsHook", "SyntheticEmployeesDataset", "generate_employees"]
