"""Secret redaction applied by the store to everything it writes (DESIGN §8).

Secrets come from two places: environment variables whose names look like
credentials (and passwords embedded in URLs in any variable), and the values a
spec declares as secrets (`Store.add_secrets`). Each value is also matched in
the encodings a step could plausibly leak it in: URL-quoted and base64.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

# Names like OPENAI_API_KEY, GITHUB_TOKEN, DB_PASSWORD, PGPASSWORD, AWS_SECRET, ..._CREDENTIALS.
_SECRET_NAME = re.compile(
    r"(?:PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIALS?)$|(?:^|_)(?:KEY|APIKEY|PASS|PWD)$",
    re.IGNORECASE,
)
# Keys inside a JSON credentials value whose string values are secrets too.
_SECRET_FIELD = re.compile(r"key|secret|token|password|passwd|credential", re.IGNORECASE)
# `scheme://user:password@host`: the password part, wherever it appears in written text.
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\s@/]+)(?=@)")
# Values too short or too common to be secrets; redacting them would garble every record.
MIN_SECRET_LENGTH = 4
_NOT_SECRETS = {"true", "false", "none", "null", "yes", "no", "on", "off"}
# Base64 fragments shorter than this match too much unrelated base64.
_MIN_B64_CORE = 8


# The shell's working-directory variables match `PWD` but hold paths, which are everywhere in
# a run's records; redacting them would garble every file input.
_SHELL_NAMES = {"PWD", "OLDPWD"}


def looks_like_secret_name(name: str) -> bool:
    """True for environment variable names that conventionally hold credentials."""
    return name.upper() not in _SHELL_NAMES and bool(_SECRET_NAME.search(name))


def url_password(value: str) -> str | None:
    """The password inside a `scheme://user:password@host` URL, if `value` is one."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme and parts.password:
        return parts.password
    return None


def _b64_cores(secret: bytes) -> set[str]:
    """Base64 text that appears whenever `secret` is base64-encoded, at any byte offset."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + secret).decode()
        start = math.ceil(offset * 8 / 6)
        end = (offset + len(secret)) * 8 // 6
        core = encoded[start:end]
        if len(core) >= _MIN_B64_CORE:
            cores.add(core)
    return cores


def _json_secret_fields(value: str) -> set[str]:
    """String values under secret-looking keys of a JSON object, at any depth."""
    if not value.startswith("{"):
        return set()
    try:
        data = json.loads(value)
    except ValueError:
        return set()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, str) and _SECRET_FIELD.search(str(key)):
                    found.add(item.strip())
                    found.update(line.strip() for line in item.splitlines() if len(line) >= 16)
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return {v for v in found if len(v) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces known secret values with `[REDACTED:NAME]` in text and nested JSON."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        self._labels: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        if secrets:
            self.add(secrets)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor for the credential-like variables (and URL passwords) of `environ`."""
        environ = os.environ if environ is None else environ
        found: dict[str, str] = {}
        for name, value in environ.items():
            if looks_like_secret_name(name):
                found[name] = value
            password = url_password(value)
            if password:
                found[f"{name}:password"] = unquote(password)
        return cls(found)

    def add(self, secrets: Mapping[str, str] | Iterable[str]) -> None:
        """Redact these values from now on; a mapping gives each value its label."""
        items = secrets.items() if isinstance(secrets, Mapping) else ((None, v) for v in secrets)
        with self._lock:
            for name, value in items:
                if not isinstance(value, str):
                    continue
                value = value.strip()
                if len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRETS:
                    continue
                label = f"[REDACTED:{name}]" if name else "[REDACTED]"
                for variant in self._variants(value):
                    self._labels.setdefault(variant, label)
            # Longest first, so a secret containing another secret is replaced whole.
            ordered = sorted(self._labels, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @staticmethod
    def _variants(value: str) -> set[str]:
        variants = {value, quote(value, safe=""), quote(value)}
        variants |= _b64_cores(value.encode())
        # Parts a step could print on their own: the lines of a PEM key, the secret fields of
        # a JSON credentials blob (a service-account file in GOOGLE_CREDENTIALS, say).
        variants |= {line.strip() for line in value.splitlines() if len(line.strip()) >= 16}
        variants |= _json_secret_fields(value)
        return {v for v in variants if len(v) >= MIN_SECRET_LENGTH}

    @property
    def size(self) -> int:
        """How many distinct strings (values and their encodings) are redacted."""
        return len(self._labels)

    def text(self, value: str) -> str:
        """`value` with every secret (and every password inside a URL) replaced."""
        pattern = self._pattern
        if pattern is not None:
            value = pattern.sub(lambda m: self._labels[m.group(0)], value)
        if "://" in value:
            value = _URL_PASSWORD.sub(r"\g<head>[REDACTED]", value)
        return value

    def value(self, value: Any) -> Any:
        """Redact every string (keys included) inside nested JSON-like data."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        return value


def without_password(url: str) -> str:
    """`url` with any password replaced by `***`, for messages and logs."""
    return _URL_PASSWORD.sub(r"\g<head>***", url)
