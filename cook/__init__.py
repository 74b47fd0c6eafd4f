"""The cook: runs a workflow N times as a session, through the session manager, by name.

``cook`` (the command line, :mod:`cook.cli`) and :class:`~cook.runner.Runner`
use ``statecharts`` and ``persistence`` through their public API only.
"""

__version__ = "0.1.0"
