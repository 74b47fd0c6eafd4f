"""Charts other than SessionChart, to show the diagrams work for any chart class."""

from __future__ import annotations

from typing import Any

from statemachine import HistoryState, State, StateChart


class TrafficLight(StateChart[Any]):
    """Flat: guards (``cond`` and ``unless``), several events on one transition, a self-loop."""

    green = State(initial=True)
    yellow = State()
    red = State()
    off = State(final=True)

    cycle = green.to(yellow) | yellow.to(red) | red.to(green, unless="broken")
    rush = green.to(red, cond=["is_late", "not broken"], event="hurry panic")
    blink = yellow.to(yellow, internal=True)  # to itself
    tick = red.to(None)
    shutdown = red.to(off)

    def is_late(self) -> bool:
        """A guard named by string."""
        return True

    def broken(self) -> bool:
        """A guard used through ``unless``."""
        return False


class Factory(StateChart[Any]):
    """Nested: a compound inside a compound, deep history, a parallel state, nested finals."""

    idle = State(initial=True)

    class working(State.Compound):  # noqa: N801
        """Two levels of nesting, with a deep history."""

        class machining(State.Compound):  # noqa: N801
            """The inner compound."""

            cutting = State(initial=True)
            drilling = State()
            swap = cutting.to(drilling) | drilling.to(cutting)

        inspecting = State()
        hist = HistoryState(type="deep")
        hist.to(machining)
        inspect = machining.to(inspecting)
        again = inspecting.to(machining)

    class shipping(State.Parallel):  # noqa: N801
        """Two regions running at once."""

        class packing(State.Compound):  # noqa: N801
            """First region."""

            boxing = State(initial=True)
            boxed = State(final=True)
            seal = boxing.to(boxed)

        class billing(State.Compound):  # noqa: N801
            """Second region."""

            invoicing = State(initial=True)
            paid = State(final=True)
            pay = invoicing.to(paid)

    done = State(final=True)

    start = idle.to(working)
    interrupt = working.to(idle)
    resume = idle.to(working.hist)
    ship = working.inspecting.to(shipping)
    deliver = shipping.to(done)
    note = working.to(None)  # type: ignore[arg-type]  # a compound's `to` is typed as the metaclass's


CHARTS = (TrafficLight, Factory)
