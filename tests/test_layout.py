"""The package's layout: engine < methods < studies < book, no import circle, and a new study is
one folder plus one line."""
from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

import hdmann
from hdmann import studies
from hdmann.book import graph, registry

PACKAGE = Path(hdmann.__file__).resolve().parent
LAYERS = ("engine", "methods", "studies", "book")  # each may import only from those before it


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """The ``hdmann`` modules a file imports, at the top or inside functions (not for type checking)."""
    modules = {_module_name(p, package) for p in package.rglob("*.py")}
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                     for a in node.names]
        else:
            names = []
        found.update(n for n in names if n.startswith("hdmann.") and n in modules)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found - {_module_name(path, package)}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def test_every_module_lives_in_a_layer():
    stray = [m for m in _graph() if _layer(m) < 0 and m not in ("hdmann", "hdmann.resources")]
    assert stray == [], f"modules outside engine/methods/studies/book: {stray}"


def test_no_layer_imports_a_higher_one():
    upward = [(m, i) for m, imports in _graph().items() for i in imports if _layer(i) > _layer(m)]
    assert upward == [], "a lower layer imports a higher one: " + ", ".join(f"{m} -> {i}" for m, i in upward)


def test_no_import_circle():
    edges, state, circles = _graph(), {}, []

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target] if target in path else [module, target])
            elif target not in state:
                walk(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            walk(module, [module])
    assert circles == [], "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_layer_check_sees_an_upward_import(tmp_path):
    """The checks above can fail: an engine module importing the book at the top or inside a
    function is seen; an import for type checking only is not."""
    package = tmp_path / "hdmann"
    for rel in ("__init__.py", "book/registry.py", "methods/models.py", "studies/study_a/config.py"):
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text("")
    probe = package / "engine" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("from hdmann.book import registry\nfrom typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    from hdmann.studies.study_a import config\n"
                     "def later():\n    from hdmann.methods import models\n")
    imports = _imports(probe, package)
    assert imports == {"hdmann.book.registry", "hdmann.methods.models"}
    assert all(_layer(i) > _layer("hdmann.engine.probe") for i in imports)  # both are upward


TOY_INIT = '''
"""A toy study: what a new study adds."""
from hdmann.studies import Chapter

CONFIG = ("toy", "toy_config")


def stages(profile, overrides=None):
    from hdmann.studies.toy_study import pipeline
    from hdmann.studies.toy_study.config import toy_config

    return pipeline.stage_calls(toy_config(profile, overrides))


CHAPTERS = (Chapter("toy_chapter", "Toy part", ("isic4",), ("toy",), stages),)
'''
TOY_CONFIG = '''
from dataclasses import dataclass

from hdmann.engine.config import DEFAULT_PROFILE, Config, build, builds, in_range
from hdmann.studies import merged


@dataclass(frozen=True)
class ToyConfig(Config):
    profile: str = DEFAULT_PROFILE
    n: int = 2

    def __post_init__(self):
        in_range("n", self.n, 1, 10)


_PROFILES = {"smoke": dict(n=1), "quick": dict(), "paper": dict(n=5)}


@builds(ToyConfig)
def toy_config(profile=DEFAULT_PROFILE, overrides=None, **fields):
    return build(ToyConfig, _PROFILES, profile, merged("toy", overrides, fields))
'''
TOY_PIPELINE = '''
from hdmann.engine.stages import stage


@stage("toy/count", params=lambda cfg, data_root: {"n": cfg.n})
def count(cfg, data_root=None):
    return {"n": cfg.n}


def stage_calls(cfg):
    return [count.on(cfg)]
'''


@pytest.fixture
def toy_study(tmp_path, monkeypatch):
    """A study folder outside the package, on the studies' search path, and its one line in STUDIES."""
    from hdmann.engine import stages

    folder = tmp_path / "toy_study"
    folder.mkdir()
    for name, text in (("__init__", TOY_INIT), ("config", TOY_CONFIG), ("pipeline", TOY_PIPELINE)):
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    monkeypatch.setattr(studies, "__path__", [*studies.__path__, str(tmp_path)])
    monkeypatch.setattr(studies, "STUDIES", studies.STUDIES + ("toy_study",))  # the one line
    monkeypatch.setattr(stages, "REGISTRY", dict(stages.REGISTRY))
    yield folder
    for name in [m for m in sys.modules if m.startswith("hdmann.studies.toy_study")]:
        del sys.modules[name]


def test_a_new_study_is_a_folder_and_one_line(toy_study):
    """The registry, the stage graph, the table of contents and the --set sections follow from the
    folder and its line in STUDIES; nothing else is edited."""
    assert registry.chapter_names()[-2:] == ("toy_chapter", registry.LANDING)  # the landing page reads every chapter
    assert registry.chapter("toy_chapter").notebook.name == "toy_chapter.ipynb"
    assert registry.datasets_for(["toy_chapter"]) == ("isic4",)
    toc = registry.toc_yaml()
    assert "  - caption: Toy part\n    chapters:\n      - file: book/executed/toy_chapter\n" in toc
    calls = graph.calls_for(["toy_chapter"], "smoke")
    assert [c.stage.name for c in calls] == ["toy/count"] and calls[0].cfg.n == 1
    assert "toy_chapter" in graph.chapter_stages()
    assert studies.from_overrides("toy", "quick", {"toy": {"n": 3}}).n == 3
    assert "toy" in studies.builders()
    # the existing studies' builders now know the section, and still refuse a typo
    from hdmann.studies.study_a.config import study_a_config

    study_a_config("smoke", {"toy": {"n": 3}})
    with pytest.raises(ValueError, match="unknown config section"):
        study_a_config("smoke", {"toys": {"n": 3}})


def test_without_its_line_a_study_folder_is_not_in_the_book():
    assert "toy_chapter" not in registry.chapter_names()
    with pytest.raises(ValueError, match="unknown config section"):
        studies.from_overrides("toy", "quick")


def test_no_function_reads_an_imported_module_its_own_local_hides():
    """A local named like an imported module (``quality = [quality.psnr(...) ...]``) hides the module in
    the whole function: a read of the name before the local is bound, its own right-hand side included,
    is a NameError at run time, in whichever chapter first reaches it."""
    package = Path(hdmann.__file__).resolve().parent
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text())
        modules = {(a.asname or a.name).split(".")[0] for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                   for a in n.names}
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            arguments = {a.arg for a in fn.args.args + fn.args.kwonlyargs + fn.args.posonlyargs}
            for node in ast.walk(fn):
                if not isinstance(node, ast.Assign):
                    continue
                for name in {t.id for t in node.targets if isinstance(t, ast.Name)} & modules - arguments:
                    early = [r for r in ast.walk(fn) if isinstance(r, ast.Name) and r.id == name
                             and isinstance(r.ctx, ast.Load) and (r.lineno, r.col_offset) < (node.end_lineno, node.end_col_offset)
                             and (r.lineno, r.col_offset) >= (fn.body[0].lineno, 0)]
                    found += [f"{path.relative_to(package)}:{r.lineno} {fn.name} reads {name!r} before its local" for r in early]
    assert not found, "\n".join(found)
