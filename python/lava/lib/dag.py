"""Dependency matrices for dag jobs (the original's ``lava.lib.dag``): each loader gives
``{job: {jobs it waits for}}``. Matrices (CSV, Excel) have the jobs waited for across the top
and the waiting jobs down the first column, a non-blank cell meaning "waits for"; tables have
the columns ``job``, ``depends_on`` and optionally ``job_group``."""

import csv
import re
import sqlite3

DEFAULT_TABLE = 'dag'


def _add_row(dag, predecessors, job, cells):
    """One matrix row into ``dag``: a job never waits for itself."""
    job = job.strip() if job else job
    if not job:
        return
    waits = dag.setdefault(job, set())
    for before, cell in zip(predecessors[1:], cells):
        if cell and str(cell).strip() and before != job:
            waits.add(before)


def load_dag_from_csv(filename):
    """The dependencies of a CSV matrix (UTF-8)."""
    dag = {}
    with open(filename, encoding='utf-8') as f:
        rows = csv.reader(f)
        predecessors = [name.strip() for name in next(rows)]
        for row in rows:
            _add_row(dag, predecessors, row[0], row[1:])
    return dag


def load_dag_from_xlsx(filename, worksheet=None):
    """The dependencies of a matrix in an Excel workbook (its first sheet unless told);
    needs openpyxl."""
    import openpyxl

    book = openpyxl.load_workbook(filename=filename)
    try:
        rows = book[worksheet or book.sheetnames[0]].values
        predecessors = [name.strip() for name in next(rows)]
        dag = {}
        for row in rows:
            _add_row(dag, predecessors, row[0], row[1:])
        return dag
    finally:
        book.close()


def load_dag_from_db(db_conn, table=DEFAULT_TABLE, group=None):
    """The dependencies in a table (``[schema.]name``) of a DBAPI connection, only the rows of
    ``job_group`` ``group`` when given. A row with no ``depends_on`` only names its job."""
    if not re.match(r'^(\w+\.)?\w+$', table):
        raise ValueError(f'Bad table name: {table}')
    statement = f'SELECT job, depends_on FROM {table}'  # noqa: S608 (checked above)
    if group:
        if not re.match(r'^\w+$', group):
            raise ValueError(f'Only alphanumerics allowed: {group}')
        statement += f" WHERE job_group='{group}'"
    cursor = db_conn.cursor()
    cursor.execute(statement)
    dag = {}
    for job, before in cursor.fetchall():
        job = job.strip() if job else job
        if not job:
            continue
        waits = dag.setdefault(job, set())
        before = before.strip() if before else before
        if before and before != job:
            waits.add(before)
    return dag


def load_dag_from_sqlite3(filename, table=DEFAULT_TABLE, group=None):
    """The dependencies in a table of an SQLite file."""
    with sqlite3.connect(filename) as conn:
        return load_dag_from_db(conn, table=table, group=group)


def load_dag_from_lava_conn(conn_id, realm, table=DEFAULT_TABLE, group=None):
    """The dependencies in a table behind a lava database connection."""
    from lava.connection import get_pysql_connection

    conn = get_pysql_connection(conn_id, realm)
    try:
        return load_dag_from_db(conn, table=table, group=group)
    finally:
        conn.close()
