//! The [`ContainerEngine`] port over the Docker Engine API (bollard): the only module that
//! imports bollard. The engine is the local one (`DOCKER_HOST` or the default socket); the API
//! version is negotiated on first use, so older engines work.

use async_trait::async_trait;
use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding, ResourcesBlkioWeightDevice, ThrottleDevice};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, KillContainerOptions, LogsOptions, RemoveContainerOptions,
};
use futures_util::TryStreamExt;
use tokio::sync::OnceCell;

use crate::error::{Error, Result};
use crate::ports::{ContainerEngine, ContainerSpec, RegistryLogin};

fn engine_error(operation: &str, e: bollard::errors::Error) -> Error {
    Error::unexpected("docker", format!("{operation}: {e}"))
}

/// The local Docker engine.
pub struct DockerEngine {
    docker: OnceCell<Docker>,
}

impl DockerEngine {
    /// The engine named by `DOCKER_HOST`, else the default socket (connected on first use).
    pub fn local() -> Self {
        DockerEngine { docker: OnceCell::new() }
    }

    async fn docker(&self) -> Result<&Docker> {
        self.docker
            .get_or_try_init(|| async {
                let docker = Docker::connect_with_local_defaults()
                    .map_err(|e| engine_error("cannot reach the Docker engine", e))?;
                docker.negotiate_version().await.map_err(|e| engine_error("cannot reach the Docker engine", e))
            })
            .await
    }
}

fn none_if_empty(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

#[async_trait]
impl ContainerEngine for DockerEngine {
    async fn has_image(&self, image: &str) -> Result<bool> {
        match self.docker().await?.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
            Err(e) => Err(engine_error("inspect image", e)),
        }
    }

    async fn pull(&self, image: &str, login: Option<&RegistryLogin>) -> Result<()> {
        let (repository, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((r, t)) => (r.to_string(), t.to_string()),
            None => (image.to_string(), "latest".to_string()),
        };
        let options = CreateImageOptions { from_image: Some(repository), tag: Some(tag), ..Default::default() };
        let credentials = login.map(|l| DockerCredentials {
            username: Some(l.username.clone()),
            password: Some(l.password.clone()),
            serveraddress: Some(l.server.clone()),
            ..Default::default()
        });
        let mut progress = self.docker().await?.create_image(Some(options), None, credentials);
        while progress.try_next().await.map_err(|e| engine_error("pull", e))?.is_some() {}
        Ok(())
    }

    async fn start(&self, spec: &ContainerSpec) -> Result<String> {
        let h = &spec.host;
        let host_config = HostConfig {
            binds: none_if_empty(&spec.binds),
            group_add: none_if_empty(&h.group_add),
            memory: h.memory,
            memory_swap: h.memory_swap,
            memory_swappiness: h.memory_swappiness,
            nano_cpus: h.nano_cpus,
            cpu_shares: h.cpu_shares,
            cpu_period: h.cpu_period,
            cpu_quota: h.cpu_quota,
            cpuset_cpus: h.cpuset_cpus.clone(),
            cpuset_mems: h.cpuset_mems.clone(),
            shm_size: h.shm_size,
            network_mode: h.network_mode.clone(),
            cap_add: none_if_empty(&h.cap_add),
            cap_drop: none_if_empty(&h.cap_drop),
            dns: none_if_empty(&h.dns),
            dns_options: none_if_empty(&h.dns_options),
            dns_search: none_if_empty(&h.dns_search),
            extra_hosts: none_if_empty(&h.extra_hosts),
            publish_all_ports: h.publish_all_ports,
            cpu_count: h.cpu_count,
            cpu_percent: h.cpu_percent,
            blkio_weight: h.blkio_weight,
            blkio_weight_device: (!h.blkio_weight_device.is_empty()).then(|| {
                h.blkio_weight_device
                    .iter()
                    .map(|d| ResourcesBlkioWeightDevice { path: Some(d.path.clone()), weight: Some(d.value as usize) })
                    .collect()
            }),
            blkio_device_read_bps: throttles(&h.device_read_bps),
            blkio_device_write_bps: throttles(&h.device_write_bps),
            blkio_device_read_iops: throttles(&h.device_read_iops),
            blkio_device_write_iops: throttles(&h.device_write_iops),
            port_bindings: (!h.ports.is_empty()).then(|| {
                let mut map: std::collections::HashMap<String, Option<Vec<PortBinding>>> = Default::default();
                for p in &h.ports {
                    let binding = PortBinding { host_ip: p.host_ip.clone(), host_port: p.host_port.clone() };
                    map.entry(p.container_port.clone()).or_default().get_or_insert_with(Vec::new).push(binding);
                }
                map
            }),
            ..Default::default()
        };
        let mut exposed: Vec<String> = h.ports.iter().map(|p| p.container_port.clone()).collect();
        exposed.dedup();
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: spec.command.clone(),
            env: Some(spec.env.clone()),
            labels: Some(spec.labels.iter().cloned().collect()),
            user: h.user.clone(),
            working_dir: h.working_dir.clone(),
            hostname: h.hostname.clone(),
            domainname: h.domainname.clone(),
            network_disabled: h.network_disabled,
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            host_config: Some(host_config),
            ..Default::default()
        };
        let docker = self.docker().await?;
        let options = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        let created =
            docker.create_container(Some(options), body).await.map_err(|e| engine_error("create container", e))?;
        if let Err(e) = docker.start_container(&created.id, None).await {
            let _ = self.remove(&created.id).await;
            return Err(engine_error("start container", e));
        }
        Ok(created.id)
    }

    async fn wait(&self, id: &str) -> Result<i64> {
        let mut waiting = self.docker().await?.wait_container(id, None);
        match waiting.try_next().await {
            Ok(Some(done)) => Ok(done.status_code),
            Ok(None) => Err(Error::unexpected("docker", "wait: the engine ended the wait without a status")),
            // bollard reports a non-zero exit as an error carrying the code.
            Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => Ok(code),
            Err(e) => Err(engine_error("wait", e)),
        }
    }

    async fn kill(&self, id: &str) -> Result<()> {
        match self.docker().await?.kill_container(id, Some(KillContainerOptions { signal: "KILL".into() })).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(engine_error("kill", e)),
        }
    }

    async fn logs(&self, id: &str) -> Result<Vec<u8>> {
        let options = LogsOptions { stdout: true, stderr: true, ..Default::default() };
        let mut stream = self.docker().await?.logs(id, Some(options));
        let mut out = Vec::new();
        while let Some(chunk) = stream.try_next().await.map_err(|e| engine_error("logs", e))? {
            out.extend_from_slice(&chunk.into_bytes());
        }
        Ok(out)
    }

    async fn remove(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptions { force: true, v: true, ..Default::default() };
        match self.docker().await?.remove_container(id, Some(options)).await {
            Ok(()) | Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(()),
            Err(e) => Err(engine_error("remove", e)),
        }
    }
}

fn throttles(limits: &[crate::model::container::DeviceLimit]) -> Option<Vec<ThrottleDevice>> {
    (!limits.is_empty())
        .then(|| limits.iter().map(|d| ThrottleDevice { path: Some(d.path.clone()), rate: Some(d.value) }).collect())
}
