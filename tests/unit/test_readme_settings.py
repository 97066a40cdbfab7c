"""The README's settings table is the one `membook settings --markdown` prints."""

from __future__ import annotations

from click.testing import CliRunner

from membook_app.cli.admin import settings_cmd
from tests.conftest import REPO_ROOT


def test_readme_lists_every_setting_as_generated() -> None:
    table = CliRunner().invoke(settings_cmd, ["--markdown"]).output.strip()
    assert table.count("\n") > 10
    assert table in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
