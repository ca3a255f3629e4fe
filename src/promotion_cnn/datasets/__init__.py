"""Custom Kedro datasets: embedded default data that the project generates itself."""

from .synthetic_employees import SyntheticEmployeesDataset, generate_employees

__all__ = ["SyntheticEmployeesDataset", "generate_employees"]
