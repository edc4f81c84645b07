#!/usr/bin/env bash
# Prepares what the tests need beyond moto (which the test harness installs and starts itself):
#  - the database servers, on loopback: PostgreSQL 15 on 127.0.0.1:5432 and MariaDB on
#    127.0.0.1:3306, each with a user `lava` (password `lava-test-pw`) and a database
#    `lava_test`; the psql, mysql and sqlite3 clients the connector scripts run;
#  - a Docker engine (Debian's docker.io; dockerd with --iptables=false, log in
#    /var/log/lava-dockerd.log) and the test image `lava-test/busybox:1`, imported from
#    busybox-static (no registry is reachable), and `lava-test/debian:bookworm`, Debian 12 made
#    by debootstrap, the base the worker image test builds on, and `lava-test/lambda:provided`
#    from it, the base `sam local invoke` runs the functions on in tests/sam_local.rs;
#  - in the workspace's .venv: the `lava` Python package (python/) and the drivers the
#    Python job tests use (python/test-requirements.txt); the SAM CLI, cfn-lint and
#    cargo-lambda (infra/requirements.txt) the template tests run;
#  - the Rust target aarch64-unknown-linux-gnu (rustup), which `sam build` of the arm64
#    functions (tests/sam_build.rs) compiles for.
# Idempotent: a second run only checks. Needs root (apt-get, server start).
set -euo pipefail

