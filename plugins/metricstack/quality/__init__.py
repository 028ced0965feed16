"""Data quality gates (Great Expectations checkpoints) between build and publish.

Importing this package is cheap: Great Expectations is imported only when a gate runs.
"""

from metricstack.quality.gate import (
    ExpectationOutcome,
    FailedExpectation,
    GateFailed,
    GateResult,
    enforce_gate,
    open_context,
    run_gate,
    run_gate_task,
)

__all__ = [
    "ExpectationOutcome",
    "FailedExpectation",
    "GateFailed",
    "GateResult",
    "enforce_gate",
    "open_context",
    "run_gate",
    "run_gate_task",
]
