"""How this package tells a database error apart: the link, the data, or a deadlock."""

from __future__ import annotations

import pymysql

# Errors that mean "the server or the link is gone".
_LINK_ERRORS = {2003, 2006, 2013, 2014, 2055, 1053, 1927, 2002}
# Errors that blame the data of a row (too long, bad value or date, invalid JSON, a
# failed CHECK or foreign key); any other error blames the server or the schema and
# is retried later instead, so nothing is set aside for a problem a row did not cause.
_DATA_ERRORS = {1048, 1264, 1292, 1366, 1406, 1452, 3140, 4025}
ER_LOCK_DEADLOCK = 1213
DEADLOCK_ATTEMPTS = 3  # a batch chosen as a deadlock's victim runs again, this many times


class DatabaseUnavailable(RuntimeError):
    """The server cannot be reached or dropped the link; retry later."""


class RowRejected(RuntimeError):
    """The server refused a batch because of the data in it."""


def error_code(exc: BaseException):
    return exc.args[0] if getattr(exc, 'args', None) else None


def is_link_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return isinstance(exc, pymysql.err.OperationalError) and error_code(exc) in _LINK_ERRORS


def is_data_error(exc: BaseException) -> bool:
    return isinstance(exc, pymysql.err.DataError) or error_code(exc) in _DATA_ERRORS


def describe(exc: BaseException) -> str:
    """'(code) text' for a server error, the text otherwise."""
    if getattr(exc, 'args', None) and len(exc.args) >= 2:
        return f'({exc.args[0]}) {exc.args[1]}'
    return str(exc) or type(exc).__name__
