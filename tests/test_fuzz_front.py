"""The coverage-guided fuzzer (tests/fuzz/front.py) runs for a bounded time on every test run and finds
no input that makes the upgrade parser, the frame parser or the frame decoder raise."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_coverage_guided_fuzzing_of_the_front_finds_nothing(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz" / "front.py"), "-max_total_time=10",
                             "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done" in result.stderr, result.stderr[-3000:]
    assert not list(tmp_path.iterdir())  # no crash or timeout input was written
