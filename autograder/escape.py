"""Escaping every string a submission controls before it reaches a terminal, a spreadsheet, Markdown or HTML."""
from __future__ import annotations

import html

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def plain_text(value) -> str:
    """A submitted string safe to print and to write as UTF-8: control characters (terminal escape sequences, a
    lone carriage return), lone surrogates and bidirectional overrides become U+FFFD; newlines, tabs, CRLF (as a
    newline) and every other character (non-breaking spaces, joiners, any script) stay."""
    import unicodedata

    return "".join("\ufffd" if (unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t") or ch in _BIDI
                   else ch for ch in str(value).replace("\r\n", "\n"))


def csv_cell(value):
    """A CSV value a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading '."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def md_cell(value, width: int = 80) -> str:
    """One Markdown table cell: no raw HTML, no pipes, links, emphasis or code spans, one line."""
    text = "" if value is None else str(value)
    text = html.escape(" ".join(text.split()), quote=True)
    for ch in "\\|[]*`!":  # no links, images, code spans or emphasis runs; an intraword _ is left alone
        text = text.replace(ch, "\\" + ch)
    return text[: width * 2]


def md_block(text: str) -> str:
    """Text for inside a ``` fence: the fence cannot be closed from inside, no raw HTML."""
    return html.escape(str(text).replace("```", "'''"), quote=False)
