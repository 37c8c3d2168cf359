// The seed's web client, unchanged but for its URLs: examples/web/index.html in Debian's
// Chromium, the real ali-oss browser SDK uploading with credentials from issue-token (HTTP
// mode, a stand-in STS), then IMM DetectImageFaces signed in the page. The requests to OSS and
// IMM are intercepted (nothing leaves the machine) and handed to the official SDKs from PyPI:
// oss2 checks the upload's Authorization header, alibabacloud-openapi-util the IMM signature
// (scripts/oracles/verify_alioss_requests.py). ali-oss must also refresh through issue-token
// when its interval passes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// Where cargo put the binaries (CARGO_TARGET_DIR when set, as scripts/test's tmp files are).
const target = resolve(root, process.env.CARGO_TARGET_DIR || "target");
const python = process.env.STSVEND_PYTHON ?? join(root, ".venv", "bin", "python");
const web = join(root, "examples", "web");
const VENDED = {
  AccessKeyId: "STS.test-vended-key",
  AccessKeySecret: "vended-secret-for-the-browser",
  SecurityToken: "CAIS+vended/browser=token==",
};

const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));

function standInSts() {
  const calls = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      if (request.method === "HEAD") return response.end(); // issue-token's cold-start warm-up
      calls.push(body);
      const expiration = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
      response.setHeader("Content-Type", "application/json");
      response.end(JSON.stringify({ RequestId: `r${calls.length}`, Credentials: { ...VENDED, Expiration: expiration } }));
    });
  });
  return { server, calls };
}

function staticSite(settings) {
  const files = {
    "/index.html": ["text/html", () => readFileSync(join(web, "index.html"))],
    "/config.js": ["text/javascript", () => `window.STSVEND = ${JSON.stringify(settings())};`],
    "/vendor/aliyun-oss-sdk.min.js": ["text/javascript", () => readFileSync(join(web, "node_modules", "ali-oss", "dist", "aliyun-oss-sdk.min.js"))],
  };
  return createServer((request, response) => {
    const file = files[request.url.split("?")[0]];
    if (!file) return response.writeHead(404).end();
    response.setHeader("Content-Type", file[0]);
    response.end(file[1]());
  });
}

