# Otter test file (OK format) of q2: ∇C_T at the last step.
# Two plain numeric asserts: an ordinary point (public) and a saturated one (hidden); the expected
# values were computed with mpmath at 50 digits from the chain rule. Checked by tests/bench/ without Otter.
OK_FORMAT = True

test = {
    'name': 'q2',
    'points': 2,
    'suites': [
        {
            'cases': [
                {
                    'code': '>>> got = grad_C_T(0.55, 0.9, 0.8, 0.62, -1.3)\n>>> assert abs(got - (-0.06561854172390619)) <= 1e-6 * abs(-0.06561854172390619), got\n',
                    'hidden': False,
                    'locked': False,
                },
                {
                    'code': '>>> got = grad_C_T(0.999, 6.0, 1.7, 0.9999, 2.5)\n>>> assert abs(got - (1.043354415585767e-08)) <= 1e-6 * abs(1.043354415585767e-08), got\n',
                    'hidden': True,
                    'locked': False,
                },
            ],
            'scored': True,
            'setup': '',
            'teardown': '',
            'type': 'doctest',
        },
    ],
}
