"""DBAPI 2.0 helpers."""


def begin_transaction(conn, cursor):
    """Start a transaction on any of lava's drivers.

    Tries, in order: the connection's ``begin()`` (PyMySQL, cx_Oracle), turning ``autocommit``
    off (pg8000, redshift_connector, pyodbc), and executing ``BEGIN`` (sqlite3). The caller
    commits or rolls back.
    """
    begin = getattr(conn, "begin", None)
    if callable(begin):
        begin()
        return
    if hasattr(conn, "autocommit") and not _is_sqlite(conn):
        conn.autocommit = False
        return
    cursor.execute("BEGIN")


def _is_sqlite(conn):
    return type(conn).__module__.startswith("sqlite3")
