"""The classic seed service made shared, as a Flask tutorial would: the
seed in a DynamoDB item through boto3, one strongly consistent GetItem per
GET and one PutItem per POST (the item and table of the Rust service).

    SEED_TABLE=TABLE AWS_ENDPOINT_URL_DYNAMODB=... python3 flask_dynamodb_app.py PORT
"""
import os
import sys

import boto3
from flask import Flask, request

app = Flask(__name__)
# A client, not a resource: clients are safe to share between threads.
dynamodb = boto3.client("dynamodb")
TABLE = os.environ["SEED_TABLE"]
KEY = {"id": {"S": "seed"}}


@app.route("/", methods=["GET"])
def get_seed():
    item = dynamodb.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True).get("Item")
    return item["value"]["S"] if item else "0"


@app.route("/", methods=["POST"])
def set_seed():
    seed = str(int(request.get_json(force=True)["num"]))
    dynamodb.put_item(TableName=TABLE, Item={**KEY, "value": {"S": seed}})
    return seed


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
