"""Posts CloudWatch alarm notifications (SNS) to a Slack incoming webhook.

Deployed inline by the alerts stack (templates/stacks/alerts.yaml.tera) as `index.py`.
The webhook URL is a reference (WEBHOOK_REF: ssm:, secretsmanager: or env:) resolved at run
time, so it is never in a template, a parameter or an environment variable's value.
For alarms named in ANOMALY_SOURCES (alarm name -> log group), the message also says which
validation rules and tenants drive the alarm, from the validator's JSON logs.
"""

import json
import os
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

_webhook = None
ICONS = {
    "ALARM": ":red_circle:",
    "OK": ":large_green_circle:",
    "INSUFFICIENT_DATA": ":white_circle:",
}
COMPARISONS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
# Log events read at most per alarm: the summary stays cheap on a large spike.
MAX_EVENTS = 2000


def webhook_url():
    global _webhook
    if _webhook is None:
        import boto3

        scheme, _, ref = os.environ["WEBHOOK_REF"].partition(":")
        if scheme == "ssm":
            _webhook = boto3.client("ssm").get_parameter(Name=ref, WithDecryption=True)[
                "Parameter"
            ]["Value"]
        elif scheme == "secretsmanager":
            _webhook = boto3.client("secretsmanager").get_secret_value(SecretId=ref)["SecretString"]
        else:
            _webhook = os.environ[ref]
    return _webhook


def parse_time(text):
    """CloudWatch writes `2026-11-26T09:15:02.123+0000`."""
    for layout in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, layout)
        except (TypeError, ValueError):
            pass
    return datetime.now(timezone.utc)


def describe_metric(trigger):
    """`p95 of FacturaScan360/prod OcrResponseTime (Service=ocr) over 60 s`, or the math."""
    period = trigger.get("Period")
    if "MetricName" in trigger:
        stat = trigger.get("ExtendedStatistic") or trigger.get("Statistic") or "?"
        dims = ", ".join(f"{d.get('name')}={d.get('value')}" for d in trigger.get("Dimensions", []))
        statistic = stat.lower() if stat.isupper() else stat
        text = f"{statistic} of {trigger.get('Namespace')} {trigger['MetricName']}"
        text += f" ({dims})" if dims else ""
        return text + (f" over {period} s" if period else "")
    for metric in trigger.get("Metrics", []):
        if metric.get("ReturnData", True) and "Expression" in metric:
            label = metric.get("Label") or metric.get("Id")
            return f"{label} = {metric['Expression']}"
    return "?"


def threshold_line(trigger):
    op = COMPARISONS.get(trigger.get("ComparisonOperator"), trigger.get("ComparisonOperator", "?"))
    points = trigger.get("DatapointsToAlarm") or trigger.get("EvaluationPeriods")
    line = f"{op} {trigger.get('Threshold')}"
    if points:
        line += f" for {points} of {trigger.get('EvaluationPeriods')} periods"
    return line


def console_link(alarm):
    region = alarm.get("AlarmArn", "").split(":")[3:4] or [os.environ.get("AWS_REGION", "")]
    region = region[0]
    name = urllib.parse.quote(alarm.get("AlarmName", ""), safe="")
    console = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
    return f"{console}#alarmsV2:alarm/{name}"


def anomalies(logs, log_group, alarm, limit=5):
    """(top (rule, tenant, count), examples, total, capped) of validation failures in the
    alarm's window; capped when more than MAX_EVENTS were logged (total is then a floor)."""
    trigger = alarm.get("Trigger", {})
    window = int(trigger.get("Period") or 300) * int(trigger.get("EvaluationPeriods") or 1)
    end = parse_time(alarm.get("StateChangeTime"))
    start = end - timedelta(seconds=window)
    args = {
        "logGroupName": log_group,
        "startTime": int(start.timestamp() * 1000),
        "endTime": int(end.timestamp() * 1000) + 1,
        # CloudWatch Logs keeps only the failures: the MAX_EVENTS read are all failures, not
        # the window's first lines of any kind (the check below stays for other sources).
        "filterPattern": '{ ($.action = "validate") && ($.result = "failure") }',
    }
    counts, examples, seen, capped = {}, [], 0, False
    while True:
        if seen >= MAX_EVENTS:
            capped = True
            break
        page = logs.filter_log_events(**args)
        for event in page.get("events", []):
            seen += 1
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue
            if (
                not isinstance(record, dict)
                or record.get("action") != "validate"
                or record.get("result") != "failure"
            ):
                continue
            key = (str(record.get("rule", "?")), str(record.get("tenant_id", "?")))
            counts[key] = counts.get(key, 0) + 1
            if len(examples) < 3:
                examples.append(record)
        if not page.get("nextToken"):
            break
        args["nextToken"] = page["nextToken"]
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [(rule, tenant, n) for (rule, tenant), n in top], examples, sum(counts.values()), capped


