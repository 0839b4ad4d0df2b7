"""A small expression built from Mul and Add nodes, differentiated by hand and checked.

The notebooks' shopping example: 2 apples at 100 and 3 oranges at 150, with 10% tax::

    price = (apple * n_apple + orange * n_orange) * tax

Forward runs the nodes in order; backward runs them in reverse, each turning the gradient of
its output into the gradients of its two inputs. Then every gradient is checked against
central differences with :func:`bareprop.check.gradcheck.check_function`.

Run: ``python examples/graph_expression.py``
"""

from __future__ import annotations

import numpy as np

from bareprop import Add, Mul
from bareprop.check.gradcheck import check_function


def price(values: np.ndarray) -> tuple[float, dict[str, float]]:
    """The price and its gradient with respect to each of the five inputs."""
    apple, n_apple, orange, n_orange, tax = values
    mul_apple, mul_orange, add_fruit, mul_tax = Mul(), Mul(), Add(), Mul()
    # forward, in order
    apple_total = mul_apple.forward(apple, n_apple)
    orange_total = mul_orange.forward(orange, n_orange)
    fruit = add_fruit.forward(apple_total, orange_total)
    total = mul_tax.forward(fruit, tax)
    # backward, in reverse, starting from d price / d price = 1
    d_fruit, d_tax = mul_tax.backward(1.0)
    d_apple_total, d_orange_total = add_fruit.backward(d_fruit)
    d_orange, d_n_orange = mul_orange.backward(d_orange_total)
    d_apple, d_n_apple = mul_apple.backward(d_apple_total)
    grads = {"apple": d_apple, "n_apple": d_n_apple, "orange": d_orange,
             "n_orange": d_n_orange, "tax": d_tax}  # fmt: skip
    return float(total), {k: float(v) for k, v in grads.items()}


def main() -> None:
    values = np.array([100.0, 2.0, 150.0, 3.0, 1.1])
    total, grads = price(values)
    print(f"price: {total:g}")
    for name, g in grads.items():
        print(f"  d price / d {name:<8} = {g:g}")
    analytic = {"values": np.array(list(grads.values()))}
    report = check_function(lambda: price(values)[0], {"values": values}, analytic)
    check = report["values"]
    verdict = "PASS" if report.passed else "FAIL"
    print(f"gradient check: {verdict} (max abs error {check.max_abs:.1e}, "
          f"max rel error {check.max_rel:.1e}; eps={report.eps:g}, atol={report.atol:g}, "
          f"rtol={report.rtol:g})")  # fmt: skip


if __name__ == "__main__":
    main()
