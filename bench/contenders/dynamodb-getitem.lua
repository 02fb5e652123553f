-- wrk straight at DynamoDB Local: the strongly consistent GetItem a GET
-- costs (bench/run's floor). DynamoDB Local checks the form of the
-- signature, not its value, so a fixed one does.
wrk.method = "POST"
wrk.body = '{"TableName":"bench-seed","Key":{"id":{"S":"seed"}},"ConsistentRead":true}'
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
wrk.headers["X-Amz-Date"] = "20261202T000000Z"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=bench/20261202/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000"
