"""``python -m cook``."""

from .cli import entry_point

entry_point()
