"""What a scenario reports: metrics with their targets, as plain data that survives JSON.

A scenario returns a `ScenarioResult`: named metrics (value, unit, and the
target of issue 6 when there is one), notes that say how the numbers were
made (sizes scaled down, extrapolations), and free-form details for the JSON
file. Targets are judged only on full runs: `--quick` uses tiny sizes, where
"met" would mean nothing.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Metric",
    "ScenarioResult",
    "Target",
    "format_value",
    "median",
    "percentile",
]


@dataclass(frozen=True)
class Target:
    """A goal for one metric: `value` is an upper bound ("<=") or a lower bound (">=")."""

    op: str  # "<=" or ">="
    value: float
    text: str  # as the issue states it, e.g. "under 2 s"

    def met_by(self, value: float) -> bool:
        if self.op == "<=":
            return value <= self.value
        if self.op == ">=":
            return value >= self.value
        raise ValueError(f"unknown target operator {self.op!r}")


@dataclass(frozen=True)
class Metric:
    """One number a scenario measured."""

    name: str
    value: float | None
    unit: str = ""
    target: Target | None = None
    note: str = ""

    def verdict(self, *, quick: bool) -> str:
        """ "met", "missed", "" (no target) or "not judged" (quick run, no value)."""
        if self.target is None:
            return ""
        if quick or self.value is None:
            return "not judged"
        return "met" if self.target.met_by(self.value) else "missed"

    @property
    def shown(self) -> str:
        return format_value(self.value, self.unit)


@dataclass
class ScenarioResult:
    """A scenario's outcome: "ok", "not run" (with the reason) or "failed" (with the error)."""

    name: str
    title: str
    quick: bool
    status: str = "ok"
    reason: str = ""
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(
        self,
        name: str,
        value: float | None,
        unit: str = "",
        *,
        target: Target | None = None,
        note: str = "",
    ) -> None:
        self.metrics.append(Metric(name, value, unit, target, note))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioResult:
        metrics = []
        for m in data.get("metrics", []):
            target = m.get("target")
            metrics.append(
                Metric(
                    name=m["name"],
                    value=m.get("value"),
                    unit=m.get("unit", ""),
                    target=Target(**target) if target else None,
                    note=m.get("note", ""),
                )
            )
        return cls(
            name=data["name"],
            title=data.get("title", data["name"]),
            quick=bool(data.get("quick")),
            status=data.get("status", "ok"),
            reason=data.get("reason", ""),
            metrics=metrics,
            notes=list(data.get("notes", [])),
            details=dict(data.get("details", {})),
            seconds=float(data.get("seconds", 0.0)),
        )


def format_value(value: float | None, unit: str) -> str:
    """A number for the table: three significant digits or so, thousands separated."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        text = f"{value:,.0f}"
    elif magnitude >= 100:
        text = f"{value:.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    if not unit:
        return text
    if unit in ("x", "%"):
        return f"{text}{unit}"
    return f"{text} {unit}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0..1) of `values`."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[rank - 1])
