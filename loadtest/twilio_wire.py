"""Twilio's side of a call, on the wire: the signed /voice webhook and media-stream messages.

Shared by the replayer and the test suite, so both have one definition of "a call".
"""

from __future__ import annotations

import base64
import json
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from twilio.request_validator import RequestValidator

FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law
ULAW_SILENCE = b"\xff" * FRAME_BYTES


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def voice_form(*, call_sid: str, to: str, caller: str, account_sid: str) -> dict[str, str]:
    """The form fields Twilio posts to the voice webhook for an incoming call."""
    return {
        "AccountSid": account_sid, "ApiVersion": "2010-04-01", "CallSid": call_sid,
        "CallStatus": "ringing", "Called": to, "Caller": caller, "Direction": "inbound",
        "From": caller, "To": to, "CallerCountry": "US", "ToCountry": "US",
    }


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    return RequestValidator(auth_token).compute_signature(url, form)


@dataclass(frozen=True)
class StreamInstruction:
    url: str
    parameters: dict[str, str] = field(default_factory=dict)


def parse_twiml(xml: str) -> StreamInstruction | None:
    """The <Connect><Stream> of a TwiML answer, or None when it says and hangs up."""
    root = ET.fromstring(xml)
    stream = root.find("./Connect/Stream")
    if stream is None:
        return None
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return StreamInstruction(url=stream.get("url", ""), parameters=params)


def said(xml: str) -> list[str]:
    return [el.text or "" for el in ET.fromstring(xml).iter("Say")]


def connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start(*, stream_sid: str, call_sid: str, account_sid: str, parameters: dict[str, str],
          sequence: int = 1) -> str:
    return json.dumps({
        "event": "start", "sequenceNumber": str(sequence), "streamSid": stream_sid,
        "start": {"accountSid": account_sid, "streamSid": stream_sid, "callSid": call_sid,
                  "tracks": ["inbound"],
                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                  "customParameters": parameters},
    })


def media(*, stream_sid: str, payload: bytes, chunk: int, sequence: int) -> str:
    return json.dumps({
        "event": "media", "sequenceNumber": str(sequence), "streamSid": stream_sid,
        "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * FRAME_MS),
                  "payload": base64.b64encode(payload).decode()},
    })


def dtmf(*, stream_sid: str, digit: str, sequence: int) -> str:
    return json.dumps({"event": "dtmf", "sequenceNumber": str(sequence), "streamSid": stream_sid,
                       "dtmf": {"track": "inbound_track", "digit": digit}})


def mark(*, stream_sid: str, name: str, sequence: int) -> str:
    return json.dumps({"event": "mark", "sequenceNumber": str(sequence), "streamSid": stream_sid,
                       "mark": {"name": name}})


def stop(*, stream_sid: str, call_sid: str, account_sid: str, sequence: int) -> str:
    return json.dumps({"event": "stop", "sequenceNumber": str(sequence), "streamSid": stream_sid,
                       "stop": {"accountSid": account_sid, "callSid": call_sid}})


def frames(ulaw: bytes) -> list[bytes]:
    """Split μ-law audio into 20 ms frames, padding the last with silence."""
    out = [ulaw[i:i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    if out and len(out[-1]) < FRAME_BYTES:
        out[-1] = out[-1] + ULAW_SILENCE[: FRAME_BYTES - len(out[-1])]
    return out


def decode(message: str | bytes) -> dict[str, Any]:
    return json.loads(message)
