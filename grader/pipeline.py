"""A pipeline is a list of steps; each step declares the type it consumes and the type it produces.

The order is guarded by code: building a pipeline whose step k produces
something step k+1 does not consume raises PipelineError naming both steps.
Values passed between steps are frozen dataclasses, never a shared dict.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence


class PipelineError(TypeError):
    def __init__(self, step: str, message: str):
        self.step = step
        super().__init__(f"{step}: {message}")


class Step:
    consumes: ClassVar[type]
    produces: ClassVar[type]

    def __call__(self, value: Any) -> Any:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__


class Pipeline:
    def __init__(self, steps: Sequence[Step]):
        if not steps:
            raise PipelineError("Pipeline", "needs at least one step")
        for step in steps:
            for attr in ("consumes", "produces"):
                if not isinstance(getattr(step, attr, None), type):
                    raise PipelineError(step.name, f"declares no '{attr}' type")
        for before, after in zip(steps, steps[1:]):
            if not issubclass(before.produces, after.consumes):
                raise PipelineError(after.name, f"consumes {after.consumes.__name__}, but the step before it, "
                                                f"{before.name}, produces {before.produces.__name__}")
        self.steps = tuple(steps)

    @property
    def consumes(self) -> type:
        return self.steps[0].consumes

    @property
    def produces(self) -> type:
        return self.steps[-1].produces

    def run(self, value: Any) -> Any:
        if not isinstance(value, self.consumes):
            raise PipelineError(self.steps[0].name, f"expects {self.consumes.__name__}, got {type(value).__name__}")
        for step in self.steps:
            value = step(value)
            if not isinstance(value, step.produces):
                raise PipelineError(step.name, f"returned {type(value).__name__}, not {step.produces.__name__}")
        return value
