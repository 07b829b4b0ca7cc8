"""Composition root: settings, the application factory and the command line."""
