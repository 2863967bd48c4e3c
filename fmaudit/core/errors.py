"""fmaudit's exceptions and exit codes.

One small tree, so callers can catch exactly what they mean::

    FmauditError                 any failure fmaudit reports on purpose
    ├── InputError               the user's input is wrong: exit 2, no report
    │   ├── SpecError            the YAML spec (unknown key, wrong type, bad gate, ...)
    │   ├── DataError            the data set (missing file, missing column, one class, ...)
    │   ├── ModelError           the base model (not found offline, not wrappable by Opacus, ...)
    │   ├── OutputError          a run's outputs as asked (no findings.json, another schema version, a bad key, ...)
    │   └── ExecutorError        the executor asked for (Ray not installed, a cluster address not reachable)
    ├── PluginError              a plugin broke its contract or failed while running
    └── JobError                 a job the executor gave up on (its worker or node died past every retry): exit 3
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; CI reads them as a pre-deploy gate."""

    OK = 0
    GATES_FAILED = 1
    INPUT_ERROR = 2
    INTERNAL_ERROR = 3


class FmauditError(Exception):
    """Base of every error fmaudit raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR


class InputError(FmauditError):
    """Something the user supplied is wrong; fixing the input fixes the run."""

    exit_code = ExitCode.INPUT_ERROR


class SpecError(InputError):
    """The audit spec is invalid. Carries every problem found, one per line."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class DataError(InputError):
    """The data set cannot be used as the spec describes it."""


class ModelError(InputError):
    """The base model cannot be loaded or trained as the spec asks."""


class OutputError(InputError):
    """A run's outputs cannot be read or written as asked: a missing or other-version findings.json, an
    unknown format, an unusable signing key, a target directory that exists."""


class ExecutorError(InputError):
    """The executor cannot be used as asked: Ray is not installed, or nothing answers at the cluster address."""


class JobError(FmauditError):
    """A job could not be completed: its worker or node died more often than the executor retries. The run
    stops before its report is written."""


class PluginError(FmauditError):
    """A plugin is missing, misregistered, or broke its contract."""
