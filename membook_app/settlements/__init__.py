"""Weekly settlements: each organisation's share of the money members paid, paid out of
the escrow account (docs/settlements.md)."""
