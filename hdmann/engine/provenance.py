"""Where a page's numbers came from: commit, library and codec versions, data, device, compute time.

Collected by the book runner (never by a notebook) and printed as a footer on every page, so a
reader of any chapter can tell which code, libraries, data and machine produced it.
"""
from __future__ import annotations

import html
import json
import os
import platform
import subprocess
import sys
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from hdmann.engine import codecs

PROJECT = Path(__file__).resolve().parents[2]
LIBRARIES = ("keras", "jax", "jaxlib", "numpy", "scikit-learn", "pillow", "matplotlib")
# every codec library the book codes images with: the Pillow features, then JPEG XL's plugin
CODECS = {"libjpeg_turbo": "libjpeg-turbo", "jpg": "libjpeg API", "jpg_2000": "OpenJPEG", "webp": "libwebp",
          "avif": "libavif"}
JXL = "libjxl"  # not part of Pillow: the pillow-jxl-plugin package, whose licence the footer names
JXL_PLUGIN_LICENCE = "GPL-3.0-or-later"

# A child process asks JAX for its devices, so the runner itself never claims a GPU's memory.
_DEVICE_PROBE = """
import os
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
import jax
devices = jax.devices()
print(jax.default_backend())
print(devices[0].device_kind)
print(len(devices))
"""


def now() -> str:
    """The time a build, a page or a fetch finished, as every record writes it (UTC, to the minute)."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def git_state(project: Path = PROJECT) -> dict:
    """``{"commit": ..., "dirty": bool}``; commit None where the project is not a git checkout of its
    own (a tarball, or a folder inside some other repository) or git is missing."""
    def git(*args):
        return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, timeout=30)

    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != project.resolve():
            return {"commit": None, "dirty": None}
        commit = git("rev-parse", "HEAD").stdout.strip() or None
        status = git("status", "--porcelain")
        return {"commit": commit, "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def versions() -> dict:
    """Python, hdmann, the key libraries and the image codecs Pillow was built with."""
    found = {"python": platform.python_version()}
    for name in ("hdmann", *LIBRARIES):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    try:
        from PIL import features

        for feature, label in CODECS.items():
            try:
                found[label] = features.version(feature)
            except ValueError:  # a feature this Pillow does not know
                found[label] = None
    except ImportError:
        pass
    found[JXL] = jxl_version()
    return found


def jxl_version() -> str | None:
    """libjxl's version and the plugin's that brings it to Pillow, or None where the plugin is not
    installed (the codec chapter then leaves JPEG XL out)."""
    try:
        plugin = metadata.version("pillow-jxl-plugin")
    except metadata.PackageNotFoundError:
        return None
    row = next(r for r in codecs.versions() if r["codec"] == "jxl")
    library = row["version"].split(" (")[0] if row["available"] else "unknown"
    return f"{library} via pillow-jxl-plugin {plugin} ({JXL_PLUGIN_LICENCE})"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@lru_cache(maxsize=1)
def device() -> str:
    """What the chapters compute on, e.g. ``CPU: AMD EPYC 7B13 (2 cores)`` or ``GPU: NVIDIA H100 x1``."""
    cpu = f"{_cpu_name()} ({os.cpu_count()} cores)"
    try:
        probe = subprocess.run([sys.executable, "-c", _DEVICE_PROBE], capture_output=True, text=True, timeout=120)
        backend, kind, count = probe.stdout.split("\n")[:3]
    except (OSError, subprocess.SubprocessError, ValueError):
        return f"CPU: {cpu} (JAX devices unknown)"
    if backend == "cpu":
        return f"CPU: {cpu}"
    return f"{backend.upper()}: {kind} x{count} (host CPU: {cpu})"


def collect(profile: str, data_fingerprint: str, known_device: str | None = None) -> dict:
    """Everything the footer shows except the compute time, which the runner adds per chapter.
    ``known_device`` (the device the chapters recorded) spares asking JAX when nothing was executed."""
    return {"profile": profile, **git_state(), "versions": versions(), "data": data_fingerprint,
            "device": known_device or device()}


def _version_text(v: dict) -> str:
    libs = ", ".join(f"{name} {v[key]}" for name, key in (("hdmann", "hdmann"), ("Keras", "keras"), ("JAX", "jax"),
                                                          ("NumPy", "numpy"), ("Pillow", "pillow")) if v.get(key))
    codecs = ", ".join(f"{label} {v[label]}" for label in (*CODECS.values(), JXL) if v.get(label))
    return f"Python {v.get('python')}; {libs}" + (f" (codecs: {codecs})" if codecs else "")


def _overrides_items(record: dict) -> list[str]:
    """A variant's overrides (``hdmann book --set``): those this page's chapter took, else the build's."""
    def text(flat: dict) -> str:
        return html.escape(", ".join(f"{k}={json.dumps(v)}" for k, v in flat.items()))

    applied, build = record.get("overrides") or {}, record.get("build_overrides") or {}
    if applied:
        return [f"overrides <code>{text(applied)}</code>"]
    if build:
        return [f"a variant with overrides <code>{text(build)}</code>, none of which this chapter takes"]
    return []


def footer_html(record: dict, results_href: str) -> str:
    """The provenance footer of one page, as an HTML block (MyST passes it through)."""
    commit = record.get("commit")
    if commit:
        code = f"commit <code>{html.escape(commit[:12])}</code>"
        if record.get("dirty"):
            code += " with uncommitted changes"
    else:
        code = "no git commit (not run from a git checkout)"
    items = [f"profile <strong>{html.escape(str(record.get('profile')))}</strong>", *_overrides_items(record), code,
             html.escape(_version_text(record.get("versions", {}))),
             f"data <code>{html.escape(str(record.get('data', ''))[:12])}</code>",
             html.escape(str(record.get("device", "unknown device")))]
    if record.get("seconds") is not None:
        items.append(f"computed in {record['seconds']:.0f} s, finished {html.escape(record.get('finished', ''))}")
    else:
        items.append(f"built {html.escape(record.get('finished', ''))}")
    items.append(f'<a href="{html.escape(results_href)}">every number of this build (results.json)</a>')
    return ('<div class="hdmann-provenance">\n<p><strong>Provenance</strong>: '
            + " &middot; ".join(items) + "</p>\n</div>\n")
