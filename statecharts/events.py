"""What a session records: one record per kind of event, named by the chart's event ids.

Each class's ``kind`` is its id in the chart, and the one vocabulary used
everywhere: the chart, the log, the signals and the CLI
(:data:`statecharts.EVENT_TYPES` maps each id to its class, and
:data:`statecharts.SessionEvent` is their union; a recorded one is a
:class:`statecharts.TimestampedEvent`).  Some names are those of states too
(``Paused``, ``Completed``, ``Failed``): use these through this module,
``events.Paused``, and the states through :mod:`statecharts.state`.

>>> from statecharts import events
>>> events.IterationStarted(number=1).kind
'iteration_started'
"""

from ._events import (
    AnalysisCompleted,
    CommandExecuted,
    Completed,
    Failed,
    IterationCompleted,
    IterationStarted,
    Paused,
    Resumed,
    Started,
)

__all__ = [
    "AnalysisCompleted",
    "CommandExecuted",
    "Completed",
    "Failed",
    "IterationCompleted",
    "IterationStarted",
    "Paused",
    "Resumed",
    "Started",
]
