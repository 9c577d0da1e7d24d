"""How the command-line tools report a user's mistake: one line on stderr and exit status 2.

Each domain has one error type, raised where the problem is found and naming the file or key:
``ConfigError`` (config files and overrides), ``DataError`` (frames, masks, annotations,
dataset folders), ``CheckpointError`` (checkpoint files), ``RunDirError`` (output and run
folders), ``UnknownNameError`` (a registry name, e.g. a dataset or backbone typo). Operating-system
errors (a full disk, a missing permission) are reported the same way, with the path.

A traceback helps developers, not users: the CLIs print it only with ``--debug`` or when the
environment variable ``HODOR_DEBUG`` is set to a non-empty value other than ``0``.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Callable, Sequence

DEBUG_ENV = "HODOR_DEBUG"
EXIT_USER_ERROR = 2


class UserError(Exception):
    """Base of the project's error types for user mistakes (bad config, data, checkpoint, folder).

    Each domain's type derives from it and from the built-in type callers already catch
    (``ConfigError(UserError, ValueError)``, ``DataError(UserError, RuntimeError)``...). The message
    names the file or key and the problem; CLIs print it without a traceback.
    """


class TrainingAborted(KeyboardInterrupt):
    """A second SIGTERM/SIGINT arrived while a first one was being honoured: stop at once.

    A ``KeyboardInterrupt`` subclass so that it passes through ``except Exception`` blocks the
    way Ctrl-C does; files being written are temporary files removed on the way out, so the
    last checkpoint stays the last complete one.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum} received twice: stopped at once")
        self.signum = signum


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exception types a CLI reports as one message (every domain's error derives from ``UserError``)."""
    return (UserError,)


def find_os_error(exc: BaseException | None) -> OSError | None:
    """The first ``OSError`` in ``exc``'s cause/context chain (torch hides ENOSPC under a RuntimeError)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def describe_os_error(exc: OSError, path: str | None = None) -> str:
    """``"<path>: No space left on device (ENOSPC)"``: the file and the reason, without a traceback."""
    if not exc.strerror:  # raised with a message of its own (e.g. FileExistsError("... exists; pass --overwrite"))
        return f"{path}: {exc}" if path else str(exc)
    where = path or exc.filename or "<unknown file>"
    reason = exc.strerror
    name = errno.errorcode.get(exc.errno or -1)
    hint = ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "; free some space (or choose another folder) and try again"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "; choose a folder you can write to"
    return f"{where}: {reason}{f' ({name})' if name else ''}{hint}"


def debug_enabled(argv: Sequence[str] | None = None) -> bool:
    """``--debug`` on the command line or ``HODOR_DEBUG`` set in the environment."""
    if argv is not None and "--debug" in argv:
        return True
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def strip_debug_flag(argv: Sequence[str] | None) -> tuple[list[str], bool]:
    """(argv without ``--debug``, whether debugging is on); ``None`` means ``sys.argv[1:]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_enabled(args)
    return [a for a in args if a != "--debug"], debug


def report_error(exc: BaseException, debug: bool, extra: str = "") -> int:
    """Print ``error: <message>`` (and the traceback when debugging) to stderr; return exit status 2."""
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    os_error = exc if isinstance(exc, OSError) else None
    message = describe_os_error(os_error) if os_error is not None else str(exc)
    if not isinstance(exc, OSError):
        inner = find_os_error(exc)
        if inner is not None and inner.strerror and inner.strerror not in message:
            message = f"{message} ({describe_os_error(inner)})"
    print(f"error: {message}{extra}", file=sys.stderr)
    if not debug:
        print(f"(run with --debug or {DEBUG_ENV}=1 to see the traceback)", file=sys.stderr)
    return EXIT_USER_ERROR


def run_cli(
    main: Callable[[list[str]], int | None],
    argv: Sequence[str] | None = None,
    also: tuple[type[BaseException], ...] = (),
) -> int:
    """Call ``main(argv)`` and turn user errors into one message and exit status 2.

    ``--debug`` is taken out of ``argv`` here (so every tool accepts it). A second signal
    (``TrainingAborted``) exits with 128 + the signal number; Ctrl-C elsewhere with 130.
    Errors of other types are programming errors and keep their traceback, except the types in
    ``also`` (e.g. ``ValueError`` for a tool whose ValueErrors are all argument checks).
    """
    args, debug = strip_debug_flag(argv)
    if debug:
        os.environ[DEBUG_ENV] = os.environ.get(DEBUG_ENV) or "1"  # inner helpers see it too
    try:
        status = main(args)
    except TrainingAborted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (*user_error_types(), OSError, *also) as exc:
        return report_error(exc, debug)
    return int(status or 0)