function startIssueToken(sts, origin) {
  const child = spawn(join(target, "debug", "issue-token"), [], {
    env: {
      PATH: process.env.PATH, PORT: "0", RUST_LOG: "info", AUTH_MODE: "none",
      STS_ENDPOINT: `http://127.0.0.1:${sts}`, ALIBABA_CLOUD_ACCESS_KEY_ID: "LTAI-test-web-example-key",
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: "web-example-function-secret", ROLE_ARN: "acs:ram::1234567890123:role/web-upload",
      BUCKET: "web-direct-upload", BUCKET_REGION: "cn-hangzhou", POLICY_FILE: "bucket_write_imm_policy.json",
      IMM_PROJECT: "web-direct-project", CORS_ALLOW_ORIGINS: origin,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const address = new Promise((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(/listening on (http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`issue-token exited ${code}: ${output}`)));
  });
  return { child, address };
}

test("ali-oss uploads with issue-token's credentials, refreshes them, and IMM is signed with them", { timeout: 120_000 }, async () => {
  const sts = standInSts();
  const stsPort = await listen(sts.server);
  const settings = { refreshSTSTokenInterval: 1500, bucket: "web-direct-upload", region: "oss-cn-hangzhou" };
  const site = staticSite(() => settings);
  const origin = `http://127.0.0.1:${await listen(site)}`;
  const issueToken = startIssueToken(stsPort, origin);
  settings.tokenUrl = `${await issueToken.address}/`;

  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const captured = [];
  try {
    const page = await browser.newPage();
    let tokenFetches = 0;
    page.on("request", (request) => { if (request.url() === settings.tokenUrl) tokenFetches += 1; });
    const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*", "Access-Control-Allow-Methods": "GET, PUT, POST", "Access-Control-Expose-Headers": "ETag, x-oss-request-id" };
    await page.route("https://web-direct-upload.oss-cn-hangzhou.aliyuncs.com/**", async (route) => {
      const request = route.request();
      if (request.method() === "OPTIONS") return route.fulfill({ status: 200, headers: cors });
      captured.push({ kind: "oss", method: request.method(), url: request.url(), headers: await request.allHeaders(), body: (request.postDataBuffer() ?? Buffer.alloc(0)).toString("base64") });
      return route.fulfill({ status: 200, headers: { ...cors, ETag: '"5B3C1A2E053D763E1B002CC607C5A0FE"', "x-oss-request-id": "5C3D9175B6FC201293AD4890" }, body: "" });
    });
    await page.route("https://imm.cn-hangzhou.aliyuncs.com/**", async (route) => {
      const request = route.request();
      if (request.method() === "OPTIONS") return route.fulfill({ status: 200, headers: cors });
      captured.push({ kind: "imm", method: request.method(), url: request.url() });
      return route.fulfill({ status: 200, headers: { ...cors, "Content-Type": "application/json" }, body: JSON.stringify({ RequestId: "63661E75", Faces: [] }) });
    });

    await page.goto(`${origin}/index.html`);
    const first = randomBytes(50_000);
    await page.setInputFiles("#file", { name: "face 1+1.jpg", mimeType: "image/jpeg", buffer: first });
    await page.click("#upload");
    await page.waitForSelector("#oss-result.ok", { timeout: 30_000 });
    assert.equal(tokenFetches, 1, "the first upload fetched one token");

    await page.waitForTimeout(2000); // past refreshSTSTokenInterval
    await page.setInputFiles("#file", { name: "face 2.jpg", mimeType: "image/jpeg", buffer: randomBytes(10_000) });
    await page.click("#upload");
    await page.waitForSelector("#oss-result.ok:has-text('face 2.jpg')", { timeout: 30_000 });
    assert.equal(tokenFetches, 2, "ali-oss refreshed through issue-token once its interval passed");
    assert.equal(sts.calls.length, 1, "issue-token handed out its cached token (an hour left): one STS call");

    await page.click("#detect");
    await page.waitForSelector("#imm-result.ok", { timeout: 30_000 });

    const uploads = captured.filter((c) => c.kind === "oss" && c.method === "PUT");
    assert.equal(uploads.length, 2, JSON.stringify(captured.map((c) => `${c.method} ${c.url}`)));
    assert.deepEqual(Buffer.from(uploads[0].body, "base64"), first, "ali-oss sent the file's bytes");
    assert.equal(uploads[0].headers["x-oss-security-token"], VENDED.SecurityToken, "the vended security token is attached");
    assert.equal(captured.filter((c) => c.kind === "imm").length, 1);
    // The policy issue-token asked STS for: the caller's prefix and the one IMM project.
    const policy = JSON.parse(new URLSearchParams(sts.calls[0]).get("Policy"));
    assert.deepEqual(policy.Statement.map((s) => s.Resource), [["acs:oss:*:*:web-direct-upload/uploads/anonymous/*"], ["acs:imm:*:*:project/web-direct-project"]]);
  } finally {
    await browser.close();
    issueToken.child.kill("SIGTERM");
    sts.server.close();
    site.close();
  }

  const out = join(target, "tmp", "alioss-requests.jsonl");
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, captured.map((c) => JSON.stringify({ ...c, access_key_id: VENDED.AccessKeyId, access_key_secret: VENDED.AccessKeySecret, security_token: VENDED.SecurityToken, bucket: "web-direct-upload" })).join("\n") + "\n");
  const check = spawnSync(python, [join(root, "scripts", "oracles", "verify_alioss_requests.py"), out], { encoding: "utf8" });
  process.stdout.write(check.stdout);
  assert.equal(check.status, 0, `the official SDKs refused what the page sent:\n${check.stdout}${check.stderr}`);
});
