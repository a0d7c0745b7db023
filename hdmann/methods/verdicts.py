"""One verdict protocol for every claim the book tests: a published claim (:class:`Claim`), the
conditions it is decided on (:class:`Part`), and the record of the decision (:class:`Verdict`).

Every study declares its claims in code and returns :class:`Verdict` records; every verdict table
of a chapter, ``hdmann verdicts`` and the landing page render those records, so a claim reads the
same wherever it appears.

One vocabulary: *holds*, *does not hold*, *undecided* (the interval straddles the margin, or too few
seeds agree) and *not testable here* (this run has no condition that could decide it, with the
reason). A claim with several parts is decided on its testable parts by one rule (:func:`decide`):
it holds when every testable part holds, does not hold when any testable part does not, and says
which parts it could not test and why. A claim none of whose parts is testable is *not testable here*.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

from hdmann.methods.evaluation import FAILS, HOLDS, seeds_needed, UNDECIDED

NOT_TESTABLE = "not testable here"
DECIDED = (HOLDS, FAILS, UNDECIDED)
OUTCOMES = DECIDED + (NOT_TESTABLE,)

# what a held-out set that no choice touched says of a verdict decided elsewhere
CONFIRMS, NOT_DECIDED_THERE, CONTRADICTS, NO_VERDICT, NO_HELD_OUT = (
    "confirms", "undecided there", "contradicts", "no verdict to check", "no held-out set")
CHECKS = (CONFIRMS, NOT_DECIDED_THERE, CONTRADICTS, NO_VERDICT, NO_HELD_OUT)
_OPPOSITE = {HOLDS: FAILS, FAILS: HOLDS}


@dataclass(frozen=True)
class Claim:
    """A claim as its paper states it (or a question the book asks beyond the papers)."""

    id: str  # stable across builds: "A1", "B2", "X3"; the anchor of its row
    study: str  # "Study A", "Study B", "Beyond the papers"
    words: str  # the paper's words, or the book's question
    paper: str = "—"  # the paper's number or reading, as the paper gives it ("—": the paper gives none)
    chapter: str = ""  # the chapter that tests it (notebook name)
    short: str = ""  # a few words for the abstract ("accuracy flat to q20")

    def __post_init__(self) -> None:
        if not self.id or not self.words:
            raise ValueError(f"a claim needs an id and its words, got id={self.id!r}, words={self.words!r}")


class Rules:
    """A study's claims, each beside the function that decides it, in the order the book shows them.
    A new claim is one record: its :class:`Claim` and its rule, marked ``@RULES.decides(CLAIM)``."""

    def __init__(self) -> None:
        self._rules: dict[Claim, Callable] = {}

    def decides(self, claim: Claim) -> Callable:
        if any(c.id == claim.id for c in self._rules):
            raise ValueError(f"claim {claim.id} already has a rule: give the new claim its own id")

        def mark(rule: Callable) -> Callable:
            self._rules[claim] = rule
            return rule
        return mark

    @property
    def claims(self) -> tuple[Claim, ...]:
        return tuple(self._rules)

    def decide(self, cfg, data_root=None) -> list["Verdict"]:
        """Every claim's verdict, in declaration order: ``rule(cfg, data_root)`` for each."""
        return [rule(cfg, data_root) for rule in self._rules.values()]


@dataclass(frozen=True)
class Part:
    """One condition of a claim and its outcome; ``reason`` says why it is not testable here."""

    name: str
    outcome: str
    reason: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"part {self.name!r}: outcome {self.outcome!r} is not one of {OUTCOMES}")
        if self.outcome == NOT_TESTABLE and not self.reason:
            raise ValueError(f"part {self.name!r} is not testable here: say why (reason=...)")


def decide(parts: list[Part]) -> tuple[str, str]:
    """(outcome, untested): the claim's outcome from its testable parts, and a sentence naming the
    parts that could not be tested and why ("" when every part was tested)."""
    if not parts:
        raise ValueError("a claim is decided on at least one part")
    tested = [p.outcome for p in parts if p.outcome != NOT_TESTABLE]
    untested = "; ".join(f"{p.name}: not testable here, {p.reason}" for p in parts if p.outcome == NOT_TESTABLE)
    if not tested:
        return NOT_TESTABLE, untested
    if all(o == HOLDS for o in tested):
        return HOLDS, untested
    if any(o == FAILS for o in tested):
        return FAILS, untested
    return UNDECIDED, untested


def held_out_check(verdict: str, held_out: str | None) -> str:
    """What a held-out set's own outcome (by the same rule and seed agreement) says of ``verdict``:
    it confirms it (same outcome), contradicts it (the opposite), or is undecided there. A held-out
    set too small to decide a margin can refute a verdict but not establish one, so only a
    contradiction turns the reading; ``held_out`` None: the claim has no held-out set."""
    if held_out is None:
        return NO_HELD_OUT
    if verdict not in (HOLDS, FAILS):
        return NO_VERDICT
    if held_out == verdict:
        return CONFIRMS
    return CONTRADICTS if held_out == _OPPOSITE[verdict] else NOT_DECIDED_THERE


