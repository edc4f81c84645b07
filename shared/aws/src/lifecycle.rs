//! `lava stop`'s Auto Scaling lifecycle actions (the original's `lava-stop` options for an
//! "EC2 Instance-terminate Lifecycle Action"): a heartbeat while the workers finish, then the
//! action completed with `CONTINUE`, so the group terminates the instance.

use super::{Clients, aws_error};
use crate::error::Result;

/// The lifecycle action a host is in: its group and hook, and its instance or action token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleAction {
    /// `--auto-scaling-group-name`.
    pub group: String,
    /// `--lifecycle-hook-name`.
    pub hook: String,
    /// `--instance-id`.
    pub instance: Option<String>,
    /// `--lifecycle-action-token`.
    pub token: Option<String>,
}

fn client(clients: &Clients) -> aws_sdk_autoscaling::Client {
    aws_sdk_autoscaling::Client::new(&clients.config)
}

/// Records a heartbeat for the action (the hook's timeout starts again).
pub async fn heartbeat(clients: &Clients, action: &LifecycleAction) -> Result<()> {
    client(clients)
        .record_lifecycle_action_heartbeat()
        .auto_scaling_group_name(&action.group)
        .lifecycle_hook_name(&action.hook)
        .set_instance_id(action.instance.clone())
        .set_lifecycle_action_token(action.token.clone())
        .send()
        .await
        .map_err(|e| aws_error("autoscaling", "RecordLifecycleActionHeartbeat", e))?;
    Ok(())
}

/// Completes the action with `CONTINUE`: the group goes on terminating the instance.
pub async fn complete(clients: &Clients, action: &LifecycleAction) -> Result<()> {
    client(clients)
        .complete_lifecycle_action()
        .auto_scaling_group_name(&action.group)
        .lifecycle_hook_name(&action.hook)
        .set_instance_id(action.instance.clone())
        .set_lifecycle_action_token(action.token.clone())
        .lifecycle_action_result("CONTINUE")
        .send()
        .await
        .map_err(|e| aws_error("autoscaling", "CompleteLifecycleAction", e))?;
    Ok(())
}
