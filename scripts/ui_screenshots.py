"""Refresh the web UI's screenshots in docs/ui/ (docs/ui.md shows them).

Runs the browser tests (tests/integration/test_ui_browser.py) with
PYTEMPORAL_UI_SCREENSHOTS set, so the pictures show the pages the tests just checked:

    python scripts/ui_screenshots.py          # needs /usr/bin/chromium (apt-get install chromium)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = {**os.environ, "PYTEMPORAL_UI_SCREENSHOTS": str(ROOT / "docs" / "ui")}
    test = ROOT / "tests" / "integration" / "test_ui_browser.py"
    return subprocess.call([sys.executable, "-m", "pytest", "-q", str(test)], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
