"""The OCR worker (ECS Fargate): takes queued invoices from the OCR queue, reads each one's
text (Amazon Textract for a scanned document in S3, the given text otherwise) and hands it
to the parser function, then deletes the message.

`extract` is the behaviour; `main` is the queue loop around it.
"""

import json
import os


def extract(invoice, detect_text=None):
    """The invoice with its `text`: as given, or read by `detect_text(bucket, key)` from
    its `document` (`s3://bucket/key`)."""
    if invoice.get("text"):
        return invoice
    document = str(invoice.get("document", ""))
    if not document.startswith("s3://") or "/" not in document[5:]:
        raise ValueError("an invoice has `text` or a `document` at s3://bucket/key")
    if detect_text is None:
        raise ValueError("no text reader for scanned documents")
    bucket, key = document[5:].split("/", 1)
    return {**invoice, "text": detect_text(bucket, key)}


def textract_reader():
    import boto3

    textract = boto3.client("textract")

    def detect_text(bucket, key):
        answer = textract.detect_document_text(
            Document={"S3Object": {"Bucket": bucket, "Name": key}}
        )
        lines = [b["Text"] for b in answer["Blocks"] if b["BlockType"] == "LINE"]
        return "\n".join(lines)

    return detect_text


def main():
    import boto3

    sqs, lam = boto3.client("sqs"), boto3.client("lambda")
    queue, parser = os.environ["OCR_QUEUE_URL"], os.environ["PARSER_FUNCTION"]
    detect_text = textract_reader()
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=20)
        for message in batch.get("Messages", []):
            invoice = extract(json.loads(message["Body"]), detect_text)
            lam.invoke(
                FunctionName=f"{parser}:live",
                InvocationType="Event",
                Payload=json.dumps(invoice).encode(),
            )
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


if __name__ == "__main__":
    main()
