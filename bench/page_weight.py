"""Each page's HTML, CSS and JavaScript on the wire: gzip as served, and uncompressed.

The "before" and "after" figure for refactors that move templates or split the static
files: run it on both commits and compare (``--json`` keeps the figures, ``--compare``
prints the differences against a kept run).

Against gunicorn (DEBUG=false, collected static files), the simulator and the sync process
(bench_stack; pages read the index it keeps, so they are asked once it has read the
seeded history and the seeded running items' ends), with seeded content: 60 history
items (a fixed random seed; the gallery at its default 20 a page), three of them moved
to the trash, six library images, and a 2 × 2 run sent through the run form (no
background worker runs, so its four cells stay queued: the page renders all the same). Then every page is asked with ``Accept-Encoding: gzip`` and with
``Accept-Encoding: identity``; its ``<link rel="stylesheet">`` and ``<script src>``
(same origin only; CSS ``@import`` and the static imports of ``type="module"``
scripts followed) are fetched the same two ways.

  bytes        the body as received (after HTTP chunking, before any decoding): headers
               are not counted; an asset shared by several pages counts on each page
               (a cold cache), as it would on the first visit
  HTML gzip    TextGZipMiddleware compresses pages with Django's "Heal the BREACH"
               padding: 1-100 random bytes in the gzip header. They are taken out of the
               figures (the median of 5 requests) so two runs compare; the JSON keeps the
               wire figure with them
  CSS/JS gzip  whitenoise's precompressed copies (made by collectstatic)
  names        a static file's logical name (css/app.css), the manifest's hash removed

Also prints one ``PAGE_WEIGHT <page> key=value...`` line per page, to diff two runs.

Run: .venv/bin/python bench/page_weight.py [--json out.json] [--compare before.json]
     (prints figures; asserts nothing about them)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
from support import PYTHON, REPO, bench_stack, heading, main_guard, row, say, small_jpeg

SEED_ITEMS = 60
SEED_RANDOM = 20240611  # the simulator's seed draws tools, statuses and likes from this
TRASHED = 3
LIBRARY = {"person": 3, "clothes": 3}
RUN_ROWS = RUN_COLUMNS = 2
REPEATS = 5  # requests per page and encoding; the median is reported
# simulator/seed.py makes 2 recent pending items due 10-40 s after seeding.
PENDING_WAIT_SECONDS = 45.0
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
# ManifestStaticFilesStorage's fingerprint: name.0123456789ab.ext
HASHED = re.compile(r"\.[0-9a-f]{12}(?=\.[^./]+$)")
# Static imports of an ES module: import x from "y"; import "y"; export * from "y".
JS_IMPORT = re.compile(r"""(?:^|[;}\s])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"'\s]+)["']""")
CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""")


# --- Fetching ---------------------------------------------------------------------------


@dataclass
class Body:
    """One response as received: the body's bytes before any decoding."""

    status: int
    wire: bytes
    encoding: str  # Content-Encoding, "" when none
    content_length: int | None

    @property
    def padding(self) -> int:
        """Bytes of Django's random gzip-header filename ("Heal the BREACH"), 0 if none."""
        if self.encoding != "gzip" or len(self.wire) < 10 or not self.wire[3] & gzip.FNAME:
            return 0
        end = self.wire.find(b"\x00", 10)
        name = self.wire[10:end]
        return len(name) + 1 if end > 0 and name.strip(b"a") == b"" else 0

    @property
    def net(self) -> int:
        return len(self.wire) - self.padding

    def decoded(self) -> bytes:
        return gzip.decompress(self.wire) if self.encoding == "gzip" else self.wire


def get(session: requests.Session, url: str, headers: dict[str, str]) -> Body:
    with session.get(url, headers=headers, stream=True, allow_redirects=False, timeout=30) as response:
        wire = response.raw.read(decode_content=False)
        length = response.headers.get("Content-Length")
        body = Body(
            status=response.status_code,
            wire=wire,
            encoding=response.headers.get("Content-Encoding", ""),
            content_length=int(length) if length is not None else None,
        )
    if body.content_length is not None and body.content_length != len(body.wire):
        raise RuntimeError(f"{url}: Content-Length {body.content_length} but {len(body.wire)} bytes received")
    return body


