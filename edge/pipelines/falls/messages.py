"""Danish and English sentences for the staff, and ``RoomEvent`` → ``FallEvent`` wire bodies."""

from __future__ import annotations

from datetime import datetime

from edge.pipelines.falls.config import RoomConfig
from edge.pipelines.falls.logic import RoomEvent
from protocol.streams.falls import FallEvent, SkeletonClip

MAX_CLIP_NUMBERS = 3600  # below protocol.privacy's image-like array limit (a 64×64 grey image)
POSITION_DA = {
    "bed_edge": "sidder på sengekanten",
    "sitting_up": "sidder op i sengen",
    "out_of_bed": "er ved at stå ud af sengen",
}
POSITION_EN = {
    "bed_edge": "is sitting on the edge of the bed",
    "sitting_up": "is sitting up in bed",
    "out_of_bed": "is getting out of bed",
}


def sentences(event: RoomEvent, room: RoomConfig, local: datetime) -> tuple[str, str]:
    """``(danish, english)``, e.g. "Beboer i bolig 12 sidder på sengekanten – 02:14"."""
    hhmm = local.strftime("%H:%M")
    r = room.room
    d = event.details
    who_da, who_en = f"Beboer i bolig {r}", f"Resident in room {r}"
    if event.kind == "bed_exit_warning":
        pos = str(d.get("position", "sitting_up"))
        aid_da = " (bruger ganghjælpemiddel)" if d.get("walking_aid") else ""
        aid_en = " (uses a walking aid)" if d.get("walking_aid") else ""
        da, en = f"{who_da} {POSITION_DA[pos]}{aid_da}", f"{who_en} {POSITION_EN[pos]}{aid_en}"
    elif event.kind == "fall":
        slow = bool(d.get("slow"))
        da = f"{who_da} er {'gledet ned' if slow else 'faldet'} og er på gulvet"
        en = f"{who_en} has {'slid down' if slow else 'fallen'} and is on the floor"
    elif event.kind == "on_floor":
        secs = int(d.get("on_floor_s", 0))
        da, en = f"{who_da} har været på gulvet i {secs} s", f"{who_en} has been on the floor for {secs} s"
    elif event.kind == "got_up":
        da, en = f"{who_da} er kommet op fra gulvet", f"{who_en} is up from the floor"
    elif event.kind == "staff_present":
        da = f"En anden person (personale eller besøg) er i bolig {r}"
        en = f"Another person (staff or visitor) is in room {r}"
    else:
        return _night_sentences(event, room)
    if d.get("staff_present") and event.kind in ("fall", "on_floor", "bed_exit_warning"):
        da, en = da + ", personale til stede", en + ", staff present"
    return f"{da} – {hhmm}", f"{en} – {hhmm}"


def _night_sentences(event: RoomEvent, room: RoomConfig) -> tuple[str, str]:
    d = event.details
    hours, minutes = divmod(int(d.get("in_bed_min", 0)), 60)
    exits, restless = int(d.get("out_of_bed_episodes", 0)), int(d.get("restless_minutes", 0))
    falls = int(d.get("falls", 0)) + int(d.get("on_floor", 0))
    da = (
        f"Natrapport bolig {room.room}: {hours} t {minutes} min i seng, "
        f"{exits} gange ude af sengen, {restless} urolige minutter"
    )
    en = (
        f"Night report room {room.room}: {hours} h {minutes} min in bed, "
        f"out of bed {exits} times, {restless} restless minutes"
    )
    left, away = int(d.get("left_room", 0)), int(d.get("out_of_room_min", 0))
    if left:
        da += f", ude af boligen {left} gange ({away} min)"
        en += f", left the room {left} times ({away} min)"
    if falls:
        da, en = da + f", {falls} fald/gulv-alarmer", en + f", {falls} fall/floor alarms"
    return da, en


def fall_event_body(event: RoomEvent, room: RoomConfig, local: datetime) -> FallEvent:
    """The wire body; the clip is shortened from its start until the message fits ``MAX_BYTES``."""
    text_da, text_en = sentences(event, room, local)
    body = FallEvent(
        event_id=event.event_id,
        kind=event.kind,  # type: ignore[arg-type]
        room=room.room,
        care_home=room.care_home,
        resident=room.profile.resident,
        severity=event.severity,  # type: ignore[arg-type]
        text_da=text_da,
        text_en=text_en,
        started_ts=event.started_ts,
        related_event_id=event.related_event_id,
        clip=_clip(event.clip),
        details=event.details,
    )
    while body.clip is not None and (
        len(body.model_dump_json().encode()) > FallEvent.MAX_BYTES - 512 or _numbers(body.clip) > MAX_CLIP_NUMBERS
    ):
        frames = body.clip.frames[len(body.clip.frames) // 4 or 1 :]
        body = body.model_copy(update={"clip": body.clip.model_copy(update={"frames": frames}) if frames else None})
    return body


def _clip(raw: dict | None) -> SkeletonClip | None:
    """The most recent frames that the wire format allows (at most 150, and few enough numbers)."""
    if not raw or not raw["frames"]:
        return None
    frames = raw["frames"][-150:]
    per_frame = max(sum(len(person) * 3 for person in frames[-1]), 1)
    frames = frames[-max(1, MAX_CLIP_NUMBERS // per_frame) :]
    return SkeletonClip(fps=raw["fps"], aspect=raw["aspect"], frames=frames)


def _numbers(clip: SkeletonClip) -> int:
    return sum(len(person) * 3 for frame in clip.frames for person in frame)
