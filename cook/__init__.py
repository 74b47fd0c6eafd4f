"""The cook: runs a workflow N times as a session, through the session manager, by name.

``cook`` is an application: its interface is the ``cook`` command
(:mod:`cook.cli`, ``docs/user-guide.md``), and its modules are not an API.  It
uses ``statecharts`` and ``persistence`` through their public names (and, where
it must, two private modules of ``statecharts``: see ``docs/api.md``).

``cook.__version__`` is the installed distribution's version (from its
metadata: the version is written once, in ``pyproject.toml``).
"""

from typing import TYPE_CHECKING

__all__ = ["__version__"]

if TYPE_CHECKING:
    __version__: str
else:

    def __getattr__(name: str) -> str:
        """``__version__``, read from the distribution's metadata when first asked for."""
        if name != "__version__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib.metadata import version  # noqa: PLC0415 - not for `cook --help`

        globals()["__version__"] = found = version("sessionchart")
        return found
