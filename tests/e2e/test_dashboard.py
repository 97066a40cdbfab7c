"""The treasurer's dashboard in the production build: landing, a chart, its figures, and
the register still reachable at its new address."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def test_treasurer_lands_on_dashboard_and_opens_figures(server: dict[str, str],
                                                        page: Page) -> None:
    base = server["base"]
    sign_in(page, base, "rahastonhoitaja@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)

    # The demo's 2027 invoice run is on the invoiced-against-paid chart: its only period,
    # so the default (no 2026 invoices) and no choice to make.
    expect(page.locator("#members-now")).not_to_be_empty(timeout=30_000)
    shares = page.locator("#shares-card")
    expect(shares.locator("#period-only")).to_have_text("2027")
    expect(page.locator("#latest-import")).to_be_visible()
    # The treasurer's share of the unmatched queue: a figure in euros, and the way to it.
    expect(page.locator("#unmatched-figure")).to_contain_text("€")
    expect(page.locator("#unmatched-queue-link")).to_be_visible()
    expect(shares.locator("svg.recharts-surface[role=application]")).to_be_visible()
    expect(shares.locator(".recharts-bar-rectangle").first).to_be_attached()
    money_tick = shares.locator(".recharts-cartesian-axis-tick-value", has_text="€").first
    expect(money_tick).to_be_visible()  # the money axis in Finnish form
    shot(page, "dashboard")

    page.locator("#shares-figures").click()
    table = page.locator("#shares-table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr").first).to_contain_text("€")
    shot(page, "dashboard-figures")
    page.locator("#shares-close").click()
    expect(table).to_have_count(0)

    weeks = page.locator("#weeks-card")
    expect(weeks.locator(".recharts-cartesian-axis-tick-value", has_text="vk ").first
           ).to_be_attached()
    page.locator("#weeks-figures").click()
    expect(page.locator("#weeks-table tbody tr")).to_have_count(12)
    expect(page.locator("#weeks-table tbody tr").first).to_contain_text("vk ")
    page.locator("#weeks-close").click()

    # The register moved to /admin/members; the sidebar leads there.
    page.get_by_role("link", name="Jäsenrekisteri").click()
    expect(page).to_have_url(f"{base}/admin/members", timeout=30_000)
    expect(page.locator("#register-table")).to_be_visible()
    expect(page.locator("#register-table tbody tr").first).to_be_visible()

    # On a phone the cards stack and the charts still draw.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/admin")
    chart = page.locator("#members-card svg.recharts-surface[role=application]")
    expect(chart).to_be_visible(timeout=30_000)
    box = page.locator("#members-card").bounding_box()
    assert box is not None and box["width"] <= 390
    shot(page, "dashboard-phone")
