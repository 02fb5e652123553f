"""The classic seed service, as the Flask tutorials write it: one global,
answered with str(). The reference the Rust service is measured against.

Run under Flask's own server (`python3 flask_app.py PORT`) or gunicorn
(`gunicorn -w 1 flask_app:app`). One worker: with more, each worker process
would hold its own seed and GETs would disagree.
"""
import sys

from flask import Flask, request

app = Flask(__name__)
seed = 0


@app.route("/", methods=["GET"])
def get_seed():
    return str(seed)


@app.route("/", methods=["POST"])
def set_seed():
    global seed
    seed = int(request.get_json()["num"])
    return str(seed)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
