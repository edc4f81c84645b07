"""moto's server with DynamoDB's per-item atomicity, and the Auto Scaling lifecycle actions.

moto's server answers requests on many threads and does not serialise them: two UpdateItems
with the same condition that arrive together can both see it hold and both apply (measured: one
batch in forty of eight identical `NOT contains(...)` updates appended twice). DynamoDB applies
each conditional write atomically, and lava's run leases and idempotent event writes rely on
it. This launcher runs every DynamoDB request under one lock.

moto has no CompleteLifecycleAction or RecordLifecycleActionHeartbeat (`lava stop`'s Auto Scaling
options). Here they check what Auto Scaling checks (the group, its hook, the result, an instance
or token) and CONTINUE lets a terminating instance go: it leaves its group, as it would.

moto reads CloudWatch's query and JSON protocols, not the Smithy RPC v2 CBOR protocol that the
current AWS SDKs speak (AWS and LocalStack read all three). A request in CBOR is turned here into
the same request in the JSON protocol, and moto's JSON answer back into CBOR, its timestamps
tagged and its numbers typed as CloudWatch's model (botocore's) says.
Everything else is moto as it is.

Run: <venv>/bin/python moto_server.py -H 127.0.0.1 -p PORT  (the arguments are moto_server's)
"""

import datetime
import io
import json
import threading

import botocore.session
import cbor2
from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
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

_CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
_cloudwatch = botocore.session.get_session().get_service_model("cloudwatch")
_dispatch = DomainDispatcherApplication.__call__


def _to_json(value):
    """A decoded CBOR request as JSON, its timestamps as epoch seconds."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    return value


def _typed(value, shape):
    """moto's JSON answer as CloudWatch's model types it: tagged timestamps, floats for doubles."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        return {k: _typed(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list":
        return [_typed(v, shape.member) for v in value]
    if kind == "map":
        return {k: _typed(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        return cbor2.CBORTag(1, float(value))
    if kind in ("double", "float"):
        return float(value)
    return value


def _cbor_call(app, environ, start_response):
    """One CloudWatch call in RPC v2 CBOR, answered by moto through the JSON protocol."""
    operation = environ["PATH_INFO"][len(_CBOR_PREFIX) :]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    body = json.dumps(_to_json(cbor2.loads(raw)) if raw else {}).encode()
    environ = dict(environ)
    environ.update(
        {
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"GraniteServiceVersion20100801.{operation}",
            "wsgi.input": io.BytesIO(body),
        }
    )
    answer = {}

    def started(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    text = b"".join(_dispatch(app, environ, started)) or b"{}"
    value = json.loads(text)
    if answer["status"].startswith("2"):
        value = _typed(value, _cloudwatch.operation_model(operation).output_shape)
    out = cbor2.dumps(value)
    kept = [(k, v) for k, v in answer["headers"] if k.lower() not in ("content-type", "content-length")]
    headers = kept + [
        ("Content-Type", "application/cbor"),
        ("Content-Length", str(len(out))),
        ("smithy-protocol", "rpc-v2-cbor"),
    ]
    start_response(answer["status"], headers)
    return [out]


def _call(app, environ, start_response):
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor" and environ.get("PATH_INFO", "").startswith(_CBOR_PREFIX):
        return _cbor_call(app, environ, start_response)
    return _dispatch(app, environ, start_response)


DomainDispatcherApplication.__call__ = _call

if __name__ == "__main__":
    main()
