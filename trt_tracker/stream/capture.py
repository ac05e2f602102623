"""The capture thread: reads a source into a bounded queue (DESIGN §4, STYLE 10).

Live sources use a *latest-frame* queue: when it is full the oldest frame is
dropped (and counted), so the tracker always works on the newest frame and
latency stays bounded.  File sources use *lossless* mode: the reader waits
for room instead, so every frame is tracked.  ``stop()`` sets an event,
wakes both sides and the thread is joined with a timeout; the source is
closed in the thread's ``finally``.
"""
from __future__ import annotations

import os
import threading
import time
from collections import deque

from .frame import FrameSource

_END = object()


class FrameQueue:
    """A bounded queue with a named overflow policy: ``"drop_oldest"`` or ``"block"`` (lossless)."""

    def __init__(self, maxsize: int, policy: str = "drop_oldest"):
        if maxsize < 1:
            raise ValueError("queue size must be >= 1")
        if policy not in ("drop_oldest", "block"):
            raise ValueError(f"unknown overflow policy {policy!r}")
        self.maxsize, self.policy = int(maxsize), policy
        self._items: deque = deque()
        self._cv = threading.Condition()
        self._closed = False
        self.drops = 0

    def put(self, item) -> bool:
        """Add an item; False if the queue was closed (the item is discarded)."""
        with self._cv:
            if self.policy == "block":
                while len(self._items) >= self.maxsize and not self._closed:
                    self._cv.wait(0.1)
            if self._closed:
                return False
            if len(self._items) >= self.maxsize:
                self._items.popleft()
                self.drops += 1
            self._items.append(item)
            self._cv.notify_all()
            return True

    def get(self, timeout: float | None = None):
        """The oldest item, or ``_END`` once closed and empty; raises TimeoutError after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cv:
            while not self._items:
                if self._closed:
                    return _END
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError("no frame within the timeout")
                self._cv.wait(0.1 if left is None else min(left, 0.1))
            item = self._items.popleft()
            self._cv.notify_all()
            return item

    def get_nowait(self):
        """The oldest item, None when the queue is open and empty, ``_END`` once closed and empty."""
        with self._cv:
            if not self._items:
                return _END if self._closed else None
            item = self._items.popleft()
            self._cv.notify_all()
            return item

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def __len__(self) -> int:
        return len(self._items)


class CaptureThread:
    """``CaptureThread(source, lossless=None)``; iterate it (or :meth:`poll` it) for frames; ``stop()`` ends it.

    ``lossless`` defaults to ``not source.live``.  An exception in the source
    (e.g. :class:`~trt_tracker.stream.frame.SourceDisconnected`) ends the
    stream and is re-raised to the consumer after the frames read before it.
    ``on_frame`` (optional) is called from the capture thread after each
    queued frame and at the end: a consumer of several cameras waits on one
    event instead of on each queue.  ``cpus``: the CPUs the thread may run on (default: its creator's).
    """

    END = _END

    def __init__(self, source: FrameSource, lossless: bool | None = None, maxsize: int | None = None,
                 on_frame=None, cpus=None):
        self.source = source
        self.cpus = cpus
        self.on_frame = on_frame
        self.lossless = (not source.live) if lossless is None else bool(lossless)
        self.queue = FrameQueue(maxsize or (2 if self.lossless else 1), "block" if self.lossless else "drop_oldest")
        self.error: BaseException | None = None
        self.frames_read = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trt-tracker-capture", daemon=True)

    def start(self) -> "CaptureThread":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            if self.cpus:             # a thread inherits its creator's CPUs: a pinned tracker gives back all
                os.sched_setaffinity(0, self.cpus)
            for frame in self.source:
                if self._stop.is_set() or not self.queue.put(frame):
                    break
                self.frames_read += 1
                if self.on_frame is not None:
                    self.on_frame()
        except BaseException as e:  # handed to the consumer
            self.error = e
        finally:
            self.queue.close()
            if self.on_frame is not None:
                self.on_frame()
            try:
                self.source.close()
            except Exception:
                pass

    @property
    def drops(self) -> int:
        return self.queue.drops

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is _END:
                if self.error is not None and not self._stop.is_set():
                    raise self.error
                return
            yield item

    def poll(self):
        """The next frame if one is waiting, None if not yet, :attr:`END` at the end of the stream (after
        which the source's error, if it failed, is raised)."""
        item = self.queue.get_nowait()
        if item is _END and self.error is not None and not self._stop.is_set():
            raise self.error
        return item

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop reading and join; True if the thread ended within ``timeout`` seconds."""
        self._stop.set()
        self.queue.close()
        try:
            self.source.close()   # wakes a reader blocked in the device
        except Exception:
            pass
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
