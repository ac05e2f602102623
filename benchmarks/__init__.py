"""Benchmarks: run from the repository root as ``python -m benchmarks.<name>``.

Numerical libraries run on one thread here unless you set the variables
yourself (e.g. ``OPENBLAS_NUM_THREADS=2 python -m benchmarks.solver_bench``):
on small machines BLAS threads spinning against each other, or against a
second benchmark, make timings meaningless.  This must happen before NumPy is
imported, which is why it lives in the package's ``__init__``.
"""
import os as _os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    _os.environ.setdefault(_v, "1")
