"""The disk cache of cases: exact round trips, keys that change with their sources, and never a wrong hit."""
import numpy as np

from grader import cache
from grader.problems import Case


def test_cases_round_trip_bit_for_bit():
    case = Case("ordinary", (0.1, np.array([[1e-300, -2.5]]), {"W_hf": np.array([3.0])}), (np.arange(3.0), 7.0),
                (np.ones(3), 1e308), "T = 3", 3.0, (("without the path", float("inf")),))
    back = cache.decode(cache.encode((case,)))[0]
    assert back.regime == "ordinary" and back.label == "T = 3" and back.cost == 3.0
    assert back.args[0] == 0.1 and back.args[1].tobytes() == case.args[1].tobytes()
    assert back.args[1].shape == (1, 2) and back.args[2]["W_hf"].dtype == np.float64
    assert back.expected[0].tobytes() == np.arange(3.0).tobytes() and back.expected[1] == 7.0
    assert back.dropped == (("without the path", float("inf")),)


def test_a_stored_value_is_served_and_a_corrupt_one_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTM_GRADER_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return (1.5, np.array([2.0]))

    first = cache.cached(("k", 1), compute)
    second = cache.cached(("k", 1), compute)
    assert len(calls) == 1 and second[0] == 1.5 and second[1].tolist() == [2.0] and first[0] == 1.5
    for entry in tmp_path.rglob("*.json"):
        entry.write_text("{not json")
    assert cache.cached(("k", 1), compute)[0] == 1.5 and len(calls) == 2


def test_off_computes_every_time(monkeypatch):
    monkeypatch.setenv("LSTM_GRADER_CACHE", "off")
    assert cache.directory() is None
    calls = []
    cache.cached(("k",), lambda: calls.append(1) or 0.0)
    cache.cached(("k",), lambda: calls.append(1) or 0.0)
    assert len(calls) == 2


def test_the_key_follows_the_assignment_files(tmp_path):
    (tmp_path / "assignment.toml").write_text("title = 'a'\n")
    before = cache.assignment_digest(tmp_path)
    cache.assignment_digest.cache_clear()
    (tmp_path / "gru.cell").write_text("state: s\n")
    assert cache.assignment_digest(tmp_path) != before
    cache.assignment_digest.cache_clear()
