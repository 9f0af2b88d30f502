"""The pipeline core in isolation: the step order is guarded by types, not by comments."""
from dataclasses import dataclass

import pytest

from grader.pipeline import Pipeline, PipelineError, Step
from grader.grading import PIPELINE
from grader.steps import Job
from grader.report import Report


@dataclass(frozen=True)
class Raw:
    text: str


@dataclass(frozen=True)
class Words:
    words: tuple


@dataclass(frozen=True)
class Count:
    n: int


class Split(Step):
    consumes, produces = Raw, Words

    def __call__(self, raw):
        return Words(tuple(raw.text.split()))


class Tally(Step):
    consumes, produces = Words, Count

    def __call__(self, words):
        return Count(len(words.words))


class Liar(Step):
    consumes, produces = Raw, Words

    def __call__(self, raw):
        return Count(3)


def test_steps_run_in_order_passing_frozen_values():
    assert Pipeline([Split(), Tally()]).run(Raw("a b c")) == Count(3)


def test_building_steps_in_the_wrong_order_names_both_steps():
    with pytest.raises(PipelineError, match="Split: consumes Raw, but the step before it, Tally, produces Count"):
        Pipeline([Tally(), Split()])


def test_a_step_returning_the_wrong_type_is_caught_at_run_time():
    with pytest.raises(PipelineError, match="Liar: returned Count, not Words"):
        Pipeline([Liar(), Tally()]).run(Raw("x"))


def test_the_wrong_input_is_refused_before_any_step_runs():
    with pytest.raises(PipelineError, match="Split: expects Raw, got str"):
        Pipeline([Split()]).run("a b")


def test_the_grading_pipeline_goes_from_a_job_to_a_report():
    assert (PIPELINE.consumes, PIPELINE.produces) == (Job, Report)
    assert [s.name for s in PIPELINE.steps] == ["ReadSubmission", "RunCells", "CheckQuestions", "WriteReport"]
