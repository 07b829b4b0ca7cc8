"""The operators' web console: pages, their scripts and styles (all served from here),
and the live-calls event stream."""
