"""Entry point of the studio's background jobs: `python -m tunesmith.studio.runner train|serve ...`.

It only parses arguments and calls the Python API, exactly as the CLI would.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tunesmith.errors import TunesmithError


def _stop_on_sigterm() -> None:
    # SIGTERM from the Stop button becomes KeyboardInterrupt so training can mark its run as stopped.
    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def run_train(args: argparse.Namespace) -> None:
    from tunesmith.data import load_prepared
    from tunesmith.project import Project
    from tunesmith.train import train

    project = Project.load(args.project)
    dataset = load_prepared(project.data_dir / args.dataset)
    result = train(project, dataset, resume=Path(args.resume) if args.resume else None)
    print(f"finished: {result.run_dir}", flush=True)


def run_improve(args: argparse.Namespace) -> None:
    from tunesmith.feedback.improve import improve
    from tunesmith.project import Project

    result = improve(Project.load(args.project), objective=args.objective)
    print(f"{result.outcome}: {result.reason}", flush=True)


def run_serve(args: argparse.Namespace) -> None:
    from tunesmith.studio.serving import serve_forever

    serve_forever(Path(args.project), args.model, args.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tunesmith.studio.runner")
    kinds = parser.add_subparsers(dest="kind", required=True)
    train = kinds.add_parser("train")
    train.add_argument("--project", required=True)
    train.add_argument("--dataset", required=True, help="dataset version under data/")
    train.add_argument("--resume", default=None, help="run folder to resume")
    serve = kinds.add_parser("serve")
    serve.add_argument("--project", required=True)
    serve.add_argument("--model", required=True, help="run folder or export folder to serve")
    serve.add_argument("--port", type=int, required=True)
    improve = kinds.add_parser("improve")
    improve.add_argument("--project", required=True)
    improve.add_argument("--objective", default=None, help="auto, sft, dpo or kto (default: feedback.objective)")
    args = parser.parse_args(argv)
    _stop_on_sigterm()
    try:
        {"train": run_train, "serve": run_serve, "improve": run_improve}[args.kind](args)
    except TunesmithError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("stopped", flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
