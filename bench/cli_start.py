"""How fast the command line answers: `--help` and argument errors against Python's own start.

Runs each command several times in fresh processes and prints the median wall time and its
ratio to `python -c pass` (the floor) and to `python -c "import torch"` (what every command paid
before the CLI stopped importing torch up front). Target (issue 15): `--help` and argument
errors in < 1 s on the 2-core machine.

    python bench/cli_start.py            # 7 repeats each
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "vaelab --help": [sys.executable, "-m", "vaelab", "--help"],
    "vaelab train --help": [sys.executable, "-m", "vaelab", "train", "--help"],
    "vaelab train --epochs abc": [sys.executable, "-m", "vaelab", "train", "--epochs", "abc"],
    "vaelab evaluate /no/such/run": [sys.executable, "-m", "vaelab", "evaluate", "/no/such/run"],
}


def median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    subprocess.run(COMMANDS["python -c pass"], check=True)  # warm the file cache
    times = {name: median_seconds(command, args.repeats) for name, command in COMMANDS.items()}
    floor, torch_start = times["python -c pass"], times['python -c "import torch"']
    print(f"median of {args.repeats} fresh processes; python {sys.version.split()[0]}\n")
    print(f"{'command':<32} {'seconds':>8} {'/ python':>9} {'/ import torch':>15}")
    for name, seconds in times.items():
        print(f"{name:<32} {seconds:>8.3f} {seconds / floor:>9.1f} {seconds / torch_start:>15.2f}")


if __name__ == "__main__":
    main()
