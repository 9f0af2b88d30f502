"""The symbolic check keeps its decisions per expression tree."""


def test_the_same_expression_tree_is_decided_once_per_question(monkeypatch):
    """Many students write the same formula: the second one is a look-up, with the same verdict."""
    from grader import load_assignment
    from grader.checks import CheckContext
    from grader.checks import symbolic
    from grader.problems import problem_for
    from grader.sandbox import ExprTree

    a = load_assignment("lstm_scalar")
    q = a.question("q9")
    ctx = CheckContext(a, q, problem_for(a, q), box=None)
    tree = ExprTree.from_wire(["Mul", ["Symbol", "grad_h_t"], ["tanh", ["Symbol", "C_t"]]])
    monkeypatch.setattr(symbolic, "_DECISIONS", {})
    calls = []
    first = symbolic._decided(ctx, tree, lambda: calls.append(1) or "decision")
    again = symbolic._decided(ctx, ExprTree.from_wire(["Mul", ["Symbol", "grad_h_t"], ["tanh", ["Symbol", "C_t"]]]),
                              lambda: calls.append(1) or "other")
    assert (first, again, len(calls)) == ("decision", "decision", 1)
    other = a.question("q10")
    symbolic._decided(CheckContext(a, other, problem_for(a, other), box=None), tree, lambda: calls.append(1))
    assert len(calls) == 2   # another question decides afresh
