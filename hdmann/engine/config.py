"""The typed-config machinery every study's config uses: profiles, unstated fields, checked overrides.

``smoke`` keeps CI under its budget, ``quick`` is the CPU default, ``paper`` carries the
papers' stated settings (GPU-sized). Every field that the papers leave unstated is declared with
:func:`unstated` (field metadata saying why we chose its value), from which each chapter's
"what we chose" table is generated (:func:`hdmann.book.report.choices`).

``overrides`` (a notebook parameter; ``hdmann book --set SECTION.FIELD=VALUE``, or
``SECTION.PART.FIELD=VALUE`` for a field of a config's part such as ``study_b.patches``) change fields of a
profile through each study's builder (:func:`build`, :func:`merged`; by section name,
:func:`hdmann.studies.from_overrides`), checked against each field's type: an unknown field or a
value of the wrong type raises a ValueError naming the field and the valid ones.
"""
from __future__ import annotations

import dataclasses
import numbers
import types
import typing
from dataclasses import field
from typing import Any

PROFILES = ("smoke", "quick", "paper")
DEFAULT_PROFILE = "quick"


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")


def in_range(name: str, value: Any, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ValueError(f"{name}={value!r} is out of range: it must lie in [{low}, {high}]")


UNSTATED = "unstated"  # field metadata: why we chose a value the papers leave unstated
SCOPE = "scope"  # field metadata: the part of a study the field belongs to (e.g. "patches")


def unstated(default: Any, why: str, scope: str | None = None):
    """A field whose value the papers leave unstated; ``why`` is shown in the chapter's choices table."""
    return field(default=default, metadata={UNSTATED: why, **({SCOPE: scope} if scope else {})})


def unstated_fields(cfg, scope: str | None = None) -> dict[str, str]:
    """``{field: why}`` of the unstated fields of a config (class or instance) in ``scope``, in
    declaration order. ``scope`` names a section of the config (a field holding a config, e.g.
    ``patches``: that section's fields), or the fields declared with that scope; None: the fields
    without a scope outside the sections."""
    if scope is not None:
        for f in dataclasses.fields(cfg):
            if f.name == scope and f.default_factory is not dataclasses.MISSING:
                return unstated_fields(getattr(cfg, scope) if not isinstance(cfg, type) else f.default_factory())
    return {f.name: f.metadata[UNSTATED] for f in dataclasses.fields(cfg)
            if UNSTATED in f.metadata and f.metadata.get(SCOPE) == scope}


_BUILDERS: dict[type, Any] = {}


def builds(cls):
    """Marks a study's ``*_config(profile, ...)`` function as the builder of ``cls``, so that
    :func:`profile_default` (and the stage labels, which show only changed fields) can find it."""
    def mark(fn):
        _BUILDERS[cls] = fn
        return fn
    return mark


def profile_default(cfg):
    """``cfg``'s profile as its builder makes it, with no override (None: no registered builder)."""
    builder = _BUILDERS.get(type(cfg))
    return builder(cfg.profile) if builder else None


class Config:
    """What every config can do: become a dict (for cache keys) and give a changed copy.

    ``UNKEYED`` names the fields that cannot change a result (``workers``): a stage body may read them
    although no stage key hashes them (:mod:`hdmann.engine.reads`)."""

    UNKEYED: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)



def _type_text(tp) -> str:
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp)


def _checked(owner: str, name: str, value: Any, tp) -> Any:
    """``value`` as a field of type ``tp`` takes it (a list becomes a tuple, an int a float), or a
    ValueError naming the field and the type it needs."""
    def bad(detail: str = ""):
        return ValueError(f"{owner}.{name}={value!r} has the wrong type: {name} takes {_type_text(tp)}{detail}")

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in (a for a in args if a is not type(None)):
            try:
                return _checked(owner, name, value, arm)
            except ValueError:
                pass
        raise bad()
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad(" (a list, e.g. [1, 2])")
        each = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(value) != len(each):
            raise bad(f" ({len(args)} values)")
        try:
            return tuple(_checked(owner, name, v, a) for v, a in zip(value, each))
        except ValueError:
            raise bad() from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad(" (true or false)")
    if tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        raise bad()
    if tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return value
        raise bad()
    if isinstance(tp, type) and issubclass(tp, Config):
        if isinstance(value, tp):
            return value
        raise bad(f"; set its fields one by one instead (e.g. --set {name}.FIELD=VALUE)")
    return value


def _nested(overrides: dict) -> dict:
    """``{"patches.epochs": 3}`` -> ``{"patches": {"epochs": 3}}`` (a dict given for a section merges in)."""
    out: dict = {}
    for key, value in overrides.items():
        head, dot, rest = str(key).partition(".")
        if dot:
            out.setdefault(head, {})
            if not isinstance(out[head], dict):
                raise ValueError(f"{head} is set whole and field by field ({key}); set it field by field only")
            out[head] = {**out[head], **_nested({rest: value})}
        elif isinstance(value, dict) and isinstance(out.get(head), dict):
            out[head] = {**out[head], **value}
        else:
            out[head] = value
    return out


