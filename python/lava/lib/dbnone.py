"""A stand-in for a DBAPI 2.0 driver that is not installed (the original's ``lava.lib.dbnone``):
importing works, connecting says the driver is missing."""

import types


def dbapi_stub(alias):
    """A module named ``alias`` with the DBAPI 2.0 attributes, whose ``connect``, ``Connection``
    and ``Cursor`` raise ``NotImplementedError``."""
    missing = f'{alias}: Not installed or unsupported'

    def connect(*args, **kwargs):
        """Fail: the driver is missing."""
        raise NotImplementedError(missing)

    class Connection:
        """Fails when made: the driver is missing."""

        def __init__(self, *args, **kwargs):
            raise NotImplementedError(missing)

    class Cursor:
        """Fails when made: the driver is missing."""

        def __init__(self, *args, **kwargs):
            raise NotImplementedError(missing)

    stub = types.ModuleType(alias)
    stub.apilevel, stub.threadsafety, stub.paramstyle = '2.0', 1, 'qmark'
    stub.alias = alias
    stub.connect, stub.Connection, stub.Cursor = connect, Connection, Cursor
    return stub
