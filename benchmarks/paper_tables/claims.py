"""Formatting of the tables and their claims: the papers' relative and absolute changes (``fmt_rel``,
``fmt_abs``), numbers and markdown tables (``fmt``, ``md_table``), :class:`Claims` (each claim of a paper a table
tests, marked agrees / DISAGREES with its likely reason) and the shared claim texts and checks."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .run import Run


def fmt_rel(value: float, ref: float, digits: int = 1) -> str:
    """The papers' relative change: ``"↓18.4%"`` (lower than ``ref``), ``"↑3.0%"``, ``"±0.0%"``."""
    if not (np.isfinite(value) and np.isfinite(ref)) or ref == 0:
        return ""
    pct = 100.0 * (value - ref) / abs(ref)
    mag = f"{abs(pct):.{digits}f}%"
    if float(mag[:-1]) == 0:
        return "±" + mag
    return ("↓" if pct < 0 else "↑") + mag


def fmt_abs(value: float, ref: float, digits: int = 1) -> str:
    """Seed 002's absolute change: ``"↓7.0"``, ``"↑1.1"``, ``"±0.0"``."""
    if not (np.isfinite(value) and np.isfinite(ref)):
        return ""
    d = value - ref
    mag = f"{abs(d):.{digits}f}"
    if float(mag) == 0:
        return "±" + mag
    return ("↓" if d < 0 else "↑") + mag


def fmt(v: float, digits: int = 1) -> str:
    return "-" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


class Claims:
    """The papers' claims a table tests, each marked agrees / DISAGREES; the likely reasons listed once."""

    def __init__(self, reason: str = ""):
        self.items: list[dict] = []
        self.reason = reason

    def check(self, claim: str, ok, detail: str = "", reason: str | None = None) -> None:
        if ok is None:
            self.items.append({"claim": claim, "agrees": None, "detail": detail or "not measurable here"})
            return
        item = {"claim": claim, "agrees": bool(ok), "detail": detail}
        if not ok:
            item["likely_reason"] = reason if reason is not None else self.reason
        self.items.append(item)

    def markdown(self) -> list[str]:
        out = ["Paper's claims tested here:", ""]
        reasons: list[str] = []
        # Preconditions (without which the comparisons mean little) first.
        for c in sorted(self.items, key=lambda c: not c["claim"].startswith("(precondition)")):
            tag = "n/a" if c["agrees"] is None else ("agrees" if c["agrees"] else "**DISAGREES**")
            line = f"- {tag}: {c['claim']}"
            if c.get("detail"):
                line += f" ({c['detail']})"
            r = c.get("likely_reason")
            if r:
                if r not in reasons:
                    reasons.append(r)
                line += f" [reason {reasons.index(r) + 1}]"
            out.append(line)
        if reasons:
            out += ["", "Likely reasons for the disagreements:", ""]
            out += [f"{i + 1}. {r}" for i, r in enumerate(reasons)]
        return out


def _detail(a: float, b: float, paired: str = "", digits: int = 1) -> str:
    return f"{fmt(a, digits)} vs {fmt(b, digits)}" + (f"; {paired}" if paired else "")



def _paired(a: list[float], b: list[float]) -> str:
    """Mean of per-sequence differences a - b and its standard error (test-set sampling noise only)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return ""
    return f"paired difference {d.mean():+.1f} ± {d.std(ddof=1) / np.sqrt(len(d)):.1f} mm s.e. over {len(d)} sequences"


NO_MOTION_REASON = (
    "the temporal networks output almost zero displacement at this budget: with the L1 loss of Eq. 6 on mostly "
    "small frame-to-frame motions (log-uniform gaps of 1-60 frames at 50 fps), ~0 is what they fit before they learn "
    "to see motion in the stacked pair. Until that is fixed in the temporal training, the Displ Error columns cannot "
    "rank the variants; the Bone Error columns can")
NOT_MEASURABLE = "not measurable: the temporal networks learnt no motion (see the precondition)"


def _check_learnt_motion(cl: Claims, displ: dict[str, float], zero: float, fps: str, tol: float = 0.01) -> bool:
    """Flag temporal networks whose Displ Error is that of predicting no motion (they rank nothing)."""
    flat = [k for k, v in displ.items() if abs(v - zero) <= tol * zero]
    cl.check(f"(precondition) the temporal networks have learnt displacements at {fps} fps: Displ Error below "
             f"that of D = 0 by more than {100 * tol:g}%", not flat,
             f"D = 0 gives {fmt(zero)} mm" + (f"; within {100 * tol:g}% of it: {', '.join(flat)}" if flat else ""),
             NO_MOTION_REASON)
    return not flat


def _budget_reason(run: Run, steps: int) -> str:
    s = run.s
    start = "from the shipped body pose network" if s.init_from_pose else "from scratch"
    return (f"small training budget ({steps} steps x batch {s.batch_size} = {steps * s.batch_size} samples {start} at "
            f"{s.input_size} px, ResNet-10 x{s.width}, {s.input_size // 4} x {s.input_size // 4} maps): the "
            "networks are far from converged, so the ranking reflects how fast each variant starts to learn "
            "more than where it would converge, and differences of a few % are within run-to-run noise")

