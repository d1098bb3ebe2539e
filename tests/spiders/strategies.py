"""Hypothesis strategies for what sources send: any JSON value, and response bodies that may not be JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st


def json_values(
    keys: Sequence[str] = (),
    *,
    max_items: int = 4,
    max_keys: int = 4,
    nan: bool = False,
    max_leaves: int = 100,
) -> st.SearchStrategy[Any]:
    """Any JSON value. Objects are keyed by ``keys`` (a source's own field names, so a parser meets them at
    any depth and with any type) or, without keys, by any short text."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=nan) | st.text(max_size=20)
    names = st.sampled_from(list(keys)) if keys else st.text(max_size=10)
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=max_items) | st.dictionaries(names, children, max_size=max_keys)
        ),
        max_leaves=max_leaves,
    )


def bodies(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Response bodies: any bytes (a proxy's page, a cut-off download), or one of ``values`` as JSON."""
    return st.binary(max_size=200) | values.map(lambda value: json.dumps(value).encode())
