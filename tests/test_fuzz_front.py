"""The coverage-guided fuzzer (tests/fuzz/front.py) runs for a bounded time on every test run and finds
no input that makes the upgrade parser, the frame parser or the frame decoder raise.

It fuzzes for PARLEY_FUZZ_SECONDS seconds (10 by default, ~200,000 inputs); run it longer before a release
or after changing the parsers, e.g. PARLEY_FUZZ_SECONDS=600 python3 -m pytest tests/test_fuzz_front.py,
or call tests/fuzz/front.py directly with libFuzzer's flags.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECONDS = int(os.environ.get("PARLEY_FUZZ_SECONDS", "10"))


def test_coverage_guided_fuzzing_of_the_front_finds_nothing(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "fuzz" / "front.py"), f"-max_total_time={SECONDS}",
                             "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/"],
                            cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 110)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Done" in result.stderr, result.stderr[-3000:]
    assert not list(tmp_path.iterdir())  # no crash or timeout input was written
