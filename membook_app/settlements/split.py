"""Split one allocation over the organisations on its invoice, to the cent (pure, no DB).

The rule (docs/settlements.md), which `runs.py` implements in SQL for the bulk path and
the tests compare against this module:

1. **Weights.** The invoice's lines are summed per organisation, together with the lines
   of the credit notes made at or before the allocation (which carry the same
   organisations), so a payment is split by what was still billed when it was made; money
   a credit note moved off the invoice is split by that note's lines, negated (the caller
   chooses the lines: `runs.py` and the property test). A negative sum counts as zero.
   The organisations are ordered by the position of their first line on the invoice
   (then by id).
2. **Fallback.** When no organisation has a positive weight (an invoice without lines,
   fully credited, or with zero lines only), the whole amount goes to the invoice's own
   organisation: money the member paid must land somewhere, and that is who billed it.
3. **Largest remainder (Hamilton).** For an amount A ≥ 0 and weights w with total T, each
   organisation first gets ⌊A·wᵢ/T⌋; the cents left over (fewer than the number of
   organisations) go one each to the largest remainders A·wᵢ mod T, ties to the earlier
   line position. The shares therefore always add up to A exactly, and a full payment
   (A = T) gives each organisation exactly its line amount.
4. **Sign symmetry.** A negative amount (a reversal) is split as −split(−A), so a reversal
   mirrors the payment it undoes cent for cent.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def split(amount: int, weights: Sequence[int]) -> list[int]:
    """Shares of ``amount`` in proportion to ``weights`` (non-negative, in tie order).

    ``sum(split(a, w)) == a`` for every ``a`` when some weight is positive, and
    ``split(-a, w) == [-s for s in split(a, w)]``.
    """
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    total = sum(weights)
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    if amount < 0:
        return [-share for share in split(-amount, weights)]
    bases = [amount * w // total for w in weights]
    remainders = [amount * w % total for w in weights]
    left = amount - sum(bases)
    # Largest remainder first; equal remainders in the given (line position) order.
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:left]:
        bases[i] += 1
    return bases


def org_weights(lines: Iterable[tuple[K, int, int]]) -> list[tuple[K, int]]:
    """Per-organisation weights from ``(organisation, amount_cents, position)`` lines.

    Lines of the invoice and of its credit notes are summed per organisation; a negative
    sum becomes 0 and zero weights are dropped. Ordered by (first position, organisation).
    """
    sums: dict[K, int] = {}
    first: dict[K, int] = {}
    for org, cents, position in lines:
        sums[org] = sums.get(org, 0) + cents
        first[org] = min(first.get(org, position), position)
    ordered = sorted(sums, key=lambda o: (first[o], o))
    return [(o, sums[o]) for o in ordered if sums[o] > 0]


def split_by_org(amount: int, lines: Iterable[tuple[K, int, int]], owner: K) -> dict[K, int]:
    """Each organisation's share of ``amount`` paid to an invoice with these lines.

    ``owner`` (the invoice's organisation) takes everything when no organisation has a
    positive weight. Organisations whose share is 0 are left out.
    """
    weights = org_weights(lines)
    if not weights:
        return {owner: amount} if amount else {}
    shares = split(amount, [w for _, w in weights])
    return {org: share for (org, _), share in zip(weights, shares, strict=True) if share}
