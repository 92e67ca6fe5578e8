"""The ``asd-toy-corpus`` command: generate or summarise the offline corpus.

``asd-toy-corpus make OUT_DIR`` generates the ASVspoof 2019 LA-style corpus
and its ASVspoof 2021 LA-style eval part (``make_toy_corpus``);
``asd-toy-corpus summary CORPUS`` counts the trials per split, attack and
speaker of a generated corpus or of a real ASVspoof 2019 LA folder, and per
codec and subset of the 2021 part when there is one (``summarize_corpus``).
Both print a table, or JSON with ``--json``. Bad input (a folder that holds
something else, a missing Debian package or tool) ends with a one-line
message and exit status 2.

Authors
 * speechbrain-asd developers
"""

import argparse
import json
import sys

from asd_toy_corpus.generate import (
    DEFAULT_SEED,
    DEFAULT_WORKERS,
    make_toy_corpus,
)
from asd_toy_corpus.plan import SIZES
from asd_toy_corpus.summary import format_corpus_summary, summarize_corpus

PROG = "asd-toy-corpus"
EXIT_BAD_INPUT = 2


def _print_summary(summary, as_json):
    """Prints a corpus summary as a table, or as JSON."""
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_corpus_summary(summary))


def _cmd_make(args):
    """Generates the corpus and prints its summary; returns the exit status."""
    summary = make_toy_corpus(
        args.out_dir,
        seed=args.seed,
        size=args.size,
        progress=not args.noprogressbar,
        workers=args.workers,
    )
    _print_summary(summary, args.json)
    return 0


def _cmd_summary(args):
    """Prints the summary of an existing corpus; returns the exit status."""
    _print_summary(summarize_corpus(args.corpus), args.json)
    return 0


def build_parser():
    """Builds the argument parser of ``asd-toy-corpus``.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each sub-command sets ``handler``.

    Example
    -------
    >>> args = build_parser().parse_args(["make", "data/toy_corpus"])
    >>> args.seed, args.size, args.workers
    (1234, 'default', 2)
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Offline ASVspoof 2019 LA-style corpus of speechbrain-asd: real "
            "speech of Debian packages, six spoofing systems seen in "
            "training plus unseen eval attacks, ASV lists, noise/RIR "
            "augmentation sets and an ASVspoof 2021 LA-style eval part "
            "(seven codec conditions)."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    make = commands.add_parser(
        "make",
        help="generate the corpus",
        description=(
            "Generate the corpus into OUT_DIR (skipped when it already "
            "holds the same seed and size; a corpus of the same seed and "
            "size without the 2021 eval part gets that part added)."
        ),
    )
    make.add_argument("out_dir", help="folder to create the corpus in")
    make.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed"
    )
    make.add_argument(
        "--size",
        choices=tuple(SIZES),
        default="default",
        help="'small' for tests and debug runs, 'default' for the demo",
    )
    make.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="worker processes (the corpus does not depend on it)",
    )
    make.add_argument(
        "--noprogressbar", action="store_true", help="no progress bar"
    )
    make.set_defaults(handler=_cmd_make)

    summary = commands.add_parser(
        "summary",
        help="count trials per split, attack and speaker of a corpus",
        description=(
            "Summarise an ASVspoof 2019 LA style corpus (and its 2021 LA "
            "eval part, when there is one)."
        ),
    )
    summary.add_argument("corpus", help="corpus folder (holds LA/)")
    summary.set_defaults(handler=_cmd_summary)

    for sub in (make, summary):
        sub.add_argument(
            "--json", action="store_true", help="print JSON, not a table"
        )
    return parser


def main(argv=None):
    """Runs the ``asd-toy-corpus`` command line.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on bad input.

    Example
    -------
    >>> folder = getfixture("tmp_path") / "c"
    >>> main(["make", str(folder), "--seed", "-1"])  # message, status 2
    2
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
