"""The lava job SDK for Python jobs.

Jobs find their connections through ``LAVA_CONNID_<LABEL>`` and ``LAVA_REALM`` and open them with
:func:`lava.connection.get_pysql_connection` or :func:`lava.connection.get_sqlalchemy_engine`.
"""


class LavaError(Exception):
    """A connection could not be resolved or opened."""
