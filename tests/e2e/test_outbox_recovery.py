"""The operator settles mail stuck in 'sending' on /admin/outbox in the production build."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from membook_app.db import session_scope
from models import OutboxMessage, utcnow
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def test_operator_sends_a_stuck_message_again(server: dict[str, str], page: Page) -> None:
    url, base = server["DATABASE_URL"], server["base"]
    with session_scope(url) as s:
        stuck = OutboxMessage(to_address="jumissa@example.fi", subject="Lasku 1000999",
                              text_body="Hei", kind="invoice", status="sending", attempts=1,
                              created_at=utcnow() - timedelta(hours=1))
        s.add(stuck)
        s.flush()
        stuck_id = stuck.id

    sign_in(page, base, "operaattori@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/outbox")
    expect(page.locator("#outbox-table")).to_contain_text("jumissa@example.fi", timeout=30_000)
    page.locator(f"#resend-{stuck_id}").click()
    expect(page.locator("#outbox-notice")).to_contain_text("jonossa uudelleen")
    expect(page.locator(f"#resend-{stuck_id}")).to_have_count(0)
    expect(page.locator("#outbox-table")).to_contain_text("jonossa / queued")
    shot(page, "outbox-stuck-resent")
    with session_scope(url) as s:
        message = s.get(OutboxMessage, stuck_id)
        assert message is not None and message.status == "queued"
