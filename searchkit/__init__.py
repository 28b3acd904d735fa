"""searchkit: full-text search for archives of Chinese news posts."""

__version__ = "0.1.0"
