"""Command line: ``python -m simulator [serve] [--host H] [--port P] [--data-dir D]``
and ``python -m simulator seed --count N [--data-dir D]``.

Without a subcommand the simulator serves, so ``python -m simulator --port 8001`` works.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from simulator.config import SimulatorConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="Local Nextry API simulator")
    # Serve options also live on the top-level parser so the subcommand may be omitted.
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--data-dir", help="overrides SIMULATOR_DATA_DIR")
    commands = parser.add_subparsers(dest="command")

    serve = commands.add_parser("serve", help="run the HTTP server (default)")
    serve.add_argument("--host", default=argparse.SUPPRESS)
    serve.add_argument("--port", type=int, default=argparse.SUPPRESS)
    serve.add_argument("--data-dir", default=argparse.SUPPRESS, help="overrides SIMULATOR_DATA_DIR")

    seed = commands.add_parser("seed", help="add N plausible history items to the data dir")
    seed.add_argument("--count", type=int, default=250)
    seed.add_argument("--data-dir", default=argparse.SUPPRESS, help="overrides SIMULATOR_DATA_DIR")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = SimulatorConfig.from_env(data_dir=args.data_dir)
    except ValueError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2

    if args.command == "seed":
        if args.count < 0:
            print("simulator: --count must be >= 0", file=sys.stderr)
            return 2
        # Imported here so serving never pays for the seed module's imports and vice versa.
        from simulator.seed import seed

        started = time.monotonic()
        ids = seed(config, args.count)
        print(f"seeded {len(ids)} items into {config.data_dir} in {time.monotonic() - started:.1f}s")
        return 0

    import uvicorn

    from simulator.app import create_app

    # One process: its state lives in it. workers=1 also stops uvicorn reading WEB_CONCURRENCY,
    # which a deployment exports for the web processes (it refused to start with it set).
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning", workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
