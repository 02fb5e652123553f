-- wrk: every request is the SPEC's POST of a small seed.
wrk.method = "POST"
wrk.body = '{"num": 12345}'
wrk.headers["Content-Type"] = "application/json"
