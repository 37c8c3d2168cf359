// A fast stand-in STS for the peer comparison (bench/peers/run), in Node's http module: the
// same answer as bench/sts_standin.py (a recorded AssumeRole success expiring in 2030, with a
// 700-character token), for every request that asks for AssumeRole (Action=AssumeRole in the
// query or form, or the header x-acs-action: AssumeRole); anything else gets an empty 400 and
// counts as bad. HEAD (issue-token's cold-start warm-up) gets an empty 400 and is not counted.
//
// GET /calls answers {"calls": N, "policy": "<Policy of the last AssumeRole>", "bad": M}:
// the run script reads it before and after each server to count that server's STS calls and
// to check that every server sent the same session policy. Parsing of the last request is
// done only then, so an AssumeRole costs one string concatenation here.
//
// usage: node bench/peers/sts_standin.mjs [port]
import http from 'node:http';

const BODY = Buffer.from(JSON.stringify({
  RequestId: 'r',
  Credentials: {
    AccessKeyId: 'STS.test-vended-key',
    AccessKeySecret: 's',
    SecurityToken: 'CAIS' + 'x'.repeat(700),
    Expiration: '2030-01-01T00:00:00Z',
  },
}));
const HEADERS = { 'Content-Type': 'application/json', 'Content-Length': BODY.length };

let calls = 0;
let bad = 0;
let last = ''; // the last AssumeRole's query string and body, "<query>&<body>"

function policyOf(raw) {
  return new URLSearchParams(raw).get('Policy');
}

const server = http.createServer((req, res) => {
  if (req.method === 'HEAD') {
    res.writeHead(400, { 'Content-Length': 0 });
    res.end();
    return;
  }
  if (req.method === 'GET' && req.url === '/calls') {
    const answer = Buffer.from(JSON.stringify({ calls, bad, policy: last ? policyOf(last) : null }));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': answer.length });
    res.end(answer);
    return;
  }
  let body = '';
  req.setEncoding('latin1');
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    const q = req.url.indexOf('?');
    const raw = (q >= 0 ? req.url.slice(q + 1) : '') + '&' + body;
    // RPC v1 (stsvend, ali-oss) puts Action in the form or the query; ACS3 (the Python SDK
    // as alibabacloud_tea_openapi 0.4 sends it) in the x-acs-action header.
    if (req.headers['x-acs-action'] !== 'AssumeRole' && !raw.includes('Action=AssumeRole')) {
      bad += 1;
      res.writeHead(400, { 'Content-Length': 0 });
      res.end();
      return;
    }
    calls += 1;
    last = raw;
    res.writeHead(200, HEADERS);
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] || 9450), '127.0.0.1');
