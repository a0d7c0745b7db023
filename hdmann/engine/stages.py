"""Expensive results as named stages of one graph, keyed by provenance, run in parallel.

A stage is a pure function ``fn(cfg, *args, data_root=None)`` decorated with :func:`stage`: a
name, the parameters it reads from its config and data (``params``), and the stages it reads
(``reads``). Its cache key hashes those parameters, its arguments, the source of its code (less comments and docstrings: :func:`code_text`) and the
keys of the stages it reads (provenance chaining, as in Snakemake and showyourwork), so a change
upstream re-keys exactly what depends on it. Its code is not listed by hand: it is the module that
defines the stage plus every ``hdmann`` module that one imports, transitively (found by reading
the imports, :func:`code_closure`), less the modules that only present results (tables, figures,
wording: :func:`is_presentation`) and the config (whose values enter as fields).

A stage that writes files takes a keyword-only ``folder`` and returns nothing; calling it returns
the entry's folder. Any other stage returns a dict of arrays and JSON values, which calling it
returns (loaded from the cache after the first time).

:func:`run` builds a list of stage calls and everything they read: serially, in a local process
pool (``jobs``), or on a Dask cluster (``scheduler``) whose workers share one cache folder. With
``HDMANN_CACHE_READONLY=1`` (set by the book runner for the chapters whose stages ``hdmann run``
builds), a stage that is not in the cache raises :class:`StageMissing`, naming the command that
builds it, instead of computing inside a notebook kernel.

Turning a ``cache.cached(name, params, make, code=...)`` function into a stage: decorate it with
``@stage(name, params=lambda cfg, data_root: <params without the function's own arguments>,
reads=lambda cfg, **args: [<every stage its body calls>.on(cfg, ...)])``, make ``make``'s body the
function's body (returning the dict), and drop ``code=``. A ``cache.cached_dir`` function takes
``*, folder: Path`` and writes into it instead. Then list the call in its pipeline's ``stage_calls``,
which the chapter's declaration in its study's ``__init__`` returns.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hdmann.engine import cache, compute, config, data, digests, processes, progress, reads as checks
from hdmann.engine.provenance import _cpu_name

FORMAT = 1  # bump to re-key every stage when the way entries are written changes
READONLY_ENV = "HDMANN_CACHE_READONLY"
PACKAGE = Path(__file__).resolve().parents[1]  # hdmann/; modules are named from here ("engine.data")
# Not code of any stage: the cache machinery, progress lines, provenance, the configs (their values
# enter a key as fields; every study's ``config`` module too) and the whole book layer.
MACHINERY = frozenset({"engine.cache", "engine.compute", "engine.stages", "engine.config", "engine.progress",
                       "engine.provenance", "engine.digests", "engine.reads", "engine.processes"})
PRESENTATION = frozenset({"report", "figures", "plotting", "papers"})  # by a module's last name


class StageMissing(RuntimeError):
    """A stage a chapter reads is not in the cache, and this process may only read it."""


class StageFailed(RuntimeError):
    """A stage raised while ``hdmann run`` built it."""


def is_machinery(module: str) -> bool:
    """Modules that run, key or describe stages without computing a result: editing them re-keys nothing."""
    parts = module.split(".")
    study_config = len(parts) == 3 and parts[0] == "studies" and parts[2] == "config"
    return module in MACHINERY or parts[0] == "book" or study_config


def is_presentation(module: str) -> bool:
    """Modules that turn results into tables, figures and words: editing them re-keys nothing."""
    last = module.rsplit(".", 1)[-1]
    return last in PRESENTATION or last.endswith("_report")


# ------------------------------------------------------------------------------------------ code
_FINGERPRINTS: dict[str, str] = {}


def _hdmann_file(module: str) -> Path | None:
    """The source file of an ``hdmann`` module named without the package (``"engine.data"``);
    None for a package (its ``__init__`` declares, it computes nothing) or a name that is no module."""
    path = PACKAGE.joinpath(*module.split(".")).with_suffix(".py")
    return path if path.is_file() else None


def _source(module: str) -> Path:
    """The file of an ``hdmann`` module (named without the package) or of any importable module."""
    path = _hdmann_file(module)
    if path is not None:
        return path
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise ValueError(f"no source for module {module!r}")
    return Path(spec.origin)


def code_text(source: str) -> str:
    """A module's code without what does not run: comments, docstrings, blank lines and trailing
    spaces are dropped, so rewording a docstring or a comment re-keys no stage. Positions come from
    the tokenizer (comments) and the syntax tree (docstrings), whose columns every Python version
    reports alike, so a cluster of mixed versions still agrees on keys."""
    import io
    import tokenize

    lines = source.splitlines()
    cut: list[tuple[int, int, int, int]] = []  # (first line, first column, last line, end column), 1-based lines
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cut.append((tok.start[0], tok.start[1], tok.end[0], tok.end[1]))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                cut.append((first.lineno, first.col_offset, first.end_lineno, first.end_col_offset))
    for start_line, start_col, end_line, end_col in sorted(cut, reverse=True):
        head, tail = lines[start_line - 1][:start_col], lines[end_line - 1][end_col:]
        lines[start_line - 1:end_line] = [head + tail]
    return "\n".join(line.rstrip() for line in lines if line.strip())


def module_fingerprint(module: str) -> str:
    """Hash of one module's code (:func:`code_text`), once per process."""
    if module not in _FINGERPRINTS:
        text = code_text(_source(module).read_text(encoding="utf-8"))
        _FINGERPRINTS[module] = hashlib.sha256(text.encode()).hexdigest()
    return _FINGERPRINTS[module]


