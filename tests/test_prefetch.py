"""spermlab._prefetch.ahead: order, bounded look-ahead, errors carried to the caller, and a
worker that stops when the caller does."""

from __future__ import annotations

import threading
import time

import pytest

from spermlab._prefetch import ahead


def _workers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_yields_every_item_in_order():
    assert list(ahead(range(100), depth=3)) == list(range(100))
    assert list(ahead([], depth=1)) == []


def test_the_worker_stays_at_most_depth_items_ahead():
    produced = []

    def items():
        for k in range(30):
            produced.append(k)
            yield k

    lead = []
    for k in ahead(items(), depth=2, name="t-bounded"):
        time.sleep(0.005)  # a slow caller: the worker would run to the end if unbounded
        lead.append(len(produced) - (k + 1))
    # queued (2) plus the one the worker holds while it waits to queue it
    assert max(lead) <= 3
    assert lead[-1] == 0


def test_an_error_reaches_the_caller_at_its_item_with_its_type():
    def items():
        yield from range(3)
        raise ValueError("frame 3: truncated packet")

    got = []
    with pytest.raises(ValueError, match="frame 3: truncated packet"):
        for k in ahead(items(), name="t-error"):
            got.append(k)
    assert got == [0, 1, 2]
    assert not _workers("t-error")


def test_the_worker_stops_when_the_caller_stops():
    produced = []

    def items():
        for k in range(10_000):
            produced.append(k)
            yield k

    gen = ahead(items(), depth=2, name="t-stop")
    for k in gen:
        if k == 4:
            break
    gen.close()
    assert not _workers("t-stop")
    assert len(produced) <= 5 + 3


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth must be >= 1"):
        list(ahead(range(3), depth=0))