class AssetParser(HTMLParser):
    """Stylesheets and scripts of a page, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stylesheets: list[str] = []
        self.scripts: list[tuple[str, bool]] = []  # (src, is a module)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "link" and "stylesheet" in a.get("rel", "").lower().split() and a.get("href"):
            self.stylesheets.append(a["href"])
        elif tag == "link" and "modulepreload" in a.get("rel", "").lower().split() and a.get("href"):
            self.scripts.append((a["href"], True))
        elif tag == "script" and a.get("src"):
            self.scripts.append((a["src"], a.get("type", "").strip().lower() == "module"))


@dataclass
class Asset:
    url: str
    name: str  # logical name, hash removed
    kind: str  # "css" or "js"
    gz: int
    raw: int
    encoding: str  # Content-Encoding of the gzip request ("" when served uncompressed)
    imports: list[str] = field(default_factory=list)  # urls


class Assets:
    """Static files fetched once each (both ways), named by the manifest."""

    def __init__(self, session: requests.Session, origin: str, manifest: Path) -> None:
        self.session = session
        self.origin = origin
        self.by_url: dict[str, Asset] = {}
        self.logical: dict[str, str] = {}
        if manifest.exists():
            paths = json.loads(manifest.read_text())["paths"]
            self.logical = {hashed: name for name, hashed in paths.items()}

    def name(self, url: str) -> str:
        path = urlsplit(url).path
        static = "/static/"
        relative = path[len(static) :] if path.startswith(static) else path
        return self.logical.get(relative) or HASHED.sub("", relative)

    def same_origin(self, url: str) -> bool:
        return urlsplit(url)[:2] == urlsplit(self.origin)[:2]

    def fetch(self, url: str, kind: str, module: bool) -> Asset:
        if url in self.by_url:
            return self.by_url[url]
        compressed = get(self.session, url, GZIP)
        plain = get(self.session, url, IDENTITY)
        for body, how in ((compressed, "gzip"), (plain, "identity")):
            if body.status != 200:
                raise RuntimeError(f"{url} ({how}) answered HTTP {body.status}")
        if plain.encoding:
            raise RuntimeError(f"{url}: Content-Encoding {plain.encoding} although identity was asked")
        if compressed.encoding and compressed.decoded() != plain.wire:
            raise RuntimeError(f"{url}: the gzip and identity copies differ")
        text = plain.wire.decode("utf-8", errors="replace")
        if kind == "css":
            # Any relative or absolute URL (not data:).
            found = [spec for spec in CSS_IMPORT.findall(text) if not spec.startswith("data:")]
        elif module:
            # Bare specifiers ("htmx.org") would need an import map: only URLs are followed.
            found = [spec for spec in JS_IMPORT.findall(text) if spec.startswith(("/", "./", "../", "http"))]
        else:
            found = []
        imports = [urljoin(url, spec) for spec in found]
        asset = Asset(
            url=url,
            name=self.name(url),
            kind=kind,
            gz=compressed.net,
            raw=len(plain.wire),
            encoding=compressed.encoding,
            imports=imports,
        )
        self.by_url[url] = asset
        return asset

    def closure(self, page_url: str, html: str) -> tuple[list[Asset], list[str]]:
        """Every same-origin stylesheet and script the page loads (imports followed,
        each once), and the foreign ones (not counted)."""
        parser = AssetParser()
        parser.feed(html)
        todo = [(urljoin(page_url, href), "css", False) for href in parser.stylesheets]
        todo += [(urljoin(page_url, src), "js", module) for src, module in parser.scripts]
        seen: set[str] = set()
        found: list[Asset] = []
        foreign: list[str] = []
        while todo:
            url, kind, module = todo.pop(0)
            if url in seen:
                continue
            seen.add(url)
            if not self.same_origin(url):
                foreign.append(url)
                continue
            asset = self.fetch(url, kind, module)
            found.append(asset)
            todo.extend((child, kind, True) for child in asset.imports)
        return found, foreign


# --- Seeding ------------------------------------------------------------------------------


def seed_history(stack, count: int) -> None:  # noqa: ANN001
    """simulator/seed.py with a fixed random seed: the same tools, statuses and likes every run."""
    code = (
        "import random\n"
        "from simulator.config import SimulatorConfig\n"
        "from simulator.seed import seed\n"
        f"seed(SimulatorConfig.from_env(), {count}, random.Random({SEED_RANDOM}))\n"
    )
    completed = subprocess.run(
        [PYTHON, "-c", code], cwd=REPO, env=stack.sim.env, capture_output=True, text=True, timeout=120
    )
    if completed.returncode != 0:
        raise RuntimeError(f"seeding failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")


def wait_for_pending(stack) -> tuple[int, float]:  # noqa: ANN001
    """Wait (at most PENDING_WAIT_SECONDS) for the seeded pending items to finish, so every
    run measures the same gallery; returns (still pending, seconds waited)."""
    api = requests.Session()
    api.headers.update(stack.sim.headers)
    started = time.monotonic()
    while True:
        response = api.get(
            f"{stack.sim.base_url}/user/generation-history", params={"limit": 1, "status": "pending"}, timeout=10
        )
        response.raise_for_status()
        pending = int(response.json()["total_count"])
        if not pending or time.monotonic() - started > PENDING_WAIT_SECONDS:
            return pending, time.monotonic() - started
        time.sleep(0.5)


def post(stack, path: str, data: dict, files=None) -> requests.Response:  # noqa: ANN001
    return stack.session.post(
        stack.url(path),
        data={**data, "csrfmiddlewaretoken": stack.csrf()},
        files=files,
        headers={"Referer": stack.url(path)},
        allow_redirects=False,
        timeout=60,
    )


def card_ids(html: str) -> list[tuple[str, str]]:
    """(status, id) of the gallery's cards, in order."""
    return re.findall(r'class="result-card status-([\w-]+)" id="card-([0-9a-f]+)"', html)


