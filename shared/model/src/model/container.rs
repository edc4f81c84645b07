//! The runtime options of a docker job's container: its `host_config` (the original's
//! whitelist, names and value forms as in the Docker SDK's `containers.run`), read once, both
//! when a spec is validated and when the container is made, so a value that would fail every run
//! is refused when the spec is put.

use serde_json::{Map, Value};

/// The `host_config` names a docker job may set.
pub const DOCKER_HOST_CONFIG: &[&str] = &[
    "blkio_weight",
    "blkio_weight_device",
    "cap_add",
    "cap_drop",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_shares",
    "cpuset_cpus",
    "cpuset_mems",
    "device_read_bps",
    "device_read_iops",
    "device_write_bps",
    "device_write_iops",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "extra_hosts",
    "hostname",
    "group_add",
    "mem_limit",
    "mem_swappiness",
    "memswap_limit",
    "nano_cpus",
    "network_disabled",
    "network_mode",
    "ports",
    "publish_all_ports",
    "shm_size",
    "user",
    "working_dir",
];

/// A device and a number: a block-IO weight or a rate limit (`{"Path": …, "Weight"|"Rate": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLimit {
    /// Device path, e.g. `/dev/sda`.
    pub path: String,
    /// Weight (10–1000), bytes or operations per second.
    pub value: i64,
}

/// A published container port (`ports`: `{"80/tcp": 8080}`, `{"80": null}`,
/// `{"80/tcp": ["127.0.0.1", 8080]}`, or a list of those values for several host ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    /// Container port with protocol, e.g. `80/tcp`.
    pub container_port: String,
    /// Host interface (all when absent).
    pub host_ip: Option<String>,
    /// Host port (a random one when absent).
    pub host_port: Option<String>,
}

/// Container runtime options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerHost {
    /// `user[:group]`.
    pub user: Option<String>,
    /// Extra groups.
    pub group_add: Vec<String>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// Domain name.
    pub domainname: Option<String>,
    /// Memory limit, bytes.
    pub memory: Option<i64>,
    /// Memory + swap limit, bytes (-1: unlimited swap).
    pub memory_swap: Option<i64>,
    /// Swappiness 0–100.
    pub memory_swappiness: Option<i64>,
    /// CPU limit in 1e-9 CPUs.
    pub nano_cpus: Option<i64>,
    /// CPUs usable (Windows containers).
    pub cpu_count: Option<i64>,
    /// Percentage of the CPUs usable (Windows containers).
    pub cpu_percent: Option<i64>,
    /// Relative CPU weight.
    pub cpu_shares: Option<i64>,
    /// CFS period, microseconds.
    pub cpu_period: Option<i64>,
    /// CFS quota, microseconds.
    pub cpu_quota: Option<i64>,
    /// CPUs allowed.
    pub cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    pub cpuset_mems: Option<String>,
    /// Block IO weight, 10–1000.
    pub blkio_weight: Option<u16>,
    /// Block IO weight per device.
    pub blkio_weight_device: Vec<DeviceLimit>,
    /// Read limit per device, bytes per second.
    pub device_read_bps: Vec<DeviceLimit>,
    /// Write limit per device, bytes per second.
    pub device_write_bps: Vec<DeviceLimit>,
    /// Read limit per device, operations per second.
    pub device_read_iops: Vec<DeviceLimit>,
    /// Write limit per device, operations per second.
    pub device_write_iops: Vec<DeviceLimit>,
    /// Shared memory size, bytes.
    pub shm_size: Option<i64>,
    /// Network mode.
    pub network_mode: Option<String>,
    /// No networking.
    pub network_disabled: Option<bool>,
    /// Published ports.
    pub ports: Vec<PortBinding>,
    /// Publish every exposed port.
    pub publish_all_ports: Option<bool>,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// DNS options.
    pub dns_options: Vec<String>,
    /// DNS search domains.
    pub dns_search: Vec<String>,
    /// `host:ip` entries.
    pub extra_hosts: Vec<String>,
}

