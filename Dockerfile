# The lava-worker image: lava-worker, lava-sql and the lava CLI, the database clients the
# connector scripts run (psql, mysql, sqlite3), the AWS CLI, unzip, and the `lava` Python package.
#   docker build -t lava-worker .
# The worker container needs the Docker socket mounted for docker jobs on EC2 (infra/worker.yaml
# does that), or DOCKER_RUNNER=ecs on Fargate.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p worker -p cli

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates bash unzip postgresql-client mariadb-client sqlite3 \
      python3 python3-pip python3-venv awscli \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/lava-worker /src/target/release/lava-sql /src/target/release/lava /usr/local/bin/
COPY python /opt/lava/python
RUN python3 -m venv /opt/lava/venv \
 && /opt/lava/venv/bin/pip install --no-cache-dir '/opt/lava/python[postgres,mysql,sqlalchemy]'
ENV PATH=/opt/lava/venv/bin:$PATH \
    LAVA_CLI=/usr/local/bin/lava
ENTRYPOINT ["/usr/local/bin/lava-worker"]
