"""The redactor: which values are secrets, and how they are replaced."""

from __future__ import annotations

import base64
import json

from maisa.store.redact import Redactor, looks_like_secret_name, url_password, without_password


def test_credential_like_variable_names_are_recognised():
    for name in (
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "AWS_SECRET",
        "SMTP_PASSWD",
        "GOOGLE_CREDENTIALS",
        "PGPASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "SMTP_PASS",
        "DB_PWD",
        "api_key",
        "PASSWORD",
    ):
        assert looks_like_secret_name(name), name
    for name in (
        "PATH",
        "HOME",
        "KEYBOARD",
        "TOKENIZER_MODEL",
        "LANG",
        "MAISA_MODEL",
        "BYPASS",
        "MONKEY",
        "PWD",  # the shell's working directory, not a password
        "OLDPWD",
    ):
        assert not looks_like_secret_name(name), name
    assert looks_like_secret_name("DB_PWD")


def test_environment_credentials_and_url_passwords_are_redacted_with_their_names():
    redactor = Redactor.from_environ(
        {
            "OPENAI_API_KEY": "sk-live-123456",
            "INVOICES_DB_URL": "postgresql://app:s3cr%40t-pw@db.internal/invoices",
            "HOME": "/home/somebody",
        }
    )
    text = redactor.text("key sk-live-123456 and pw s3cr@t-pw in /home/somebody")
    assert text == (
        "key [REDACTED:OPENAI_API_KEY] and pw [REDACTED:INVOICES_DB_URL:password] in /home/somebody"
    )


def test_values_too_short_or_too_common_to_be_secrets_are_left_alone():
    redactor = Redactor.from_environ({"A_KEY": "abc", "DEBUG_TOKEN": "true", "B_KEY": "abcd"})
    assert redactor.text("abc true abcd") == "abc true [REDACTED:B_KEY]"


def test_declared_secrets_are_redacted_in_nested_json_keys_included():
    redactor = Redactor()
    redactor.add(["hunter22"])
    data = {"user": {"pw": "hunter22", "hunter22": [1, "x hunter22 y"]}, "n": 3, "f": 1.5}
    assert redactor.value(data) == {
        "user": {"pw": "[REDACTED]", "[REDACTED]": [1, "x [REDACTED] y"]},
        "n": 3,
        "f": 1.5,
    }


def test_a_secret_containing_another_is_replaced_whole():
    redactor = Redactor({"SHORT_KEY": "abcdef", "LONG_KEY": "abcdef-ghijkl"})
    assert redactor.text("abcdef-ghijkl abcdef") == "[REDACTED:LONG_KEY] [REDACTED:SHORT_KEY]"


def test_a_secret_is_caught_url_quoted_and_base64_encoded_at_any_offset():
    secret = "p@ss word/42!xyz"
    redactor = Redactor({"X_SECRET": secret})
    assert "p%40ss%20word" not in redactor.text("https://h/?q=p%40ss%20word%2F42%21xyz")
    for prefix in (b"", b"a", b"ab"):
        encoded = base64.b64encode(prefix + secret.encode() + b"tail").decode()
        assert "[REDACTED:X_SECRET]" in redactor.text(encoded), prefix


def test_any_password_inside_a_url_is_redacted_even_when_unknown():
    redactor = Redactor()
    assert (
        redactor.text("connect postgresql://bob:pw@db/x now")
        == "connect postgresql://bob:[REDACTED]@db/x now"
    )
    assert redactor.text("see https://example.com/a:b") == "see https://example.com/a:b"


def test_urls_are_shown_without_their_passwords():
    assert without_password("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert url_password("postgresql://u:pw@h/db") == "pw"
    assert url_password("just text") is None


def test_parts_of_structured_secrets_are_redacted_on_their_own():
    pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END"
    blob = json.dumps({"type": "service_account", "private_key": pem, "client_id": "1234"})
    redactor = Redactor({"GOOGLE_CREDENTIALS": blob})
    printed = redactor.text("line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC and service_account")
    assert "MIIEvQIB" not in printed and "service_account" in printed
    assert "[REDACTED:GOOGLE_CREDENTIALS]" in redactor.text(pem)
