"""Compare the rendered pages of two report runs, up to what differs from run to run.

Used to check that a change to how pages are produced (the runner, its workers, the
renderer) leaves every page as it was: run the same roles on the same warehouse
before and after, then::

    python -m benchmarks.compare_pages <before>/<period> <after>/<period>

Every ``*.html`` of the first folder (the index and each ``<role>/<page>.html``) must
exist in the second and be equal to it once these are replaced by a placeholder:

* the run folder's own path (the notebooks print the snapshot's path in the analyst's
  parameters cell);
* ``cell-id=<8 hex digits>``: the id Papermill gives the injected-parameters cell (a
  random ``uuid4`` per execution);
* ``T_<5 hex digits>``: the id pandas' ``Styler`` gives each styled table and its CSS
  rules (random per rendering).

Two runs of the same code differ in exactly these (measured on the tiny demo: 19
pages). Prints each page that differs with its first differing tag, and the count;
exits 1 when a page differs or is missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_RANDOM_IDS = (
    (re.compile(r"cell-id=[0-9a-f]{8}"), "cell-id=X"),
    (re.compile(r"T_[0-9a-f]{5}"), "T_X"),
)


def normalised(text: str, run_folder: Path) -> str:
    """``text`` with the run's folder path and the random ids above replaced."""
    text = text.replace(str(run_folder), "<run>")
    for pattern, placeholder in _RANDOM_IDS:
        text = pattern.sub(placeholder, text)
    return text


def differing_pages(before: Path, after: Path) -> list[str]:
    """One line per page of ``before`` missing from ``after`` or different from it."""
    lines = []
    pages = sorted(before.glob("*.html")) + sorted(before.glob("*/*.html"))
    for page in pages:
        name = page.relative_to(before)
        other = after / name
        if not other.is_file():
            lines.append(f"{name}: missing in {after}")
            continue
        old = normalised(page.read_text(encoding="utf-8"), before.parent)
        new = normalised(other.read_text(encoding="utf-8"), after.parent)
        if old != new:
            tags = zip(old.split(">"), new.split(">"), strict=False)
            first = next((i for i, (a, b) in enumerate(tags) if a != b), None)
            where = f"tag {first}" if first is not None else "length"
            lines.append(f"{name}: differs ({where})")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m benchmarks.compare_pages BEFORE_PERIOD_DIR AFTER_PERIOD_DIR")
        return 2
    before, after = Path(args[0]).resolve(), Path(args[1]).resolve()
    lines = differing_pages(before, after)
    pages = len(list(before.glob("*.html")) + list(before.glob("*/*.html")))
    print("\n".join(lines + [f"{len(lines)} of {pages} pages differ"]))
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
