"""Percentages as the published reports print them: rounded half up, never half to even.

Python's `round()` rounds half to even, so 15 of 24 (62.5%) would come out as 62 where the
report printed 63. Exact values stay exact elsewhere; only display text is rounded, here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def half_up_percent(numerator: int, denominator: int, decimals: int) -> str:
    """`numerator / denominator` as a percentage with `decimals` places, ties rounded up."""
    assert denominator > 0, "a percentage of nobody has no value"
    assert decimals >= 0
    exact = Decimal(100 * numerator) / Decimal(denominator)
    return str(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def half_up(value: float, places: int, scale: int = 1) -> str:
    """`value * scale` with `places` decimals, ties rounded up. Scaled in decimal, not in
    floating point: a share of 0.285 is 28.5%, shown as 29, where 0.285 * 100 would give 28."""
    exact = Decimal(str(value)) * scale
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
