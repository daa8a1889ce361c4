"""report.html as a test reads it: the data it carries (the browser itself: support.chromium_binary)."""

from __future__ import annotations

import json
from pathlib import Path

def page_data(page: Path) -> dict:
    """The data report.html carries (its JSON script element), parsed."""
    import re

    found = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', Path(page).read_text(), re.S)
    assert found, f"{page}: no page data"
    return json.loads(found.group(1))
