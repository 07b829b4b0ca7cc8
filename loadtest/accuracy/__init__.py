"""The booking-accuracy benchmark: dialogues, a caller, scoring, and the ways to run it."""
