"""The telephony edge: /voice TwiML, the media-stream WebSocket, call sessions, tokens, metering."""
