"""The package as pip builds it: the web page's files are all in it (tests run from the source tree, which
has them anyway)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_manifest_icons_are_packaged(tmp_path):
    """What the page needs is in the built package (package-data in pyproject.toml): the manifest, the
    emoji font and the icons an installable app must have. Built from the last commit (git archive)."""
    src = tmp_path / "src"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True).stdout
    src.mkdir()
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    build = tmp_path / "lib"
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                    "--build-lib", str(build)], cwd=src, check=True, capture_output=True)
    assert (build / "parley/web/manifest.webmanifest").exists()
    assert (build / "parley/web/fonts/twemoji.woff2").exists()
    missing = [p for p in ("icon-192.png", "icon-512.png", "maskable-512.png")
               if not (build / "parley/web/icons" / p).exists()]
    assert not missing, f"not in the built package: {missing}"
    shutil.rmtree(src)
