"""moto's server with DynamoDB's per-item atomicity, and the Auto Scaling lifecycle actions.

moto's server answers requests on many threads and does not serialise them: two UpdateItems
with the same condition that arrive together can both see it hold and both apply (measured: one
batch in forty of eight identical `NOT contains(...)` updates appended twice). DynamoDB applies
each conditional write atomically, and lava's run leases and idempotent event writes rely on
it. This launcher runs every DynamoDB request under one lock.

moto has no CompleteLifecycleAction or RecordLifecycleActionHeartbeat (`lava stop`'s Auto Scaling
options). Here they check what Auto Scaling checks (the group, its hook, the result, an instance
or token) and CONTINUE lets a terminating instance go: it leaves its group, as it would.
Everything else is moto as it is.

Run: <venv>/bin/python moto_server.py -H 127.0.0.1 -p PORT  (the arguments are moto_server's)
"""

import threading

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _atomic(handler):
    with _lock:
        return _call_action(handler)


DynamoHandler.call_action = _atomic


def _lifecycle_action(response):
    """The group, hook and instance a lifecycle call names, checked as Auto Scaling checks them."""
    backend = response.autoscaling_backend
    group = response._get_param("AutoScalingGroupName")
    hook = response._get_param("LifecycleHookName")
    instance = response._get_param("InstanceId")
    if group not in backend.autoscaling_groups:
        raise ValidationError(f"Group {group} not found")
    if f"{group}_{hook}" not in backend.lifecycle_hooks:
        raise ValidationError(f"No Lifecycle Hook named {hook} found for group {group}")
    if not instance and not response._get_param("LifecycleActionToken"):
        raise ValidationError("Either an instance ID or a lifecycle action token is required")
    return backend, group, instance


def _complete_lifecycle_action(self):
    backend, group, instance = _lifecycle_action(self)
    result = self._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise ValidationError(f"Invalid lifecycle action result {result}")
    if result == "CONTINUE" and instance:
        backend.detach_instances(group, [instance], should_decrement=True)
    return EmptyResult()


def _record_lifecycle_action_heartbeat(self):
    _lifecycle_action(self)
    return EmptyResult()


AutoScalingResponse.complete_lifecycle_action = _complete_lifecycle_action
AutoScalingResponse.record_lifecycle_action_heartbeat = _record_lifecycle_action_heartbeat

if __name__ == "__main__":
    main()
