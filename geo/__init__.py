"""New Town Atlas analysis library: data loading, validation, CRS handling and queries."""

__version__ = "0.1.0"
