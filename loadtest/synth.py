"""Synthetic recordings: a dialogue script (YAML) turned into a recording.

A script::

    name: booking
    description: A caller books an appointment.
    to: "+15555550100"          # the number to dial (optional; replay --to overrides)
    from: "+15005550006"        # the caller's number (optional)
    voice: piper                # or espeak-ng; default: Piper when installed
    line: noisy                 # the whole call through a poor line's hiss and hum
                                # (phone_line.line_noise); default: clean
    steps:
      - pause: 4.5              # seconds of line silence (the greeting plays)
      - say: I would like to book an appointment tomorrow at 3 pm.
      - pause: 6
      - barge_in: Sorry, actually make it 4.   # speech meant to interrupt the agent
      - dtmf: "12#"             # DTMF digits, one ``dtmf`` event each, 250 ms apart
      - wav: clip.wav           # a recorded caller turn (relative to the script)
      - noise: 0.15             # a burst of noise this many seconds long at speech level
                                # (a knock, a rustle): not speech, never a segment
      - pause: 3
      - repeat:                 # the same steps again and again (long calls)
          times: 100
          steps: [{say: What time do you close?}, {pause: 7}]

Audio is the caller voice of ``loadtest.voices`` (never the agent's), 8 kHz μ-law in
20 ms frames; each spoken step becomes a segment with its exact speech boundaries.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from loadtest import twilio_wire as wire
from loadtest.recording import BARGE_IN, FRAME_MS, SPEECH, Entry, Recording, Segment, header
from loadtest.segments import voiced_bounds

DTMF_GAP_MS = 250
STEP_KINDS = ("pause", "say", "barge_in", "dtmf", "wav", "noise")
LINES = ("clean", "noisy")
SPEECH_RMS = 3000.0  # a noise burst's level when the script says nothing yet (16-bit PCM)


class ScriptError(ValueError):
    """The script is not valid; the message says which step."""


@dataclass(frozen=True)
class Script:
    name: str
    steps: list[dict[str, Any]]
    to: str | None = None
    caller: str | None = None
    voice: str | None = None
    line: str = "clean"
    description: str = ""
    folder: Path = Path(".")


def shipped() -> list[str]:
    """Names of the scripts that ship with frontdesk (``synth NAME`` finds them)."""
    folder = resources.files("loadtest") / "scripts"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir()
                  if p.name.endswith(".yaml"))


def load_script(name_or_path: str | Path) -> Script:
    path = Path(name_or_path)
    if not path.exists() and str(name_or_path) in shipped():
        text = (resources.files("loadtest") / "scripts" / f"{name_or_path}.yaml").read_text()
        folder = Path(".")
    else:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ScriptError(f"cannot read {path}: {exc.strerror}; shipped scripts: "
                              f"{', '.join(shipped())}") from None
        folder = path.parent
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScriptError(f"{name_or_path}: not YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ScriptError(f"{name_or_path}: expected a mapping with a list of steps")
    steps = _expand(str(name_or_path), data["steps"])
    line = str(data.get("line") or "clean")
    if line not in LINES:
        raise ScriptError(f"{name_or_path}: line must be one of {', '.join(LINES)}, "
                          f"got {line!r}")
    return Script(name=str(data.get("name") or Path(str(name_or_path)).stem),
                  steps=steps, to=data.get("to"), caller=data.get("from"),
                  voice=data.get("voice"), line=line,
                  description=str(data.get("description", "")), folder=folder)


MAX_STEPS = 20_000


def _expand(name: str, steps: list[Any], where: str = "step") -> list[dict[str, Any]]:
    """The steps with every ``repeat`` unrolled, each one checked."""
    out: list[dict[str, Any]] = []
    for i, step in enumerate(steps, start=1):
        label = f"{where} {i}"
        if isinstance(step, dict) and list(step) == ["repeat"]:
            body = step["repeat"]
            if not isinstance(body, dict) or not isinstance(body.get("times"), int) \
                    or body["times"] < 1 or not isinstance(body.get("steps"), list):
                raise ScriptError(f"{name}: {label}: repeat needs times (>= 1) and steps")
            inner = _expand(name, body["steps"], f"{label} > step")
            out += inner * body["times"]
        elif not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in STEP_KINDS:
            raise ScriptError(f"{name}: {label}: expected one of "
                              f"{', '.join(STEP_KINDS)} or repeat, got {step!r}")
        elif next(iter(step)) in ("pause", "noise") and not _seconds(step):
            raise ScriptError(f"{name}: {label}: {next(iter(step))} needs a number of "
                              f"seconds (> 0), got {step!r}")
        else:
            out.append(step)
        if len(out) > MAX_STEPS:
            raise ScriptError(f"{name}: more than {MAX_STEPS} steps once repeats are unrolled")
    return out


def _seconds(step: dict[str, Any]) -> bool:
    value = next(iter(step.values()))
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def silence_frames(seconds: float) -> list[bytes]:
    return [wire.ULAW_SILENCE] * round(seconds * 1000 / FRAME_MS)


def build(script: Script, *, voice: str | None = None) -> Recording:
    """Synthesize the script's speech and lay out its timeline."""
    from loadtest import voices  # Piper or espeak-ng: loaded only when synthesizing

    engine = voice or script.voice
    frames: list[bytes] = []
    extra: list[tuple[int, dict[str, Any]]] = []  # (after frame index, message)
    segments: list[Segment] = []
    spoken: dict[str, list[bytes]] = {}   # a repeated line is synthesized once
    bursts: list[tuple[int, int]] = []    # (first frame, frames) of each noise step
    for step in script.steps:
        kind, value = next(iter(step.items()))
        if kind == "pause":
            frames += silence_frames(float(value))
        elif kind == "noise":
            bursts.append((len(frames), len(silence_frames(float(value)))))
            frames += silence_frames(float(value))
        elif kind in ("say", "barge_in", "wav"):
            if kind == "wav":
                pcm, rate = voices.load_wav(script.folder / str(value))
                text = f"[{Path(str(value)).name}]"
                said = voices.to_ulaw_frames(pcm, rate)
            else:
                text = str(value)
                if text not in spoken:
                    spoken[text] = voices.to_ulaw_frames(*voices.synthesize(text,
                                                                            engine=engine))
                said = spoken[text]
            bounds = voiced_bounds(said)
            if bounds is not None:
                first, last = bounds
                segments.append(Segment((len(frames) + first) * FRAME_MS,
                                        (len(frames) + last + 1) * FRAME_MS,
                                        BARGE_IN if kind == "barge_in" else SPEECH, text))
            frames += said
        elif kind == "dtmf":
            for digit in str(value):
                extra.append((len(frames), {"event": "dtmf", "dtmf": {
                    "track": "inbound_track", "digit": digit}}))
                frames += silence_frames(DTMF_GAP_MS / 1000)
    if bursts or script.line == "noisy":
        frames = _through_the_line(frames, bursts, noisy=script.line == "noisy")
    return assemble(frames, extra, segments,
                    header("synth", script=script.name, description=script.description or None,
                           to=script.to, line=script.line, **{"from": script.caller}))