def add_library_images(stack) -> int:  # noqa: ANN001
    seed = 0
    for kind, count in LIBRARY.items():
        files = []
        for _ in range(count):
            seed += 1
            size = (480, 640) if kind == "person" else (640, 480)
            files.append(("images", (f"{kind}-{seed}.jpg", small_jpeg(seed, size=size), "image/jpeg")))
        answer = post(stack, "/library/add", {"kind": kind}, files=files)
        if answer.status_code != 303:
            raise RuntimeError(f"adding library images answered HTTP {answer.status_code}")
    return stack.query("SELECT COUNT(*) FROM dashboard_inputimage WHERE in_library")[0][0]


def start_run(stack) -> int:  # noqa: ANN001
    """A RUN_ROWS × RUN_COLUMNS run through the form, as run_cost.py sends it."""
    form = stack.session.get(stack.url("/runs/new?tool=fashion_swap"), timeout=30).text
    token = re.search(r'name="submission" value="([^"]+)"', form)
    if token is None:
        raise RuntimeError("no submission token on the run form")
    files = [("clothes", (f"garment-{i + 1}.jpg", small_jpeg(200 + i), "image/jpeg")) for i in range(RUN_ROWS)] + [
        ("person", (f"model-{j + 1}.jpg", small_jpeg(300 + j, size=(480, 640)), "image/jpeg"))
        for j in range(RUN_COLUMNS)
    ]
    answer = post(
        stack,
        "/runs/new",
        {"tool": "fashion_swap", "tool_group": "fashion", "submission": token.group(1), "style": ""},
        files=files,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"the run was not started: HTTP {answer.status_code}\n{answer.text[:2000]}")
    match = re.search(r"/runs/(\d+)/", answer.headers["Location"])
    if match is None:
        raise RuntimeError(f"the run form redirected to {answer.headers['Location']}")
    return int(match.group(1))


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class PageWeight:
    key: str
    label: str
    path: str
    html_gz: int  # median over REPEATS, BREACH padding taken out
    html_raw: int
    html_gz_wire: int  # median as received, padding included
    html_gz_spread: int  # max - min of html_gz over REPEATS
    html_raw_spread: int
    css_gz: int
    css_raw: int
    js_gz: int
    js_raw: int
    stylesheets: list[str]
    scripts: list[str]
    foreign: list[str]

    @property
    def total_gz(self) -> int:
        return self.html_gz + self.css_gz + self.js_gz

    @property
    def total_raw(self) -> int:
        return self.html_raw + self.css_raw + self.js_raw

    def figures(self) -> dict[str, int]:
        return {
            "html_gz": self.html_gz,
            "html_raw": self.html_raw,
            "css_gz": self.css_gz,
            "css_raw": self.css_raw,
            "js_gz": self.js_gz,
            "js_raw": self.js_raw,
            "total_gz": self.total_gz,
            "total_raw": self.total_raw,
        }


