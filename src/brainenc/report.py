"""``python -m brainenc.report RUN_OR_MULTIRUN_DIR [...]``: compare runs against the references.

Writes ``comparison.md``, ``comparison.csv`` (sorted by validation score; a unique best run
marked ★, runs tied with it to 3 decimals marked "(tie)" and none starred; scores of limited
runs marked "(partial: N of M samples)"; runs that left no score listed last as failed; the
reference predictors and every score's fraction of the noise ceiling beside the runs) and
``curves.png`` (one panel per metric, runs labelled by table position) into ``--out``
(default: the first directory given) and prints the table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from brainenc.atomic_files import DiskFullError, UnwritableFolderError, check_writable
from brainenc.evaluation.comparison import write_report


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m brainenc.report", description=__doc__)
    parser.add_argument("dirs", nargs="+", type=Path, help="run or multirun directories")
    parser.add_argument("--out", type=Path, help="output directory (default: the first dir)")
    args = parser.parse_args(argv)
    out = args.out or args.dirs[0]
    try:
        check_writable(out, "--out")
        files = write_report(args.dirs, out)
    except (FileNotFoundError, ValueError, UnwritableFolderError, DiskFullError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if files.warning:
        print(files.warning)
    print(files.table)
    for path in (files.markdown, files.csv, files.curves):
        if path is not None:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
