"""`python -m misflag.gallery NAME`: print a gallery page's checks (NAME: everify, ll144, compas, rfw, crosscheck)."""

from __future__ import annotations

import sys

from misflag.gallery import PAGES, render


def main(arguments: list[str]) -> int:
    if len(arguments) != 1 or arguments[0] not in PAGES:
        print(f"error: give one page: {', '.join(PAGES)}", file=sys.stderr)
        return 2
    checks, sources = PAGES[arguments[0]]()
    print(render(checks, sources))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
