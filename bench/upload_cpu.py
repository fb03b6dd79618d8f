"""Peak memory and CPU seconds of checking and keeping one upload, file by file.

Each file goes through what a designer's upload goes through in the dashboard
(dashboard/jobs/services.py, dashboard/generate/forms.py): inspect_image with the production limits
(20 MB, 40 megapixels), then, if accepted, make_thumbnail (512 px) and write_sanitized
into a temporary file. Each file runs in a fresh Python process, which reports its own
figures: peak RSS (VmHWM) above the RSS it had once dashboard.images was imported (this
sees Pillow's C buffers, which tracemalloc does not), and user+system CPU seconds.

The files: hostile ones (small uploads that used to cost hundreds of MB or tens of
seconds) and legitimate photos of about 20 MB in each format, plus the largest images
each format may be (what the per-format pixel limits are about).

Run: .venv/bin/python bench/upload_cpu.py   (prints figures; asserts nothing about them)
     .venv/bin/python bench/upload_cpu.py --quick   (hostile files only)
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from support import MIB, REPO, heading, large_photos, main_guard, say

MAX_BYTES = 20 * MIB
MAX_PIXELS = 40_000_000
THUMBNAIL_SIDE = 512


# --- The child: one file, measured from the inside ----------------------------------


def _usage() -> tuple[int, float]:
    """(peak RSS in KiB, CPU seconds) of this process. The peak is VmHWM, not ru_maxrss:
    across fork and exec ru_maxrss keeps the parent's figure, which holds the test images."""
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return hwm, usage.ru_utime + usage.ru_stime


def check_and_keep(path: str) -> str:
    from dashboard.core import images

    with open(path, "rb") as upload:
        try:
            info = images.inspect_image(upload, max_bytes=MAX_BYTES, max_pixels=MAX_PIXELS)
        except images.ImageRejected as exc:
            return f"refused: {exc.message}"
        images.make_thumbnail(upload, info, max_side=THUMBNAIL_SIDE)
        with tempfile.TemporaryFile() as sanitized:
            images.write_sanitized(upload, info, sanitized)
        return f"accepted {info.width}x{info.height}, orientation {info.orientation}"


def measure_one(path: str, threads: int = 1) -> dict[str, object]:
    """check_and_keep(path) in `threads` threads at once (a worker runs 8)."""
    from concurrent.futures import ThreadPoolExecutor

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

    base_kib, base_cpu = _usage()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = set(pool.map(check_and_keep, [path] * threads))
    outcome = " / ".join(sorted(outcomes))
    peak_kib, cpu = _usage()
    return {
        "peak_mb": (peak_kib - base_kib) / 1024,
        "cpu_s": cpu - base_cpu,
        "wall_s": time.perf_counter() - started,
        "outcome": outcome,
    }


def run_child(path: Path, threads: int = 1, timeout: float = 300.0) -> dict[str, object]:
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(path), str(threads)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return {"peak_mb": float("nan"), "cpu_s": float("nan"), "wall_s": timeout, "outcome": "TIMED OUT"}
    if done.returncode != 0:
        return {
            "peak_mb": float("nan"),
            "cpu_s": float("nan"),
            "wall_s": float("nan"),
            "outcome": f"CRASHED: {done.stderr[-300:]}",
        }
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The files ----------------------------------------------------------------------


def encode(img, fmt: str, **options: object) -> bytes:  # noqa: ANN001
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


