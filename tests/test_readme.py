"""README's tables are generated from the code: they cannot drift."""

import re

from benchlib.config import keys_table
from benchlib.settings import variables_table

from support import ROOT


def section(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(rf"<!-- {name}: [^>]*-->\n(.*?)\n<!-- /{name} -->", text, re.S)
    assert found, f"README.md has no generated {name} table"
    return found.group(1)


def test_the_models_conf_key_table_matches_the_profile_fields():
    assert section("keys") == keys_table(), "README's key table is stale; paste benchlib.config.keys_table()"


def test_the_variable_table_matches_the_settings():
    assert section("variables") == variables_table(), "README is stale; paste benchlib.settings.variables_table()"
