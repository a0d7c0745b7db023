"""``hdmann book | pdf | run | status | verdicts | check | fetch | info | compare | lab``: the same entry points with or without make."""
from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata

from hdmann.engine.config import DEFAULT_PROFILE, PROFILES


def _info(args) -> int:
    import hdmann  # noqa: F401

    import jax
    import keras

    from hdmann.engine import data

    print(f"hdmann {hdmann.__version__} on Python {platform.python_version()} ({platform.machine()})")
    for pkg in ("keras", "jax", "jaxlib", "numpy", "pillow", "scikit-learn", "matplotlib", "papermill",
                "jupyter-book"):
        try:
            print(f"  {pkg:13s} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            print(f"  {pkg:13s} not installed")
    print(f"Keras backend: {keras.backend.backend()}")
    from hdmann.engine import compute

    pool = compute.start_jax()["threads"]
    print(f"JAX devices:   {', '.join(str(d) for d in jax.devices())}")
    print(f"XLA CPU pool:  {pool or 'XLA default'} thread(s) ({compute.ENV}; 1 computes the same bits on any core count)")
    from PIL import features
    print("Pillow codecs: " + ", ".join(f"{c} {features.version(c) or 'missing'}" for c in ("jpg", "jpg_2000", "webp")))
    try:
        root = data.resolve_data_root(args.data_root)
    except data.DataError as exc:
        print(f"Data root:     missing: {exc}")
        return 2
    print(f"Data root:     {root}")
    from hdmann.engine import datacheck

    report = datacheck.check(root)
    try:
        counts = data.isic_counts(root)
        print("  isic4: " + "; ".join(f"{s} {sum(c.values())} ({', '.join(f'{k} {v}' for k, v in c.items())})"
                                      for s, c in counts.items()))
    except data.DataError as exc:
        print(f"  isic4: {exc}")
    try:
        m = data.mias_counts(root)
        print(f"  mias:  {m['films']} films, {m['patients']} patients; normal {m['normal']}, "
              f"benign {m['benign']}, malignant {m['malignant']}")
    except data.DataError as exc:
        print(f"  mias:  {exc}")
    for line in report.lines():
        print(f"  {line}")
    from hdmann.book import registry

    print("Chapters and the datasets each reads:")
    width = max(len(n) for n in registry.chapter_names())
    for chapter in registry.chapters():
        missing = registry.missing_datasets(root, chapter.datasets)
        state = f"missing {', '.join(missing)}" if missing else "can be built"
        print(f"  {chapter.name:{width}s}  {', '.join(chapter.datasets):38s} {state}")
    advice = registry.partial_root_advice(root)
    if advice:
        print(advice)
    return 0 if report.ok else 1


def _check(args) -> int:
    from hdmann.engine import datacheck

    report = datacheck.check(args.data_root)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _book(args) -> int:
    from hdmann.book import runner as book

    from hdmann.engine.config import parse_assignments

    chapters = tuple(args.chapters.split(",")) if args.chapters else book.CHAPTERS
    book.build(args.profile, args.data_root, args.out, chapters, overrides=parse_assignments(args.set or ()),
               jobs=args.jobs, scheduler=args.scheduler)
    return 0


def _pdf(args) -> int:
    """The last book ``hdmann book`` built, typeset as one PDF (nothing is executed)."""
    from hdmann.book import pdf

    pdf.build(args.out)
    return 0


def _run(args) -> int:
    """Build the stages of chapters (or named stages) and everything they read."""
    from hdmann.book import graph
    from hdmann.engine import data, stages

    root = data.resolve_data_root(args.data_root)
    from hdmann.book import registry, runner
    from hdmann.engine.config import parse_assignments

    if args.dry_run or args.record:
        return _dry_run(args, root)

    chapters = [t for t in args.targets if t in registry.chapter_names()]  # a stage name: every chapter's data
    runner.check_data(root, chapters=chapters if len(chapters) == len(args.targets) and chapters
                      else list(graph.chapter_stages()))  # as `hdmann book` does, before anything is built
    calls = graph.calls_for(args.targets, args.profile, root, parse_assignments(args.set or ()))
    summary = stages.run(calls, root, jobs=args.jobs, scheduler=args.scheduler)
    if not summary["built"]:
        print(f"hdmann run: all {summary['stages']} stage(s) already cached")
    return 0


def _dry_run(args, root) -> int:
    """``hdmann run --dry-run``: plan, one step per distinct model, estimate (:mod:`hdmann.book.dryrun`)."""
    from hdmann.book import dryrun
    from hdmann.engine.config import parse_assignments

    record = dryrun.dry_run(args.profile, root, parse_assignments(args.set or ()), args.targets,
                            models=not args.plan_only)
    print(dryrun.table(record))
    if args.record:
        print(f"record: {dryrun.write_record(record)}")
    return 1 if record["refused"] or record["not_estimated"] else 0


def _status(args) -> int:
    """Each stage of the graph: cached, missing, or stale (its code or inputs changed since it was built)."""
    from hdmann.book import graph
    from hdmann.engine import data, stages

    root = data.resolve_data_root(args.data_root)
    from hdmann.engine.config import parse_assignments

    rows = stages.status(graph.calls_for(args.targets, args.profile, root, parse_assignments(args.set or ())), root)
    for r in rows:
        print(f"{r['state']:8s} {r['key']}  {r['label']}" + (f"  ({r['why']})" if r.get("why") else ""))
    counts = {s: sum(r["state"] == s for r in rows) for s in ("cached", "missing", "stale")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" (profile {args.profile})")
    return 0 if counts["cached"] == len(rows) else 1


def _verdicts(args) -> int:
    """Build the stages behind every study's verdicts and write them to a results file."""
    from hdmann.book import verdicts

    from hdmann.engine.config import parse_assignments

    verdicts.build(args.profile, args.data_root, args.out, jobs=args.jobs, overrides=parse_assignments(args.set or ()))
    return 0


def _fetch(args) -> int:
    from hdmann.engine import fetch

    options = {"verify": False} if args.dataset == "mias" and args.no_verify else {}
    fetch.fetch(args.dataset, args.data_root, **options)
    return 0


def _compare(args) -> int:
    """Which numbers moved between two builds; exit status 1 when any did (like diff)."""
    from hdmann.book import results

    a, b = results.load(args.a), results.load(args.b)
    report = results.compare(a, b, rel_tol=args.rtol, abs_tol=args.atol)

    def label(path, doc):
        prov = doc.get("provenance", {})
        commit = (prov.get("commit") or "no commit")[:12] + (" (dirty)" if prov.get("dirty") else "")
        return f"{path} (profile {doc.get('profile')}, {commit}, built {prov.get('finished', '?')})"

    print(results.format_report(report, label(args.a, a), label(args.b, b)))
    return 1 if report["moved"] or report["texts"] else 0


def _lab(args) -> int:
    """JupyterLab on copies of the chapters with the profile injected and the data root set."""
    from hdmann.book import runner as book
    from hdmann.engine import cache, data

    root = data.resolve_data_root(args.data_root)
    folder = book.prepare_lab(args.profile, root, args.out)
    # the cache `hdmann book` fills (its --out moves _build only), so the lab reads what the book built
    env = {**os.environ, "HDMANN_DATA": str(root), "HDMANN_CACHE": str(cache.cache_root())}
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={folder}", *args.jupyter_args]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in cmd:
        cmd.append("--allow-root")  # containers and CI machines run as root; JupyterLab refuses otherwise
    print(f"JupyterLab on {folder} (profile {args.profile}); HDMANN_DATA={env['HDMANN_DATA']}, "
          f"HDMANN_CACHE={env['HDMANN_CACHE']}")
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    os.execve(sys.executable, cmd, env)  # replaces this process; Ctrl-C stops JupyterLab
    return 0


def _graph_options(p) -> None:
    p.add_argument("--jobs", type=int, default=None, help="stages built at once in local processes (default: the cores)")
    p.add_argument("--scheduler", default=None, help="a Dask scheduler (tcp://HOST:PORT) whose workers share HDMANN_CACHE")


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (``kill``, a CI time limit, a cluster's scheduler) as Ctrl-C, so the stage
    workers and chapter kernels are stopped and no half-written entry stays, instead of the runner
    dying alone and leaving its workers computing."""
    import signal

    from hdmann.engine import processes

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    processes.wake_main_thread_on((signal.SIGTERM, signal.SIGINT))  # whichever thread the kernel hands it to


PROFILE_HELP = ("smoke: minutes, every chapter end to end (CI); quick: the CPU default; paper: the papers' settings "
                "(GPU-sized). Default $PROFILE, else quick")
DATA_HELP = "folder holding the datasets (isic4/, mias/, ...; README 'Data'). Default $HDMANN_DATA, then ./data"


def main(argv=None) -> int:
    import hdmann

    parser = argparse.ArgumentParser(prog="hdmann", description=__doc__)
    parser.add_argument("--version", action="version", version=f"hdmann {hdmann.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("book", help="execute the notebooks and build the HTML book")
    p.add_argument("--profile", default=os.environ.get("PROFILE", DEFAULT_PROFILE), choices=PROFILES, help=PROFILE_HELP)
    p.add_argument("--data-root", default=None, help=DATA_HELP)
    p.add_argument("--out", default=None, help="folder to write _build/ into (default: the project)")
    p.add_argument("--chapters", default=None, help="comma-separated subset of chapters (checks only their data)")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                   help="override a config field (repeatable; VALUE is JSON, else a string), e.g. "
                        "study_a.hypervector_dim=2000: builds a variant in _build/variants/<profile>+<hash>/")
    _graph_options(p)
    p.set_defaults(run=_book)
    p = sub.add_parser("pdf", help="typeset the book the last hdmann book built as one PDF (XeLaTeX; executes nothing)")
    p.add_argument("--out", default=None, help="the folder hdmann book wrote _build/ into (default: the project)")
    p.set_defaults(run=_pdf)
    for name, fn, text in (("run", _run, "build the stages of chapters (default: all) or named stages"),
                           ("status", _status, "list each stage as cached, missing or stale (exit 1 unless all cached)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("targets", nargs="*", help="chapters or stage names (default: every chapter with stages)")
        p.add_argument("--profile", default=os.environ.get("PROFILE", DEFAULT_PROFILE), choices=PROFILES, help=PROFILE_HELP)
        p.add_argument("--data-root", default=None, help=DATA_HELP)
        p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                       help="override a config field, as for hdmann book --set")
        if name == "run":
            _graph_options(p)
            p.add_argument("--dry-run", action="store_true",
                           help="build nothing: plan every stage (cached or missing), check the data, count the "
                                "training steps, train each distinct model one step on random data on this CPU "
                                "(step time, peak RSS) and estimate the profile's CPU and GPU hours")
            p.add_argument("--plan-only", action="store_true", help="with --dry-run: the plan and step counts only")
            p.add_argument("--record", action="store_true",
                           help="with --dry-run: also write bench/records/<date>-<profile>-dry-run.json")
        p.set_defaults(run=fn)
    p = sub.add_parser("verdicts", help="build what every study's verdicts read and write them to a results file "
                                        "(compare two machines or CPU counts with hdmann compare)")
    p.add_argument("--profile", default=os.environ.get("PROFILE", DEFAULT_PROFILE), choices=PROFILES, help=PROFILE_HELP)
    p.add_argument("--data-root", default=None, help=DATA_HELP)
    p.add_argument("--out", default=None, help="the results file (default _build/verdicts/<profile>-<N>cpu.json)")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="override a config field, as for hdmann book --set")
    p.add_argument("--jobs", type=int, default=None, help="stages built at once in local processes (default: the cores)")
    p.set_defaults(run=_verdicts)
    p = sub.add_parser("check", help="decode every image once; list every bad file (exit 1 if any)")
    p.add_argument("--data-root", default=None, help=DATA_HELP)
    p.set_defaults(run=_check)
    p = sub.add_parser("fetch", help="download a dataset from its original public host")
    p.add_argument("dataset", choices=("isic4", "mias"),
                   help="isic4 (ISIC Archive, by image id) or mias (the mini-MIAS archive); the other datasets: README 'Data'")
    p.add_argument("--data-root", default=None, help="where to write (default $HDMANN_DATA, then ./data)")
    p.add_argument("--no-verify", action="store_true", help="mias: skip the SHA-256 check of the PGM files")
    p.set_defaults(run=_fetch)
    p = sub.add_parser("compare", help="which numbers moved between two builds' results.json")
    p.add_argument("a", help="results.json of the first build (e.g. _build/results/quick.json)")
    p.add_argument("b", help="results.json of the second build")
    p.add_argument("--rtol", type=float, default=0.0, help="relative tolerance: smaller moves are not listed")
    p.add_argument("--atol", type=float, default=0.0, help="absolute tolerance: smaller moves are not listed")
    p.set_defaults(run=_compare)
    p = sub.add_parser("lab", help="JupyterLab on the chapters with the profile and data root set")
    p.add_argument("--profile", default=os.environ.get("PROFILE", DEFAULT_PROFILE), choices=PROFILES, help=PROFILE_HELP)
    p.add_argument("--data-root", default=None, help=DATA_HELP)
    p.add_argument("--out", default=None, help="folder whose _build/lab/<profile>/ holds the copies (default: the project)")
    p.add_argument("--dry-run", action="store_true", help="prepare the copies and print the command, start nothing")
    p.add_argument("jupyter_args", nargs="*", help="passed on to jupyter lab (after --), e.g. -- --no-browser")
    p.set_defaults(run=_lab)
    p = sub.add_parser("info", help="versions, backend, devices, the data root and which chapters it can build")
    p.add_argument("--data-root", default=None, help=DATA_HELP)
    p.set_defaults(run=_info)
    args = parser.parse_args(argv)
    from hdmann.engine.cache import CacheWriteError
    from hdmann.engine.data import DataError

    if args.command in ("run", "book", "verdicts"):
        interrupt_on_sigterm()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"hdmann {args.command}: interrupted; finished stages are kept, run it again to resume", file=sys.stderr)
        return 130
    except (DataError, ValueError, RuntimeError, CacheWriteError) as exc:
        print(f"hdmann {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing, dangling or unreadable path: one sentence, never a traceback
        from hdmann.engine.data import path_sentence

        print(f"hdmann {args.command}: error: {path_sentence(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