PW=lava-test-pw
need_apt=()
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql-15 postgresql-client-15)
[ -x /usr/sbin/mariadbd ] || need_apt+=(mariadb-server)
command -v mysql >/dev/null || need_apt+=(mariadb-client)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
[ -x /usr/sbin/dockerd ] || need_apt+=(docker.io)
[ -x /usr/bin/busybox ] || need_apt+=(busybox-static)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
# Headless Chromium opens the job activity picture in the tests.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "databases: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# OpenSSH's server (ssh/scp/sftp/git connector tests) and Samba (smb jobs and connector), which
# the tests start on loopback themselves: installed without starting the system's services
# (policy-rc.d refuses service starts meanwhile).
need_servers=()
[ -x /usr/sbin/sshd ] || need_servers+=(openssh-server)
[ -x /usr/sbin/smbd ] || need_servers+=(samba)
if [ ${#need_servers[@]} -gt 0 ]; then
    echo "connectors: installing ${need_servers[*]}"
    export DEBIAN_FRONTEND=noninteractive
    [ ${#need_apt[@]} -gt 0 ] || apt-get update -qq
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${need_servers[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
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

echo "docker: engine and test image"
DOCKER=/usr/bin/docker
if ! $DOCKER info >/dev/null 2>&1; then
    nohup /usr/sbin/dockerd --iptables=false >/var/log/lava-dockerd.log 2>&1 &
    for _ in $(seq 1 100); do $DOCKER info >/dev/null 2>&1 && break; sleep 0.2; done
    $DOCKER info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/lava-dockerd.log" >&2; exit 1; }
fi
if ! $DOCKER image inspect lava-test/busybox:1 >/dev/null 2>&1; then
    root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/tmp" "$root/etc"
    cp /usr/bin/busybox "$root/bin/"
    for tool in sh echo cat sleep env ls id printf true false test wc head; do ln -s busybox "$root/bin/$tool"; done
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    tar -C "$root" -cf "$root.tar" .
    $DOCKER import "$root.tar" lava-test/busybox:1 >/dev/null
    rm -rf "$root" "$root.tar"
fi
# The base the worker image test (worker/tests/image.rs) builds the Dockerfile's runtime stage
# on, standing in for debian:bookworm-slim: Debian 12 from Debian's own mirror, trusting the
# certificate authorities (and pip settings) this machine trusts, so apt and pip inside the build
# reach their registries as the host does.
if ! $DOCKER image inspect lava-test/debian:bookworm >/dev/null 2>&1; then
    echo "docker: making lava-test/debian:bookworm with debootstrap"
    root=$(mktemp -d)
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/tmp/lava-debootstrap.log 2>&1 \
        || { echo "debootstrap failed; see /tmp/lava-debootstrap.log" >&2; exit 1; }
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
    [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
    rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
    tar -C "$root" -c . | $DOCKER import - lava-test/debian:bookworm >/dev/null
    rm -rf "$root"
fi
# The base `sam local invoke` builds its Lambda image on in tests/sam_local.rs, standing in for
# public.ecr.aws/lambda/provided:al2023 (no registry is reachable): Debian 12 with this machine's
# certificate authorities, which the functions' TLS stack requires to start.
if ! $DOCKER image inspect lava-test/lambda:provided >/dev/null 2>&1; then
    echo "docker: making lava-test/lambda:provided"
    context=$(mktemp -d)
    cp /etc/ssl/certs/ca-certificates.crt "$context/"
    printf 'FROM lava-test/debian:bookworm\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n' >"$context/Dockerfile"
    DOCKER_BUILDKIT=0 $DOCKER build -q -t lava-test/lambda:provided "$context" >/dev/null 2>/tmp/lava-lambda-image.log \
        || { echo "building lava-test/lambda:provided failed; see /tmp/lava-lambda-image.log" >&2; exit 1; }
    rm -rf "$context"
fi
echo "docker: ready (lava-test/busybox:1, lava-test/debian:bookworm, lava-test/lambda:provided)"

cd "$(dirname "$0")/.."
[ -x .venv/bin/pip ] || python3 -m venv .venv
if ! .venv/bin/python -c 'import lava.connection, pg8000, pymysql, sqlalchemy, pandas, awscli, pyarrow, aiosmtpd, openpyxl' 2>/dev/null \
    || ! diff -rq -x __pycache__ python/lava "$(.venv/bin/python -c 'import lava, os; print(os.path.dirname(lava.__file__))')" >/dev/null; then
    echo "python: installing the lava package and the job test requirements into .venv"
    rm -rf python/build
    .venv/bin/pip install --quiet --force-reinstall --no-deps ./python
    .venv/bin/pip install --quiet -r python/test-requirements.txt ./python
fi
echo "python: ready (.venv has lava, pg8000, PyMySQL, SQLAlchemy, pandas, pyarrow, the AWS CLI, aiosmtpd, openpyxl)"
if ! [ -x .venv/bin/sam ] || ! [ -x .venv/bin/cfn-lint ] || ! [ -x .venv/bin/cargo-lambda ]; then
    echo "infra tools: installing the SAM CLI, cfn-lint and cargo-lambda into .venv"
    .venv/bin/pip install --quiet -r infra/requirements.txt
fi
echo "infra tools: ready ($(.venv/bin/sam --version), cfn-lint $(.venv/bin/cfn-lint --version | cut -d' ' -f2), $(.venv/bin/cargo-lambda lambda --version))"
# checkov has a dependency tree of its own (it would pin boto3 and others under moto and SAM),
# so it gets a venv of its own.
if ! [ -x .venv-checkov/bin/checkov ]; then
    echo "infra tools: installing checkov into .venv-checkov"
    python3 -m venv .venv-checkov
    .venv-checkov/bin/pip install --quiet 'checkov==3.3.30'
fi
echo "infra tools: checkov $(.venv-checkov/bin/checkov --version) ready"
# The original, jinlava 8.3.0 from PyPI, for the differential suite (tests/differential): its
# own venv, since it pins boto3, Jinja and SQLAlchemy of its own.
JINLAVA=8.3.0
# scramp 1.5 dropped what jinlava's pg8000 calls to log in to PostgreSQL; 1.4 is what the
# original ran with when it was released. pyarrow is its lava-sql's optional Parquet writer (the
# version the Python job tests use).
if ! [ -x .venv-jinlava/bin/lava-worker ] || [ "$(.venv-jinlava/bin/lava-version 2>/dev/null)" != "$JINLAVA" ] \
    || ! .venv-jinlava/bin/python -c 'from scramp import make_channel_binding' 2>/dev/null; then
    echo "original: installing jinlava $JINLAVA into .venv-jinlava"
    rm -rf .venv-jinlava
    python3 -m venv .venv-jinlava
    .venv-jinlava/bin/pip install --quiet "jinlava==$JINLAVA" "scramp<1.5"
fi
if ! .venv-jinlava/bin/python -c 'import pyarrow' 2>/dev/null; then
    .venv-jinlava/bin/pip install --quiet "$(grep '^pyarrow==' python/test-requirements.txt)"
fi
# The original's lava-dag-gen imports openpyxl (for Excel sources) whatever its source.
if ! .venv-jinlava/bin/python -c 'import openpyxl' 2>/dev/null; then
    .venv-jinlava/bin/pip install --quiet 'openpyxl==3.1.5'
fi
echo "original: jinlava $(.venv-jinlava/bin/lava-version) ready"
# LocalStack, the second emulator (tests/it/localstack.rs): its free core in host mode (no
# Docker), which needs Python 3.13 (pyenv's) and these pins; its own venv.
LOCALSTACK=2026.3.0
if ! .venv-localstack/bin/python -c 'import localstack.runtime.main, rolo' 2>/dev/null; then
    echo "localstack: installing localstack-core $LOCALSTACK into .venv-localstack"
    # pyenv's own interpreter (its shim answers only where 3.13 is the selected version).
    PY313=$(ls "$HOME"/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | head -1)
    [ -n "$PY313" ] || PY313=$(command -v python3.13 || true)
    [ -n "$PY313" ] || { echo "localstack: Python 3.13 is needed (pyenv install 3.13)" >&2; exit 1; }
    rm -rf .venv-localstack
    "$PY313" -m venv .venv-localstack
    .venv-localstack/bin/pip install --quiet "localstack-core[runtime]==$LOCALSTACK" 'cbor2<6' 'pyopenssl<26' 'localstack-twisted<26'
fi
echo "localstack: localstack-core $(.venv-localstack/bin/python -c 'import importlib.metadata as m; print(m.version("localstack-core"))') ready"
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "rust: adding the target aarch64-unknown-linux-gnu (the Lambda functions are arm64)"
    rustup target add aarch64-unknown-linux-gnu || {
        echo "rust: could not add aarch64-unknown-linux-gnu (rustup fetches it from static.rust-lang.org); sam build of the functions needs it" >&2
        exit 1
    }
fi
echo "rust: ready ($(rustc --version), targets: $(rustup target list --installed | paste -sd' '))"
