"""The compiled fold is the chart: same decisions, configurations and model, on any sequence."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statemachine import Event, HistoryState, State, StateChart
from statemachine.exceptions import InvalidDefinition, TransitionNotAllowed

from statecharts import IterationCounter, SessionChart
from statecharts._compiled import CompiledChart

from .reference import EVENTS

SESSION = CompiledChart(SessionChart)


def payloads(event: str) -> st.SearchStrategy[dict[str, Any]]:
    if event == "iteration_started":
        return st.fixed_dictionaries({"number": st.integers(0, 6)})
    return st.just({})


event_steps = st.lists(
    st.sampled_from(EVENTS).flatmap(lambda e: st.tuples(st.just(e), payloads(e))),
    max_size=60,
)


def run_both(
    table: CompiledChart,
    chart_class: type[StateChart[Any]],
    model_args: dict[str, Any],
    steps: list[tuple[str, dict[str, Any]]],
) -> None:
    engine_model, fold_model = IterationCounter(**model_args), IterationCounter(**model_args)
    chart = chart_class(engine_model)
    config = table.initial
    assert set(config.states) == {s.id for s in chart.configuration}
    for event, payload in steps:
        try:
            chart.send(event, **payload)
            engine_took = True
        except TransitionNotAllowed:
            engine_took = False
        transition = table.select(config, event, fold_model, payload)
        assert (transition is not None) == engine_took, (event, payload, config)
        if transition is not None:
            config = table.apply(transition, fold_model, payload)
        assert set(config.states) == {s.id for s in chart.configuration}
        assert engine_model.iterations_completed == fold_model.iterations_completed
        assert table.is_final(config) == chart.is_terminated
        history = {h: [s.id for s in states] for h, states in chart.history_values.items()}
        assert {h: [s] for h, s in config.history} == history


@settings(max_examples=300, deadline=None)
@given(max_iterations=st.integers(1, 4), steps=event_steps)
def test_fold_equals_engine_on_random_sequences(
    max_iterations: int, steps: list[tuple[str, dict[str, Any]]]
) -> None:
    run_both(SESSION, SessionChart, {"max_iterations": max_iterations}, steps)


def test_configurations_are_interned() -> None:
    model = IterationCounter(max_iterations=5)
    config = SESSION.initial
    seen = []
    for event, payload in [
        ("started", {}),
        ("iteration_started", {"number": 1}),
        ("iteration_completed", {}),
        ("iteration_started", {"number": 2}),
    ]:
        transition = SESSION.select(config, event, model, payload)
        assert transition is not None
        config = SESSION.apply(transition, model, payload)
        seen.append(config)
    assert seen[1] is seen[3]
    assert SESSION.configuration(("running", "iterating")) is seen[1]


def test_configuration_from_snapshot_is_validated() -> None:
    assert SESSION.configuration(["paused"], {"h": "iterating"}).history == (("h", "iterating"),)
    for states, history in [
        ((), {}),
        (("nowhere",), {}),
        (("running",), {}),  # not a complete chain: running has sub-states
        (("idle",), {}),  # missing its parent
        (("paused",), {"h": "paused"}),  # history remembers a child of running only
        (("paused",), {"nope": "idle"}),
    ]:
        with pytest.raises(InvalidDefinition):
            SESSION.configuration(states, history)


def test_failing_guards_are_named() -> None:
    config = SESSION.configuration(("running", "idle"))
    (transition,) = SESSION.candidates(config, "iteration_started")
    assert transition.guard_names == ("iteration_is_next", "within_max_iterations")
    model = IterationCounter(max_iterations=1)
    assert transition.failing_guards(model, {"number": 2}) == (
        "iteration_is_next",
        "within_max_iterations",
    )
    assert transition.failing_guards(model, {"number": 1}) == ()


def test_final_states_accept_nothing() -> None:
    for final in ("completed", "failed"):
        config = SESSION.configuration((final,))
        assert SESSION.is_final(config)
        assert SESSION.allowed_events(config) == ()
        assert all(SESSION.candidates(config, e) == () for e in EVENTS)


# -- other charts: the compiler is not specific to SessionChart ---------------------------


def is_even(model: IterationCounter, n: int = 0) -> bool:
    return n % 2 == 0


def bump(model: IterationCounter) -> None:
    model.iterations_completed += 1


class Nested(StateChart[IterationCounter]):
    """Two levels of compound states, history at both, unless-guards, an external self-loop."""

    allow_event_without_transition = False
    catch_errors_as_events = False

    off = State(initial=True)

    class on(State.Compound):  # noqa: N801
        class low(State.Compound):  # noqa: N801
            a = State(initial=True)
            b = State()
            hl = HistoryState()
            hl.to(b)
            flip = a.to(b, cond=is_even) | b.to(a, unless=is_even)

        high = State()
        h = HistoryState()
        h.to(high)
        up = low.to(high, on=bump)
        down = high.to(low.hl)

    done = State(final=True)

    power = off.to(on) | on.to(off)
    back = Event(off.to(on.h), id="back")
    reset = on.to(on)  # external self-transition: exits and re-enters at the initial states
    tick = on.to(None)  # type: ignore[arg-type]  # a compound's `to` is typed as the metaclass's
    finish = off.to(done)


nested_steps = st.lists(
    st.tuples(
        st.sampled_from(["power", "back", "reset", "tick", "finish", "flip", "up", "down", "zz"]),
        st.fixed_dictionaries({"n": st.integers(0, 3)}),
    ),
    max_size=50,
)


@settings(max_examples=300, deadline=None)
@given(steps=nested_steps)
def test_fold_equals_engine_on_a_nested_chart(steps: list[tuple[str, dict[str, Any]]]) -> None:
    run_both(CompiledChart(Nested), Nested, {}, steps)


def test_unsupported_definitions_are_refused() -> None:
    class Parallel(StateChart[Any]):
        class p(State.Parallel):  # noqa: N801
            class r1(State.Compound):  # noqa: N801
                x = State(initial=True)
                y = State(final=True)
                go = x.to(y)

            class r2(State.Compound):  # noqa: N801
                u = State(initial=True)
                w = State(final=True)
                go2 = u.to(w)

    class NamedGuard(StateChart[Any]):
        a = State(initial=True)
        b = State(final=True)
        go = a.to(b, cond="ready")

        def ready(self) -> bool:
            return True

    class EnterAction(StateChart[Any]):
        a = State(initial=True)
        b = State(final=True, enter=bump)
        go = a.to(b)

    class Convention(StateChart[Any]):
        a = State(initial=True)
        b = State(final=True)
        go = a.to(b)

        def on_enter_b(self) -> None:
            pass

    class Deep(StateChart[Any]):
        class c(State.Compound):  # noqa: N801
            x = State(initial=True)
            h = HistoryState(type="deep")
            h.to(x)

        out = State(final=True)
        leave = c.to(out)

    class Eventless(StateChart[Any]):
        a = State(initial=True)
        b = State(final=True)
        a.to(b, cond=is_even)

    class NoDefault(StateChart[Any]):
        class c(State.Compound):  # noqa: N801
            x = State(initial=True)
            h = HistoryState()

        out = State()
        leave = c.to(out)
        back = out.to(c.h)

    class Delayed(StateChart[Any]):
        a = State(initial=True)
        b = State(final=True)
        go = Event(a.to(b), id="go", delay=10)

    for chart_class, words in [
        (Parallel, "parallel"),
        (NamedGuard, "must be a function"),
        (EnterAction, "enter callback"),
        (Convention, "on_enter_b"),
        (Deep, "deep history"),
        (NoDefault, "default transition"),
        (Eventless, "eventless"),
        (Delayed, "delayed"),
    ]:
        with pytest.raises(InvalidDefinition, match=words):
            CompiledChart(chart_class)


def test_guards_receive_the_event_and_any_keywords() -> None:
    seen: list[Any] = []

    def takes_everything(**kwargs: Any) -> bool:
        seen.append(kwargs)
        return True

    def takes_the_event(event: str) -> bool:
        seen.append(event)
        return True

    class Injected(StateChart[IterationCounter]):
        allow_event_without_transition = False
        catch_errors_as_events = False
        a = State(initial=True)
        b = State(final=True)
        go = a.to(b, cond=[takes_everything, takes_the_event])

    table = CompiledChart(Injected)
    model = IterationCounter()
    transition = table.select(table.initial, "go", model, {"x": 1})
    assert transition is not None
    assert seen == [{"x": 1, "model": model, "event": "go"}, "go"]


def test_internal_transitions_keep_the_compound_entered() -> None:
    class Internal(StateChart[IterationCounter]):
        allow_event_without_transition = False
        catch_errors_as_events = False

        class c(State.Compound):  # noqa: N801
            x = State(initial=True)
            y = State()
            h = HistoryState()
            h.to(x)

        out = State()
        dive = Event(c.to(c.y, internal=True), id="dive")  # type: ignore[arg-type]  # as above
        leave = c.to(out)
        back = out.to(c.h)

    table = CompiledChart(Internal)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("dive", {}),
        ("leave", {}),
        ("back", {}),
        ("dive", {}),
    ]
    run_both(table, Internal, {}, steps)


def test_nested_final_states_are_refused() -> None:
    class NestedFinal(StateChart[Any]):
        class c(State.Compound):  # noqa: N801
            x = State(initial=True)
            y = State(final=True)
            go = x.to(y)

        out = State(final=True)
        leave = c.to(out)

    with pytest.raises(InvalidDefinition, match="nested final"):
        CompiledChart(NestedFinal)
