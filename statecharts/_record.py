"""The base of every record: an immutable pydantic model that round-trips through JSON.

Records are frozen so that a state, an event or a progress snapshot handed to a
caller or a signal receiver can never be changed behind the manager's back, and
``extra="forbid"`` so that a misspelt payload field is an error, not silently dropped.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict

__all__ = ["Record"]

_new = object.__new__
_set = object.__setattr__


class Record(BaseModel):
    """An immutable, strictly validated pydantic model."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """Build from values that are already valid, giving *every* field, without validation.

        The hot path's ``model_construct``: the manager builds a record per event
        from fields it has validated already, and pydantic's ``model_construct``
        (which also fills defaults) costs three times as much.  Tests check that
        the result equals the validated model.
        """
        record = _new(cls)
        _set(record, "__dict__", values)
        _set(record, "__pydantic_fields_set__", set(values))
        _set(record, "__pydantic_extra__", None)
        _set(record, "__pydantic_private__", None)
        return record
