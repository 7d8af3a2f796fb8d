"""Property-based gradient tests of your own functions with hypothesis + funcgrad.testing.

Runs two property tests: one on a correct function, one on a custom rule with a
deliberate bug (a missing factor of 2) that check_grads catches.

Run: python examples/property_testing.py
"""
from __future__ import annotations

from hypothesis import given, settings

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad.testing import GradCheckError, check_grads, strategies as fst


def smooth_loss(x):
    return fnp.sum(fnp.tanh(x) ** 2 + fnp.log1p(x * x))


@fg.custom_vjp
def square(x):
    return x * x


square.defvjp(lambda x: (x * x, x), lambda x, ct: (ct * x,))  # BUG: should be 2 * x * ct


@settings(max_examples=20, deadline=None)
@given(fst.arrays(shape=fst.shapes(max_dims=2), low=-2.0, high=2.0))
def test_smooth_loss(x):
    check_grads(smooth_loss, (x,), order=2)


@settings(max_examples=20, deadline=None)
@given(fst.arrays(shape=fst.shapes(max_dims=1), low=0.5, high=2.0))
def test_buggy_square_rule(x):
    check_grads(lambda v: fnp.sum(square(v)), (x,), order=1, modes=("rev",))


def main():
    test_smooth_loss()
    print("smooth_loss: gradients agree with finite differences (20 random inputs)")
    try:
        test_buggy_square_rule()
    except GradCheckError as e:
        print("buggy rule caught, as it should be:\n  " + str(e).splitlines()[0])
    else:
        raise SystemExit("the buggy rule was not caught")


if __name__ == "__main__":
    main()
