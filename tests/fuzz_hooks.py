"""Schemathesis hooks of the suite's fuzzing: some drawn strings carry a character that a database or a page refuses.

Random text seldom holds a NUL, a control character or a lone surrogate in a
field the server stores, so the fuzzer is helped: half of the bodies and
queries it draws get one such character put into one of their strings (that
is how it finds defect 2 of issue 9, a NUL that PostgreSQL refuses). Loaded
by ``SCHEMATHESIS_HOOKS=tests.fuzz_hooks`` (``tests/test_openapi_fuzz.py``).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import strategies as st

IN_A_URL = ["\x00", "\x07", "\x1b", "\x85"]  # what a query can carry (percent-encoded as UTF-8)
IN_JSON = [*IN_A_URL, "\udfff"]  # and JSON too: a lone surrogate, escaped


def _strings(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The paths of every string in a JSON value."""
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _strings(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _strings(item, (*path, index))]
    return []


def _with(value: Any, path: tuple[Any, ...], character: str) -> Any:
    if not path:
        return value[: len(value) // 2] + character + value[len(value) // 2 :]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _with(value[path[0]], path[1:], character)
    return copy


def _spiked(value: Any, refused: list[str]) -> st.SearchStrategy[Any]:
    paths = _strings(value)
    if not paths:
        return st.just(value)
    spiked = st.builds(lambda path, character: _with(value, path, character), st.sampled_from(paths), st.sampled_from(refused))
    return st.one_of(st.just(value), spiked)


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
    return _spiked(body, IN_JSON)


@schemathesis.hook
def flatmap_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
    return _spiked(query, IN_A_URL)
