"""Python's JSON syntax errors in the words of Go's encoding/json.

Why: the apiserver answers a malformed body with `couldn't get version/kind; json parse error: <Go's
error>`, and kubectl/clients print that verbatim. Python says `Expecting value: line 1 column 1 (char 0)`
where Go says `invalid character 'h' looking for beginning of value`; users compare the two.
"""
from __future__ import annotations

import json

_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Extra data": "after top-level value",
    "Invalid control character at": "in string literal",
    "Invalid \\escape": "in string escape code",
}


def quote_char(c: str) -> str:
    """Go's `quoteChar`: `'x'`, `'\\''`, `'"'`, `'\\n'`."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    q = json.dumps(c, ensure_ascii=False)[1:-1]
    return f"'{q}'"


def _innermost(text: str, pos: int) -> str:
    """`{` or `[` (or "") open at `pos`: which container a missing `,` belongs to."""
    stack: list[str] = []
    in_str = esc = False
    for c in text[:pos]:
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in "{[":
            stack.append(c)
        elif c in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_message(text: str, err: json.JSONDecodeError) -> str:
    """The message Go's json.Unmarshal gives for the input that made Python raise `err`."""
    pos = err.pos
    if err.msg.startswith("Unterminated string") or not text[pos:].strip():
        return "unexpected end of JSON input"
    if err.msg.startswith("Invalid \\escape"):
        pos += 1  # Python points at the backslash, Go names the character after it
    ch = text[pos]
    if err.msg == "Expecting ',' delimiter":
        where = "after array element" if _innermost(text, pos) == "[" else "after object key:value pair"
    else:
        where = next((v for k, v in _CONTEXT.items() if err.msg.startswith(k)), "looking for beginning of value")
    return f"invalid character {quote_char(ch)} {where}"
