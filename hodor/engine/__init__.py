"""Run setup (argument parsing, output directory, logging) and, later, the training loop."""

from .setup import default_argument_parser, default_setup, setup_from_args

__all__ = ["default_argument_parser", "default_setup", "setup_from_args"]
