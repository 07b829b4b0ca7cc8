"""Record and replay Twilio media streams; benchmarks.

Talks to the server only over HTTP and WebSocket, as Twilio does.
"""
