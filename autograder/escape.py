"""Escaping every string a submission controls before it reaches a terminal, a spreadsheet, Markdown or HTML."""
from __future__ import annotations

import html

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def plain_text(value) -> str:
    """A submitted string safe to print and to write as UTF-8: control characters (terminal escape sequences,
    carriage returns) and lone surrogates become U+FFFD; newlines and tabs stay."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in str(value))


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
