"""A chart class compiled into a transition table, to fold long event streams fast.

The python-statemachine engine runs an SCXML macrostep for every event (about
10,000 transitions/s here).  Replaying a million-event log, or keeping ten
thousand idle sessions without a chart instance each, needs less.  This module
reads a chart *class* — its states, transitions, guards and actions — and
answers, for a configuration and an event, which transition the engine would
take and which configuration it would end in.  It calls the very same guard and
action functions the chart declares, so the rules live in one place; a
hypothesis test proves the fold equal to the engine on random event sequences.

Configurations are interned: every session in the same place shares one
:class:`Configuration` object, so a session's position costs one pointer.

The compiler covers what a sequential chart with compound states uses:
compound states, shallow history, targetless and external transitions,
``cond``/``unless`` guards and ``on`` actions given as callables, and top-level
final states.  Anything else (parallel regions, deep history, eventless or
delayed transitions, entry/exit callbacks, callbacks named by string, convention
methods such as ``on_enter_x``) makes :class:`CompiledChart` raise
``InvalidDefinition`` rather than fold differently from the engine.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from statemachine import StateChart
from statemachine.callbacks import CallbackGroup
from statemachine.exceptions import InvalidDefinition
from statemachine.state import HistoryState, State
from statemachine.transition import Transition

__all__ = ["CompiledChart", "CompiledTransition", "Configuration"]

_INJECTED = frozenset({"model", "event"})


@dataclass(frozen=True, slots=True, eq=False)
class Configuration:
    """Where a sequential chart is: its active states and what its history states remember.

    ``states`` lists the active state ids from the outermost to the leaf;
    ``history`` pairs each history pseudo-state id with the state it remembers.
    Instances are interned by :class:`CompiledChart` (one object per value), so
    equality and hashing are by identity: a table lookup per event costs no
    tuple hashing.
    """

    states: tuple[str, ...]
    history: tuple[tuple[str, str], ...] = ()

    @property
    def leaf(self) -> str:
        """The innermost active state."""
        return self.states[-1]

    def history_dict(self) -> dict[str, str]:
        """The history as a mapping (history state id → remembered state id)."""
        return dict(self.history)


@dataclass(frozen=True, slots=True)
class _Call:
    func: Callable[..., Any]
    params: tuple[str, ...]
    takes_kwargs: bool
    expected: bool | None  # for guards: the value that lets the transition through

    @property
    def name(self) -> str:
        name = getattr(self.func, "__name__", repr(self.func))
        return name if self.expected is not False else f"!{name}"

    def __call__(self, model: object, event: str, payload: Mapping[str, Any]) -> Any:
        if self.takes_kwargs:
            kwargs = dict(payload)
            kwargs.update(model=model, event=event)
        else:
            kwargs = {}
            for name in self.params:
                if name == "model":
                    kwargs[name] = model
                elif name == "event":
                    kwargs[name] = event
                elif name in payload:
                    kwargs[name] = payload[name]
        return self.func(**kwargs)


@dataclass(frozen=True, slots=True)
class CompiledTransition:
    """One transition of the chart, resolved for one starting configuration."""

    event: str
    source: str
    target: Configuration
    guards: tuple[_Call, ...]
    actions: tuple[_Call, ...]
    targetless: bool

    @property
    def guard_names(self) -> tuple[str, ...]:
        """The guards' names, ``!name`` for an ``unless`` guard."""
        return tuple(g.name for g in self.guards)

    def failing_guards(self, model: object, payload: Mapping[str, Any]) -> tuple[str, ...]:
        """The names of the guards that do not let this transition through."""
        return tuple(
            g.name for g in self.guards if bool(g(model, self.event, payload)) is not g.expected
        )

    def enabled(self, model: object, payload: Mapping[str, Any]) -> bool:
        """Whether every guard lets the transition through."""
        event = self.event
        for guard in self.guards:  # noqa: SIM110 - a plain loop: this is the hot path
            if bool(guard(model, event, payload)) is not guard.expected:
                return False
        return True


def _compile_call(func: Any, where: str, expected: bool | None) -> _Call:
    if isinstance(func, str) or not callable(func):
        raise InvalidDefinition(
            f"{where}: callback {func!r} must be a function for the chart to be compiled"
        )
    signature = inspect.signature(func)
    params = tuple(signature.parameters)
    takes_kwargs = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
    )
    return _Call(func, params, takes_kwargs, expected)