def photo_like(size: tuple[int, int], grain: float, mode: str = "RGB"):  # noqa: ANN201
    """Gradients and blotches blended with `grain` of noise, like a high-ISO photo."""
    from PIL import Image, ImageFilter

    width, height = size
    gradient = Image.linear_gradient("L")
    blotches = (
        Image.effect_noise((max(1, width // 48), max(1, height // 48)), 70)
        .filter(ImageFilter.GaussianBlur(2))
        .resize(size, Image.Resampling.BICUBIC)
    )
    base = Image.merge("RGB", [gradient.resize(size), gradient.rotate(90).resize(size), blotches])
    noise = Image.merge("RGB", [Image.effect_noise(size, 64) for _ in range(3)])
    img = Image.blend(base, noise, grain)
    if mode == "RGBA":
        img.putalpha(gradient.resize(size))
    return img


def rotated(data: bytes, orientation: int = 6) -> bytes:
    """The same JPEG with an EXIF orientation tag, as a phone held upright writes it."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = b"Exif\x00\x00" + exif.tobytes()
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + segment + data[2:]


def hostile_files() -> list[tuple[str, Callable[[], bytes]]]:
    from tests.support import corpus

    return [
        ("lossless WebP bomb 6300x6300", lambda: corpus.lossless_webp_bomb(6300, 6300)),
        ("PNG, 1.66 M empty private chunks", lambda: corpus.png_chunk_flood(1_660_000)),
        ("JPEG, 19 MB stray bytes", lambda: corpus.jpeg_with_stray_bytes(19 * MIB)),
        ("JPEG, 19 MB fill bytes", lambda: corpus.jpeg_with_stray_bytes(19 * MIB, b"\xff")),
        ("JPEG 7300x5450, 1000 progressive scans", lambda: corpus.jpeg_with_repeated_scans(1000, (7300, 5450))),
        ("JPEG 7300x5450, 64 progressive scans", lambda: corpus.jpeg_with_repeated_scans(64, (7300, 5450))),
        ("PNG 64x64, data inflating to 4 GB", lambda: corpus.png_with_endless_image_data(4096 * MIB)),
        ("WebP, 2 M empty unknown chunks", lambda: corpus.webp_chunk_flood(2_000_000)),
    ]


def legitimate_files(tmp: Path) -> list[tuple[str, Callable[[], bytes]]]:
    from PIL import Image

    def jpeg_20mb() -> bytes:
        return large_photos(tmp, 1)[0].read_bytes()

    return [
        ("JPEG photo 6000x4000 (20 MB)", jpeg_20mb),
        ("same JPEG, EXIF orientation 6", lambda: rotated(jpeg_20mb())),
        ("PNG photo 3000x2250 (~19 MB)", lambda: encode(photo_like((3000, 2250), 0.5), "PNG")),
        ("WebP lossy photo 6000x4000 q100", lambda: encode(photo_like((6000, 4000), 0.5), "WEBP", quality=100)),
        ("WebP lossy photo 4896x3264 q100", lambda: encode(photo_like((4896, 3264), 0.5), "WEBP", quality=100)),
        ("WebP alpha photo 4896x3264 q90", lambda: encode(photo_like((4896, 3264), 0.2, "RGBA"), "WEBP", quality=90)),
        ("WebP lossless photo 2400x1800", lambda: encode(photo_like((2400, 1800), 0.3), "WEBP", lossless=True)),
        ("PNG RGBA 7300x5450 (40 MP)", lambda: encode(photo_like((7300, 5450), 0.0, "RGBA"), "PNG")),
        (
            "JPEG progressive 7300x5450 q85 444",
            lambda: encode(photo_like((7300, 5450), 0.02), "JPEG", quality=85, progressive=True, subsampling=0),
        ),
        ("WebP lossy 7300x5450 (40 MP)", lambda: encode(photo_like((7300, 5450), 0.1), "WEBP", quality=80)),
        (
            "WebP lossless flat 6300x6300",
            lambda: encode(Image.new("RGB", (6300, 6300), (40, 90, 160)), "WEBP", lossless=True),
        ),
    ]


def parallel_files(tmp: Path) -> list[tuple[str, Callable[[], bytes]]]:
    from tests.support import corpus

    return [
        ("8 x lossless WebP 4000x4000 (34 B)", lambda: corpus.lossless_webp_bomb(4000, 4000)),
        ("8 x JPEG 6000x4000, orientation 6", lambda: rotated(large_photos(tmp, 1)[0].read_bytes())),
    ]


def main() -> int:
    quick = "--quick" in sys.argv
    heading("upload_cpu: peak RSS and CPU of inspect + thumbnail + sanitize, one process per file")
    say(f"  limits: {MAX_BYTES // MIB} MB, {MAX_PIXELS / 1e6:.0f} megapixels; thumbnail {THUMBNAIL_SIDE} px")
    say("  peak MB = VmHWM after - VmHWM once dashboard.images is imported (1 MB = 1 MiB)")
    with tempfile.TemporaryDirectory(prefix="upload_cpu-") as folder:
        tmp = Path(folder)
        groups = [("hostile files", hostile_files())]
        if not quick:
            groups.append(("legitimate photos and the largest image of each format", legitimate_files(tmp)))
        if not quick:
            groups.append(("8 threads at once in one process (a worker runs 8)", parallel_files(tmp)))
        for title, files in groups:
            heading(title)
            say(f"  {'file':<38} {'bytes':>11} {'peak MB':>8} {'CPU s':>7} {'wall s':>7}  outcome")
            for name, make in files:
                data = make()
                path = tmp / "upload"
                path.write_bytes(data)
                r = run_child(path, threads=8 if name.startswith("8 x ") else 1)
                say(
                    f"  {name:<38} {len(data):>11,} {r['peak_mb']:>8.1f} {r['cpu_s']:>7.2f} {r['wall_s']:>7.2f}"
                    f"  {r['outcome']}"
                )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(measure_one(sys.argv[2], int(sys.argv[3]))))
    else:
        main_guard(main)
