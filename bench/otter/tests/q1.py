# Otter test file (OK format) of q1: ∇h_T at the last step.
# Two plain numeric asserts: an ordinary point (public) and a saturated one (hidden); the expected
# values were computed with mpmath at 50 digits from the chain rule. Checked by tests/bench/ without Otter.
OK_FORMAT = True

test = {
    'name': 'q1',
    'points': 2,
    'suites': [
        {
            'cases': [
                {
                    'code': '>>> got = grad_h_T(0.8, 0.62, -1.3)\n>>> assert abs(got - (-0.245024)) <= 1e-6 * abs(-0.245024), got\n',
                    'hidden': False,
                    'locked': False,
                },
                {
                    'code': '>>> got = grad_h_T(1.7, 0.9999, 2.5)\n>>> assert abs(got - (0.0004249575)) <= 1e-6 * abs(0.0004249575), got\n',
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
