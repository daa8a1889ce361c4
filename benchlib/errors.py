"""The exceptions benchlib raises on purpose, each carrying the next step for the user."""

from __future__ import annotations

__all__ = [
    "BenchError",
    "ConfigError",
    "DatasetError",
    "ServerError",
    "GenerationError",
    "SamplesError",
    "SandboxError",
]


class BenchError(Exception):
    """An expected failure: one line saying what is wrong, and a tip saying what to do."""

    def __init__(self, message: str, tip: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.tip = tip

    def __str__(self) -> str:
        return f"{self.message}\nTIP: {self.tip}" if self.tip else self.message


class ConfigError(BenchError):
    """models.conf (or an environment setting) is invalid."""


class DatasetError(BenchError):
    """The benchmark dataset cannot be found, downloaded or parsed."""


class ServerError(BenchError):
    """A model server failed to start, become healthy, or stop."""


class GenerationError(BenchError):
    """Code generation could not finish (finished samples are kept)."""


class SamplesError(BenchError):
    """A samples file is missing, incomplete or malformed."""


class SandboxError(BenchError):
    """The evaluation sandbox cannot run."""
