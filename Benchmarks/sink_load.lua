-- wrk script for the sink-alone measurement (Benchmarks/bench.py sink-ceiling): SendMessageBatch
-- requests of 10 messages shaped like the relay's, each with a fresh event_id.
wrk.method = "POST"
wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessageBatch"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"

local sequence = 0
local thread_tag = string.format("%08x", math.random(0, 0x7fffffff))

request = function()
  local entries = {}
  for i = 0, 9 do
    sequence = sequence + 1
    local photo = string.format("%s-0000-4000-8000-%012x", thread_tag, sequence)
    local event = string.format("%s-1111-4000-8000-%012x", thread_tag, sequence)
    local body = '{\\"photo_id\\": \\"' .. photo .. '\\", \\"s3_url\\": \\"s3://companycam-photos-bench/'
      .. photo .. '.jpg\\", \\"priority\\": \\"normal\\", \\"detection_types\\": [\\"damage\\", \\"material\\"]}'
    entries[#entries + 1] = '{"Id":"' .. i .. '","MessageBody":"' .. body
      .. '","MessageAttributes":{"event_id":{"DataType":"String","StringValue":"' .. event
      .. '"},"event_type":{"DataType":"String","StringValue":"photo.uploaded"}}}'
  end
  return wrk.format(nil, nil, nil,
    '{"QueueUrl":"http://127.0.0.1/000000000000/bench","Entries":[' .. table.concat(entries, ",") .. ']}')
end
