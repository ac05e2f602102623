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


class Backend(ABC):
    """``load`` happens in the constructor; use as a context manager or call ``close()``."""

    name: str = "backend"
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    @abstractmethod
    def infer(self, feeds: dict) -> dict:
        ...

    def close(self) -> None:
        pass

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
            if a.dtype != np.dtype(spec.dtype):
                raise BackendError(f"{self.name}: input {n!r} must be {spec.dtype}, got {a.dtype}")
            if a.ndim != len(spec.shape) or any(s is not None and s != d for s, d in zip(spec.shape, a.shape)):
                raise BackendError(f"{self.name}: input {n!r} must have shape {spec.shape} (None: any), got {a.shape}")