def anomaly_text(details):
    top, examples, total, capped = details
    if not total:
        return "*Input anomalies:* no failing validations logged in the alarm's window."
    # Past MAX_EVENTS the count is a floor, and says so.
    count = f"at least {total}" if capped else f"{total}"
    lines = [
        f"*Input anomalies:* {count} failed validations in the alarm's window, by rule and tenant:"
    ]
    # Log content is tenant data: escaped, so it can neither mention nor link.
    lines += [f"• `{escape(rule)}` tenant `{escape(tenant)}`: {n}" for rule, tenant, n in top]
    for record in examples:
        detail = escape(str(record.get("detail") or record.get("message") or "")[:200])
        invoice = escape(record.get("invoice_id", "?"))
        lines.append(f"  e.g. invoice `{invoice}` ({escape(record.get('rule', '?'))}): {detail}")
    return "\n".join(lines)


def message(alarm, details=None):
    """The Slack Block Kit message of one alarm notification."""
    name = alarm.get("AlarmName", "?")
    state = alarm.get("NewStateValue", "?")
    old = alarm.get("OldStateValue")
    trigger = alarm.get("Trigger", {})
    icon = ICONS.get(state, ":white_circle:")
    headline = f"{name} is {state}" + (f" (was {old})" if old else "")
    if state == "OK":
        headline = f"{name} recovered: OK" + (f" (was {old})" if old else "")
    # Every value is escaped for mrkdwn: alarm text is data, never a mention, a link or a
    # quote (a threshold line starting with `>` would otherwise render as a blockquote).
    fields = [
        {"type": "mrkdwn", "text": f"*State:*\n{escape(state)}"},
        {"type": "mrkdwn", "text": f"*Threshold:*\n{escape(threshold_line(trigger))}"},
        {"type": "mrkdwn", "text": f"*Metric:*\n{escape(describe_metric(trigger))}"},
        {"type": "mrkdwn", "text": f"*Since:*\n{escape(alarm.get('StateChangeTime', '?'))}"},
    ]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{headline}"[:150]}},
        {"type": "section", "fields": fields},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*Reason:* {escape(alarm.get('NewStateReason', ''))}"[:3000],
            },
        },
    ]
    if alarm.get("AlarmDescription"):
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": escape(alarm["AlarmDescription"])[:3000]},
            }
        )
    if details is not None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": details[:3000]}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"<{console_link(alarm)}|Open in CloudWatch>"
                    f" · account {alarm.get('AWSAccountId', '?')}",
                }
            ],
        }
    )
    return {"text": f"{icon} {headline}", "blocks": blocks}


def details_for(alarm):
    """The anomaly summary for alarms that have one, or None. Never fails the notification."""
    sources = json.loads(os.environ.get("ANOMALY_SOURCES") or "{}")
    log_group = sources.get(alarm.get("AlarmName"))
    if not log_group or alarm.get("NewStateValue") != "ALARM":
        return None
    try:
        import boto3

        return anomaly_text(anomalies(boto3.client("logs"), log_group, alarm))
    except Exception as error:  # the alarm still goes out, with the reason details are missing
        return f"*Input anomalies:* unavailable ({type(error).__name__}: {str(error)[:200]})"


def post(payload):
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        webhook_url(), data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def escape(text):
    """Slack mrkdwn's escaping: no input can mention a channel or forge a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alarm_of(record):
    """The CloudWatch alarm an SNS record carries, or None for any other message."""
    try:
        alarm = json.loads(record.get("Sns", {}).get("Message") or "")
    except ValueError:
        return None
    return alarm if isinstance(alarm, dict) and "AlarmName" in alarm else None


def other_message(record):
    """A message that is not an alarm (a test publish, another service's notice) is still
    shown, as text, rather than lost to an exception."""
    sns = record.get("Sns", {})
    topic = str(sns.get("TopicArn", "?")).rsplit(":", 1)[-1]
    subject = sns.get("Subject") or f"Message on {topic}"
    body = escape(sns.get("Message", ""))[:2900]
    return {
        "text": f":envelope: {subject}"[:150],
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": str(subject)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body or "(empty message)"}},
        ],
    }


def handler(event, context):
    # A failure to post raises: Lambda retries, then the event goes to the on-failure
    # destination (the channel's undelivered queue), so an alarm is never silently lost.
    for record in event.get("Records", []):
        alarm = alarm_of(record)
        if alarm is None:
            post(other_message(record))
        else:
            post(message(alarm, details_for(alarm)))
