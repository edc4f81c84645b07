"""AWS helpers a job's code calls (the original's ``lava.lib.aws``): SSM parameters, secrets,
SQS, S3 objects and buckets, DynamoDB items, SES mail and CloudWatch metrics, through boto3.
Each takes an ``aws_session`` (or a client) and makes a default one when given none."""

import functools
import json
from base64 import b64decode
from collections import OrderedDict
from datetime import datetime, timezone
from fnmatch import fnmatch

from .decorators import static_vars
from .misc import listify


def _session(aws_session):
    if aws_session:
        return aws_session
    import boto3

    return boto3.Session()


@functools.lru_cache(maxsize=1)
def ec2_instance_id():
    """This EC2 instance's id, from the instance metadata service (IMDSv2)."""
    from urllib.request import Request, urlopen

    base = 'http://169.254.169.254/latest'
    ask = Request(f'{base}/api/token', method='PUT', headers={'X-aws-ec2-metadata-token-ttl-seconds': '21600'})
    with urlopen(ask, timeout=5) as reply:  # noqa: S310 (the metadata service)
        token = reply.read().decode()
    with urlopen(Request(f'{base}/meta-data/instance-id', headers={'X-aws-ec2-metadata-token': token}), timeout=5) as reply:  # noqa: S310
        return reply.read().decode()


def ssm_get_param(name, decrypt=True, aws_session=None):
    """An SSM parameter's value (decrypted unless told)."""
    reply = _session(aws_session).client('ssm').get_parameter(Name=name, WithDecryption=decrypt)
    return reply['Parameter']['Value']


def secman_get_secret(name, allow_binary=True, decode_binary=True, aws_session=None):
    """A Secrets Manager secret: its string, or its binary (base64-decoded unless told)."""
    secret = _session(aws_session).client('secretsmanager').get_secret_value(SecretId=name)
    if 'SecretString' in secret:
        return secret['SecretString']
    if not allow_binary:
        raise Exception('Binary secret not allowed')
    return b64decode(secret['SecretBinary']) if decode_binary else secret['SecretBinary']


def secman_get_json_secret(name, aws_session=None):
    """A string secret holding JSON, decoded."""
    return json.loads(secman_get_secret(name, allow_binary=False, aws_session=aws_session))


def sqs_send_msg(msg, queue_name, delay=0, aws_session=None):
    """Send ``msg`` to the queue named ``queue_name`` (after ``delay`` seconds)."""
    queue = _session(aws_session).resource('sqs').get_queue_by_name(QueueName=queue_name)
    queue.send_message(MessageBody=msg, DelaySeconds=delay)


def s3_split(s):
    """(bucket, key) of ``s3://bucket/key``, ``s3:bucket/key`` or ``/bucket/key`` (slashes
    around the key dropped)."""
    for scheme in ('s3://', 's3:'):
        if s.startswith(scheme):
            s = s[len(scheme):]
            break
    bucket, _, key = s.strip('/').partition('/')
    if not bucket:
        raise ValueError(f'Invalid S3 object name: {s}')
    return bucket, key.strip('/')


def s3_download(bucket, key, filename, s3_client):
    """Copy an object to a local file."""
    try:
        s3_client.download_file(bucket, key, filename)
    except Exception as e:
        raise Exception(f'Download failed: s3://{bucket}/{key} - {e}')


def s3_upload(bucket, key, filename, s3_client, kms_key=None):
    """Copy a local file to an object, encrypted with ``kms_key`` (else AES256)."""
    if kms_key:
        encryption = {'ServerSideEncryption': 'aws:kms', 'SSEKMSKeyId': kms_key}
    else:
        encryption = {'ServerSideEncryption': 'AES256'}
    try:
        s3_client.upload_file(filename, bucket, key, ExtraArgs=encryption)
    except Exception as e:
        raise Exception(f'Upload failed: s3://{bucket}/{key} - {e}')


def s3_list(bucket, prefix=None, match=None, not_match=None, s3_client=None):
    """The keys under ``prefix`` whose last part matches the glob ``match`` and not
    ``not_match``, as they are listed."""
    if not s3_client:
        import boto3

        s3_client = boto3.client('s3')
    where = {'Bucket': bucket, **({'Prefix': prefix} if prefix else {})}
    for page in s3_client.get_paginator('list_objects_v2').paginate(**where):
        for entry in page.get('Contents', []):
            name = entry['Key'].rsplit('/')[-1]
            if (not match or fnmatch(name, match)) and not (not_match and fnmatch(name, not_match)):
                yield entry['Key']


