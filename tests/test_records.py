"""The JSON Lines record format: round trips, lenience, and line-numbered errors."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from actors.chat import Kind, Platform, Role
from actors.monitors.replay import demo_chat_text
from actors.records import RecordError, event_to_dict, format_record, parse_line, read_records
from strategies import clean_chat_events


@given(clean_chat_events())
def test_record_round_trip(event):
    """Replay input == archive output: what we write we read back unchanged
    (every event inside the service was cleaned where it entered)."""
    assert parse_line(format_record(event), 1) == event


@given(
    clean_chat_events(),
    st.dictionaries(st.text(min_size=1).filter(lambda k: k not in event_to_dict_keys()), st.integers()),
)
def test_unknown_fields_are_ignored(event, extra):
    """Archive lines carry fate, score and reply; the replay must read them."""
    line = json.dumps(event_to_dict(event) | extra | {"fate": "dispatched", "score": 3.5})
    assert parse_line(line, 1) == event


def event_to_dict_keys() -> set[str]:
    return {"platform", "id", "kind", "author", "text", "amount", "sent_at", "target"}


def test_bad_lines_are_reported_with_their_number_and_skipped():
    good = (
        '{"platform": "youtube", "id": "a", "kind": "chat", "author": {"id": "u", "name": "A", "roles": []},'
        ' "text": "hi", "amount": null, "sent_at": "2026-11-24T01:00:00.000Z"}'
    )
    lines = [
        good,
        "{not json",
        "",
        good.replace('"chat"', '"shout"'),
        good.replace('"amount": null', '"amount": {"value": 5, "currency": "USD", "display": "$5"}'),
        good.replace('"roles": []', '"roles": ["admin"]'),
        good.replace("2026-11-24T01:00:00.000Z", "yesterday"),
        good.replace('"2026-11-24T01:00:00.000Z"', '"2026-11-24T01:00:00"'),
        "[1, 2]",
        good.replace('"id": "a"', '"id": "b"'),
    ]
    results = list(read_records(lines))
    errors = {n: r.message for n, r in results if isinstance(r, RecordError)}
    events = [r for _, r in results if not isinstance(r, RecordError)]
    assert [e.id for e in events] == ["a", "b"]
    assert sorted(errors) == [2, 4, 5, 6, 7, 8, 9]  # blank line 3 is not an error
    assert "not JSON" in errors[2]
    assert "unknown kind 'shout'" in errors[4]
    assert "amount.value" in errors[5]
    assert "unknown role 'admin'" in errors[6]
    assert "not an ISO 8601 time" in errors[7]
    assert "no time zone" in errors[8]
    assert "not a JSON object" in errors[9]


def test_the_bundled_demo_chat_is_valid_and_varied():
    """The demo must show what the router is for: every kind, both live platforms,
    paid messages, roles, a resend, moderation targets."""
    results = list(read_records(demo_chat_text().splitlines()))
    assert not [r for _, r in results if isinstance(r, RecordError)]
    events = [r for _, r in results]
    assert len(events) >= 150
    assert {e.kind for e in events} == set(Kind)
    assert {e.platform for e in events} == {Platform.YOUTUBE, Platform.CHZZK}  # the demo is of the two live so far
    assert {r for e in events for r in e.author.roles} == set(Role) - {Role.VIP}  # VIP is a Twitch badge
    ids = [(e.platform, e.id) for e in events]
    assert len(ids) > len(set(ids)), "the demo should contain resends of the same id"
    assert any(e.target and e.target.author_id for e in events)
    assert any(e.target and e.target.message_id for e in events)
    times = [e.sent_at for e in events]
    assert times == sorted(times)
    assert 60 <= (times[-1] - times[0]).total_seconds() <= 180