def measure(session: requests.Session, assets: Assets, key: str, label: str, url: str) -> PageWeight:
    compressed: list[Body] = []
    plain: list[Body] = []
    for _ in range(REPEATS):
        compressed.append(get(session, url, GZIP))
        plain.append(get(session, url, IDENTITY))
    for body in compressed + plain:
        if body.status != 200:
            raise RuntimeError(f"{label} ({url}) answered HTTP {body.status}")
    if any(body.encoding != "gzip" for body in compressed):
        raise RuntimeError(f"{label}: not gzipped although asked ({compressed[0].encoding or 'no Content-Encoding'})")
    if any(body.encoding for body in plain):
        raise RuntimeError(f"{label}: Content-Encoding {plain[0].encoding} although identity was asked")
    html = plain[0].wire.decode("utf-8")
    found, foreign = assets.closure(url, html)
    # The compressed page must load the same files (only tokens and nonces differ).
    other, _ = assets.closure(url, compressed[0].decoded().decode("utf-8"))
    if [a.url for a in other] != [a.url for a in found]:
        raise RuntimeError(f"{label}: the gzip and identity pages load different files")
    css = [a for a in found if a.kind == "css"]
    js = [a for a in found if a.kind == "js"]
    gz_sizes = [body.net for body in compressed]
    raw_sizes = [len(body.wire) for body in plain]
    return PageWeight(
        key=key,
        label=label,
        path=urlsplit(url).path,
        html_gz=round(statistics.median(gz_sizes)),
        html_raw=round(statistics.median(raw_sizes)),
        html_gz_wire=round(statistics.median(len(body.wire) for body in compressed)),
        html_gz_spread=max(gz_sizes) - min(gz_sizes),
        html_raw_spread=max(raw_sizes) - min(raw_sizes),
        css_gz=sum(a.gz for a in css),
        css_raw=sum(a.raw for a in css),
        js_gz=sum(a.gz for a in js),
        js_raw=sum(a.raw for a in js),
        stylesheets=[a.name for a in css],
        scripts=[a.name for a in js],
        foreign=foreign,
    )


# --- Output --------------------------------------------------------------------------------


def pair(gz: int, raw: int) -> str:
    return f"{gz:>7,} / {raw:>7,}"


def print_table(pages: list[PageWeight]) -> None:
    width = max(len(p.label) for p in pages)
    head = (
        f"  {'page':<{width}}  {'HTML gz / raw':>17}  {'CSS gz / raw':>17}  {'JS gz / raw':>17}  {'total gz / raw':>17}"
    )
    say(head)
    say("  " + "-" * (len(head) - 2))
    for p in pages:
        say(
            f"  {p.label:<{width}}  {pair(p.html_gz, p.html_raw)}  {pair(p.css_gz, p.css_raw)}"
            f"  {pair(p.js_gz, p.js_raw)}  {pair(p.total_gz, p.total_raw)}"
        )
    say("  (bytes of the bodies; gz = as served with Accept-Encoding: gzip, raw = with identity)")