def s3_load_json(bucket, key, aws_session=None):
    """An object's JSON, decoded (``OSError`` when it cannot be read, ``ValueError`` when it is
    not JSON)."""
    try:
        body = _session(aws_session).resource('s3').Object(bucket, key).get()['Body']
    except Exception as e:
        raise OSError(str(e))
    try:
        return json.load(body)
    except Exception as e:
        raise ValueError(f'Bad JSON: {e}')


def s3_check_bucket_security(
    bucket_name,
    require_no_public_access=True,
    require_encryption=True,
    require_server_logging=True,
    require_bucket_is_mine=True,
    aws_session=None,
):
    """Raise unless the bucket passes the checks asked for (no public grant, default
    encryption, server logging, owned by this account), in that order."""
    if require_no_public_access and s3_bucket_is_public(bucket_name, aws_session):
        raise Exception('Insecure due to public access')
    if require_encryption and not s3_bucket_is_encrypted(bucket_name, aws_session):
        raise Exception('Insecure due to lack of default encryption')
    if require_server_logging and not s3_bucket_is_server_logging_enabled(bucket_name, aws_session):
        raise Exception('Insecure due to lack of server logging')
    if require_bucket_is_mine and not s3_bucket_is_mine(bucket_name, aws_session):
        raise Exception('Insecure due to foreign owned bucket')


def s3_bucket_is_server_logging_enabled(bucket_name, aws_session=None):
    """Whether the bucket logs its requests."""
    try:
        return 'LoggingEnabled' in _session(aws_session).client('s3').get_bucket_logging(Bucket=bucket_name)
    except Exception as e:
        raise Exception(f'Cannot verify bucket has logging enabled - {e}')


def s3_bucket_is_encrypted(bucket_name, aws_session=None):
    """Whether the bucket has default encryption."""
    from botocore.exceptions import ClientError

    try:
        _session(aws_session).client('s3').get_bucket_encryption(Bucket=bucket_name)
        return True
    except ClientError as e:
        if 'ServerSideEncryptionConfigurationNotFoundError' in e.args[0]:
            return False
        raise Exception(f'Cannot verify bucket is encrypted - {e}')
    except Exception as e:
        raise Exception(f'Cannot verify bucket is encrypted - {e}')


_ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'


def s3_bucket_is_public(bucket_name, aws_session=None):
    """Whether the bucket's ACL grants anything to everyone."""
    grants = _session(aws_session).resource('s3').Bucket(bucket_name).Acl().grants
    return any(g['Grantee']['Type'].lower() == 'group' and g['Grantee']['URI'] == _ALL_USERS for g in grants)


def s3_set_object_encoding(bucket, key, encoding, s3_client):
    """Set an object's Content-Encoding (by copying it onto itself, keeping its metadata,
    encryption and storage class); nothing is done when it already has it."""
    head = s3_client.head_object(Bucket=bucket, Key=key)
    if head.get('ContentEncoding') == encoding:
        return
    kept = {f: head[f] for f in ('Metadata', 'ServerSideEncryption', 'SSEKMSKeyId', 'StorageClass') if head.get(f)}
    s3_client.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={'Bucket': bucket, 'Key': key},
        ContentEncoding=encoding,
        MetadataDirective='REPLACE',
        **kept,
    )


@static_vars(is_mine={})
def s3_bucket_is_mine(bucket_name, aws_session=None):
    """Whether this account owns the bucket (remembered per bucket)."""
    known = s3_bucket_is_mine.is_mine
    if bucket_name not in known:
        s3 = _session(aws_session).client('s3')
        known[bucket_name] = s3.list_buckets()['Owner']['ID'] == s3.get_bucket_acl(Bucket=bucket_name)['Owner']['ID']
    return known[bucket_name]


def s3_object_exists(bucket, key, aws_session=None):
    """Whether the object exists (errors other than not-found are raised)."""
    from botocore.exceptions import ClientError

    try:
        _session(aws_session).client('s3').head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if e.response['ResponseMetadata']['HTTPStatusCode'] == 404:
            return False
        raise
    return True


