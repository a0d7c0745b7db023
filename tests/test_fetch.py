"""`hdmann fetch` against a local HTTP server: no network needed, a few seconds in all."""
from __future__ import annotations

import hashlib
import io
import json
import socket
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from hdmann.engine import fetch as F
from hdmann.engine.data import ISIC_CLASSES, load_isic, load_mias


class FakeHost:
    """Serves ``routes`` (path -> bytes); records every request with its Range header.

    ``ignore_range`` answers 200 to Range requests; ``cut_once[path] = n`` sends only n bytes of
    the body (with the full Content-Length) the first time, as a dropped connection would.
    ``status[path] = code`` answers that HTTP error instead.
    """

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.status: dict[str, int] = {}
        self.cut_once: dict[str, int] = {}
        self.ignore_range = False
        self.hits: list[tuple[str, str | None]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path, rng = self.path, self.headers.get("Range")
                host.hits.append((path, rng))
                if path in host.status:
                    self.send_error(host.status[path])
                    return
                if path not in host.routes:
                    self.send_error(404)
                    return
                body = host.routes[path]
                if rng and not host.ignore_range:
                    start = int(rng.removeprefix("bytes=").rstrip("-"))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    body = body[start:]
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = host.cut_once.pop(path, None)
                self.wfile.write(body if cut is None else body[:cut])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def paths(self, prefix=""):
        return [p for p, _ in self.hits if p.startswith(prefix)]


@pytest.fixture
def host():
    h = FakeHost()
    h.thread.start()
    yield h
    h.server.shutdown()
    h.server.server_close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(F, "BACKOFF_S", (0.0, 0.0))
    monkeypatch.setattr(F, "TIMEOUT_S", 5)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# ---------------------------------------------------------------------------------------------
# ISIC


def pick_ids() -> list[tuple[str, str, str]]:
    """One listed id per (split, class): 8 images that make loadable train and test splits."""
    rows, seen = [], set()
    for row in F.read_isic_ids():
        if row[1:] not in seen:
            seen.add(row[1:])
            rows.append(row)
    assert len(rows) == 8
    return rows


def make_jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:160, 0:240]  # not square: the fetch must stretch, not crop
    rgb = np.stack([(xx + 40 * seed) % 256, yy * 1.5, (xx + yy) / 2], axis=-1)
    rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def isic(host):
    rows = pick_ids()
    jpegs = {}
    for seed, (isic_id, _, _) in enumerate(rows):
        jpegs[isic_id] = make_jpeg(seed)
        host.routes[f"/full/{isic_id}.jpg"] = jpegs[isic_id]
        record = {"isic_id": isic_id, "files": {"full": {"url": f"{host.base}/full/{isic_id}.jpg"},
                                                "thumbnail_256": {"url": "unused"}}}
        host.routes[f"/api/v2/images/{isic_id}/"] = json.dumps(record).encode()
    return rows, jpegs


def expected_png_pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as img:
        return np.asarray(img.convert("RGB").resize((180, 180), Image.Resampling.BILINEAR))


def test_isic_layout_pixels_and_loader(tmp_path, host, isic):
    rows, jpegs = isic
    out = F.fetch("isic4", tmp_path, base_url=host.base, ids=[r[0] for r in rows], progress=None,
                  workers=3)
    assert out == tmp_path.resolve() / "isic4"
    for isic_id, split, cls in rows:
        png = out / split / cls / f"{isic_id}.png"
        with Image.open(png) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", (180, 180))
            assert np.array_equal(np.asarray(img), expected_png_pixels(jpegs[isic_id]))
    assert "full resolution" in (out / "FETCHED.txt").read_text().replace("full-resolution",
                                                                          "full resolution")
    for split in ("train", "test"):
        data = load_isic(split, 180, data_root=tmp_path)
        assert data.images.shape == (4, 180, 180, 3)
        assert list(data.labels) == [0, 1, 2, 3]
        assert data.names == [r[0] for r in rows if r[1] == split]
    assert not list(out.rglob("*.part"))


