"""The one backend interface (DESIGN §5).

A backend runs one exported graph: ``infer({input name: array}) -> {output name: array}``
with NumPy (or, for GPU backends, CuPy) arrays.  It knows nothing of pose:
pre- and post-processing live in ``stream/``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


class BackendError(RuntimeError):
    """A backend cannot be used: library, GPU or model file missing or unusable."""


@dataclass(frozen=True)
class TensorSpec:
    """An input or output: name, shape (None for a dynamic axis) and NumPy dtype name."""

    name: str
    shape: tuple
    dtype: str

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


def _dtype_name(a) -> str:
    """The NumPy name of an array's dtype: NumPy, CuPy (``numpy.dtype``) or torch (``torch.float32``)."""
    return str(a.dtype).replace("torch.", "")


class Backend(ABC):
    """A loaded graph.  The contract lives here, not in each backend:

    * ``infer(feeds)`` checks that the backend is open and that the inputs match ``inputs`` (names,
      dtypes, ranks, static dimensions; NumPy, CuPy or torch arrays, NumPy ones made contiguous),
      then calls the backend's ``_infer``;
    * ``close()`` is idempotent and calls ``_close`` once; ``infer`` after it is a
      :class:`BackendError`, never an ``AttributeError``.

    Loading happens in the constructor; use as a context manager or call ``close()``.
    Subclasses set ``name``, ``inputs`` and ``outputs`` and implement ``_infer`` (and ``_close``).
    """

    name: str = "backend"
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    _closed: bool = False

    def infer(self, feeds: dict) -> dict:
        if self._closed:
            raise BackendError(f"{self.name}: infer() after close(); open the model again")
        feeds = {k: (np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v) for k, v in feeds.items()}
        self.check_feeds(feeds)
        return self._infer(feeds)

    @abstractmethod
    def _infer(self, feeds: dict) -> dict:
        """Run the graph on checked inputs: {output name: array}."""

    def _close(self) -> None:
        """Free what the backend holds (called once)."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_feeds(self, feeds: dict) -> None:
        """Clear errors for missing/extra inputs and wrong ranks, dtypes or static dimensions."""
        want = {s.name: s for s in self.inputs}
        missing = sorted(set(want) - set(feeds))
        extra = sorted(set(feeds) - set(want))
        if missing or extra:
            raise BackendError(f"{self.name}: inputs {sorted(feeds)} do not match the model's {sorted(want)}"
                               + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else ""))
        for n, spec in want.items():
            a = feeds[n]
            if not all(hasattr(a, x) for x in ("dtype", "shape", "ndim")):
                raise BackendError(f"{self.name}: input {n!r} must be an array (NumPy, CuPy or torch), "
                                   f"got {type(a).__name__}")
            if _dtype_name(a) != np.dtype(spec.dtype).name:
                raise BackendError(f"{self.name}: input {n!r} must be {spec.dtype}, got {_dtype_name(a)}")
            shape = tuple(a.shape)
            if a.ndim != len(spec.shape) or any(s is not None and s != d for s, d in zip(spec.shape, shape)):
                raise BackendError(f"{self.name}: input {n!r} must have shape {spec.shape} (None: any), got {shape}")
