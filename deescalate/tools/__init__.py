"""Developer and operator tooling: building, evaluating, starting, scaling and measuring the product.

Nothing in the runtime package imports from here.
"""
