-- wrk script of the first-seen cases: each request sends the next token of a file (one token per
-- line) in its Authorization header, so that token caches see each token once per rotation.
-- Arguments (after `--`): the file, the index to start from (the runner continues the rotation
-- across rounds), and optionally a token that every other request sends instead (the soak's mix
-- of repeated and first-seen tokens).
local tokens = {}
local index = 0
local repeated = nil
local sent = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  index = tonumber(args[2] or "0") % #tokens
  repeated = args[3]
end

function request()
  sent = sent + 1
  local token
  if repeated ~= nil and sent % 2 == 0 then
    token = repeated
  else
    index = index % #tokens + 1
    token = tokens[index]
  end
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. token })
end
