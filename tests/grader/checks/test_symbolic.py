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


def test_an_expression_too_large_to_compare_is_graded_numerically_not_guessed(monkeypatch):
    import math

    from grader import load_assignment
    from grader.checks import CheckContext, symbolic
    from grader.equivalence import Decision
    from grader.problems import problem_for
    from grader.sandbox import CallResult, ExprTree, Limits, Symbol

    class Box:
        limits = Limits()

        def call(self, function, args, kwargs=None, *, timeout=None):
            return self.call_many(function, [args])[0]

        def call_many(self, function, arg_lists, *, timeout=None, timeouts=None):
            out = []
            for C_t, grad_h_t in arg_lists:
                if isinstance(C_t, Symbol):
                    out.append(CallResult("ok", ExprTree.from_wire(
                        ["Mul", ["Symbol", "grad_h_t"], ["tanh", ["Symbol", "C_t"]]])))
                else:
                    out.append(CallResult("ok", math.tanh(C_t) * grad_h_t))
            return out

    a = load_assignment("lstm_scalar")
    q = a.question("q9")
    monkeypatch.setattr(symbolic, "_DECISIONS", {})
    monkeypatch.setattr(symbolic, "decide", lambda problem, expr: Decision(False, "gave up", (), undecided=True))
    spec = next(s for s in q.checks if s.check == "symbolic")
    verdict = symbolic.SymbolicCheck().run(CheckContext(a, q, problem_for(a, q), Box()), spec)
    assert verdict.passed
    assert verdict.messages[0] == ("could not be checked symbolically: its expression is too large to compare "
                                   "with the reference in time; it was checked at 30 more numeric points "
                                   "instead. Writing it in a simpler form lets it be checked symbolically.")