class CompiledChart:
    """The transition table of a sequential chart class, with its guards and actions.

    >>> from statecharts import SessionChart, IterationCounter
    >>> table = CompiledChart(SessionChart)
    >>> config = table.initial
    >>> config.states
    ('created',)
    >>> step = table.select(config, "started", IterationCounter(max_iterations=3), {})
    >>> step.target.states
    ('running', 'idle')
    """

    def __init__(self, chart_class: type[StateChart[Any]]) -> None:
        self.chart_class = chart_class
        self._states: dict[str, State] = {}
        self._history: dict[str, HistoryState] = {}
        self._collect(chart_class.states)
        self._check_supported()
        self.event_ids: tuple[str, ...] = tuple(str(e) for e in chart_class._events)
        self._interned: dict[
            tuple[tuple[str, ...], tuple[tuple[str, str], ...]], Configuration
        ] = {}
        self._table: dict[tuple[Configuration, str], tuple[CompiledTransition, ...]] = {}
        self._allowed: dict[Configuration, tuple[str, ...]] = {}
        initial = chart_class.initial_state
        if initial is None:  # pragma: no cover - python-statemachine rejects such classes
            raise InvalidDefinition(f"{chart_class.__name__} has no initial state")
        self.initial: Configuration = self._intern(self._descend(initial), ())

    # -- reading the definition -----------------------------------------------
    def _collect(self, states: Iterable[State]) -> None:
        for state in states:
            self._states[state.id] = state
            for history in state.history:
                self._history[history.id] = history
            self._collect(state.states)

    def _check_supported(self) -> None:
        name = self.chart_class.__name__
        for state in self._states.values():
            where = f"{name}.{state.id}"
            if state.parallel:
                raise InvalidDefinition(f"{where}: parallel states cannot be compiled")
            if state.final and state.parent is not None:
                raise InvalidDefinition(f"{where}: nested final states cannot be compiled")
            for history in state.history:
                if history.type.is_deep:
                    raise InvalidDefinition(f"{where}: deep history cannot be compiled")
                if not any(t.target is not None for t in history.transitions):
                    raise InvalidDefinition(
                        f"{where}.{history.id}: a history state needs a default transition "
                        "(as SCXML requires), e.g. `h.to(first_child)`"
                    )
            self._check_callbacks(state._specs, where, allowed=())
            for transition in state.transitions:
                if transition.initial:
                    continue
                if transition.is_eventless:
                    raise InvalidDefinition(f"{where}: eventless transitions cannot be compiled")
                if len(transition.targets) > 1:
                    raise InvalidDefinition(f"{where}: multi-target transitions cannot be compiled")
                self._check_callbacks(
                    transition._specs,
                    f"{where} on {transition.event}",
                    allowed=(CallbackGroup.COND, CallbackGroup.ON),
                )
        for event in self.chart_class._events:
            if getattr(event, "delay", 0):
                raise InvalidDefinition(f"{name}: delayed event {event!r} cannot be compiled")

    def _check_callbacks(self, specs: Iterable[Any], where: str, allowed: tuple[Any, ...]) -> None:
        for spec in specs:
            if spec.is_convention:
                if isinstance(spec.func, str) and hasattr(self.chart_class, spec.func):
                    raise InvalidDefinition(
                        f"{where}: convention callback {spec.func!r} cannot be compiled"
                    )
            elif spec.group not in allowed:
                raise InvalidDefinition(
                    f"{where}: {spec.group.name.lower()} callback {spec.func!r} cannot be compiled"
                )
            else:
                _compile_call(spec.func, where, None)

    # -- configurations ---------------------------------------------------------
    def _intern(
        self, states: tuple[str, ...], history: tuple[tuple[str, str], ...]
    ) -> Configuration:
        key = (states, tuple(sorted(history)))
        found = self._interned.get(key)
        if found is None:  # setdefault is atomic: racing threads get one object per value
            found = self._interned.setdefault(key, Configuration(*key))
        return found

    def _chain(self, state: State) -> tuple[str, ...]:
        ids: list[str] = []
        node: State | None = state
        while node is not None:
            ids.append(node.id)
            node = node.parent
        return tuple(reversed(ids))

    def _descend(self, state: State) -> tuple[str, ...]:
        """The active chain when ``state`` is entered: its ancestors, then its initial leaf."""
        while state.states:
            state = next(child for child in state.states if child.initial)
        return self._chain(state)

    def configuration(
        self, states: Iterable[str], history: Mapping[str, str] | None = None
    ) -> Configuration:
        """The interned configuration for these active states and history (from a snapshot).

        Raises ``InvalidDefinition`` when the states are not a valid chain of this chart.
        """
        ids = tuple(states)
        history = dict(history or {})
        if not ids or any(s not in self._states for s in ids):
            raise InvalidDefinition(
                f"{ids!r} is not a configuration of {self.chart_class.__name__}"
            )
        if self._descend(self._states[ids[-1]]) != ids:
            raise InvalidDefinition(f"{ids!r} is not a complete active chain")
        for hid, remembered in history.items():
            hstate = self._history.get(hid)
            child = self._states.get(remembered)
            if hstate is None or child is None or child.parent is not hstate.parent:
                raise InvalidDefinition(f"history {hid!r} cannot remember {remembered!r}")
        return self._intern(ids, tuple(history.items()))

    def is_final(self, config: Configuration) -> bool:
        """Whether the chart has reached a final state (and so accepts no event)."""
        return bool(self._states[config.leaf].final)

    # -- transitions --------------------------------------------------------------
    def candidates(self, config: Configuration, event: str) -> tuple[CompiledTransition, ...]:
        """The transitions ``event`` may take from ``config``, in the engine's priority order."""
        key = (config, event)
        found = self._table.get(key)
        if found is None:
            # Resolving is idempotent and dict writes are atomic: racing threads
            # may both resolve, and either result is the same.
            found = self._table.setdefault(key, self._resolve(config, event))
        return found

    def select(
        self, config: Configuration, event: str, model: object, payload: Mapping[str, Any]
    ) -> CompiledTransition | None:
        """The transition the engine would take, or None when the event is not allowed."""
        key = (config, event)
        found = self._table.get(key)
        if found is None:
            found = self.candidates(config, event)
        for transition in found:
            if transition.enabled(model, payload):
                return transition
        return None

    def allowed_events(self, config: Configuration) -> tuple[str, ...]:
        """The events that have a transition from ``config`` (guards not considered)."""
        found = self._allowed.get(config)
        if found is None:
            found = tuple(e for e in self.event_ids if self.candidates(config, e))
            self._allowed[config] = found
        return found

    @staticmethod
    def apply(
        transition: CompiledTransition, model: object, payload: Mapping[str, Any]
    ) -> Configuration:
        """Run the transition's actions on ``model`` and return the configuration it reaches."""
        for action in transition.actions:
            action(model, transition.event, payload)
        return transition.target

    def _resolve(self, config: Configuration, event: str) -> tuple[CompiledTransition, ...]:
        if self._states[config.leaf].final:
            return ()
        found: list[CompiledTransition] = []
        for state_id in reversed(config.states):
            for transition in self._states[state_id].transitions:
                if transition.initial or not transition.match(event):
                    continue
                found.append(self._compile_transition(config, event, transition))
        return tuple(found)

    def _compile_transition(
        self, config: Configuration, event: str, transition: Transition
    ) -> CompiledTransition:
        where = f"{self.chart_class.__name__}.{transition.source.id} on {event}"
        guards = tuple(
            _compile_call(spec.func, where, bool(spec.expected_value))
            for spec in transition.cond
            if not spec.is_convention
        )
        actions = tuple(
            _compile_call(spec.func, where, None)
            for spec in transition.on
            if not spec.is_convention
        )
        target = transition.target
        if target is None:
            return CompiledTransition(event, transition.source.id, config, guards, actions, True)
        return CompiledTransition(
            event,
            transition.source.id,
            self._target(config, transition, target),
            guards,
            actions,
            False,
        )

    def _domain(self, transition: Transition, target: State) -> State | None:
        """SCXML's transition domain: the state whose descendants are exited and entered."""
        source = transition.source
        anchor = target.parent if isinstance(target, HistoryState) else target
        if (
            transition.internal
            and source.states
            and anchor is not None
            and (anchor is source or anchor.is_descendant(source))
        ):
            return source
        node = source.parent
        while node is not None:
            if (
                anchor is not None
                and (anchor is node or anchor.is_descendant(node))
                and node.states
            ):
                return node
            node = node.parent
        return None

    def _target(
        self, config: Configuration, transition: Transition, target: State
    ) -> Configuration:
        domain = self._domain(transition, target)
        history = dict(config.history)
        # Exit every active state below the domain, innermost first, remembering history.
        active = [self._states[s] for s in config.states]
        for state in reversed(active):
            if domain is not None and (state is domain or not state.is_descendant(domain)):
                continue
            for hstate in state.history:
                child = next(s for s in active if s.parent is state)
                history[hstate.id] = child.id
        # Enter the target (through its history, when it is a history pseudo-state).
        if isinstance(target, HistoryState):
            remembered = history.get(target.id)
            entered = self._states[remembered] if remembered else self._history_default(target)
        else:
            entered = target
        return self._intern(self._descend(entered), tuple(history.items()))

    @staticmethod
    def _history_default(history: HistoryState) -> State:
        """Where a history state leads before it remembers anything (checked to exist)."""
        target: State = next(t.target for t in history.transitions if t.target is not None)
        return target
