# The lava-worker image: lava-worker, lava-sql and the lava CLI, the database clients the
# connector scripts run (psql, mysql, sqlite3), the AWS CLI, unzip, and the `lava` Python package.
#   docker build -t lava-worker .
# The worker container needs the Docker socket mounted for docker jobs on EC2 (infra/worker.yaml
# does that), or DOCKER_RUNNER=ecs on Fargate.
# Stages: `runtime` (the operating system, clients and Python layer: everything but lava's own
# binaries), `build` (the binaries, in the speed profile `fast`), then the image (runtime + binaries). The tests build
# `--target runtime` from a locally made Debian base and run the worker in it
# (worker/tests/image.rs); BASE_IMAGE and RUST_IMAGE name other bases or mirrors.
ARG BASE_IMAGE=debian:bookworm-slim
ARG RUST_IMAGE=rust:1.95-bookworm

FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates bash unzip postgresql-client mariadb-client sqlite3 \
      python3 python3-pip python3-venv awscli \
 && rm -rf /var/lib/apt/lists/*
COPY python /opt/lava/python
RUN python3 -m venv /opt/lava/venv \
 && /opt/lava/venv/bin/pip install --no-cache-dir '/opt/lava/python[postgres,mysql,sqlalchemy]'
ENV PATH=/opt/lava/venv/bin:$PATH \
    LAVA_CLI=/usr/local/bin/lava

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --profile fast --locked -p lava-worker -p lava-cli

FROM runtime
COPY --from=build /src/target/fast/lava-worker /src/target/fast/lava-sql /src/target/fast/lava /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/lava-worker"]
