"""Re-make the Examples page's outputs: run every script in examples/ as written (its defaults),
keep what it printed as docs/images/examples/NAME.txt and the pictures of the report it wrote (if
any) as docs/images/examples/NAME-*.png. The committed files are one such run; the page says so.

    python docs/example_outputs.py --data-dir ../shared/data     # ~2.5 min on 2 CPU cores, one thread

Not part of the site build (which only reads the committed files) nor of the tests (which run
every example on a tiny budget, tests/test_examples.py).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "examples"
#: the report pictures each example's page shows: {alt text in report.html: file suffix}
PICTURES = {"samples from the prior": "samples",
            "test images beside their reconstructions": "reconstructions",
            "training curves": "training-curves"}


def report_pictures(report: Path) -> dict[str, bytes]:
    """{suffix: PNG bytes} of the pictures named in PICTURES, read from a report's inlined images."""
    html = report.read_text()
    found = {}
    for tag in re.findall(r"<img[^>]*>", html):
        alt = re.search(r'alt="([^"]*)"', tag)
        data = re.search(r'src="data:image/png;base64,([^"]+)"', tag)
        if alt and data and alt.group(1) in PICTURES:
            found[PICTURES[alt.group(1)]] = base64.b64decode(data.group(1))
    return found


def run_example(script: Path, data_dir: str | None, work: Path) -> None:
    out = work / script.stem
    argv = [f"examples/{script.name}", "--out", str(out)]
    if data_dir and "--data-dir" in script.read_text():
        argv += ["--data-dir", data_dir]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - started
    shown = " ".join(a if a != str(out) else f"/tmp/{script.stem}" for a in argv)
    printed = done.stdout.replace(str(out), f"/tmp/{script.stem}")
    (OUT / f"{script.stem}.txt").write_text(f"$ python {shown}    # {seconds:.0f} s\n{printed}")
    report = out / "report.html"
    for suffix, png in (report_pictures(report) if report.is_file() else {}).items():
        (OUT / f"{script.stem}-{suffix}.png").write_bytes(png)
    print(f"{script.name}: {seconds:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--data-dir", default=os.environ.get("VAELAB_DATA"),
                        help="the folder of the Fashion-MNIST files (conv_fashion_mnist.py)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vaelab-example-outputs-") as work:
        for script in sorted((ROOT / "examples").glob("*.py")):
            run_example(script, args.data_dir, Path(work))


if __name__ == "__main__":
    main()
