"""``python -m eval.playground``: serve the playground page (``make playground``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import envs  # noqa: F401  (picks a headless GL backend before MuJoCo renders)
from envs.errors import BenchError

log = logging.getLogger("eval.playground")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Serve the playground: run one episode in the browser, browse results.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--results", type=Path, default=Path("results"),
                   help="the folder the Results tab browses (it serves files under it only)")
    p.add_argument("--out", type=Path, default=Path("results/runs/playground"),
                   help="where each episode's mp4, rrd and record are written")
    p.add_argument("--no-warm-up", action="store_true", help="do not build the default env before serving")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        import gradio  # noqa: F401
    except ImportError:
        log.error("the playground needs Gradio: pip install -e '.[playground]' (make playground installs it)")
        return 2
    from eval.playground.app import launch
    from eval.playground.session import Playground

    args.out.mkdir(parents=True, exist_ok=True)
    playground = Playground(args.out)
    try:
        if not args.no_warm_up:
            playground.warm_up()
        log.info("playground on http://%s:%d (results: %s, episodes written to %s)", args.host, args.port,
                 args.results, args.out)
        launch(playground, args.results, args.host, args.port, [args.results, args.out])
    except BenchError as e:
        log.error("%s", e)
        return 2
    finally:
        playground.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
