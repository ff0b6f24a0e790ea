import assert from 'node:assert/strict'
import { describe, it } from 'node:test'

import { median, parseWrk } from '../../bench/measure.js'

// wrk 4.1's report with --latency, as the benchmark harness reads it.
const REPORT = `Running 3s test @ http://127.0.0.1:40000/protected
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  512.00us  12.00ms   90.00%
    Req/Sec    15.20k     1.00k   16.00k    80.00%
  Latency Distribution
     50%    2.00ms
     75%    2.20ms
     90%    2.50ms
     99%  850.00us
  45600 requests in 3.00s, 5.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  15200.00
Transfer/sec:      1.67MB
`

describe('bench harness', () => {
  it('reads requests, throughput, p99 and every kind of error from a wrk report', () => {
    assert.deepEqual(parseWrk(REPORT), { requests: 45600, rps: 15200, p99Ms: 0.85, errors: 7 })
    const slow = REPORT.replace('99%  850.00us', '99%    1.20s')
      .replace(/\s+Socket errors.*\n/, '\n')
      .replace(/\s+Non-2xx.*\n/, '\n')
    assert.deepEqual(parseWrk(slow), { requests: 45600, rps: 15200, p99Ms: 1200, errors: 0 })
  })

  it('refuses a report it cannot read rather than reporting zeros', () => {
    assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused'))
  })

  it('takes the upper median of an even count', () => {
    assert.equal(median([3, 1, 2]), 2)
    assert.equal(median([4, 1, 3, 2]), 3)
  })
})