/// A Docker size (`1073741824`, `512m`, `1g`, `100k`, `10b`) in bytes.
pub fn docker_size(value: &Value) -> Result<i64, String> {
    let bytes = match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("{n}: not a size"))?,
        Value::String(s) => {
            let t = s.trim().to_ascii_lowercase();
            let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
                Some(i) => t.split_at(i),
                None => (t.as_str(), ""),
            };
            let n: i64 = digits.parse().map_err(|_| format!("{s:?}: not a size"))?;
            let factor: i64 = match unit {
                "" | "b" => 1,
                "k" | "kb" => 1 << 10,
                "m" | "mb" => 1 << 20,
                "g" | "gb" => 1 << 30,
                _ => return Err(format!("{s:?}: not a size (units b, k, m, g)")),
            };
            n.checked_mul(factor).ok_or_else(|| format!("{s:?}: too large"))?
        }
        other => return Err(format!("{other}: not a size")),
    };
    if bytes < 0 {
        return Err(format!("{value}: a size cannot be negative"));
    }
    Ok(bytes)
}

fn strings(value: &Value, name: &str) -> Result<Vec<String>, String> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("host_config.{name}: must be strings")))
            .collect(),
        Value::Object(m) if name == "extra_hosts" => m
            .iter()
            .map(|(h, ip)| match ip.as_str() {
                Some(ip) => Ok(format!("{h}:{ip}")),
                None => Err(format!("host_config.extra_hosts.{h}: the address must be a string")),
            })
            .collect(),
        _ => Err(format!("host_config.{name}: must be a string or a list of strings")),
    }
}

fn integer(value: &Value, name: &str) -> Result<i64, String> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| format!("host_config.{name}: must be an integer"))
}

fn in_range(value: &Value, name: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, String> {
    let n = integer(value, name)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(format!("host_config.{name}: must be from {} to {}", range.start(), range.end()))
    }
}

/// `[{"Path": "/dev/sda", "<field>": n}, …]`.
fn devices(value: &Value, name: &str, field: &str, rate: bool) -> Result<Vec<DeviceLimit>, String> {
    let shape = || format!("host_config.{name}: must be a list of {{\"Path\": …, \"{field}\": …}}");
    let items = value.as_array().ok_or_else(shape)?;
    items
        .iter()
        .map(|item| {
            let path = item.get("Path").and_then(Value::as_str).ok_or_else(shape)?.to_string();
            let number = item.get(field).ok_or_else(shape)?;
            let value = if rate {
                docker_size(number).map_err(|e| format!("host_config.{name}: {e}"))?
            } else {
                in_range(number, name, 10..=1000)?
            };
            Ok(DeviceLimit { path, value })
        })
        .collect()
}

fn port_bindings(value: &Value) -> Result<Vec<PortBinding>, String> {
    let map = value.as_object().ok_or("host_config.ports: must be a map of container port to host port")?;
    let mut bindings = Vec::new();
    for (port, host) in map {
        let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
        if number.parse::<u16>().is_err() || !["tcp", "udp", "sctp"].contains(&protocol) {
            return Err(format!("host_config.ports.{port}: not a port (80, 80/tcp, 53/udp)"));
        }
        let container_port = format!("{number}/{protocol}");
        let one = |host: &Value| -> Result<PortBinding, String> {
            let host_port = |v: &Value| match v {
                Value::Number(n) if n.as_u64().is_some_and(|p| p <= 65535) => Ok(Some(n.to_string())),
                Value::String(s) if s.parse::<u16>().is_ok() => Ok(Some(s.clone())),
                Value::Null => Ok(None),
                other => Err(format!("host_config.ports.{port}: {other} is not a host port")),
            };
            match host {
                Value::Array(pair) if pair.len() == 2 && pair[0].is_string() => Ok(PortBinding {
                    container_port: container_port.clone(),
                    host_ip: pair[0].as_str().map(str::to_string),
                    host_port: host_port(&pair[1])?,
                }),
                other => Ok(PortBinding {
                    container_port: container_port.clone(),
                    host_ip: None,
                    host_port: host_port(other)?,
                }),
            }
        };
        match host {
            Value::Array(items) if items.iter().all(|i| !i.is_string()) && !items.is_empty() => {
                for item in items {
                    bindings.push(one(item)?);
                }
            }
            other => bindings.push(one(other)?),
        }
    }
    Ok(bindings)
}

