"""Protocol: topics, envelope round trip, schema limits, control messages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    SCHEMA_VERSION,
    Ack,
    DecodeError,
    Status,
    Topic,
    body_model,
    data_subscription,
    decode_envelope,
    encode_envelope,
    merge_ranges,
)
from protocol.privacy import image_like_reasons
from protocol.streams.system import Heartbeat, SimulatedReading
from protocol.topics import TopicError


def test_topic_round_trip_and_layout() -> None:
    topic = Topic.parse("kommune/odense/lamp-017/traffic/counts")
    parts = (topic.prefix, topic.site, topic.device_id, topic.stream)
    assert parts == ("kommune", "odense", "lamp-017", "traffic/counts")
    assert str(topic) == "kommune/odense/lamp-017/traffic/counts"
    assert str(topic.sibling("ack")) == "kommune/odense/lamp-017/ack"
    assert Topic.parse("kommune/odense/lamp-017/status").is_control


@pytest.mark.parametrize(
    "bad",
    ["kommune/odense", "kommune/odense/lamp-017/counts", "kommune/Odense!/x/a/b", "kommune/o/d/a/b/c", "k/s/d/A B/x"],
)
def test_topic_rejects_bad_layout(bad: str) -> None:
    with pytest.raises(TopicError):
        Topic.parse(bad)


def test_data_subscription_never_matches_control_topics() -> None:
    sub = data_subscription("kommune")
    assert sub == "kommune/+/+/+/+"
    assert data_subscription("kommune", "hub") == "$share/hub/kommune/+/+/+/+"
    # a one-level control stream has one level fewer than the subscription: never delivered to ingest
    assert len(["kommune", "odense", "lamp-017", "ack"]) == len(sub.split("/")) - 1


def test_envelope_round_trip() -> None:
    body = SimulatedReading(sensor="t", value=21.5)
    raw = encode_envelope("lamp-017", 42, 1_763_900_000_123, body.model_dump_json(), historical=True)
    env = decode_envelope(raw.encode())
    assert env.seq == 42 and env.historical and env.schema_version == SCHEMA_VERSION
    assert body_model("sim/reading").model_validate(env.body) == body
    assert json.loads(raw)["schema"] == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "invalid envelope"),
        (b'{"schema":1,"device_id":"x","seq":-1,"ts":1,"body":{}}', "seq"),
        (b'{"schema":1,"device_id":"x","seq":1,"ts":1}', "body"),
        (b'{"schema":99,"device_id":"x","seq":1,"ts":1,"body":{}}', "newer"),
        (b'{"schema":1,"device_id":"x","seq":1,"ts":1,"body":{},"extra":1}', "extra"),
        (b"{" + b" " * 70_000 + b"}", "exceeds"),
    ],
)
def test_decode_rejects_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_envelope(payload)
    assert reason in info.value.reason


def test_status_and_ack_messages() -> None:
    will = Status(device_id="lamp-017", state="offline", session=7, ts=1)
    assert Status.model_validate_json(will.encode()).session == 7
    ack = Ack(ranges=merge_ranges([5, 1, 2, 3, 9, 10]))
    assert ack.ranges == [(1, 3), (5, 5), (9, 10)]
    assert list(Ack.model_validate_json(ack.encode()).seqs()) == [1, 2, 3, 5, 9, 10]


def test_heartbeat_rows_flatten_pipeline_figures() -> None:
    hb = Heartbeat(uptime_s=1, cpu_percent=2, mem_percent=3, mem_rss_mb=4, outbox_depth=5, outbox_dropped=0,
                   session=1, pipelines={"traffic": {"fps": 11.5}})
    (row,) = hb.rows()
    assert row.fields["pipelines_traffic_fps"] == 11.5
    assert "temperature_c" not in row.fields  # None is not written


def test_privacy_check_flags_images() -> None:
    assert image_like_reasons(b'{"count": 3}') == []
    assert image_like_reasons(b'{"crop": "' + b"A" * 300 + b'"}')
    assert image_like_reasons(json.dumps({"pixels": list(range(5000))}).encode())
    assert image_like_reasons(b"\xff\xd8\xff\xe0garbage")


_values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**40), max_value=2**63), st.floats(allow_nan=False),
    st.text(max_size=12), st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,8}", fullmatch=True), st.just({}),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_keys = st.sampled_from(["schema", "device_id", "seq", "ts", "historical", "body", "extra"])


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=7))
def test_fast_decoder_accepts_exactly_what_the_pydantic_model_accepts(doc: dict) -> None:
    """The hub decodes envelopes with msgspec for speed; it must keep the pydantic model's contract."""
    from pydantic import ValidationError

    from protocol import Envelope

    payload = json.dumps(doc).encode()
    try:
        model = Envelope.model_validate_json(payload)
    except ValidationError:
        model = None
    try:
        fast = decode_envelope(payload)
    except DecodeError:
        fast = None
    if model is not None and model.schema_version > SCHEMA_VERSION:
        model = None  # newer schemas are refused on purpose
    assert (model is None) == (fast is None), f"validators disagree on {doc}"
    if model is not None and fast is not None:
        assert (fast.device_id, fast.seq, fast.ts, fast.historical, fast.body) == (
            model.device_id, model.seq, model.ts, model.historical, model.body)
