"""The relay bench's quick mode runs end to end: a real server process, real aiortc peers, both paths.

Only sane invariants are checked (frames delivered, stamps read, latencies finite and positive): speed depends
on the machine and is the bench's to report, not this test's to judge.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_quick_bench_measures_relay_and_direct() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.relay_bench", "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "relay − direct" in run.stdout
    result = json.loads(run.stdout.strip().splitlines()[-1])
    (scenario,) = result["scenarios"]
    for path in ("relay", "direct"):
        measured = scenario[path]
        assert measured["codec"] == "VP8"
        assert measured["stamps_read"] > 0
        assert measured["unmatched"] == 0
        fps = [v for by_sender in measured["delivered_fps"].values() for v in by_sender.values()]
        assert fps and all(v > 0 for v in fps)
        for key in ("p50", "p90"):
            value = measured["latency_ms"][key]
            assert value is not None and math.isfinite(value) and value > 0
        assert measured["latency_ms"]["p50"] <= measured["latency_ms"]["p90"]
    server_ms = scenario["relay"]["server_cpu_ms_per_frame"]
    assert server_ms is not None and math.isfinite(server_ms) and server_ms > 0
    assert scenario["direct"]["server_cpu_ms_per_frame"] is None
    assert math.isfinite(scenario["relay_minus_direct_ms"]["p50"])
