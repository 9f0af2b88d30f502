"""Assignment files: what loads, and what is refused with the culprit named."""
import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from grader.assignment import ASSIGNMENTS_DIR, AssignmentError, load_assignment, schema

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def test_the_scalar_assignment_declares_its_questions_and_points():
    a = load_assignment("lstm_scalar")
    assert [q.id for q in a.questions][:3] == ["q1", "q2", "q3"]
    assert a.max_score == 33
    assert a.question("q13").kind == "task" and a.question("q15").kind == "manual"
    assert a.question("q1").param_names == ("W_y", "y_T", "grad_y_T")


def _variant(tmp_path, text):
    folder = tmp_path / "variant"
    shutil.copytree(load_assignment("lstm_scalar").root, folder)
    (folder / "assignment.toml").write_text(text, encoding="utf-8")
    return folder


BASE = 'cell = "lstm"\n[[questions]]\nid = "q1"\nfunction = "f"\npoints = 1\nat = "T"\ntarget = "h"\n'


@pytest.mark.parametrize("extra, message", [
    ('params = { W_y = "W_y", y_T = "y@T" }\nchecks = ["symbolic"]\n',
     r"variant, question q1: the reference needs \['\\\\nabla y_\{T\}'\], which no parameter provides"),
    ('params = { W_y = "W_y", y_T = "y@T", g = "grad y@T" }\nchecks = ["symbolc"]\n',
     "variant, question q1: unknown check 'symbolc'; known: gradcheck, numeric, stability, symbolic"),
    ('params = { q = "q@T" }\nchecks = ["numeric"]\n', "variant, question q1: cell 'lstm' has no quantity 'q' at step 'T'"),
    ('params = { W_y = "W_y", y_T = "y@T", g = "grad y@T" }\nchecks = ["gradcheck"]\n',
     "variant, question q1: check 'gradcheck': does not apply to expression questions"),
])
def test_a_bad_declaration_is_refused_naming_the_question(tmp_path, extra, message):
    with pytest.raises(AssignmentError, match=message):
        load_assignment(_variant(tmp_path, BASE + extra))


def test_an_unknown_assignment_lists_the_known_ones():
    with pytest.raises(AssignmentError, match="unknown assignment; known assignments: .*lstm_scalar"):
        load_assignment("lstm_scalr")


def test_invalid_toml_is_reported_as_such(tmp_path):
    with pytest.raises(AssignmentError, match="assignment.toml is not valid TOML"):
        load_assignment(_variant(tmp_path, "title = [unclosed"))


# --- the schema: grader/schema/assignment.schema.json -------------------------------
#
# Every key of assignment.toml is known: a misspelt `hiden = true` must stop the
# pack from loading instead of silently publishing a hidden test. Errors name the
# key, the question and check (counted from 1) and the file, relative to the
# working directory: the tests run in tmp_path, so the file is variant/assignment.toml.

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("bptt_products", "lstm_packed", "lstm_scalar", "lstm_vector", "rnn_variants")
FILE = "(variant/assignment.toml)"
TOP_KEYS = "title, cell, notebook, preamble, seed, dims, questions"
QUESTION_KEYS = "id, title, function, points, kind, at, target, params, task, options, checks, hint, cell, requires"
CHECK_KEYS = "check, hidden, points, regimes, rtol, kappa, visibility, weight, partial_credit"

# A well-formed expression question; each case below spoils one thing.
GOOD = '''title = "variant"
cell = "lstm"
seed = 1

[[questions]]
id = "q1"
function = "grad_h_T"
points = 2
at = "T"
target = "h"
params = { W_y = "W_y", y_T = "y@T", grad_y_T = "grad y@T" }
checks = [
  { check = "symbolic" },
  { check = "numeric", regimes = ["ordinary"], points = 4 },
  { check = "numeric", regimes = ["saturated"], points = 4, hidden = true },
]
'''
HIDDEN_CHECK = '{ check = "numeric", regimes = ["saturated"], points = 4, hidden = true }'

TASK = '''
[[questions]]
id = "q2"
function = "grad_W_hi"
points = 6
kind = "task"
task = "lstm_weight_gradient"
options = { weight = "W_hi" }
params = { weights = "", x = "", h0 = "", C0 = "", grad_y = "" }
checks = [{ check = "numeric", regimes = ["ordinary"], points = 2 }]
'''


@pytest.fixture
def variant(tmp_path, monkeypatch):
    """Write an assignment.toml into a copy of the scalar pack, in the working directory."""
    monkeypatch.chdir(tmp_path)
    return lambda text: _variant(tmp_path, text)


def _spoil(old, new, text=GOOD):
    assert text.count(old) == 1, old
    return text.replace(old, new)