def machine_line(p: PageWeight) -> str:
    figures = " ".join(f"{name}={value}" for name, value in p.figures().items())
    return f"PAGE_WEIGHT {p.key} {figures} css={','.join(p.stylesheets) or '-'} js={','.join(p.scripts) or '-'}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min; {os.cpu_count()} CPUs)"


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' (uncommitted changes)' if dirty else ''}" if head else "unknown"


def compare(pages: list[PageWeight], before_path: Path) -> None:
    """Differences against a kept --json run; HTML gzip is allowed its noise (spread)."""
    before = json.loads(before_path.read_text())
    old_pages = before["pages"]
    heading(f"compared with {before_path} (commit {before.get('commit', '?')}): now - before, bytes")
    names = ("html_gz", "css_gz", "js_gz", "total_gz", "html_raw", "css_raw", "js_raw", "total_raw")
    width = max(len(p.label) for p in pages)
    say(f"  {'page':<{width}}  " + "  ".join(f"{name:>9}" for name in names))
    larger: list[str] = []
    for p in pages:
        old = old_pages.get(p.key)
        if old is None:
            say(f"  {p.label:<{width}}  (not in the earlier run)")
            continue
        now = p.figures()
        deltas = {name: now[name] - old[name] for name in names}
        say(f"  {p.label:<{width}}  " + "  ".join(f"{deltas[name]:>+9,}" for name in names))
        # Random tokens make a page's gzip size vary by a few bytes from request to request.
        noise = max(p.html_gz_spread, old.get("html_gz_spread", 0)) + 8
        for name in ("html_gz", "css_gz", "js_gz", "total_gz"):
            allowed = noise if name in ("html_gz", "total_gz") else 0
            if deltas[name] > allowed:
                larger.append(f"{p.key} {name} {deltas[name]:+,}")
        if p.scripts != old.get("scripts"):
            say(f"  {'':<{width}}  scripts were {', '.join(old.get('scripts', [])) or '-'}")
    missing = sorted(set(old_pages) - {p.key for p in pages})
    if missing:
        say(f"  pages of the earlier run not measured now: {', '.join(missing)}")
    say("")
    if larger:
        say("  LARGER on the wire (gzip) than before: " + "; ".join(larger))
    else:
        say("  no page's gzip HTML, CSS or JavaScript is larger than before (HTML within its token noise)")


