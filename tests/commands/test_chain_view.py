"""Pieces of the Chain-of-Work view that the CLI tests do not pin down."""

from __future__ import annotations

from maisa.commands.chain_view import reap, seconds, short
from maisa.errors import StoreError


def test_durations_read_the_way_people_write_them():
    assert [seconds(v) for v in (None, 0.25, 8.71, 65, 3725)] == [
        "-",
        "0.25s",
        "8.7s",
        "1m05s",
        "1h02m",
    ]


def test_long_values_are_cut_with_an_ellipsis():
    assert short({"a": 1}) == '{"a": 1}'
    assert short("x" * 500, 10) == "x" * 9 + "…"


def test_a_store_that_refuses_the_reaping_write_still_lets_commands_read(capsys):
    class ReadOnlyStore:
        def reap_interrupted(self):
            raise StoreError("attempt to write a readonly database")

    assert reap(ReadOnlyStore()) == []
    assert "could not check for interrupted runs" in capsys.readouterr().err