@functools.lru_cache(maxsize=None)
def imported_modules(module: str) -> frozenset[str]:
    """The ``hdmann`` modules that ``module``'s source imports anywhere (also inside functions)."""
    path = _source(module)
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise ValueError(f"{path}: a relative import (line {node.lineno}); import hdmann modules by their "
                             "full name, so a stage's code closure can follow them")
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("hdmann.") and _hdmann_file(name.removeprefix("hdmann.")) is not None:
                found.add(name.removeprefix("hdmann."))
    return frozenset(found - {module})


@functools.lru_cache(maxsize=None)
def code_closure(module: str) -> tuple[str, ...]:
    """``module`` and every ``hdmann`` module it imports, transitively, less machinery and presentation."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or is_machinery(name) or is_presentation(name):
            continue
        seen.add(name)
        todo.extend(imported_modules(name))
    return tuple(sorted(seen))


def code_fingerprint(module: str) -> str:
    h = hashlib.sha256()
    for name in code_closure(module):
        h.update(f"{name}:{module_fingerprint(name)};".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------- stages
REGISTRY: dict[str, "Stage"] = {}


def readonly() -> bool:
    return os.environ.get(READONLY_ENV, "") not in ("", "0")


@dataclass(frozen=True, eq=False)
class Call:
    """One stage applied to one config and arguments: a node of the graph."""
    stage: "Stage"
    cfg: Any
    args: tuple[tuple[str, Any], ...]

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)

    def label(self, drop_empty: bool = False) -> str:
        """``stage[profile, fields that differ from the profile's config, arguments]``; with
        ``drop_empty``, the arguments left at None or empty are not shown."""
        args = [(k, v) for k, v in self.args if not (drop_empty and v in (None, (), [], {}, ""))]
        shown = ", ".join(f"{k}={v!r}" for k, v in [*_changed_fields(self.cfg).items(), *args])
        return f"{self.stage.name}[{getattr(self.cfg, 'profile', '?')}{', ' + shown if shown else ''}]"

    def short_label(self, width: int = 90) -> str:
        """:meth:`label` for the log: empty arguments dropped, cut at ``width``."""
        text = self.label(drop_empty=True)
        return text if len(text) <= width else text[:width - 2] + "…]"

    def reads(self) -> list["Call"]:
        return list(self.stage.reads(self.cfg, **self.kwargs)) if self.stage.reads else []

    def declared(self, data_root=None) -> tuple[dict, list["Call"], checks.Recorder]:
        """The stage's ``params`` and the calls it ``reads``, with what they read on the way: the
        config fields (each enters the key) and the data files whose digests the params hash."""
        recorder = checks.Recorder()
        digests._RECORDERS.append(recorder.files)
        try:
            seen = checks.view(self.cfg, recorder)
            params = self.stage.parameters(seen, data_root, self.kwargs)
            upstream = list(self.stage.reads(seen, **self.kwargs)) if self.stage.reads else []
        finally:
            digests._RECORDERS.pop()
        return params, upstream, recorder

    def key(self, data_root=None, memo: dict | None = None) -> str:
        """Hash of the stage's parameters (with every config field its ``params`` and ``reads`` read),
        arguments, code and the keys of the stages it reads. ``memo`` keeps the keys already computed
        in one plan (a stage read by many is keyed once)."""
        ident = (self.stage.name, repr(self.cfg), self.args) if memo is not None else None
        if ident is not None and ident in memo:
            return memo[ident]
        params, upstream, recorder = self.declared(data_root)
        blob = {"format": FORMAT, "compute": compute.key_text(), "stage": self.stage.name,
                "params": cache._jsonable(params), "config": sorted([*k, v] for k, v in recorder.fields.items()),
                "args": cache._jsonable(self.kwargs), "code": code_fingerprint(self.stage.module),
                "reads": [c.key(data_root, memo) for c in upstream]}
        key = hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:20]
        if ident is not None:
            memo[ident] = key
        return key

    def folder(self, data_root=None, key: str | None = None) -> Path:
        return cache.entry_path(self.stage.name, key or self.key(data_root))

    def compute(self, data_root=None):
        return self.stage.compute(self, data_root)


def _changed_fields(cfg) -> dict:
    try:
        default = config.profile_default(cfg)
    except (AttributeError, ValueError):
        return {}
    return _differences(cfg, default) if default is not None else {}


def _differences(cfg, default, prefix: str = "") -> dict:
    """Fields of ``cfg`` that differ from ``default``; a nested config shows only its own changed
    fields (``study_a.train_seed=1003``), not its whole repr."""
    out = {}
    for f in dataclasses.fields(cfg):
        mine, theirs = getattr(cfg, f.name), getattr(default, f.name)
        if mine == theirs:
            continue
        if dataclasses.is_dataclass(mine) and type(mine) is type(theirs):
            out.update(_differences(mine, theirs, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = mine
    return out


class Stage:
    """See :func:`stage`."""

    def __init__(self, fn: Callable, name: str, params: Callable | None, reads: Callable | None):
        self.fn, self.name, self.params, self.reads = fn, name, params, reads
        self.module = fn.__module__.removeprefix("hdmann.")
        self.signature = inspect.signature(fn)
        self.writes_folder = "folder" in self.signature.parameters
        self.params_take_args = params is not None and len(inspect.signature(params).parameters) > 2

    def parameters(self, cfg, data_root, args: dict) -> dict:
        """``params(cfg, data_root)``, or ``params(cfg, data_root, **args)`` when it takes the stage's
        arguments too (a parameter that matters for some arguments only, e.g. one codec's preset)."""
        if not self.params:
            return {}
        if self.params_take_args:
            return self.params(cfg, data_root, **args)
        return self.params(cfg, data_root)

    def on(self, cfg, *args, **kwargs) -> Call:
        """The call ``fn(cfg, *args, **kwargs)`` as a graph node, without computing it."""
        kwargs.pop("data_root", None)
        cfg, args = checks.unwrap(cfg), tuple(checks.unwrap(a) for a in args)
        kwargs = {k: checks.unwrap(v) for k, v in kwargs.items()}
        bound = self.signature.bind_partial(cfg, *args, **kwargs)
        bound.apply_defaults()
        named = dict(bound.arguments)
        named.pop(next(iter(self.signature.parameters)))  # the config
        for drop in ("data_root", "folder"):
            named.pop(drop, None)
        return Call(self, cfg, tuple(sorted(named.items())))

    def compute(self, call: Call, data_root=None):
        outer = digests._GUARD
        digests._GUARD = None  # a stage read inside another's body: loaded from the cache, or built and checked as itself
        try:
            return self._compute(call, data_root)
        finally:
            digests._GUARD = outer

    def _compute(self, call: Call, data_root=None):
        if readonly():
            _keep_data_memo()
        keys: dict = {}  # the upstream keys computed for this key, reused for the meta's "reads"
        key = call.key(data_root, keys)
        if readonly() and not cache.is_cached(call.folder(data_root, key)):
            profile = getattr(call.cfg, "profile", "quick")
            raise StageMissing(
                f"stage {call.label()} is not in the cache ({cache.cache_root()}), and this chapter only reads "
                f"it ({READONLY_ENV}=1): build it first with `hdmann run {self.name} --profile {profile}` "
                "(`hdmann book` does that for every chapter it renders)")
        kwargs = call.kwargs
        params = self.parameters(call.cfg, data_root, kwargs)
        meta = {"_stage": {"name": self.name, "args": kwargs, "config": _config_record(call.cfg), "host": host_record(),
                           "code": list(code_closure(self.module)), "code_fingerprint": code_fingerprint(self.module),
                           "compute": compute.key_text(), "reads": [c.key(data_root, keys) for c in call.reads()]}}
        if self.writes_folder:
            return cache.cached_dir(self.name, params,
                                    lambda folder: _checked_body(call, data_root, folder=folder),
                                    key=key, extra_meta=meta)
        return cache.cached(self.name, params, lambda: _checked_body(call, data_root), key=key, extra_meta=meta)


def allowed_reads(call: Call, data_root=None, memo: dict | None = None) -> tuple[set, set]:
    """What ``call``'s body may read: the config values (class, field, value) and the data files
    (absolute paths) that its key hashes, directly or through the keys of the stages it reads."""
    memo = {} if memo is None else memo
    ident = (call.stage.name, repr(call.cfg), call.args)
    if ident not in memo:
        memo[ident] = (set(), set())  # a cycle is no stage graph; never recurse forever
        _, upstream, recorder = call.declared(data_root)
        fields = {(*k, v) for k, v in recorder.fields.items()}
        files = set(recorder.files)
        for other in upstream:
            more_fields, more_files = allowed_reads(other, data_root, memo)
            fields |= more_fields
            files |= more_files
        memo[ident] = (fields, files)
    return memo[ident]


def _checked_body(call: Call, data_root, **extra):
    """Run the stage's body; in the test tier and in smoke builds (:func:`hdmann.engine.reads.strict`)
    on a view of its config that refuses a field its key does not hash, with every data file a
    loader reads checked the same way."""
    stage, kwargs = call.stage, {**call.kwargs, **extra}
    outer = digests._GUARD
    if not checks.strict(call.cfg):
        return _one_thread(stage.fn, call.cfg, data_root=data_root, **kwargs)
    fields, files = allowed_reads(call, data_root)
    guard = checks.Guard(call.label(), fields, files)
    digests._GUARD = guard.read_file
    try:
        result = _one_thread(stage.fn, checks.view(call.cfg, guard), data_root=data_root, **kwargs)
    finally:
        digests._GUARD = outer
    guard.raise_if_violated()
    return result


def _keep_data_memo() -> None:
    """For the rest of this process, as inside :func:`hdmann.engine.data.memoized`. A process that only
    reads the cache (a chapter's kernel) keys every stage it reads, and each key lists and
    fingerprints its data again; the data cannot change under a chapter, so once is enough. Measured
    on the seeds page: 85 CPU s against 3. (Here, not in ``engine.data``, whose code keys the stages.)"""
    if data._MEMO is None:
        data._MEMO = {}


def _one_thread(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` with NumPy's BLAS on one thread, and JAX started on one XLA thread
    (:func:`hdmann.engine.compute.start_jax`).

    Stages run side by side, one per core (:func:`run`); a BLAS that also starts a thread per core
    makes them spin against each other on the small matrices stages multiply. Class addition's
    28 probe fits took 220 CPU s (112 s wall) on 2 threads of an idle 2-core machine and 16 s on
    one. With one XLA thread too, a stage's numbers do not depend on the machine's core count:
    a model trained here is bit for bit the one a one-CPU machine trains."""
    from threadpoolctl import threadpool_limits

    compute.start_jax()
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(*args, **kwargs)


def stage(name: str, *, params: Callable | None = None, reads: Callable | None = None):
    """Make ``fn(cfg, *args, data_root=None)`` a cached stage called ``name``.

    ``params(cfg, data_root)`` returns what the stage reads from its config and its data (config
    fields, a data fingerprint); its other arguments are added to the key by themselves (``params``
    may take them as keywords too, when a field matters for some arguments only).
    ``reads(cfg, **args)`` returns the stage calls (``other_stage.on(cfg, ...)``) it reads."""

    def wrap(fn: Callable) -> Callable:
        if name in REGISTRY and REGISTRY[name].fn.__qualname__ != fn.__qualname__:
            raise ValueError(f"two stages are named {name!r}")
        st = Stage(fn, name, params, reads)
        REGISTRY[name] = st

        @functools.wraps(fn)
        def call(cfg, *args, **kwargs):
            data_root = st.signature.bind_partial(cfg, *args, **kwargs).arguments.get("data_root")
            return st.compute(st.on(cfg, *args, **kwargs), data_root)

        call.stage = st
        call.on = st.on
        return call

    return wrap


# ----------------------------------------------------------------------------------------- graph
@dataclass
class Node:
    call: Call
    key: str
    reads: list[str]

    @property
    def folder(self) -> Path:
        return cache.entry_path(self.call.stage.name, self.key)


def plan(calls, data_root=None, memo: dict | None = None) -> dict[str, Node]:
    """Every call and what it reads, once each, upstream first. ``memo`` carries keys already
    computed into another plan (see :func:`folders_by_target`)."""
    nodes: dict[str, Node] = {}
    memo = {} if memo is None else memo

    def visit(call: Call) -> str:
        key = call.key(data_root, memo)
        if key not in nodes:
            upstream = [visit(c) for c in call.reads()]
            nodes[key] = Node(call, key, upstream)
        return key

    with data.memoized():
        for c in calls:
            visit(c)
    return nodes


def folders_by_target(calls_by_target: dict, data_root=None) -> dict[str, list[Path]]:
    """The cache folders of each target's calls and of everything they read. One key memo and one
    data memo serve every target, so a stage read by several targets is keyed once."""
    memo: dict = {}
    with data.memoized():
        return {name: [n.folder for n in plan(calls, data_root, memo).values()] for name, calls in calls_by_target.items()}


def host_record() -> dict:
    """Where an entry was built: the CPUs this process may use, the XLA thread pool, the instruction
    set, the CPU model and JAX's backend. The pool is in the key (:func:`hdmann.engine.compute.key_text`):
    with one XLA thread (the default) a model is the same to the bit on any core count. The
    instruction set and the CPU model are recorded, not hashed: one cache is meant to be shared by
    every machine of a cluster, and XLA may compile another instruction set's sums in another order,
    so a model trained on unlike hardware can still differ in its last bits. The book's verdicts
    are built to survive that (seeds, margins, ``hdmann verdicts``)."""
    import platform

    record = {"cpus": available_cpus(), "xla": compute.key_text(), "machine": platform.machine()}
    try:
        record["cpu"] = _cpu_name()
    except Exception:  # noqa: BLE001  (a record, never a reason to fail a build)
        pass
    jax = sys.modules.get("jax")  # only where the stage's code imported it: importing JAX costs seconds
    if jax is not None:
        try:
            compute.start_jax()  # asking for the backend starts it: on one XLA thread, as the stage will
            record["jax_backend"] = jax.default_backend()
        except Exception:  # noqa: BLE001
            pass
    return record


def _config_record(cfg) -> Any:
    return cache._jsonable(dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else repr(cfg))


def state(node: Node) -> str:
    """cached; stale (an entry of this stage with the same config and arguments but another key:
    its code, its data or a stage it reads changed); or missing."""
    if cache.is_cached(node.folder):
        return "cached"
    return "stale" if _previous(node) is not None else "missing"


def _previous(node: Node) -> dict | None:
    """The meta.json of the latest entry of ``node``'s stage with its config and arguments, if any."""
    wanted = json.dumps({"args": cache._jsonable(node.call.kwargs), "config": _config_record(node.call.cfg)},
                        sort_keys=True)
    found = []
    for meta in node.folder.parent.glob("*/" + cache.META):
        try:
            record = json.loads(meta.read_text())
            info = record.get("_stage") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if json.dumps({"args": info.get("args"), "config": info.get("config")}, sort_keys=True) == wanted:
            found.append((meta.stat().st_mtime, record))
    return max(found, key=lambda f: f[0])[1] if found else None


def _leaves(value, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): value}


def why_stale(node: Node, data_root=None, memo: dict | None = None) -> str:
    """What changed since the entry ``hdmann status`` calls stale was built: which data file, config
    field, code or stage it reads (``mias/labels.csv changed``); "" when it cannot tell."""
    old = _previous(node)
    if old is None:
        return ""
    info = old.get("_stage") or {}
    reasons = []
    params, upstream, _ = node.call.declared(data_root)
    before, now = _leaves(old.get("_params") or {}), _leaves(cache._jsonable(params))
    for name in sorted(set(before) | set(now)):
        if before.get(name) == now.get(name):
            continue
        files = (digests.manifest(before[name]), digests.manifest(now[name])) \
            if isinstance(before.get(name), str) and isinstance(now.get(name), str) else (None, None)
        if None not in files:
            changed = digests.changed_files(*files)
            reasons.append("data: " + ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else ""))
        else:
            reasons.append(f"{name}: {before.get(name)!r} -> {now.get(name)!r}")
    if info.get("code_fingerprint") not in (None, code_fingerprint(node.call.stage.module)):
        reasons.append("its code")
    if info.get("compute") not in (None, compute.key_text()):
        reasons.append(f"the XLA pool ({info.get('compute')} -> {compute.key_text()})")
    keys = set(info.get("reads") or [])
    for other in upstream:
        key = other.key(data_root, {} if memo is None else memo)
        if key not in keys:
            reasons.append(f"reads {other.short_label(60)}, which changed")
    return "; ".join(reasons)


def status(calls, data_root=None, explain: bool = True) -> list[dict]:
    """Each stage of the plan: cached, missing or stale, with what changed for a stale one (``why``)."""
    memo: dict = {}
    nodes = plan(calls, data_root, memo)
    rows = []

    with data.memoized():
        for n in nodes.values():
            row = {"stage": n.call.stage.name, "label": n.call.label(), "key": n.key, "state": state(n)}
            if explain and row["state"] == "stale":
                row["why"] = why_stale(n, data_root, memo)
            rows.append(row)
    return rows


def _spec(node: Node, data_root) -> tuple:
    return (node.call.stage.fn.__module__, node.call.stage.name, node.call.cfg, node.call.kwargs,
            None if data_root is None else str(data_root), str(cache.cache_root()))


STARTED_ENV = "HDMANN_STAGE_STARTED"  # a pool worker writes <folder>/<pid> = the key of the stage it builds
_BUSY = False  # a pool worker is building a stage (a signal then unwinds it; an idle worker just exits)


def execute(spec: tuple, *_upstream) -> dict:
    """Build one stage (in this process, a pool worker or a Dask worker); ``_upstream`` only orders
    it after the stages it reads. Returns its key, seconds, and whether this process built it
    (``built``: False when another process built it meanwhile, and this one only waited and loaded)."""
    global _BUSY
    module, name, cfg, kwargs, data_root, root = spec
    os.environ["HDMANN_CACHE"] = root
    os.environ.pop(READONLY_ENV, None)
    importlib.import_module(module)
    st = REGISTRY[name]
    start, cpu = time.perf_counter(), cpu_seconds()
    call = st.on(cfg, **kwargs)
    key = call.key(data_root)
    started = os.environ.get(STARTED_ENV)
    if started:
        try:
            Path(started, str(os.getpid())).write_text(key)
        except OSError:
            pass
    _tell_the_scheduler(key)
    progress.set_prefix(call.short_label())
    _BUSY = True
    try:
        st.compute(call, data_root)
    finally:
        _BUSY = False
        progress.set_prefix("")
        if started:  # gone: this worker did not die while building it
            Path(started, str(os.getpid())).unlink(missing_ok=True)
        if _STOPPING:  # stopped by a signal, its entry cleaned up on the way here: the worker is done
            os._exit(130)
    return {"key": key, "seconds": time.perf_counter() - start, "pid": os.getpid(),
            "cpu_seconds": cpu_seconds() - cpu, "built": str(call.folder(data_root, key)) in cache.BUILT}


DASK_TOPIC = "hdmann-stage"  # a Dask worker's event when it starts a stage: {"key", "worker"}


def _tell_the_scheduler(key: str) -> None:
    """On a Dask worker, tell the scheduler which stage this worker starts, so that a run whose worker
    is lost can say which stages the scheduler retries elsewhere."""
    if "distributed" not in sys.modules:  # a local process: no cluster to tell
        return
    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(DASK_TOPIC, {"key": key, "worker": worker.address})
    except Exception:  # noqa: BLE001  (not on a worker, or an older distributed: only a log line is lost)
        pass


def cpu_seconds() -> float:
    """User + system seconds of this process (all its threads) and of the children it has reaped
    (the forked coders of a stage), for a build's record of where its time went."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _same_key(node: Node, result: dict) -> dict:
    if result["key"] != node.key:
        raise StageFailed(f"stage {node.call.label()}: the worker computed key {result['key']}, this process "
                          f"{node.key}: the worker runs other code or sees other data (install the same hdmann "
                          "on every worker and give them the same data root)")
    return result


_STOPPING = False  # a signal is unwinding the stage: further signals (Ctrl-C to the group, then the runner's) wait


def _interrupt(signum, _frame) -> None:
    global _STOPPING
    if _STOPPING:
        return  # a second signal must not interrupt the clean-up of the first
    if _BUSY:  # unwind the stage: its half-written entry and its lock are removed, then the worker exits
        _STOPPING = True
        raise KeyboardInterrupt
    os._exit(128 + signum)  # idle between stages: nothing to clean up, and no traceback to print


def _worker_init(progress_file: str | None = None, started: str | None = None) -> None:
    # a terminated or interrupted worker unwinds (removing its half-written entry and lock) instead of
    # dying at once; SIGINT too, even where the runner was started with it ignored (a background job)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    processes.wake_main_thread_on((signal.SIGTERM, signal.SIGINT))  # a stage sleeping in C code learns of it at once
    processes.die_with_parent(signal.SIGTERM)  # the runner killed outright: its workers follow
    if progress_file:  # epoch lines go to the file the runner relays (hdmann.engine.progress)
        os.environ[progress.ENV] = progress_file
    if started:
        os.environ[STARTED_ENV] = started


def available_cpus() -> int:
    """The CPUs this process may run on (``taskset`` and containers narrow them)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def default_jobs() -> int:
    return available_cpus()


def run(calls, data_root=None, *, jobs: int | None = None, scheduler=None, log=print) -> dict:
    """Build ``calls`` and what they read, each stage once. ``jobs``: local worker processes
    (default: the cores; 1 runs in this process); ``scheduler``: a Dask scheduler address (or a
    ``distributed.Client``), whose workers must see this cache folder. Returns counts and times."""
    started = time.time()
    cache.usable_root()
    removed = cache.clean_stale_parts(started=started)
    if removed:
        log(f"removed {removed} half-written cache folder(s) left by an interrupted run")
    nodes = plan(calls, data_root)
    todo = {k: n for k, n in nodes.items() if not cache.is_cached(n.folder)}
    log(f"{len(nodes)} stage(s): {len(nodes) - len(todo)} cached, {len(todo)} to build")
    times: dict[str, float] = {}
    workers: dict[str, dict] = {}  # where each stage was built
    if todo:
        jobs = jobs or default_jobs()
        if scheduler is not None:
            times = _run_dask(nodes, todo, data_root, scheduler, log, workers)
        elif jobs == 1 or len(todo) == 1:
            previous_sink = progress._sink  # a kernel's stderr sink (hdmann.book.report) comes back afterwards
            if not os.environ.get(progress.ENV):
                progress.set_sink(lambda line: log("      " + line))
            try:
                for key, node in todo.items():
                    t0 = time.perf_counter()
                    try:
                        workers[key] = execute(_spec(node, data_root))
                    except (KeyboardInterrupt, StageMissing):
                        raise
                    except Exception as exc:
                        raise StageFailed(f"stage {node.call.label()} failed: {type(exc).__name__}: {exc}") from exc
                    times[key] = time.perf_counter() - t0
                    log(_built_line(len(times), len(todo), node, times[key], workers[key]))
            finally:
                progress.set_sink(previous_sink)
        else:
            times = _run_pool(nodes, todo, data_root, jobs, log, workers)
    elsewhere = {k for k in times if workers.get(k, {}).get("built") is False}  # built by another process meanwhile
    here = {k: t for k, t in times.items() if k not in elsewhere}
    summary = {"stages": len(nodes), "built": len(here), "built_elsewhere": len(elsewhere), "removed_parts": removed,
               "seconds": time.time() - started,
               "times": {nodes[k].call.label(): t for k, t in here.items()},
               "cpu": {nodes[k].call.label(): workers[k].get("cpu_seconds") for k in here if k in workers},
               "workers": {nodes[k].call.label(): w for k, w in workers.items()},
               "elsewhere": sorted(nodes[k].call.label() for k in elsewhere)}
    if todo:
        cpu = sum(workers[k].get("cpu_seconds") or 0.0 for k in here if k in workers)
        log(f"{len(here)} stage(s) built in {progress.duration(summary['seconds'])} ({progress.duration(cpu)} of CPU), "
            + (f"{len(elsewhere)} built by another process meanwhile, " if elsewhere else "")
            + f"{len(nodes) - len(todo)} already cached")
    return summary


def _built_line(count: int, total: int, node: "Node", seconds: float, result: dict | None = None) -> str:
    """One log line per finished stage: how far the build is, what finished, how long it took (or
    that another process built it while this run waited for it)."""
    if result is not None and result.get("built") is False:
        return f"  {count}/{total} {node.call.short_label()}: built by another process meanwhile (waited {progress.duration(seconds)})"
    return f"  {count}/{total} {node.call.short_label()}: {progress.duration(seconds)}"


def dependants(nodes: dict[str, Node]) -> dict[str, int]:
    """How many stages read each stage, directly or not. A pool starts the ready stage with the most
    first: the head of a long chain (a split, then a model, then all that reads the model) does not
    wait behind independent work, which would leave one worker idle at the end."""
    readers: dict[str, set[str]] = {k: set() for k in nodes}
    for key, node in nodes.items():
        for upstream in node.reads:
            readers[upstream].add(key)
    memo: dict[str, set[str]] = {}

    def below(key: str) -> set[str]:
        if key not in memo:
            memo[key] = set().union(*[{r} | below(r) for r in readers[key]]) if readers[key] else set()
        return memo[key]

    return {k: len(below(k)) for k in nodes}


WORKER_POLL_S = 1.0  # how often the runner looks for a pool worker that died outright


def _run_pool(nodes, todo, data_root, jobs, log, workers) -> dict[str, float]:
    # spawn: JAX is multithreaded, and a forked copy of a process that has started it can deadlock
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    size = min(jobs, len(todo))
    relay_file = Path(tempfile.gettempdir()) / f"hdmann-progress-{os.getpid()}-{time.time_ns()}.log"
    started = tempfile.mkdtemp(prefix=f"hdmann-started-{os.getpid()}-")  # which stage each worker builds
    relay = progress.Reporter(relay_file, log, heartbeat_s=float("inf")).__enter__()
    pool = ProcessPoolExecutor(size, mp_context=multiprocessing.get_context(method), initializer=_worker_init,
                               initargs=(str(relay_file), started))
    spawned: dict = {}  # every worker ever started, by pid (the pool forgets the dead ones)
    done = {k for k in nodes if k not in todo}
    running, times, begun = {}, {}, {}
    quiet_since = time.perf_counter()
    weight = dependants(nodes)
    todo = dict(sorted(todo.items(), key=lambda kv: -weight[kv[0]]))  # stable: plan order among equals
    try:
        while todo or running:
            for key, node in list(todo.items()):  # as many as there are workers, so the log says what runs
                if len(running) < size and all(r in done for r in node.reads):
                    begun[key] = time.perf_counter()
                    running[pool.submit(execute, _spec(node, data_root))] = key
                    del todo[key]
            spawned.update(getattr(pool, "_processes", None) or {})
            finished, _ = wait(running, timeout=WORKER_POLL_S, return_when=FIRST_COMPLETED)
            if not finished and any(p.exitcode is not None for p in spawned.values()):
                # a pool worker never ends while the pool lives: one that did died outright, and the pool
                # may not say so (its manager thread can miss a worker spawned after it began to wait)
                _raise_if_signalled(spawned)
                raise StageFailed(_died(nodes, started, spawned, list(running.values())))
            now = time.perf_counter()
            if not finished and now - max(quiet_since, relay.last_line) >= progress.HEARTBEAT_S:
                log("  still building: " + ", ".join(f"{nodes[k].call.short_label()} ({progress.duration(now - begun[k])})"
                                                    for k in running.values()))
                quiet_since = now
            for future in finished:
                key = running.pop(future)
                try:
                    workers[key] = _same_key(nodes[key], future.result())
                except StageFailed:
                    raise
                except BrokenProcessPool as exc:
                    _raise_if_signalled(spawned)
                    raise StageFailed(_died(nodes, started, spawned, [key, *running.values()])) from exc
                except Exception as exc:
                    raise StageFailed(f"stage {nodes[key].call.label()} failed: {type(exc).__name__}: {exc}") from exc
                done.add(key)
                times[key] = time.perf_counter() - begun[key]
                log(_built_line(len(times), len(times) + len(todo) + len(running), nodes[key], times[key], workers[key]))
    except BaseException:
        _stop_pool(pool)
        raise
    finally:
        relay.__exit__(None, None, None)
        shutil.rmtree(started, ignore_errors=True)
    pool.shutdown()
    return times


SIGNALLED_EXITS = {130, 128 + signal.SIGINT, 128 + signal.SIGTERM}  # how _interrupt and execute end a worker


def _raise_if_signalled(spawned: dict, grace_s: float = 2.0) -> None:
    """A worker that a signal stopped (Ctrl-C or ``kill -TERM`` to the process group) ends with one of
    :data:`SIGNALLED_EXITS`: the run was interrupted, not failed, even where the runner's own signal
    has not reached its main thread yet (on a loaded machine the pool can report first) or never will
    (a runner started as a background job ignores SIGINT). The pool can report a broken worker before
    its exit status can be read: each worker is given ``grace_s`` (together) to end."""
    deadline = time.monotonic() + grace_s
    for p in spawned.values():
        p.join(max(0.0, deadline - time.monotonic()))
    ended = [p.exitcode for p in spawned.values() if p.exitcode is not None]
    if ended and all(code in SIGNALLED_EXITS for code in ended):
        raise KeyboardInterrupt


def _died(nodes, started: str, spawned: dict, running: list[str]) -> str:
    """Which stage a worker that died outright (killed, out of memory) was building: each worker
    names its stage in ``started`` while it builds it, and only a worker killed outright leaves it."""
    by_key = {}
    for path in Path(started).glob("*"):
        try:
            by_key[path.read_text().strip()] = int(path.name)
        except (OSError, ValueError):
            continue
    lost = []
    for key, pid in by_key.items():
        process = spawned.get(pid)
        if key in nodes and (process is None or not process.is_alive()):
            lost.append((nodes[key].call.label(), pid, _exit_text(process.exitcode if process is not None else None)))
    if lost:
        return "; ".join(f"stage {label} failed: the worker process building it (pid {pid}) died ({how})"
                         for label, pid, how in lost) + "; the stages building beside it were stopped, finished ones are kept"
    labels = ", ".join(nodes[k].call.label() for k in running if k in nodes)
    return f"a worker process died outright while these stages were building: {labels}; finished ones are kept"


def _exit_text(code: int | None) -> str:
    if code is None:
        return "its exit status is unknown"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = ": out of memory, or killed from outside" if -code == signal.SIGKILL else ""
        return f"killed by {name}{why}"
    return f"exit status {code}"


def _stop_pool(pool: ProcessPoolExecutor, grace_s: float = 5.0) -> None:
    """Interrupt every worker (each removes its half-written entry), then make sure they are gone."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for p in processes:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGINT)
            except ProcessLookupError:  # it died meanwhile
                pass
    deadline = time.monotonic() + grace_s
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
    pool.shutdown(wait=False, cancel_futures=True)


DASK_POLL_S = 2.0  # how often a cluster run asks the scheduler which workers are there and what each runs


def _run_dask(nodes, todo, data_root, scheduler, log, workers) -> dict[str, float]:
    from distributed import Client
    from distributed import wait as dask_wait

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    futures, labels = {}, {}
    try:
        for key, node in todo.items():  # upstream first (plan's order)
            upstream = [futures[r] for r in node.reads if r in futures]
            f = client.submit(execute, _spec(node, data_root), *upstream, key=f"{node.call.stage.name}-{key}",
                              pure=False)
            futures[key], labels[f.key] = f, key
        times, pending = {}, set(futures.values())
        seen = _cluster_view(client, labels) or {}
        while pending:
            try:
                finished = dask_wait(list(pending), timeout=DASK_POLL_S, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                finished = set()
            now = _cluster_view(client, labels)
            if now is None:  # the scheduler did not answer this time
                continue
            for address in sorted(set(seen) - set(now)):  # a worker gone: the scheduler retries its stages elsewhere
                begun = _started_on(client, address)
                lost = [nodes[k].call.label() for k in dict.fromkeys([*seen[address], *begun])
                        if k in nodes and k not in times]
                log(f"  lost Dask worker {address}" + (f"; the scheduler retries the stage(s) it was running: {', '.join(lost)}"
                                                        if lost else " (it was running no stage)"))
            seen = {**{a: w for a, w in seen.items() if a in now}, **now}
            for f in finished:
                pending.discard(f)
                key = labels[f.key]
                try:
                    workers[key] = _same_key(nodes[key], f.result())
                    times[key] = workers[key]["seconds"]
                except StageFailed:
                    raise
                except Exception as exc:
                    raise StageFailed(f"stage {nodes[key].call.label()} failed on the cluster: "
                                      f"{type(exc).__name__}: {exc}") from exc
                log(_built_line(len(times), len(todo), nodes[key], times[key], workers[key]))
        return times
    except BaseException:
        client.cancel(list(futures.values()))
        raise
    finally:
        if client is not scheduler:
            client.close()


def _started_on(client, address: str) -> list[str]:
    """The stages a worker said it started (:func:`_tell_the_scheduler`), oldest first."""
    try:
        return [msg["key"] for _, msg in client.get_events(DASK_TOPIC)
                if isinstance(msg, dict) and msg.get("worker") == address]
    except Exception:  # noqa: BLE001
        return []


def _cluster_view(client, labels: dict) -> dict[str, list[str]] | None:
    """``{worker address: [keys of the stages it is running]}`` as the scheduler sees it now (None:
    no answer)."""
    try:
        workers = client.scheduler_info().get("workers", {})
        processing = client.processing()
    except Exception:  # noqa: BLE001  (a log line is no reason to stop a build)
        return None
    return {address: [labels[k] for k in processing.get(address, ()) if k in labels] for address in workers}
