"""Small pieces of generated English that every report shares, so a count agrees with its noun
wherever the book prints one."""
from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """"1 seed", "3 seeds", "1 lesion", "2 analyses" (``plural`` where adding "s" is wrong)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def ratio(value: float) -> str:
    """A compression ratio as the book writes it: "1,000:1" (a measured ratio to the nearest whole)."""
    return f"{value:,.0f}:1"


def listing(items, conjunction: str = "and") -> str:
    """"a", "a and b", "a, b and c"."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
