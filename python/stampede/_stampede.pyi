"""Type stubs of the extension module (python/src/lib.rs)."""

from os import PathLike
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

__version__: str

class ScenarioError(ValueError):
    """A scenario stampede cannot run."""

    file: str
    line: Optional[int]
    column: Optional[int]
    field: Optional[str]
    message: str

class GuardTripped(RuntimeError):
    """A simulation guard stopped a runaway model."""

class RunReport:
    @property
    def scenario(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def replications(self) -> int: ...
    @property
    def warnings(self) -> List[str]: ...
    def files(self) -> Dict[str, str]: ...
    def write(self, dir: Union[str, PathLike[str]], scenario_text: Optional[str] = None) -> None: ...
    def plot(self, dir: Union[str, PathLike[str]], scenario_text: Optional[str] = None) -> List[str]: ...
    def report(self, dir: Union[str, PathLike[str]], scenario_text: Optional[str] = None) -> List[str]: ...
    def table(self) -> str: ...

def read_scenario(path: Union[str, PathLike[str]]) -> str: ...
def validate(
    text: str, file: str, overrides: Optional[Mapping[str, Any]] = None
) -> Tuple[str, List[str]]: ...
def explain(text: str, file: str, overrides: Optional[Mapping[str, Any]] = None) -> str: ...
def run_scenario(
    text: str,
    file: str,
    overrides: Optional[Mapping[str, Any]] = None,
    policies: Optional[Sequence[str]] = None,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
) -> RunReport: ...
def sweep_scenario(
    text: str,
    file: str,
    grid: Optional[Mapping[str, Sequence[Any]]] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
    policies: Optional[Sequence[str]] = None,
) -> Dict[str, str]: ...
def check_scenarios(
    paths: Sequence[Union[str, PathLike[str]]],
    out: Union[str, PathLike[str]],
    baseline: Optional[str] = None,
    tolerance: Optional[float] = None,
    baseline_dir: Optional[Union[str, PathLike[str]]] = None,
    save_baseline: Optional[str] = None,
) -> str: ...
def presets() -> List[Tuple[str, str, str]]: ...
def calibrate(trace: Union[str, PathLike[str]]) -> str: ...
def import_trace(
    input: Union[str, PathLike[str]],
    out: Union[str, PathLike[str]],
    tenant_attribute: Optional[str] = None,
    job_by: str = "root",
    force: bool = False,
) -> Tuple[int, int, List[str], List[str]]: ...
def tune_scenario(
    text: str,
    file: str,
    threads: Optional[int] = None,
    seed: Optional[int] = None,
    budget: Optional[int] = None,
) -> Dict[str, str]: ...