def test_isic_resume_and_corrupt_image(tmp_path, host, isic):
    rows, jpegs = isic
    ids = [r[0] for r in rows]
    F.fetch("isic4", tmp_path, base_url=host.base, ids=ids, progress=None)
    assert len(host.hits) == 2 * len(ids)  # one record and one JPEG per image

    F.fetch("isic4", tmp_path, base_url=host.base, ids=ids, progress=None)
    assert len(host.hits) == 2 * len(ids), "a rerun must download nothing"

    bad_id, bad_split, bad_cls = rows[5]
    bad_png = tmp_path / "isic4" / bad_split / bad_cls / f"{bad_id}.png"
    bad_png.unlink()
    others = {p: p.read_bytes() for p in (tmp_path / "isic4").rglob("*.png")}
    host.routes[f"/full/{bad_id}.jpg"] = jpegs[bad_id][: len(jpegs[bad_id]) // 3]  # truncated
    with pytest.raises(F.FetchError, match=bad_id) as err:
        F.fetch("isic4", tmp_path, base_url=host.base, ids=ids, progress=None)
    assert "rerun" in str(err.value).lower()
    assert not bad_png.exists()
    assert {p: p.read_bytes() for p in (tmp_path / "isic4").rglob("*.png")} == others
    assert not list((tmp_path / "isic4").rglob("*.part"))

    host.routes[f"/full/{bad_id}.jpg"] = jpegs[bad_id]
    before = len(host.hits)
    F.fetch("isic4", tmp_path, base_url=host.base, ids=ids, progress=None)
    assert host.hits[before:] == [(f"/api/v2/images/{bad_id}/", None), (f"/full/{bad_id}.jpg", None)]
    assert sum(len(load_isic(split, 180, data_root=tmp_path)) for split in ("train", "test")) == 8


def test_isic_first_failure_stops_new_downloads(tmp_path, host, isic):
    rows, _ = isic
    host.routes[f"/full/{rows[0][0]}.jpg"] = b"not a jpeg"  # the first id in the listed order
    with pytest.raises(F.FetchError, match=rows[0][0]):
        F.fetch("isic4", tmp_path, base_url=host.base, ids=[r[0] for r in rows], workers=1,
                progress=None)
    assert len(host.hits) <= 2 * 2, "queued images must not be fetched after a failure"


def test_isic_http_errors(tmp_path, host, isic):
    rows, _ = isic
    first = rows[0][0]
    host.status[f"/api/v2/images/{first}/"] = 404  # permanent: no retry
    with pytest.raises(F.FetchError, match=f"/api/v2/images/{first}/.*HTTP 404"):
        F.fetch("isic4", tmp_path, base_url=host.base, ids=[first], progress=None)
    assert host.paths() == [f"/api/v2/images/{first}/"]

    host.status[f"/api/v2/images/{first}/"] = 503  # transient: three attempts, then a clear error
    with pytest.raises(F.FetchError, match=r"after 3 attempts.*resumes"):
        F.fetch("isic4", tmp_path, base_url=host.base, ids=[first], progress=None)
    assert len(host.paths()) == 1 + 3

    host.routes[f"/api/v2/images/{rows[1][0]}/"] = b'{"files": {}}'
    with pytest.raises(F.FetchError, match="files.full.url"):
        F.fetch("isic4", tmp_path, base_url=host.base, ids=[rows[1][0]], progress=None)


def test_network_down_is_a_clear_error(tmp_path):
    url = closed_port_url()
    with pytest.raises(F.FetchError, match=r"could not download http://127\.0\.0\.1:\d+/api/v2/images/"):
        F.fetch("isic4", tmp_path, base_url=url, ids=[pick_ids()[0][0]], progress=None)

    part = tmp_path / "mias" / ".download" / "all-mias.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"partial")
    with pytest.raises(F.FetchError, match=r"(?i)all-mias\.tar\.gz.*rerun.*resumes"):
        F.fetch("mias", tmp_path, base_url=f"{url}/all-mias.tar.gz", names=["mdb001"], verify=False,
                progress=None)
    assert part.read_bytes() == b"partial", "a failure must keep what was downloaded"


def test_bad_user_input(tmp_path):
    with pytest.raises(ValueError, match="isic4, mias"):
        F.fetch("ddsm", tmp_path)
    with pytest.raises(ValueError, match="ISIC_9999999"):
        F.fetch("isic4", tmp_path, ids=["ISIC_9999999"], progress=None)
    with pytest.raises(ValueError, match="mdb001"):
        F.fetch("mias", tmp_path, names=["film1"], progress=None)
    with pytest.raises(ValueError, match="workers"):
        F.fetch("isic4", tmp_path, ids=[], workers=0, progress=None)


def test_resources_match_the_data_layout():
    rows = F.read_isic_ids()
    assert len(rows) == 1697 and len({r[0] for r in rows}) == 1697
    counts = {(s, c): 0 for s in ("train", "test") for c in ISIC_CLASSES}
    for _, split, cls in rows:
        counts[split, cls] += 1
    assert [counts["test", c] for c in ISIC_CLASSES] == [16] * 4
    assert [counts["train", c] for c in ISIC_CLASSES] == [438, 357, 376, 462]
    sums = F.read_checksums(F.MIAS_CHECKSUMS)
    assert sorted(sums) == [f"mdb{i:03d}.pgm" for i in range(1, 323)]


# ---------------------------------------------------------------------------------------------
# MIAS

NAMES = ["mdb001", "mdb002", "mdb003", "mdb004"]
INFO = "\r\n".join([
    "              MAMMOGRAPHIC IMAGE ANALYSIS SOCIETY",
    "1st column: MIAS database reference number.",
    "mdb001 G CIRC B 535 425 197",
    "mdb002 G NORM ",
    "mdb003 D NORM ",
    "mdb004 D CALC M *NOTE 3* ",
    "mdb004 D CIRC M 300 700 40",
    "mdb005 F NORM ",  # in the table but not fetched
    "",
])
LABELS_CSV = """image,tissue,abnormality,severity,x,y,radius,y_top
mdb001,G,CIRC,benign,535,425,197,599
mdb002,G,NORM,normal,,,,
mdb003,D,NORM,normal,,,,
mdb004,D,CALC,malignant,,,,
mdb004,D,CIRC,malignant,300,700,40,324
"""
IMAGES_CSV = """image,tissue,severity,n_abnormalities,patient,side
mdb001,G,benign,1,1,R
mdb002,G,normal,0,1,L
mdb003,D,normal,0,2,R
mdb004,D,malignant,2,2,L
"""


def film(i: int) -> np.ndarray:
    yy, xx = np.mgrid[0:1024, 0:1024]
    return ((xx // 4 + yy // 8 + 37 * i) % 256).astype(np.uint8)


def make_archive(table_name: str = "Info.txt") -> tuple[bytes, dict[str, bytes]]:
    pgms = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("Licence.txt", b"MIAS licence agreement (test copy)\n")
        add(table_name, INFO.encode("ascii"))
        for i, name in enumerate(NAMES, 1):
            pgm = io.BytesIO()
            Image.fromarray(film(i), mode="L").save(pgm, format="PPM")  # P5 for mode L
            pgms[name] = pgm.getvalue()
            add(f"{name}.pgm", pgms[name])
    return buf.getvalue(), pgms


@pytest.fixture(scope="module")
def archive():
    return make_archive()


def checksum_file(tmp_path, pgms, wrong: str | None = None):
    lines = [f"{'0' * 64 if n == wrong else hashlib.sha256(b).hexdigest()}  {n}.pgm"
             for n, b in pgms.items()]
    path = tmp_path / "test.sha256"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mias_tables_images_and_loader(tmp_path, host, archive):
    tar, pgms = archive
    host.routes["/pix/mias/all-mias.tar.gz"] = tar
    root = tmp_path / "data"
    out = F.fetch("mias", root, base_url=f"{host.base}/pix/mias/all-mias.tar.gz", names=NAMES,
                  checksums=checksum_file(tmp_path, pgms), progress=None)
    assert out == root.resolve() / "mias"
    assert (out / "labels.csv").read_text() == LABELS_CSV
    assert (out / "images.csv").read_text() == IMAGES_CSV
    assert (out / "Info.txt").read_bytes() == INFO.encode()
    assert (out / "Licence.txt").is_file() and (out / "FETCHED.txt").is_file()
    for i, name in enumerate(NAMES, 1):
        with Image.open(out / "images" / f"{name}.png") as img:
            assert (img.format, img.mode, img.size) == ("PNG", "L", (1024, 1024))
            assert np.array_equal(np.asarray(img), film(i))

    films = load_mias(root)
    assert films.names == NAMES
    assert list(films.severity) == ["benign", "normal", "normal", "malignant"]
    assert list(films.patient) == [1, 1, 2, 2]
    assert [(les.x, les.y) for les in films.lesions["mdb001"]] == [(535, 599)]
    assert [(les.x, les.y, les.radius) for les in films.lesions["mdb004"]] == [(300, 324, 40)]
    assert len(films.load_images(64)) == 4

    hits = len(host.hits)
    F.fetch("mias", root, base_url=f"{host.base}/pix/mias/all-mias.tar.gz", names=NAMES,
            checksums=checksum_file(tmp_path, pgms), progress=None)
    assert len(host.hits) == hits, "a rerun must download nothing"
    assert (out / "labels.csv").read_text() == LABELS_CSV


def test_mias_checksum_mismatch_names_the_file(tmp_path, host, archive):
    tar, pgms = archive
    host.routes["/all-mias.tar.gz"] = tar
    url = f"{host.base}/all-mias.tar.gz"
    with pytest.raises(ValueError, match=r"mdb003\.pgm"):
        F.fetch("mias", tmp_path, base_url=url, names=NAMES,
                checksums=checksum_file(tmp_path, pgms, wrong="mdb003"), progress=None)
    assert not (tmp_path / "mias" / "images" / "mdb003.png").exists()
    assert not (tmp_path / "mias" / "labels.csv").exists()
    assert (tmp_path / "mias" / ".download" / "all-mias.tar.gz").read_bytes() == tar  # kept
    with pytest.raises(ValueError, match="no hash"):  # the bundled file only knows the real films
        F.fetch("mias", tmp_path, base_url=url, names=["mdb400"], progress=None)

    F.fetch("mias", tmp_path, base_url=url, names=NAMES, verify=False, progress=None)
    assert len(load_mias(tmp_path)) == 4
    assert host.paths() == ["/all-mias.tar.gz"], "the archive is downloaded once"


@pytest.mark.parametrize("part_kind", ["half", "ignored", "complete"])
def test_mias_range_resume(tmp_path, host, archive, part_kind):
    """A .part left by an interrupted run is continued with Range; a server that ignores Range
    gets a clean full download; a .part that is already whole is just finished (HTTP 416)."""
    tar, _ = archive
    host.routes["/all-mias.tar.gz"] = tar
    host.ignore_range = part_kind == "ignored"
    part = tmp_path / "mias" / ".download" / "all-mias.tar.gz.part"
    part.parent.mkdir(parents=True)
    kept = {"half": tar[: len(tar) // 2], "ignored": b"x" * (len(tar) // 2), "complete": tar}[part_kind]
    part.write_bytes(kept)
    F.fetch("mias", tmp_path, base_url=f"{host.base}/all-mias.tar.gz", names=NAMES, verify=False,
            progress=None)
    assert host.hits == [("/all-mias.tar.gz", f"bytes={len(kept)}-")]
    assert (tmp_path / "mias" / ".download" / "all-mias.tar.gz").read_bytes() == tar
    assert not part.exists()
    assert (tmp_path / "mias" / "labels.csv").read_text() == LABELS_CSV


def test_mias_dropped_connection_resumes_and_readme_table(tmp_path, host):
    tar, _ = make_archive(table_name="all-mias/README")  # the real archive may call it README
    host.routes["/all-mias.tar.gz"] = tar
    host.cut_once["/all-mias.tar.gz"] = 1000
    F.fetch("mias", tmp_path, base_url=f"{host.base}/all-mias.tar.gz", names=NAMES, verify=False,
            progress=None)
    assert host.hits == [("/all-mias.tar.gz", None), ("/all-mias.tar.gz", "bytes=1000-")]
    assert (tmp_path / "mias" / "images.csv").read_text() == IMAGES_CSV


def test_mias_damaged_archive(tmp_path, host, archive):
    tar, _ = archive
    host.routes["/all-mias.tar.gz"] = tar[: len(tar) * 2 // 3]  # the server itself serves a cut file
    with pytest.raises(F.FetchError, match="damaged.*Delete it"):
        F.fetch("mias", tmp_path, base_url=f"{host.base}/all-mias.tar.gz", names=NAMES, verify=False,
                progress=None)
    assert (tmp_path / "mias" / ".download" / "all-mias.tar.gz").is_file()


def test_parse_table_rejects_odd_rows():
    with pytest.raises(ValueError, match="unexpected coordinates"):
        F.parse_mias_table("mdb001 G CIRC B 535 425\n")
    with pytest.raises(ValueError, match="without severity"):
        F.parse_mias_table("mdb001 G CIRC 535 425 197\n")
    assert F.parse_mias_table("mdb059 F CIRC B\n")[0]["x"] == ""