impl ContainerHost {
    /// Sets the options of a `host_config` over these (lava's defaults); an error names the
    /// option and says what is wrong with its value.
    pub fn apply(mut self, host_config: &Map<String, Value>) -> Result<ContainerHost, String> {
        let h = &mut self;
        for (name, value) in host_config {
            let text =
                || value.as_str().map(str::to_string).ok_or_else(|| format!("host_config.{name}: must be a string"));
            let flag = || value.as_bool().ok_or_else(|| format!("host_config.{name}: must be true or false"));
            let size = || docker_size(value).map_err(|e| format!("host_config.{name}: {e}"));
            let positive = || in_range(value, name, 0..=i64::MAX);
            match name.as_str() {
                "user" => {
                    h.user = Some(match value {
                        Value::Number(n) => n.to_string(),
                        _ => text()?,
                    })
                }
                "group_add" => h.group_add = strings(value, name)?,
                "working_dir" => h.working_dir = Some(text()?),
                "hostname" => h.hostname = Some(text()?),
                "domainname" => h.domainname = Some(text()?),
                "mem_limit" => h.memory = Some(size()?),
                "memswap_limit" => {
                    h.memory_swap = Some(if integer(value, name).ok() == Some(-1) { -1 } else { size()? })
                }
                "mem_swappiness" => h.memory_swappiness = Some(in_range(value, name, 0..=100)?),
                "shm_size" => h.shm_size = Some(size()?),
                "nano_cpus" => h.nano_cpus = Some(positive()?),
                "cpu_count" => h.cpu_count = Some(positive()?),
                "cpu_percent" => h.cpu_percent = Some(in_range(value, name, 0..=100)?),
                "cpu_shares" => h.cpu_shares = Some(positive()?),
                "cpu_period" => h.cpu_period = Some(in_range(value, name, 1000..=1_000_000)?),
                "cpu_quota" => h.cpu_quota = Some(in_range(value, name, -1..=i64::MAX)?),
                "cpuset_cpus" => h.cpuset_cpus = Some(text()?),
                "cpuset_mems" => h.cpuset_mems = Some(text()?),
                "blkio_weight" => h.blkio_weight = Some(in_range(value, name, 10..=1000)? as u16),
                "blkio_weight_device" => h.blkio_weight_device = devices(value, name, "Weight", false)?,
                "device_read_bps" => h.device_read_bps = devices(value, name, "Rate", true)?,
                "device_write_bps" => h.device_write_bps = devices(value, name, "Rate", true)?,
                "device_read_iops" => h.device_read_iops = devices(value, name, "Rate", true)?,
                "device_write_iops" => h.device_write_iops = devices(value, name, "Rate", true)?,
                "network_mode" => h.network_mode = Some(text()?),
                "network_disabled" => h.network_disabled = Some(flag()?),
                "ports" => h.ports = port_bindings(value)?,
                "publish_all_ports" => h.publish_all_ports = Some(flag()?),
                "cap_add" => h.cap_add = strings(value, name)?,
                "cap_drop" => h.cap_drop = strings(value, name)?,
                "dns" => h.dns = strings(value, name)?,
                "dns_opt" => h.dns_options = strings(value, name)?,
                "dns_search" => h.dns_search = strings(value, name)?,
                "extra_hosts" => h.extra_hosts = strings(value, name)?,
                other => return Err(format!("Bad host_config parameters: {other}")),
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(v: Value) -> Result<ContainerHost, String> {
        ContainerHost::default().apply(v.as_object().unwrap())
    }

    #[test]
    fn sizes() {
        assert_eq!(docker_size(&json!("512m")), Ok(512 << 20));
        assert_eq!(docker_size(&json!(" 1G ")), Ok(1 << 30));
        assert_eq!(docker_size(&json!(1024)), Ok(1024));
        assert!(docker_size(&json!("5x")).unwrap_err().contains("not a size"));
        assert!(docker_size(&json!(-5)).unwrap_err().contains("negative"));
        assert!(docker_size(&json!("99999999999999g")).unwrap_err().contains("too large"));
        assert!(docker_size(&json!(true)).is_err());
    }

    #[test]
    fn every_whitelisted_name_is_read() {
        let sample = |name: &str| match name {
            "blkio_weight_device" => json!([{"Path": "/dev/sda", "Weight": 200}]),
            n if n.starts_with("device_") => json!([{"Path": "/dev/sda", "Rate": "1m"}]),
            "ports" => json!({"80/tcp": 8080}),
            "network_disabled" | "publish_all_ports" => json!(false),
            "blkio_weight" => json!(500),
            "cpu_period" => json!(100000),
            "mem_swappiness" | "cpu_percent" => json!(50),
            n if n.starts_with("mem") || n == "shm_size" => json!("64m"),
            "nano_cpus" | "cpu_count" | "cpu_shares" | "cpu_quota" => json!(2),
            _ => json!("x"),
        };
        for name in DOCKER_HOST_CONFIG {
            let config = json!({ *name: sample(name) });
            assert!(apply(config).is_ok(), "{name}: {:?}", apply(json!({ *name: sample(name) })));
        }
    }

    #[test]
    fn values_and_errors_name_the_option() {
        let host = apply(json!({"mem_limit": "1g", "nano_cpus": 500000000, "user": 1000, "dns": "1.1.1.1",
            "ports": {"80": null, "53/udp": ["127.0.0.1", 5353], "443/tcp": [8443, 9443]},
            "device_write_iops": [{"Path": "/dev/sdb", "Rate": 100}], "memswap_limit": -1}))
        .unwrap();
        assert_eq!(
            (host.memory, host.nano_cpus, host.user.as_deref(), host.dns.clone(), host.memory_swap),
            (Some(1 << 30), Some(500_000_000), Some("1000"), vec!["1.1.1.1".to_string()], Some(-1))
        );
        assert_eq!(host.ports.len(), 4);
        assert!(host.ports.contains(&PortBinding {
            container_port: "53/udp".into(),
            host_ip: Some("127.0.0.1".into()),
            host_port: Some("5353".into())
        }));
        assert!(host.ports.contains(&PortBinding { container_port: "80/tcp".into(), host_ip: None, host_port: None }));
        assert_eq!(host.device_write_iops, [DeviceLimit { path: "/dev/sdb".into(), value: 100 }]);
        for (bad, says) in [
            (json!({"mem_limit": "lots"}), "host_config.mem_limit: \"lots\": not a size"),
            (json!({"mem_swappiness": 101}), "host_config.mem_swappiness: must be from 0 to 100"),
            (json!({"blkio_weight": 5}), "host_config.blkio_weight: must be from 10 to 1000"),
            (json!({"device_read_bps": {"Path": "/dev/sda"}}), "host_config.device_read_bps: must be a list"),
            (json!({"ports": {"http": 80}}), "host_config.ports.http: not a port"),
            (json!({"ports": {"80": "eighty"}}), "host_config.ports.80: \"eighty\" is not a host port"),
            (json!({"network_disabled": "yes"}), "host_config.network_disabled: must be true or false"),
            (json!({"cpu_shares": -2}), "host_config.cpu_shares: must be from 0"),
            (json!({"extra_hosts": {"db": 1}}), "host_config.extra_hosts.db: the address must be a string"),
        ] {
            let error = apply(bad.clone()).unwrap_err();
            assert!(error.starts_with(says), "{bad}: {error}");
        }
    }
}