def _number(text):
    return float(text) if '.' in text else int(text)


_DYNAMO_TYPES = {
    'S': lambda v: v,
    'SS': set,
    'BOOL': lambda v: v,
    'N': _number,
    'NULL': lambda v: None,
    'B': b64decode,
    'BS': lambda v: {b64decode(b) for b in v},
    'NS': lambda v: {_number(n) for n in v},
    'M': lambda v: {k: dynamo_unmarshall_value(x) for k, x in v.items()},
    'L': lambda v: [dynamo_unmarshall_value(x) for x in v],
}


def dynamo_unmarshall_value(v):
    """A DynamoDB-typed value (``{'N': '9.5'}``) as plain Python."""
    if not isinstance(v, dict) or len(v) != 1:
        raise ValueError(f'Bad DynamoDB JSON element: {v}')
    [(kind, value)] = v.items()
    if kind not in _DYNAMO_TYPES:
        raise ValueError(f'Unknown DynamoDB type: {kind}')
    return _DYNAMO_TYPES[kind](value)


def dynamo_unmarshall_item(item):
    """A DynamoDB-typed item as a plain dict."""
    if not isinstance(item, dict):
        raise ValueError(f'Bad DynamoDB data: expected dict but got {type(item)}')
    return {k: dynamo_unmarshall_value(v) for k, v in item.items()}


def dynamo_scan_table(table, aws_session):
    """Every item of a table, as plain dicts, page by page."""
    pages = aws_session.client('dynamodb').get_paginator('scan').paginate(TableName=table, Select='ALL_ATTRIBUTES')
    for page in pages:
        for item in page['Items']:
            yield dynamo_unmarshall_item(item)


def ses_send(
    sender,
    to=None,
    cc=None,
    reply_to=None,
    return_path=None,
    subject=None,
    message=None,
    html=None,
    region='us-east-1',
    charset='UTF-8',
    config_set=None,
    aws_session=None,
    bcc=None,
):
    """Send a mail through SES (text ``message``, ``html`` or both; addresses one or a list)."""
    if not message and not html:
        raise ValueError('ses_send: One of html/message required')
    destination = {}
    for field, value in (('ToAddresses', to), ('CcAddresses', cc), ('BccAddresses', bcc)):
        if value:
            destination[field] = listify(value)
    body = {}
    if message:
        body['Text'] = {'Data': message, 'Charset': charset}
    if html:
        body['Html'] = {'Data': html, 'Charset': charset}
    mail = {'Body': body, **({'Subject': {'Data': subject, 'Charset': charset}} if subject else {})}
    call = {'Source': sender, 'Destination': destination, 'Message': mail}
    if reply_to:
        call['ReplyToAddresses'] = listify(reply_to)
    if return_path:
        call['ReturnPath'] = return_path
    if config_set:
        call['ConfigurationSetName'] = config_set
    _session(aws_session).client('ses', region_name=region).send_email(**call)


def cw_put_metric(metric, namespace, dimensions, value, unit='None', resolution='low', cw_client=None):
    """Put one data point of a CloudWatch metric (nothing without a namespace or client).
    ``dimensions``: an OrderedDict, or a list of one-entry dicts; ``resolution`` ``hi…`` is
    one second, anything else a minute."""
    if not namespace or not cw_client:
        return
    if isinstance(dimensions, OrderedDict):
        named = [{'Name': k, 'Value': v} for k, v in dimensions.items()]
    elif isinstance(dimensions, list):
        named = []
        for entry in dimensions:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ValueError(f'Bad dimension for metric: {entry}')
            named.extend({'Name': k, 'Value': v} for k, v in entry.items())
    else:
        raise ValueError(f'Bad type for metric dimensions: {type(dimensions)}')
    if not named:
        raise ValueError('No dimensions for metric')
    point = {
        'MetricName': metric,
        'Dimensions': named,
        'Timestamp': datetime.now(timezone.utc),
        'Value': value,
        'Unit': unit or 'None',
        'StorageResolution': 1 if resolution.lower().startswith('hi') else 60,
    }
    cw_client.put_metric_data(Namespace=namespace, MetricData=[point])
