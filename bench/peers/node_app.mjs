// The Node peer of the stsvend comparison: Node's http module with ali-oss 6.23.0, 2 workers
// under node:cluster (the primary only forks and restarts nothing; Linux's default cluster
// scheduling has the primary accept connections and hand them to the workers in turn).
//
//   GET /get_sts_token  ali-oss's STS class: assumeRole(role, policy, 3600, 'anonymous') on
//                       every request (no cache, like the seed's Flask app)
//   GET /presign?key=…&method=PUT&contentType=…
//                       client.signatureUrlV4('PUT', 900, {headers: {'Content-Type': …}}, key)
//                       with the function's STS token (OSS V4, like stsvend's default)
//
// The STS client and the OSS client are built once per worker. Configuration, from the same
// environment variables stsvend reads: ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET,
// ALIBABA_CLOUD_SECURITY_TOKEN (the token /presign signs with, when set), STS_ENDPOINT
// (ali-oss's STS takes a full URL as its `endpoint` option, http:// included), ROLE_ARN,
// BUCKET, BUCKET_REGION, PORT, WORKERS (default 2).
import cluster from 'node:cluster';
import http from 'node:http';
import OSS from 'ali-oss';

const port = Number(process.env.PORT || 9454);
const workers = Number(process.env.WORKERS || 2);

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    console.error(`worker ${worker.process.pid} exited (${signal || code})`);
  });
} else {
  const region = process.env.BUCKET_REGION || 'cn-hangzhou';
  const bucket = process.env.BUCKET || 'examplebucket';
  const prefix = 'uploads/anonymous/';
  const roleArn = process.env.ROLE_ARN;
  // The session policy issue-token renders for an anonymous caller, byte for byte.
  const policy = '{"Statement":[{"Action":["oss:PutObject","oss:AbortMultipartUpload","oss:ListParts"],'
    + `"Effect":"Allow","Resource":["acs:oss:*:*:${bucket}/${prefix}*"]}],"Version":"1"}`;

  const sts = new OSS.STS({
    accessKeyId: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
    endpoint: process.env.STS_ENDPOINT || 'https://sts.aliyuncs.com',
  });
  const client = new OSS({
    region: `oss-${region}`,
    accessKeyId: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
    stsToken: process.env.ALIBABA_CLOUD_SECURITY_TOKEN || undefined,
    bucket,
    secure: true,
    authorizationV4: true,
  });

  const send = (res, status, body) => {
    const data = Buffer.from(JSON.stringify(body));
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': data.length,
      'Cache-Control': 'no-store',
    });
    res.end(data);
  };

  async function getStsToken(res) {
    const { credentials } = await sts.assumeRole(roleArn, policy, 3600, 'anonymous');
    send(res, 200, {
      StatusCode: 200,
      AccessKeyId: credentials.AccessKeyId,
      AccessKeySecret: credentials.AccessKeySecret,
      SecurityToken: credentials.SecurityToken,
      Expiration: credentials.Expiration,
    });
  }

  async function presign(res, query) {
    const key = query.get('key') || '';
    const method = (query.get('method') || 'PUT').toUpperCase();
    const contentType = query.get('contentType') || '';
    if (method !== 'PUT') {
      send(res, 400, { StatusCode: 400, ErrorCode: 'InvalidArgument', ErrorMessage: 'method must be PUT' });
      return;
    }
    if (!key.startsWith(prefix) || key.split('/').includes('..')) {
      send(res, 403, { StatusCode: 403, ErrorCode: 'AccessDenied', ErrorMessage: `key must start with ${prefix}` });
      return;
    }
    const headers = contentType ? { 'Content-Type': contentType } : {};
    const expires = 900;
    const url = await client.signatureUrlV4(method, expires, { headers }, key);
    send(res, 200, {
      StatusCode: 200,
      Method: method,
      URL: url,
      Headers: headers,
      Expiration: new Date(Date.now() + expires * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ExpiresIn: expires,
    });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let work;
    if (req.method === 'GET' && url.pathname === '/get_sts_token') work = getStsToken(res);
    else if (req.method === 'GET' && url.pathname === '/presign') work = presign(res, url.searchParams);
    else {
      send(res, 404, { StatusCode: 404, ErrorCode: 'NotFound', ErrorMessage: 'no such route' });
      return;
    }
    work.catch((err) => {
      console.error(err);
      send(res, 502, { StatusCode: 502, ErrorCode: 'UpstreamError', ErrorMessage: String(err.message) });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
}
