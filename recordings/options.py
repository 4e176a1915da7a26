"""Recording settings, one frozen object the composition root fills from its own settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recordings.container_format import DEFAULT_CHUNK_SIZE
from recordings.recorder import RecorderOptions
from recordings.retention import RetentionPolicy


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    """Recording settings (from configuration)."""

    recordings_dir: Path
    """Where encrypted files are written; the KEK must not be stored under it (nor under the data directory)."""
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    recorder: RecorderOptions = field(default_factory=RecorderOptions)
    export_allowed: bool = False
    """Whether staff may export a copy at all (each export creates a custody record)."""
    node: str = "local"
    """This server process's name: after a crash it only recovers the recordings it was writing itself."""
    chunk_size: int = DEFAULT_CHUNK_SIZE
    sync_every_chunk: bool = True
    """fsync after every sealed chunk (see encrypted_file); off trades crash durability for fewer syncs."""
