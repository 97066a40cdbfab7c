"""The dashboard's chart data: the largest shares by short name with the rest as
"others", and weeks as Finns name them."""

from __future__ import annotations

from datetime import date

from membook_app.reports.dashboard import ShareFigure
from membook_app.ui.admin.dashboard import TOP_SHARES, share_chart, week_label


def _share(n: int, name: str, invoiced: int) -> ShareFigure:
    return ShareFigure(n, name, invoiced, 0, invoiced // 2, invoiced - invoiced // 2)


def test_top_shares_short_names_and_the_rest_as_others() -> None:
    shares = [_share(1, "Helsingin Latu ja Pohjoisen Ulkoilijat ry", 90_000),
              _share(2, "Piiri ry", 80_000)]
    shares += [_share(10 + n, f"Seura {n} ry", 1000 * (20 - n)) for n in range(10)]
    bars = share_chart(shares)
    assert len(bars) == TOP_SHARES + 1
    assert bars[0]["name"] == "Helsingin Latu…" and len(str(bars[0]["name"])) <= 16
    assert bars[1]["name"] == "Piiri"
    rest = shares[TOP_SHARES:]
    assert bars[-1] == {"name": f"muut / others ({len(rest)})",
                        "invoiced": sum(s.invoiced_cents for s in rest) / 100,
                        "paid": sum(s.paid_cents for s in rest) / 100,
                        "open": sum(s.open_cents for s in rest) / 100}
    assert sum(b["invoiced"] for b in bars) == sum(s.invoiced_cents for s in shares) / 100
    assert "muut / others" not in str(share_chart(shares[:TOP_SHARES]))


def test_week_labels() -> None:
    assert week_label(date(2026, 11, 23)) == "vk 48"
    assert week_label(date(2026, 12, 28)) == "vk 53"
    assert week_label(date(2027, 1, 4)) == "vk 1"
