"""The fault suite's results file (one JSON line per scenario) and its table.

``python -m tests.faults.report FILE`` prints the file as a Markdown table, for the
README; ``make soak`` and the pytest summary print the same lines as text.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.faults.accounting import Result

SESSION: list[str] = []  # this process's lines, for the end-of-session summary
COLUMNS = ("setup", "scenario", "published", "delivered", "duplicates", "dead_lettered", "lost")


def append(path: Path, result: Result) -> None:
    """Add ``result`` as a JSON line to the results file (and to this session's lines)."""
    SESSION.append(result.line())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(json.dumps(result.as_json()) + "\n")


def load(path: Path) -> list[dict[str, Any]]:
    """The results in ``path``, in the order they ran."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table."""
    head = [*COLUMNS, "recovery"]
    lines = ["| " + " | ".join(c.replace("_", "-") for c in head) + " |"]
    lines.append("|" + "---|" * len(head))
    for row in results:
        took = "never" if row["recovery_s"] is None else f"{row['recovery_s']:.1f} s"
        cells = [str(row[c]) for c in COLUMNS] + [took]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(load(Path(sys.argv[1]))))
