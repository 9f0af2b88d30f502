"""Make text a student controls safe to show: on a terminal, in HTML, Markdown and CSV.

A notebook's messages, file names and (in a Gradescope export) names reach the
TA's terminal, spreadsheets and browsers. Three things can go wrong there:

- terminal: an ANSI escape or a carriage return can rewrite what is already on
  the screen ("\\r33 / 33" prints a fake full score over the real one);
- spreadsheets: a cell starting with ``=``, ``+``, ``-`` or ``@`` is a formula
  to Excel and LibreOffice (OWASP "CSV injection");
- HTML and Markdown: markup in a message would be rendered, not shown.

Every renderer goes through this module; nothing else strips or escapes.
"""
from __future__ import annotations

import html as _html
import re

# ANSI/ECMA-48 escapes first (as whole sequences, so their parameters do not
# survive as visible litter): CSI "ESC [ ... final", OSC "ESC ] ... BEL|ESC \",
# the other string commands (DCS, SOS, PM, APC) and two-character escapes; the
# 8-bit CSI (0x9b) and OSC/DCS introducers are C1 and go with the rest of C1.
_ANSI = re.compile(r"""
    \x1b\[[0-?]*[ -/]*[@-~]                 # CSI
  | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\Z)       # OSC, DCS, SOS, PM, APC up to their terminator
  | \x1b[ -/]*[0-~]                         # nF and two-character escapes
  | \x9b[0-?]*[ -/]*[@-~]                   # 8-bit CSI
""", re.VERBOSE | re.DOTALL)
# C0 except tab and newline, DEL, C1. Bidirectional overrides and isolates are
# not control characters to Unicode, but they reorder what follows on screen
# (a name can display as something else), so they go too.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\n]+")
# OWASP: a cell starting with one of these is a formula (or starts one) to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Inline markup anywhere; block markup only where a line starts.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~#])")
_MARKDOWN_LINE = re.compile(r"^([ \t]*)([-+=]|\d+(?=[.)]))", re.M)


def clean(text: object) -> str:
    """``text`` without escapes and control characters; newlines and tabs stay."""
    s = str(text).replace("\r\n", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return _CONTROL.sub("", _ANSI.sub("", s))


def one_line(text: object) -> str:
    """:func:`clean`, with every run of whitespace made one space: for names,
    table cells and anything that must not start a new line."""
    return _SPACES.sub(" ", clean(text)).strip()


def csv_cell(value: object) -> str:
    """A cell for a CSV a TA opens in a spreadsheet: one line, and with a
    leading ``'`` when it would otherwise start a formula (OWASP). Checked
    before and after cleaning: an escape sequence must not hide an ``=``."""
    raw = str(value)
    s = one_line(raw)
    return "'" + s if raw.startswith(FORMULA_STARTS) or s.startswith(FORMULA_STARTS) else s


def html(text: object) -> str:
    """Text for an HTML page: cleaned, then escaped (quotes too, so it is safe in attributes)."""
    return _html.escape(clean(text), quote=True)


def markdown(text: object) -> str:
    """Text shown literally by a Markdown renderer: ``grad_h_T`` must not turn
    into italics, nor ``<b>`` into HTML. Newlines become Markdown line breaks."""
    s = _MARKDOWN.sub(r"\\\1", clean(text))
    s = _MARKDOWN_LINE.sub(lambda m: m.group(1) + ("\\" + m.group(2) if not m.group(2).isdigit()
                                                    else m.group(2) + "\\"), s)
    return s.replace("\n", "  \n")


def sanitize(value):
    """``value`` (JSON-like data) with every string :func:`clean`: for JSON output."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {sanitize(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    return value