def _section_type(tp):
    return tp if isinstance(tp, type) and issubclass(tp, Config) and not any(
        f.name == "profile" for f in dataclasses.fields(tp)) else None


def _values(cls, base: dict, overrides: dict, path: str, renamed: dict) -> dict:
    """The field values of ``cls`` from a profile's ``base`` and checked ``overrides``; a section (a
    field whose type is a profile-less :class:`Config`) is built the same way from its own dicts."""
    overrides = _nested(overrides)
    fields = {f.name for f in dataclasses.fields(cls)}
    for old in sorted(set(overrides) & (set(renamed) - fields)):
        new = renamed[old]
        raise ValueError(f"{path}.{old} is now {path}.{new}: write --set {path}.{new}=VALUE, or in a notebook's "
                         f"overrides {{{path.split('.')[0]!r}: {{{'.'.join([*path.split('.')[1:], new])!r}: VALUE}}}}")
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}; known: {sorted(fields)}")
    if "profile" in overrides:
        raise ValueError(f"{cls.__name__}.profile cannot be overridden: choose the profile itself instead")
    hints = typing.get_type_hints(cls)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in base.items()}
    for name, value in overrides.items():
        section = _section_type(hints[name])
        if section is not None and isinstance(value, dict):
            continue
        values[name] = _checked(cls.__name__, name, value, hints[name])
    for name in fields:
        section = _section_type(hints[name])
        if section is not None and not isinstance(values.get(name), section):
            given = overrides.get(name) if isinstance(overrides.get(name), dict) else {}
            values[name] = section(**_values(section, values.get(name) or {}, given, f"{path}.{name}", {}))
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    return values


def build(cls, table, profile, overrides, section: str | None = None):
    """``cls`` in ``profile`` (``table[profile]``: field values, a dict for each section) with the
    checked ``overrides``; ``section`` (the config's ``--set`` name) words the message for a renamed field."""
    check_profile(profile)
    values = _values(cls, table[profile], overrides, section or cls.__name__, getattr(cls, "RENAMED", {}))
    return cls(profile=profile, **values)


def merged(section: str, overrides: dict | None, fields: dict, known=()) -> dict:
    """``overrides[section]`` (a chapter's ``{section: {field: value}}`` parameter) under ``fields``.
    ``overrides`` may also be that dict as JSON text, which is what ``papermill -p overrides '{...}'`` passes."""
    if isinstance(overrides, str):
        import json

        try:
            overrides = json.loads(overrides) if overrides.strip() else {}
        except ValueError as exc:
            raise ValueError(f"overrides {overrides!r} is not JSON ({exc}); write it as "
                             '\'{"study_a": {"hypervector_dim": 256}}\'') from None
        if not isinstance(overrides, dict):
            raise ValueError(f"overrides must be a JSON object of sections, e.g. "
                             f'{{"study_a": {{"hypervector_dim": 256}}}}, not {overrides!r}')
    overrides = overrides or {}
    unknown = set(overrides) - set(known)
    if known and unknown:
        raise ValueError(f"unknown config section(s) {sorted(unknown)}; known: {sorted(known)}")
    for name, values in overrides.items():
        if not isinstance(values, dict):
            raise ValueError(f"overrides[{name!r}] must be a dict of {name} fields, not {values!r}")
    return {**overrides.get(section, {}), **fields}



def parse_assignments(assignments) -> dict[str, dict[str, Any]]:
    """``["study_a.hypervector_dim=2000", ...]`` -> ``{"study_a": {"hypervector_dim": 2000}}``.
    Values are JSON literals (``2000``, ``0.5``, ``true``, ``null``, ``[15, 100]``), anything else a string."""
    import json

    out: dict[str, dict[str, Any]] = {}
    for text in assignments:
        target, sep, raw = text.partition("=")
        section, dot, name = target.strip().partition(".")
        if not sep or not dot or not section or not name:
            raise ValueError(f"--set {text!r}: write SECTION.FIELD=VALUE, e.g. study_a.hypervector_dim=2000 "
                             f"(SECTION is a study's config: study_a, study_b, ...)")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        out.setdefault(section, {})[name] = value
    return out



def flat_overrides(overrides: dict | None) -> dict[str, Any]:
    """``{"study_a": {"hypervector_dim": 2000}}`` -> ``{"study_a.hypervector_dim": 2000}``, sorted."""
    return {f"{s}.{k}": v for s, fields in sorted((overrides or {}).items()) for k, v in sorted(fields.items())}


def value_at(cfg, name: str) -> Any:
    """The value of field ``name`` of ``cfg``, where ``patches.size`` is field ``size`` of section ``patches``
    (a stage's ``params`` list fields by these names; read through a view, each part is recorded)."""
    for part in name.split("."):
        cfg = getattr(cfg, part)
    return cfg
