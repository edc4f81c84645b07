#!/usr/bin/env bash
# Prepares what the tests need beyond moto (which the test harness installs and starts itself):
#  - the database servers, on loopback: PostgreSQL 15 on 127.0.0.1:5432 and MariaDB on
#    127.0.0.1:3306, each with a user `lava` (password `lava-test-pw`) and a database
#    `lava_test`; the psql, mysql and sqlite3 clients the connector scripts run;
#  - in the workspace's .venv: the `lava` Python package (python/) and the drivers the
#    Python job tests use (python/test-requirements.txt).
# Idempotent: a second run only checks. Needs root (apt-get, server start).
set -euo pipefail

PW=lava-test-pw
need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql-15 postgresql-client-15)
[ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server)
command -v mysql >/dev/null || need_apt+=(mariadb-client)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "databases: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "databases: PostgreSQL 15"
pg_lsclusters -h 2>/dev/null | grep -q '^15 *main' || pg_createcluster 15 main >/dev/null
pg_lsclusters -h | grep -q '^15 *main.*online' || pg_ctlcluster 15 main start
for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
su postgres -c "psql -q -v ON_ERROR_STOP=1" <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lava') THEN
    CREATE ROLE lava LOGIN SUPERUSER PASSWORD '$PW';
  END IF;
END \$\$;
SQL
su postgres -c "psql -tAq -c \"SELECT 1 FROM pg_database WHERE datname = 'lava_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O lava lava_test"

echo "databases: MariaDB"
if ! mysqladmin ping --silent >/dev/null 2>&1; then
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
    [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    start-stop-daemon --start --background --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1
    for _ in $(seq 1 100); do mysqladmin ping --silent >/dev/null 2>&1 && break; sleep 0.2; done
fi
mysql -uroot <<SQL
CREATE DATABASE IF NOT EXISTS lava_test;
CREATE USER IF NOT EXISTS 'lava'@'127.0.0.1' IDENTIFIED BY '$PW';
CREATE USER IF NOT EXISTS 'lava'@'localhost' IDENTIFIED BY '$PW';
GRANT ALL ON *.* TO 'lava'@'127.0.0.1';
GRANT ALL ON *.* TO 'lava'@'localhost';
SQL

PGPASSWORD=$PW psql -h 127.0.0.1 -U lava -d lava_test -tAc 'SELECT 1' >/dev/null
mysql -h 127.0.0.1 -u lava -p"$PW" lava_test -e 'SELECT 1' >/dev/null
echo "databases: ready (postgres 127.0.0.1:5432, mariadb 127.0.0.1:3306, user lava)"

cd "$(dirname "$0")/.."
[ -x .venv/bin/pip ] || python3 -m venv .venv
if ! .venv/bin/python -c 'import lava.connection, pg8000, pymysql, sqlalchemy, pandas, awscli' 2>/dev/null \
    || ! cmp -s python/lava/connection.py "$(.venv/bin/python -c 'import lava.connection as c; print(c.__file__)')"; then
    echo "python: installing the lava package and the job test requirements into .venv"
    .venv/bin/pip install --quiet -r python/test-requirements.txt ./python
fi
echo "python: ready (.venv has lava, pg8000, PyMySQL, SQLAlchemy, pandas, the AWS CLI)"
