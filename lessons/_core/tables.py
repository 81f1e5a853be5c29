"""Plain-text tables for notebooks: fixed columns, right-aligned numbers, identical on every run."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Column", "format_table"]


@dataclass(frozen=True)
class Column:
    """One column: the row key it shows, its header and a format spec (e.g. ".3f", ".1%", "")."""

    key: str
    header: str
    spec: str = ""

    def cell(self, row) -> str:
        value = row[self.key]
        if value is None:
            return "-"
        return format(value, self.spec)


def format_table(rows, columns) -> str:
    """Rows (dicts) as a text table: first column left-aligned, the others right-aligned.

    Args:
        rows: an iterable of mappings holding each column's key (None shows as "-").
        columns: an iterable of :class:`Column`.
    """
    rows, columns = list(rows), list(columns)
    if not columns:
        raise ValueError("columns must name at least one Column")
    cells = [[c.header for c in columns]] + [[c.cell(r) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = []
    for line in cells:
        parts = [line[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)
