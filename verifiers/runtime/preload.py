"""Imported by the pool's fork server: builds the registry (and imports heavy engines) once."""

from verifiers.runtime.worker import preload

preload()
