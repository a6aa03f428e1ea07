"""Syntax-unit and identifier annotations for Python files without Node (the GPU machine has none).

The same contract as spans.mjs (tree-sitter) writes for JS/TS: per file, `spans` are [start, end) character offsets of
whole units a user might select (statements and compound expressions from `ast`; leaves such as names and constants
are left out, as spans.mjs leaves out nodes without children), `idents` are [start, end, name] for every identifier
occurrence (NAME tokens from `tokenize` that are not keywords). Offsets are Python string indices (code points);
spans.mjs reports UTF-16 offsets and pack.py converts those, these need no conversion.

A file that does not parse (Python 2 code) keeps the identifiers `tokenize` could read and no units.
"""

from __future__ import annotations

import ast
import io
import keyword
import tokenize

MAX_UNIT_CHARS = 3000  # as spans.mjs
LEAVES = (ast.Name, ast.Constant, ast.Pass, ast.Break, ast.Continue)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def annotate(text: str) -> tuple[list[list[int]], list[list]]:
    lines = text.split("\n")
    starts = _line_starts(text)

    def char_offset(lineno: int, byte_col: int) -> int:
        # ast columns are UTF-8 byte offsets into the line; most lines are ASCII, where bytes == characters.
        line = lines[lineno - 1] if lineno - 1 < len(lines) else ""
        if line.isascii():
            col = byte_col
        else:
            col = len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))
        return starts[lineno - 1] + col if lineno - 1 < len(starts) else len(text)

    spans: list[list[int]] = []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if not isinstance(node, (ast.stmt, ast.expr)) or isinstance(node, LEAVES):
                continue
            if getattr(node, "end_lineno", None) is None:
                continue
            s = char_offset(node.lineno, node.col_offset)
            e = char_offset(node.end_lineno, node.end_col_offset)
            if 2 <= e - s <= MAX_UNIT_CHARS:
                spans.append([s, e])
        spans.sort()
    idents: list[list] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                # Soft keywords (match, case, type, _) are identifiers almost everywhere: keep them.
                (srow, scol), (erow, ecol) = tok.start, tok.end
                # tokenize columns are character offsets (it reads str lines).
                idents.append([starts[srow - 1] + scol, starts[erow - 1] + ecol, tok.string])
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return spans, idents


def annotate_file(record: dict) -> dict:
    spans, idents = annotate(record["text"]) if record.get("lang") == "python" else ([], [])
    return {"id": record["id"], "spans": spans, "idents": idents}
