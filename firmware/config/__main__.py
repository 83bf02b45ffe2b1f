"""``python -m firmware.config STATION.toml …``: check station files, print every problem.

Exit status 0 when every file is good, 1 otherwise. Nothing is started or opened.
"""

from __future__ import annotations

import sys

from firmware.config.load import check_station


def main(argv: list[str] | None = None) -> int:
    """Check the files named in ``argv``; print ``FILE: ok`` or one line per problem."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m firmware.config STATION.toml ...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        lines = check_station(path)
        for line in lines:
            print(line)
        if lines:
            status = 1
        else:
            print(f"{path}: ok")
    return status


if __name__ == "__main__":
    sys.exit(main())
