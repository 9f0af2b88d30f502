"""Every registered task follows the one Task protocol of grader.tasks.base."""
import numpy as np
import pytest

from grader import regimes
from grader.tasks import TASKS
from grader.tasks.base import GradcheckTask, Task, TaskCase


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_declares_its_regimes_words_and_oracle(name):
    cls = TASKS[name]
    task = cls()
    assert isinstance(task, Task), name
    assert cls.regimes and set(cls.regimes) <= set(regimes.REGIMES) and regimes.DECIDING in cls.regimes
    assert set(cls.phrases) <= set(cls.regimes)
    assert isinstance(cls.layouts, dict)
    assert isinstance(task, GradcheckTask) == cls.supports_gradcheck or not cls.supports_gradcheck


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_makes_a_task_case_with_its_cost(name):
    case = TASKS[name]().case(np.random.default_rng(3), "ordinary")
    assert isinstance(case, TaskCase)
    assert case.cost >= 1
    assert all(isinstance(desc, str) and desc for desc, _ in case.dropped)
