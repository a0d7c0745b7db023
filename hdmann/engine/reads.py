"""What a stage reads, declared once and checked: config fields and data files.

A stage's key hashes what its ``params`` and ``reads`` functions read (:mod:`hdmann.engine.stages`).
They read the config through a :class:`ConfigView` that records every field they touch, so every
field a stage declares enters its key by construction, and the data files whose digests they
fingerprint (:func:`hdmann.engine.data.fingerprint_files`) are recorded too (:mod:`hdmann.engine.digests`).

What the body then reads is checked in the test tier and in smoke builds (:func:`strict`): it gets a
view of its config that raises :class:`UndeclaredRead`, naming the stage and the field, when the body
reads a field whose value is in neither its own key nor the key of a stage it reads, and every data
file a loader reads is checked against the files those keys hash. Fields that cannot change a result
(``workers``: how many processes code images) are named in the config class's ``UNKEYED``.

Machinery, not code of any stage (:data:`hdmann.engine.stages.MACHINERY`): editing it re-keys nothing.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import os
import types
from typing import Any
from hdmann.engine import cache

STRICT_ENV = "HDMANN_STRICT"


class UndeclaredRead(RuntimeError):
    """A stage body read a config field or a data file that its key does not hash."""


def strict(cfg) -> bool:
    """Check what stage bodies read? ``$HDMANN_STRICT`` (1/0) decides; unset, smoke builds check."""
    value = os.environ.get(STRICT_ENV, "").strip()
    if value:
        return value not in ("0", "false", "no")
    return getattr(unwrap(cfg), "profile", None) == "smoke"


def unwrap(value):
    """The config under a view (anything else unchanged)."""
    while isinstance(value, ConfigView):
        value = object.__getattribute__(value, "_cfg")
    return value


def _is_config(value) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def canon(value) -> str:
    return json.dumps(cache._jsonable(value), sort_keys=True, default=repr)


def unkeyed(cls) -> frozenset:
    return frozenset(getattr(cls, "UNKEYED", ()))


class Recorder:
    """What ``params`` and ``reads`` read: ``fields`` {(class, field): canonical value}, ``files``."""

    def __init__(self):
        self.fields: dict[tuple[str, str], str] = {}
        self.files: set[str] = set()

    def read(self, cfg, name: str, value, free: frozenset) -> None:
        if name not in unkeyed(type(cfg)):
            self.fields[(type(cfg).__name__, name)] = canon(value)


class Guard:
    """Checks what a stage body reads against what the keys hash (``allowed``: {(class, field, value)})."""

    def __init__(self, stage: str, allowed: set[tuple[str, str, str]], files: set[str]):
        self.stage, self.allowed, self.files = stage, allowed, files
        self.violations: list[str] = []
        self._seen: dict[tuple[int, str], bool] = {}

    def read(self, cfg, name: str, value, free: frozenset) -> None:
        if name in free or name in unkeyed(type(cfg)):
            return
        mark = (id(cfg), name)
        if mark not in self._seen:
            self._seen[mark] = (type(cfg).__name__, name, canon(value)) in self.allowed
        if not self._seen[mark]:
            self.fail(f"stage {self.stage} reads {type(cfg).__name__}.{name} (= {value!r}), which its key does not "
                      f"hash: add {name!r} to the fields its params declare (a stage's params read the config "
                      f"fields that enter its key), or name it in {type(cfg).__name__}.UNKEYED if it cannot change "
                      "a result")

    def read_file(self, path: str) -> None:
        if path not in self.files:
            self.fail(f"stage {self.stage} reads the data file {path!r}, which its key does not hash: fingerprint "
                      "it in the stage's params (data.fingerprint_files), or in those of a stage it reads")

    def fail(self, message: str) -> None:
        self.violations.append(message)
        raise UndeclaredRead(message)

    def raise_if_violated(self) -> None:
        """After the body: a violation the body caught and went past still fails the stage."""
        if self.violations:
            raise UndeclaredRead(self.violations[0])


class ConfigView:
    """A config as ``params``, ``reads`` or a checked body sees it: every field read goes to
    ``state.read`` (a :class:`Recorder` or a :class:`Guard`); nested configs are views too, methods
    and properties run on the view, ``replace`` gives a view (the fields it sets are free to read).
    ``isinstance`` sees the config's class; pickling gives the plain config."""

    __slots__ = ("_cfg", "_state", "_free")

    def __init__(self, cfg, state, free: frozenset = frozenset()):
        object.__setattr__(self, "_cfg", unwrap(cfg))
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_free", frozenset(free))

    @property
    def __class__(self):  # isinstance(view, StudyAConfig) holds
        return type(object.__getattribute__(self, "_cfg"))

    def __getattr__(self, name: str):
        cfg = object.__getattribute__(self, "_cfg")
        state = object.__getattribute__(self, "_state")
        if name.startswith("__"):
            return getattr(cfg, name)
        names = {f.name for f in dataclasses.fields(cfg)}
        if name in names:
            value = getattr(cfg, name)
            if _is_config(value):
                return ConfigView(value, state)
            state.read(cfg, name, value, object.__getattribute__(self, "_free"))
            return value
        if name == "replace":
            return self._replace
        if name == "to_dict":  # a record of the whole config (a model's config.json), not a read of its values
            return cfg.to_dict
        attr = inspect.getattr_static(type(cfg), name, None)
        if isinstance(attr, property):
            return attr.fget(self)
        if isinstance(attr, (staticmethod, classmethod)):
            return getattr(cfg, name)
        if isinstance(attr, types.FunctionType):
            return types.MethodType(attr, self)
        return getattr(cfg, name)

    def _replace(self, **changes):
        cfg = object.__getattribute__(self, "_cfg")
        plain = {k: unwrap(v) for k, v in changes.items()}
        return ConfigView(cfg.replace(**plain), object.__getattribute__(self, "_state"),
                          object.__getattribute__(self, "_free") | set(changes))

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __repr__(self) -> str:
        return repr(object.__getattribute__(self, "_cfg"))

    def __eq__(self, other) -> bool:
        return object.__getattribute__(self, "_cfg") == unwrap(other)

    def __hash__(self) -> int:
        return hash(object.__getattribute__(self, "_cfg"))

    def __reduce__(self):
        cfg = object.__getattribute__(self, "_cfg")
        return (_plain, (cfg,))


def _plain(cfg):
    return cfg


def view(cfg, state, free=()) -> Any:
    """``cfg`` seen through ``state`` (anything that is not a config is returned as it is)."""
    cfg = unwrap(cfg)
    return ConfigView(cfg, state, frozenset(free)) if _is_config(cfg) else cfg
