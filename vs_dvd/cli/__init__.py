"""vs-dvd from the command line: what this machine can run, a self-test, the TensorRT engine cache, and
rendering a video without writing a .vpy, on this machine or on a Ray cluster.

``vs-dvd COMMAND --help`` explains each command. Every command imports its runtimes (torch, OpenVINO,
TensorRT, Ray, PyAV) only when it runs.
"""
from __future__ import annotations

import argparse
import importlib

COMMANDS = {  # name -> the module with its docstring (help), configure(parser) and run(args, parser)
    "info": "vs_dvd.cli.info",
    "selftest": "vs_dvd.cli.selftest",
    "engines": "vs_dvd.cli.engines",
    "deblur": "vs_dvd.cli.deblur",
    "render": "vs_dvd.fleet",
}


def _paragraphs(doc: str) -> tuple[str, str]:
    """A docstring's first paragraph (one line of help) and the rest (the epilog), without RST quotes."""
    first, _, rest = doc.replace("``", "").strip().partition("\n\n")
    return " ".join(first.split()), rest


def parser() -> argparse.ArgumentParser:
    from .. import __version__

    summary, rest = _paragraphs(__doc__)
    p = argparse.ArgumentParser(prog="vs-dvd", description=summary, epilog=rest,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"vs-dvd {__version__}")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        summary, rest = _paragraphs(module.__doc__)
        sub = commands.add_parser(name, help=summary, description=summary, epilog=rest,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(sub)
        sub.set_defaults(run=module.run, parser=sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """``vs-dvd ARGS...``: the exit status (0 success, 1 the command failed, 2 bad arguments)."""
    args = parser().parse_args(argv)
    return args.run(args, args.parser)