def _through_the_line(frames: list[bytes], bursts: list[tuple[int, int]], *, noisy: bool
                      ) -> list[bytes]:
    """The frames with each noise burst filled in, then all of it through a noisy line.

    Both are scaled to the speech around them, so a script's noise is the same whatever
    the caller voice's loudness.
    """
    import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13

    import numpy as np

    from loadtest import phone_line
    from loadtest.voices import PHONE_RATE as rate

    audio = np.frombuffer(audioop.ulaw2lin(b"".join(frames), 2), np.int16).astype(np.float64)
    level = phone_line.speech_level(audio, default=SPEECH_RMS)
    rng = np.random.default_rng(0)
    step = len(wire.ULAW_SILENCE)
    for first, count in bursts:
        burst = rng.normal(0.0, 1.0, count * step) * np.hanning(count * step)
        burst *= level / max(float(np.sqrt(np.mean(burst**2))), 1e-9)
        audio[first * step:(first + count) * step] = burst
    pcm = np.clip(np.round(audio), -32768, 32767).astype(np.int16).tobytes()
    pcm = phone_line.band_pass(pcm, rate)
    if noisy:
        pcm = phone_line.line_noise(pcm, rate)
    return wire.frames(audioop.lin2ulaw(pcm, 2))


def assemble(frames: list[bytes], extra: list[tuple[int, dict[str, Any]]],
             segments: list[Segment], head: dict[str, Any]) -> Recording:
    """A recording of ``frames`` on the 20 ms grid, with ``extra`` messages at frame marks."""
    stream_sid, call_sid = "MZ" + "0" * 32, "CA" + "0" * 32
    entries = [Entry(0, {"event": "connected", "protocol": "Call", "version": "1.0.0"}),
               Entry(0, {"event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
                         "start": {"streamSid": stream_sid, "callSid": call_sid,
                                   "tracks": ["inbound"],
                                   "mediaFormat": {"encoding": "audio/x-mulaw",
                                                   "sampleRate": 8000, "channels": 1},
                                   "customParameters": {}}})]
    pending = sorted(extra, key=lambda e: e[0])
    seq = 1
    for k, payload in enumerate(frames):
        while pending and pending[0][0] <= k:
            seq += 1
            entries.append(Entry(k * FRAME_MS, {**pending.pop(0)[1], "sequenceNumber": str(seq),
                                                "streamSid": stream_sid}))
        seq += 1
        entries.append(Entry(k * FRAME_MS, {
            "event": "media", "sequenceNumber": str(seq), "streamSid": stream_sid,
            "media": {"track": "inbound", "chunk": str(k + 1), "timestamp": str(k * FRAME_MS),
                      "payload": base64.b64encode(payload).decode()}}))
    end = len(frames) * FRAME_MS
    for _, message in pending:
        seq += 1
        entries.append(Entry(end, {**message, "sequenceNumber": str(seq),
                                   "streamSid": stream_sid}))
    entries.append(Entry(end, {"event": "stop", "sequenceNumber": str(seq + 1),
                               "streamSid": stream_sid,
                               "stop": {"callSid": call_sid}}))
    return Recording(entries=entries, header=head, segments=segments)
