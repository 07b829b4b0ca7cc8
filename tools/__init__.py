"""What the agent can do on a call: calendar, booking, ending the call; schemas and audit."""