# --- Main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures to this JSON file")
    parser.add_argument("--compare", type=Path, metavar="BEFORE", help="a JSON file of an earlier run to compare with")
    args = parser.parse_args()
    if args.compare and not args.compare.exists():
        parser.error(f"{args.compare} does not exist")

    heading("page_weight: each page's HTML, CSS and JavaScript on the wire (gzip and uncompressed)")
    commit = git_commit()
    load_before = load_average()
    row("commit", commit)
    row("load average at start", load_before)
    with bench_stack("page_weight") as stack:
        say(f"  dashboard: gunicorn, one sync worker, DEBUG=false, collected static files ({stack.dashboard.base_url})")

        # --- Content ---------------------------------------------------------------------
        started = time.monotonic()
        seed_history(stack, SEED_ITEMS)
        pending, waited = wait_for_pending(stack)
        synced = stack.wait_for_index(settled=True)
        say(
            f"  seeded {SEED_ITEMS} history items (random seed {SEED_RANDOM}); waited {waited:.0f} s for the seeded "
            f"pending ones to finish"
            + (f": {pending} STILL PENDING" if pending else "")
            + f", and {synced:.0f} s more for the sync to have read it all"
        )
        third_page = stack.session.get(stack.url("/history/?page=3"), timeout=30).text
        for _, item_id in card_ids(third_page)[:TRASHED]:
            answer = post(stack, f"/history/{item_id}/delete", {"title": "bench"})
            if answer.status_code != 303:
                raise RuntimeError(f"moving {item_id} to the trash answered HTTP {answer.status_code}")
        trashed = stack.query("SELECT COUNT(*) FROM dashboard_trashedresult")[0][0]
        in_library = add_library_images(stack)
        run_id = start_run(stack)
        cells = stack.query("SELECT COUNT(*) FROM dashboard_runcell WHERE run_id = ?", (run_id,))[0][0]
        first_page = stack.session.get(stack.url("/history/"), timeout=30).text
        cards = card_ids(first_page)
        complete = [item_id for status, item_id in cards if status == "complete"]
        if len(complete) < 2:
            raise RuntimeError(f"fewer than 2 complete results on the gallery's first page: {cards}")
        lightbox_id = complete[1]  # one with a previous and a next result
        say(
            f"  {trashed} results in the trash, {in_library} library images, run {run_id} with {cells} queued cells "
            f"(no worker), gallery page 1: {len(cards)} cards; set up in {time.monotonic() - started:.0f} s"
        )

        # --- Pages -------------------------------------------------------------------------
        logged_out = requests.Session()
        assets = Assets(stack.session, stack.dashboard.base_url, stack.tmp / "static" / "staticfiles.json")
        guest_assets = Assets(logged_out, stack.dashboard.base_url, stack.tmp / "static" / "staticfiles.json")
        pages_to_measure = [
            ("login", "Login (logged out)", "/login/", logged_out, guest_assets),
            ("generate", "Generate", "/", stack.session, assets),
            ("history", "History", "/history/", stack.session, assets),
            ("lightbox", "Result lightbox", f"/history/{lightbox_id}/", stack.session, assets),
            ("library", "Library", "/library/", stack.session, assets),
            ("new_run", "New run", "/runs/new", stack.session, assets),
            ("run", "Run page", f"/runs/{run_id}/", stack.session, assets),
            ("runs", "Runs list", "/runs/", stack.session, assets),
            ("trash", "Trash", "/trash/", stack.session, assets),
        ]
        pages = [
            measure(session, found, key, label, stack.url(path))
            for key, label, path, session, found in pages_to_measure
        ]
        everything = {**guest_assets.by_url, **assets.by_url}

    load_after = load_average()

    heading(f"per page, bytes (HTML: median of {REPEATS} requests each way)")
    print_table(pages)
    say("")
    for p in pages:
        say(f"  {p.label} ({p.path})")
        say(f"      css: {', '.join(p.stylesheets) or '-'}")
        say(f"      js:  {', '.join(p.scripts) or '-'}")
        if p.foreign:
            say(f"      not counted (another origin): {', '.join(p.foreign)}")

    heading("static files loaded by these pages")
    say(f"  {'file':<32}  {'gz / raw':>17}  served gzip  pages")
    for asset in sorted({a.name: a for a in everything.values()}.values(), key=lambda a: (a.kind, a.name)):
        users = [p.key for p in pages if asset.name in p.stylesheets + p.scripts]
        say(
            f"  {asset.name:<32}  {pair(asset.gz, asset.raw)}  {'yes' if asset.encoding == 'gzip' else 'NO ':<11}  "
            f"{len(users)}: {', '.join(users)}"
        )

    heading("HTML gzip: Django's random padding taken out, and request-to-request spread")
    for p in pages:
        row(
            p.label,
            f"{p.html_gz:,} B (as received, median: {p.html_gz_wire:,} B); spread over {REPEATS}: "
            f"gz {p.html_gz_spread} B, raw {p.html_raw_spread} B",
        )

    heading("machine-readable (diff two runs)")
    for p in pages:
        say(machine_line(p))

    heading("conditions")
    row("commit", commit)
    row("load average at start", load_before)
    row("load average at the end", load_after)
    row("python", sys.version.split()[0])

    if args.json:
        data = {
            "commit": commit,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "load_average": {"start": load_before, "end": load_after},
            "repeats": REPEATS,
            "pages": {p.key: {**asdict(p), **p.figures()} for p in pages},
            "assets": {
                a.name: {"kind": a.kind, "gz": a.gz, "raw": a.raw, "served_gzip": a.encoding == "gzip"}
                for a in everything.values()
            },
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        say(f"\n  figures written to {args.json}")
    if args.compare:
        compare(pages, args.compare)
    return 0


if __name__ == "__main__":
    main_guard(main)
