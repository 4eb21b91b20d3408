"""Verifiers registered at runtime: declarative presets and composites, sandboxed Python, admission."""
