"""The `mail` tool: parse .eml messages with the stdlib `email` package (DESIGN §6)."""

from __future__ import annotations

import base64
import email.utils
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from maisa.errors import ToolError
from maisa.tools.base import ToolContext
from maisa.tools.isolation import run_limited
from maisa.tools.paths import Confinement


class _TextOfHtml(HTMLParser):
    """HTML to readable text: drops tags, scripts and styles; block elements become new lines."""

    _BLOCKS = {"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table"}
    _HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML document, one line per block, blank runs collapsed."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _header(message: EmailMessage, name: str) -> str:
    value = message.get(name)
    return str(value) if value is not None else ""


def _date(message: EmailMessage) -> str | None:
    raw = message.get("Date")
    if raw is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(str(raw)).isoformat()
    except (TypeError, ValueError):
        return str(raw)


def _content(part: EmailMessage) -> Any:
    try:
        return part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _body_text(message: EmailMessage) -> str:
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return str(_content(plain)).strip()
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(str(_content(html)))
    return ""


def _attachments(message: EmailMessage) -> list[dict[str, Any]]:
    found = []
    body_parts = {id(p) for p in (message.get_body(("plain",)), message.get_body(("html",))) if p}
    for part in message.walk():
        if part.is_multipart() or id(part) in body_parts:
            continue
        filename = part.get_filename()
        if part.get_content_disposition() != "attachment" and filename is None:
            continue
        found.append(
            {
                "filename": filename or "",
                "content_type": part.get_content_type(),
                "data": part.get_payload(decode=True) or b"",
            }
        )
    return found


class MailTool:
    """Read e-mail messages stored as .eml files (RFC 822 / MIME)."""

    def __init__(self, ctx: ToolContext) -> None:
        self._paths = Confinement(ctx)

    def read_eml(self, path: str) -> dict:
        """Parse an .eml file. Returns a dict with "subject", "from", "to" (header text; "to" may
        list several addresses), "date" (ISO 8601, or the raw header if unparseable, or None),
        "text" (the plain-text body; HTML converted to text when there is no plain part) and
        "attachments": a list of {"filename": str, "content_type": str, "data": bytes}.
        """
        raw = self._paths.read(path)
        if not raw.strip():
            raise ToolError(f"{path!r} is empty, not an e-mail message")
        # The message comes from a stranger: parse it in a limited child (see isolation.py).
        parsed = run_limited(f"parsing the e-mail {path!r}", _parse, raw, path)
        for attachment in parsed["attachments"]:
            attachment["data"] = base64.b64decode(attachment["data"])
        return parsed


def _parse(raw: bytes, path: str) -> dict[str, Any]:
    """The message as read_eml returns it, with attachment data base64-encoded (JSON-safe)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not message.keys():
        raise ToolError(f"{path!r} is not an e-mail message (no headers)")
    attachments = _attachments(message)
    for attachment in attachments:
        attachment["data"] = base64.b64encode(attachment["data"]).decode("ascii")
    return {
        "subject": _header(message, "Subject"),
        "from": _header(message, "From"),
        "to": _header(message, "To"),
        "date": _date(message),
        "text": _body_text(message),
        "attachments": attachments,
    }
