"""Bad input everywhere: protocol decoders raise only their documented errors, hub ingest dead-letters every bad
message with a reason, and the HTTP API answers fuzzed requests with no 5xx and a ``detail`` sentence on every 4xx.

Budgets are small on purpose (the whole file runs in about a minute on two cores).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import ValidationError
from schemathesis import GenerationMode

from protocol import (
    Ack,
    Command,
    ConfigMessage,
    DecodeError,
    Envelope,
    Status,
    Topic,
    decode_envelope,
    known_streams,
)
from protocol.rollout import SignedManifest
from protocol.topics import TopicError
from tests.security.test_api_roles import build_app

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
NAMES = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,10}", fullmatch=True)
ENVELOPE_KEYS = ("schema", "device_id", "seq", "ts", "historical", "body")


def envelope_like(device: str, seq: int, body: Any) -> dict[str, Any]:
    return {"schema": 1, "device_id": device, "seq": seq, "ts": 1_763_900_000_000, "historical": False, "body": body}


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> bytes:
    """A well-formed envelope with one field replaced, removed or added, or its bytes damaged."""
    doc = envelope_like(draw(NAMES), draw(st.integers(0, 10**6)), draw(st.dictionaries(st.text(max_size=8), JSON)))
    how = draw(st.sampled_from(["replace", "drop", "extra", "truncate", "garbage"]))
    key = draw(st.sampled_from(ENVELOPE_KEYS))
    if how == "replace":
        doc[key] = draw(JSON)
    elif how == "drop":
        doc.pop(key)
    elif how == "extra":
        doc[draw(st.text(min_size=1, max_size=8))] = draw(JSON)
    raw = json.dumps(doc).encode()
    if how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif how == "garbage":
        raw = draw(st.binary(max_size=64)) + raw
    return raw


PAYLOADS = st.binary(max_size=300) | mutated_envelopes() | JSON.map(lambda v: json.dumps(v).encode())


# -- protocol decoders ---------------------------------------------------------------------------------
@FUZZ
@given(PAYLOADS)
def test_decode_envelope_raises_only_decode_error(payload: bytes) -> None:
    try:
        envelope = decode_envelope(payload)
    except DecodeError as exc:
        assert exc.reason
        return
    assert envelope.device_id and envelope.seq >= 0


@FUZZ
@given(PAYLOADS)
def test_fast_decoder_accepts_nothing_the_reference_model_refuses(payload: bytes) -> None:
    """Differential: the hub's msgspec decoder against the pydantic ``Envelope`` it stands in for.
    (The converse does not hold: the fast path refuses coercible values such as ``"seq": "5"`` that
    pydantic's lax mode accepts; devices never send those.)"""
    try:
        fast = decode_envelope(payload)
    except DecodeError:
        return
    reference = Envelope.model_validate_json(payload)
    assert (fast.device_id, fast.seq, fast.ts, fast.historical, fast.body, fast.schema_version) == (
        reference.device_id, reference.seq, reference.ts, reference.historical, reference.body,
        reference.schema_version)


@FUZZ
@given(st.text(max_size=80) | st.lists(st.text(max_size=12), min_size=1, max_size=7).map("/".join))
def test_topic_parse_raises_only_topic_error_and_round_trips(text: str) -> None:
    try:
        topic = Topic.parse(text)
    except TopicError:
        return
    assert str(topic) == text


@FUZZ
@given(PAYLOADS, st.sampled_from([Ack, Status, Command, ConfigMessage, SignedManifest]))
def test_control_messages_raise_only_validation_error(payload: bytes, model: type) -> None:
    with contextlib.suppress(ValidationError):
        model.model_validate_json(payload)


@FUZZ
@given(st.sampled_from(sorted(known_streams())), JSON)
def test_every_stream_body_raises_only_validation_error(stream: str, body: Any) -> None:
    with contextlib.suppress(ValidationError):
        known_streams()[stream].model_validate(body)


# -- hub ingest ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hub_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return build_app(tmp_path_factory.mktemp("hub"))


TOPICS = st.one_of(
    st.text(max_size=60),
    st.builds(lambda s, d, u: f"kommune/{s}/{d}/{u}", NAMES, NAMES, st.sampled_from(sorted(known_streams()))),
    st.builds(lambda s, d: f"kommune/{s}/{d}/status", NAMES, NAMES),
    st.builds(lambda s, d, x: f"kommune/{s}/{d}/{x}", NAMES, NAMES, st.text(max_size=20)),
)


def test_ingest_dead_letters_every_bad_message_with_a_reason(hub_app: FastAPI) -> None:
    hub = hub_app.state.hub

    def duplicates() -> float:
        return hub.metrics.registry.get_sample_value("hub_ingest_duplicates_total") or 0.0

    @FUZZ
    @given(TOPICS, PAYLOADS)
    def one(topic: str, payload: bytes) -> None:
        before = (hub.dead_letters.total(), hub.ingest.stored, duplicates())
        hub.ingest.process([(topic, payload, 0.0)])
        dead, stored, repeated = (
            hub.dead_letters.total() - before[0], hub.ingest.stored - before[1], duplicates() - before[2])
        assert dead + stored + repeated <= 1
        if dead:
            newest = hub.dead_letters.list(1)[0]
            assert len(str(newest["reason"]).split()) >= 2, newest
        elif not (stored or repeated):
            assert _status(topic, payload), f"{topic!r} {payload[:80]!r} was neither stored nor dead-lettered"

    one()


def _status(topic: str, payload: bytes) -> bool:
    """A valid status (applied, or ignored as older than the current session) or a cleared retained one."""
    if not topic.endswith("/status"):
        return False
    try:
        return payload == b"" or Status.model_validate_json(payload) is not None
    except ValidationError:
        return False


def test_ingest_fuzz_can_see_a_good_message(hub_app: FastAPI) -> None:
    hub = hub_app.state.hub
    before = hub.ingest.stored
    body = {"sensor": "t1", "value": 1.5}
    hub.ingest.process([("kommune/odense/lamp-9/sim/reading", json.dumps(envelope_like("lamp-9", 7, body)).encode(),
                         0.0)])
    assert hub.ingest.stored == before + 1


# -- HTTP API ------------------------------------------------------------------------------------------------
def api_operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Job submissions start real solver runs of up to ten minutes; the routers' own tests cover them.
    schema = schema.exclude(method="POST", path_regex=r"^/(planning|fleet)/jobs")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_never_5xx_and_explains_every_4xx(hub_app: FastAPI, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {hub_app.state.tokens.issue(f'fuzz-{mode.value}', 'admin')}"}
    operations = api_operations(hub_app)
    assert len(operations) >= 10
    problems: list[str] = []
    exercised = 0
    for operation in operations:

        @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the in-process transport re-raises what would be a 500
                problems.append(f"{case.method} {case.formatted_path} -> unhandled {type(exc).__name__}: {exc}")
                return
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{where}: {response.text[:200]}")
            elif response.status_code >= 400:
                try:
                    detail = response.json().get("detail")
                except ValueError:
                    detail = None
                if not (isinstance(detail, str) and len(detail.split()) >= 2):
                    problems.append(f"{where} without a detail sentence: {response.text[:200]}")

        with contextlib.suppress(Unsatisfiable):  # nothing invalid to generate (e.g. no parameters at all)
            check()
            exercised += 1
    assert exercised >= 10
    assert not problems, "\n".join(sorted(set(problems))[:30])
