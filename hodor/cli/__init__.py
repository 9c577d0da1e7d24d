"""Command-line entry points (``hodor-train``, ``hodor-eval-vos``, ``hodor-infer-video``).

The top floor: these modules wire the library packages together; nothing in ``hodor`` imports them.
"""