@dataclass(frozen=True)
class Effect:
    """The number a verdict rests on, with its 95 % interval and what it is."""

    what: str  # "accuracy change from originals at q20 (seed mean)"
    value: float
    low: float = math.nan
    high: float = math.nan
    digits: int = 3
    signed: bool = True
    shown: str = ""  # the value in words, where a number alone would not say it ("q20; accuracy: q5")

    def text(self) -> str:
        """"−0.012 (−0.048 to +0.021)"; a missing value reads "—", never nan."""
        if self.shown:
            return self.shown
        if not math.isfinite(self.value):
            return "—"
        fmt = f"{{:{'+' if self.signed else ''}.{self.digits}f}}"
        shown = fmt.format(self.value).replace("-", "−")
        if math.isfinite(self.low) and math.isfinite(self.high):
            low, high = (fmt.format(v).replace("-", "−") for v in (self.low, self.high))
            shown += f" ({low} to {high})"
        return shown


@dataclass(frozen=True)
class Verdict:
    """The record of one claim decided in one run: what every verdict table and the landing page show."""

    claim: Claim
    outcome: str
    effect: Effect | None  # the headline number, with its interval
    rule: str  # the decision rule, with its margin, in words
    parts: tuple[Part, ...] = ()
    untested: str = ""  # which parts could not be tested, and why (from :func:`decide`)
    margin: float | None = None
    seeds_agree: int | None = None  # seeds that reach the verdict on their own
    seeds: int | None = None  # training seeds behind it (None: no seed axis)
    seed_outcomes: tuple[str, ...] = ()  # each seed's own outcome, where decided seed by seed
    check: str = NO_HELD_OUT  # :func:`held_out_check`
    baseline: str = ""  # the shortcut or simpler model a skeptic would ask for, and where it stands
    condition: str = ""  # the condition decided on, when a claim is decided on more than one
    tag: str = ""  # the condition in two or three words, for lists ("at the paper's distortion")
    name: str = ""  # the condition as a name in results.json ("matched"): verdict_<id>_<name>
    details: str = ""  # further measured numbers (per level, per task), for the rule's fold
    values: dict = field(default_factory=dict)  # name -> number: every number the verdict rests on

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"claim {self.claim.id}: outcome {self.outcome!r} is not one of {OUTCOMES}")
        if self.check not in CHECKS:
            raise ValueError(f"claim {self.claim.id}: held-out check {self.check!r} is not one of {CHECKS}")
        if self.outcome == NOT_TESTABLE and not self.untested:
            raise ValueError(f"claim {self.claim.id} is not testable here: say why (untested=...)")

    @property
    def key(self) -> str:
        """A name for results.json: the claim id, and its condition's name where it has one."""
        return self.claim.id + (f"_{self.name}" if self.name else "")

    def seed_text(self) -> str:
        """"3 of 3" (seeds reaching the verdict), or "—" where there is no seed axis."""
        if self.seeds is None:
            return "—"
        if self.seeds_agree is None:
            return f"pooled over {self.seeds}"
        if self.outcome in (HOLDS, FAILS) or not self.seed_outcomes:
            return f"{self.seeds_agree} of {self.seeds}"
        counts = {o: self.seed_outcomes.count(o) for o in DECIDED if o in self.seed_outcomes}
        return ", ".join(f"{n} {o}" for o, n in counts.items())

    def as_dict(self) -> dict:
        return asdict(self)


def from_parts(claim: Claim, parts: list[Part], effect: Effect | None, rule: str, **fields) -> Verdict:
    """A :class:`Verdict` whose outcome is :func:`decide` of ``parts``."""
    outcome, untested = decide(parts)
    return Verdict(claim, outcome, effect, rule, parts=tuple(parts), untested=untested, **fields)


def with_seeds(v: Verdict, seed_outcomes: list[str], share: float) -> Verdict:
    """``v`` (decided on the seeds pooled) kept only when at least ``share`` of the seeds (rounded up)
    reach the same outcome on their own; else *undecided*. A not-testable verdict stays so."""
    n = len(seed_outcomes)
    if v.outcome == NOT_TESTABLE or n == 0:
        return replace(v, seeds=n or None, seeds_agree=None)
    agree = sum(o == v.outcome for o in seed_outcomes)
    outcome = v.outcome if v.outcome != UNDECIDED and agree >= seeds_needed(n, share) else UNDECIDED
    return replace(v, outcome=outcome, seeds=n, seeds_agree=agree, seed_outcomes=tuple(seed_outcomes))


def values(verdicts: list[Verdict], chapter: str, profile: str) -> list[dict]:
    """The verdicts as results.json values (``hdmann compare`` says which moved): each outcome,
    held-out check and untested part as text, each effect and its interval as numbers."""
    out = []

    def add(name, value):
        kind = "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else "text"
        out.append({"name": name, "chapter": chapter, "profile": profile, "type": kind, "value": value})

    for v in verdicts:
        add(f"verdict_{v.key}", v.outcome)
        add(f"verdict_{v.key}_check", v.check)
        if v.untested:
            add(f"verdict_{v.key}_untested", v.untested)
        if v.seeds is not None:
            add(f"verdict_{v.key}_seeds", v.seed_text())
        if v.effect is not None:
            for suffix, number in (("", v.effect.value), ("_low", v.effect.low), ("_high", v.effect.high)):
                if math.isfinite(number):
                    add(f"verdict_{v.key}_effect{suffix}", float(number))
        for name, number in v.values.items():
            if isinstance(number, (int, float)) and math.isfinite(number):  # a number not measured is no value
                add(f"verdict_{v.key}_{name}", number)
    return out
