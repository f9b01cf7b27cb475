"""The page's state pieces unit-tested by Node's own test runner (tests/web/*.test.mjs: outbox, room cache,
composer rules, switcher matching, search words): no browser, no server, about a second."""

import shutil
import subprocess
from pathlib import Path

WEB_TESTS = Path(__file__).parent / "web"


def test_the_page_state_unit_tests_pass_under_node():
    node = shutil.which("node")
    assert node, "Node.js is needed for the page's unit tests (scripts/test installs what the suite needs)"
    run = subprocess.run([node, "--test", str(WEB_TESTS)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout, run.stdout[-2000:]
