"""What pyproject declares covers what the code calls."""

from __future__ import annotations

import re

from tests.support.specs import REPO

NUMPY_2_ONLY = ("trapezoid", "unstack", "cumulative_sum", "cumulative_prod", "isdtype", "vecdot", "matrix_transpose")
"""Functions added in NumPy 2.0 (the 2.0 release notes)."""


def declared_floor(package: str) -> tuple[int, ...]:
    """The lower bound of ``package`` in pyproject's dependencies (tomllib needs Python 3.11; we allow 3.10)."""
    floor = re.search(rf'^\s*"{package}>=\s*([\d.]+)', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert floor is not None, f"{package} has no lower bound in pyproject.toml"
    return tuple(int(part) for part in floor[1].split("."))


def test_numpy_2_functions_are_used_only_if_numpy_2_is_required() -> None:
    used = sorted(
        {
            f"{path.relative_to(REPO)}: np.{name}"
            for path in (REPO / "fmaudit").rglob("*.py")
            for name in NUMPY_2_ONLY
            if re.search(rf"\bnp\.{name}\(", path.read_text())
        }
    )
    assert used  # np.trapezoid is used today; were it gone, the floor could drop and this test be revisited
    assert declared_floor("numpy") >= (2, 0), used
