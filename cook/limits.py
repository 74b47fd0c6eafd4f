"""Every budget the cook enforces on what people give it (one home; imported at start-up).

A workflow file is hostile input like any other: it is read only when it is a
regular file of at most :data:`MAX_WORKFLOW_BYTES`, and its YAML is composed
under an alias budget (:data:`MAX_YAML_ALIASES`), a nesting budget
(:data:`MAX_YAML_DEPTH`) and a budget on the size of the document once every
alias is expanded (:data:`MAX_YAML_NODES`), so that a "billion laughs" or a
100,000-deep nesting is refused in milliseconds instead of eating the memory or
the stack.  This module imports nothing: ``cook --help`` reads it.
"""

from __future__ import annotations

__all__ = [
    "MAX_FOCUS_CHARS",
    "MAX_ITERATIONS",
    "MAX_WORKFLOW_BYTES",
    "MAX_YAML_ALIASES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
]

MAX_ITERATIONS = 1_000_000
"""The most iterations a session may be given (``-n`` or ``max_iterations``)."""

MAX_FOCUS_CHARS = 10_000
"""The longest ``--focus`` (it is passed to every step in an environment variable)."""

MAX_WORKFLOW_BYTES = 1024 * 1024
"""The largest workflow file read (1 MiB)."""

MAX_YAML_ALIASES = 100
"""The most aliases (``*name``) a workflow may use."""

MAX_YAML_DEPTH = 50
"""The deepest nesting of mappings and lists in a workflow."""

MAX_YAML_NODES = 100_000
"""The most values a workflow may hold once every alias is expanded."""