SPOILT = [
    pytest.param(_spoil('seed = 1', 'sed = 1'),
                 f"variant: unknown key 'sed' at the top level {FILE}; did you mean 'seed'? known keys: {TOP_KEYS}",
                 id="top-level-misspelt"),
    pytest.param(_spoil('function = "grad_h_T"', 'fucntion = "grad_h_T"'),
                 f"variant, question q1: unknown key 'fucntion' in the question {FILE}; "
                 f"did you mean 'function'? known keys: {QUESTION_KEYS}",
                 id="question-misspelt"),
    pytest.param(_spoil(HIDDEN_CHECK, HIDDEN_CHECK.replace("hidden", "hiden")),
                 f"variant, question q1: unknown key 'hiden' in check 3 (numeric) {FILE}; "
                 f"did you mean 'hidden'? known keys: {CHECK_KEYS}",
                 id="check-misspelt"),
    pytest.param(_spoil('{ check = "symbolic" }', '{ chek = "symbolic" }'),
                 f"variant, question q1: unknown key 'chek' in check 1 {FILE}; "
                 f"did you mean 'check'? known keys: {CHECK_KEYS}",
                 id="check-name-misspelt-rather-than-missing"),
    pytest.param(_spoil('seed = 1', 'seed = 1\ncolour = "red"'),
                 f"variant: unknown key 'colour' at the top level {FILE}; known keys: {TOP_KEYS}",
                 id="unknown-key-nothing-close"),
    pytest.param(_spoil('target = "h"', 'target = "h"\nhidden = true'),
                 f"variant, question q1: unknown key 'hidden' in the question {FILE}; "
                 f"'hidden' is a key of a check, not of a question; known keys: {QUESTION_KEYS}",
                 id="check-key-on-the-question"),
    pytest.param(_spoil('{ check = "symbolic" }', '{ check = "symbolic", gate = "f" }'),
                 f"variant, question q1: unknown key 'gate' in check 1 (symbolic) {FILE}; known keys: {CHECK_KEYS}",
                 id="gate-is-not-a-key"),
    pytest.param(_spoil('points = 2', 'points = "two"'),
                 f"variant, question q1: 'points' must be a positive number, not 'two' {FILE}",
                 id="points-wrong-type"),
    pytest.param(_spoil('points = 2', 'points = 0'),
                 f"variant, question q1: 'points' must be a positive number, not 0 {FILE}",
                 id="points-not-positive"),
    pytest.param(_spoil('regimes = ["ordinary"], points = 4 }', 'regimes = ["ordinary"], points = 2.5 }'),
                 f"variant, question q1: 'points' in check 2 (numeric) must be a positive integer, not 2.5 {FILE}",
                 id="check-points-count-cases"),
    pytest.param(_spoil('regimes = ["saturated"]', 'regimes = ["ordinary", "saturate"]'),
                 f"variant, question q1: entry 2 of 'regimes' in check 3 (numeric) must be one of "
                 f"ordinary, saturated, stability, extreme, not 'saturate' {FILE}; did you mean 'saturated'?",
                 id="bad-regime"),
    pytest.param(_spoil('regimes = ["saturated"]', 'regimes = "saturated"'),
                 f"variant, question q1: 'regimes' in check 3 (numeric) must be a non-empty array of names among "
                 f"ordinary, saturated, stability, extreme, not 'saturated' {FILE}",
                 id="regimes-not-an-array"),
    pytest.param(_spoil('hidden = true', 'hidden = "yes"'),
                 f"variant, question q1: 'hidden' in check 3 (numeric) must be true or false, not 'yes' {FILE}",
                 id="hidden-not-a-boolean"),
    pytest.param(_spoil('hidden = true', 'visibility = "after_due"'),
                 f"variant, question q1: 'visibility' in check 3 (numeric) must be one of visible, hidden, "
                 f"after_due_date, after_published, not 'after_due' {FILE}; did you mean 'after_due_date'?",
                 id="bad-visibility"),
    pytest.param(_spoil('{ check = "symbolic" }', '3'),
                 f"variant, question q1: check 1 must be a check's name or a table such as "
                 f'{{ check = "numeric" }}, not 3 {FILE}',
                 id="check-neither-name-nor-table"),
    pytest.param(_spoil('at = "T"', 'at = "last"'),
                 f"variant, question q1: 'at' must be one of t, T, not 'last' {FILE}", id="bad-horizon"),
    pytest.param(_spoil('target = "h"', 'target = "h"\nkind = "exprssion"'),
                 f"variant, question q1: 'kind' must be one of expression, task, manual, not 'exprssion' {FILE}; "
                 "did you mean 'expression'?", id="bad-kind"),
    pytest.param(_spoil('y_T = "y@T"', 'y_T = 3'),
                 f"variant, question q1: 'params.y_T' must be a string, not 3 {FILE}", id="param-not-a-string"),
    pytest.param(_spoil('id = "q1"\n', ''),
                 f"variant, question #1: missing key 'id' in the question {FILE}", id="question-without-id"),
    pytest.param(_spoil('seed = 1', 'seed = 1\ndims = { n = 0 }'),
                 f"variant: 'dims.n' must be a positive integer, not 0 {FILE}", id="dims"),
    pytest.param(GOOD + _spoil('options = { weight = "W_hi" }', 'options = { weight = ["W_hi"] }', TASK),
                 f"variant, question q2: 'options.weight' must be a non-empty string, not ['W_hi'] {FILE}",
                 id="option-wrong-type"),
    pytest.param(GOOD + _spoil('options = { weight = "W_hi" }', 'options = { wieght = "W_hi" }', TASK),
                 f"variant, question q2: unknown key 'wieght' in options of task 'lstm_weight_gradient' {FILE}; "
                 "did you mean 'weight'? known keys: weight",
                 id="option-the-task-does-not-take"),
]


