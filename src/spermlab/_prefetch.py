"""Run an iterator a few items ahead in a worker thread (decode and detect while the main
thread links and measures).

Written here because the standard library has the parts (``threading``, ``queue``) but no
bounded, exception-carrying, cancellable iterator of this kind; ``concurrent.futures``
maps over a known list and would read the whole video ahead.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["ahead"]

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def ahead(items: Iterable[T], depth: int = 2, *, name: str = "spermlab-ahead") -> Iterator[T]:
    """Yield ``items`` in order while a worker thread produces up to ``depth`` more.

    The work of producing an item (decoding a frame, a network's forward pass, NumPy) runs
    in the worker; most of it releases the GIL, so on two cores it overlaps with what the
    caller does with the previous item. At most ``depth`` items wait at any time, so memory
    stays flat. An exception raised while producing an item is raised here, at that item,
    with its traceback; when the caller stops early (``break``, an exception, ``close()``)
    the worker stops after the item it is producing.

    Parameters
    ----------
    items : iterable
    depth : int
        Items produced ahead of the caller (>= 1).
    name : str
        The worker thread's name.

    Examples
    --------
    >>> list(ahead(x * x for x in range(5)))
    [0, 1, 4, 9, 16]
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # carried to the caller, raised there
            put(_Failure(exc))

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
