"""Support for the repository-level tests (the whole pipeline, the README, Docker)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