@pytest.mark.parametrize("text, message", SPOILT)
def test_a_key_or_value_the_schema_does_not_know_is_refused_with_its_place_and_file(variant, text, message):
    with pytest.raises(AssignmentError) as info:
        load_assignment(variant(text))
    assert str(info.value) == message


def test_the_unspoilt_fixture_loads(variant):
    """So that every refusal above is the spoilt key's doing."""
    a = load_assignment(variant(GOOD + TASK))
    assert [q.id for q in a.questions] == ["q1", "q2"]
    assert a.question("q1").checks[2].hidden and a.question("q1").checks[2].visibility == "after_published"
    assert a.question("q2").option("weight") == "W_hi"


def test_a_misspelt_hidden_in_a_shipped_pack_is_refused(variant):
    text = (ASSIGNMENTS_DIR / "lstm_scalar" / "assignment.toml").read_text(encoding="utf-8")
    q3 = text.index('id = "q3"')
    spoilt = text[:q3] + text[q3:].replace("hidden = true", "hiden = true", 1)
    with pytest.raises(AssignmentError) as info:
        load_assignment(variant(spoilt))
    assert info.value.assignment == "variant" and info.value.question == "q3"
    assert str(info.value) == (f"variant, question q3: unknown key 'hiden' in check 3 (numeric) {FILE}; "
                               f"did you mean 'hidden'? known keys: {CHECK_KEYS}")


def test_the_schema_runs_before_the_semantic_checks(variant):
    text = _spoil('{ check = "symbolic" }', '"symbolc"', _spoil('hidden = true', 'hiden = true'))
    with pytest.raises(AssignmentError, match="unknown key 'hiden' in check 3"):
        load_assignment(variant(text))


def test_the_first_problem_in_file_order_is_reported(variant):
    text = _spoil('seed = 1', 'seed = "one"', _spoil('hidden = true', 'hiden = true'))
    with pytest.raises(AssignmentError) as info:
        load_assignment(variant(text))
    assert str(info.value) == f"variant: 'seed' must be an integer, not 'one' {FILE}"


def test_a_file_outside_the_working_directory_is_named_by_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    folder = _variant(tmp_path, _spoil('seed = 1', 'sed = 1'))
    with pytest.raises(AssignmentError, match="at the top level") as info:
        load_assignment(folder)
    assert f"({(folder / 'assignment.toml').resolve()})" in str(info.value)


def test_partial_credit_is_a_declared_option_of_a_check(variant):
    a = load_assignment(variant(_spoil(HIDDEN_CHECK, HIDDEN_CHECK.replace("hidden = true", "partial_credit = true"))))
    spec = a.question("q1").checks[2]
    assert spec.option("partial_credit") is True and not spec.hidden


@pytest.mark.parametrize("pack", SHIPPED)
def test_every_shipped_pack_satisfies_the_schema(pack):
    data = tomllib.loads((ASSIGNMENTS_DIR / pack / "assignment.toml").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(schema()).iter_errors(data)) == []
    assert load_assignment(pack).name == pack


def test_the_shipped_packs_are_the_five_known():
    assert tuple(sorted(d.name for d in ASSIGNMENTS_DIR.iterdir() if (d / "assignment.toml").is_file())) == SHIPPED


def _tables(node, where="#"):
    """Every subschema that declares properties, with where it is."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _tables(value, f"{where}/{key}")
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _tables(value, f"{where}/{k}")


def test_the_schema_is_valid_and_closed_at_every_level_but_the_tasks_options():
    jsonschema.Draft202012Validator.check_schema(schema())
    tables = dict(_tables(schema()))
    assert set(tables) == {"#", "#/$defs/question", "#/$defs/check", "#/$defs/question/properties/options"}
    open_ = {where for where, table in tables.items() if table.get("additionalProperties") is not False}
    assert open_ == {"#/$defs/question/properties/options"}
    # the keys the grader reads; `gate` is not one of them
    assert ", ".join(tables["#/$defs/check"]["properties"]) == CHECK_KEYS
    assert ", ".join(tables["#/$defs/question"]["properties"]) == QUESTION_KEYS
    assert ", ".join(tables["#"]["properties"]) == TOP_KEYS


def test_the_schema_ships_as_package_data_and_jsonschema_is_a_runtime_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["grader"]
    shipped = {p for pattern in patterns for p in (REPO / "grader").glob(pattern)}
    assert REPO / "grader" / "schema" / "assignment.schema.json" in shipped
    assert json.loads((REPO / "grader" / "schema" / "assignment.schema.json").read_text(encoding="utf-8")) == schema()
    assert any(d.replace(" ", "").startswith("jsonschema>=") for d in project["project"]["dependencies"])
    pins = (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "jsonschema==4.26.0" in pins
