//! Job types: the `type` field of a job spec. One enum, so every place that depends on the type
//! is an exhaustive `match` the compiler checks when a type is added. A name lava does not know
//! is kept as [`JobType::Unknown`] and written back unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares [`JobType`] with each variant's spec name, and the list of them, in one place.
macro_rules! job_types {
    ($($(#[doc = $doc:literal])+ $variant:ident = $name:literal,)+) => {
        /// The type of a job (its handler).
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum JobType {
            $($(#[doc = $doc])+ $variant,)+
            /// A name lava does not know (validation rejects it; the record still round-trips).
            Unknown(String),
        }

        impl JobType {
            /// Every type the original runs, in alphabetical order.
            pub const KNOWN: &[JobType] = &[$(JobType::$variant),+];

            /// The type's name as specs write it.
            pub fn name(&self) -> &str {
                match self {
                    $(JobType::$variant => $name,)+
                    JobType::Unknown(name) => name,
                }
            }
        }
    };
}

job_types! {
    /// `chain`: child jobs one after another.
    Chain = "chain",
    /// `cmd`: a command line.
    Cmd = "cmd",
    /// `dag`: child jobs by a dependency map.
    Dag = "dag",
    /// `db_from_s3`: load S3 data into a table.
    DbFromS3 = "db_from_s3",
    /// `dispatch`: dispatch other jobs.
    Dispatch = "dispatch",
    /// `docker`: a container.
    Docker = "docker",
    /// `exe`: an executable from S3.
    Exe = "exe",
    /// `foreach`: a child job per value set.
    Foreach = "foreach",
    /// `lavasched`: builds a dispatcher's crontab.
    Lavasched = "lavasched",
    /// `log`: logs the job spec.
    Log = "log",
    /// `pkg`: a package from S3.
    Pkg = "pkg",
    /// `redshift_unload`: UNLOAD to S3.
    RedshiftUnload = "redshift_unload",
    /// `sharepoint_get_doc`.
    SharepointGetDoc = "sharepoint_get_doc",
    /// `sharepoint_get_list`.
    SharepointGetList = "sharepoint_get_list",
    /// `sharepoint_get_multi_doc`.
    SharepointGetMultiDoc = "sharepoint_get_multi_doc",
    /// `sharepoint_put_doc`.
    SharepointPutDoc = "sharepoint_put_doc",
    /// `sharepoint_put_list`.
    SharepointPutList = "sharepoint_put_list",
    /// `smb_get`: fetch from an SMB share.
    SmbGet = "smb_get",
    /// `smb_put`: put onto an SMB share.
    SmbPut = "smb_put",
    /// `sql`: SQL files from S3 through a driver.
    Sql = "sql",
    /// `sqlc`: SQL files through the database's own client.
    Sqlc = "sqlc",
    /// `sqli`: inline SQL through a driver.
    Sqli = "sqli",
    /// `sqlv`: SQL files through `lava-sql`.
    Sqlv = "sqlv",
}

impl JobType {
    /// The type named `name` (exactly as written; anything else is [`JobType::Unknown`]).
    pub fn parse(name: &str) -> JobType {
        JobType::KNOWN.iter().find(|t| t.name() == name).cloned().unwrap_or_else(|| JobType::Unknown(name.to_string()))
    }

    /// Whether the type is one lava knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, JobType::Unknown(_))
    }
}

impl std::fmt::Display for JobType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl PartialEq<&str> for JobType {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl Serialize for JobType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for JobType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| JobType::parse(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_kept() {
        for t in JobType::KNOWN {
            assert_eq!(&JobType::parse(t.name()), t);
            assert!(t.is_known());
        }
        let odd = JobType::parse("Cmd");
        assert_eq!(odd, JobType::Unknown("Cmd".into()));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"Cmd\"");
        assert_eq!(serde_json::from_str::<JobType>("\"sqlv\"").unwrap(), JobType::Sqlv);
        assert_eq!(format!("{:<6}|", JobType::Cmd), "cmd   |");
        let mut names: Vec<&str> = JobType::KNOWN.iter().map(JobType::name).collect();
        names.sort_unstable();
        assert_eq!(names, JobType::KNOWN.iter().map(JobType::name).collect::<Vec<_>>(), "KNOWN is sorted");
    }
}
