// Uppy, unchanged, uploading through stsvend: the real @uppy/core, @uppy/dashboard and
// @uppy/aws-s3 6 from npm (package-lock.json), bundled locally (build.mjs, no CDN), in Debian's
// Chromium driven by playwright-core, on the playground's Uppy page (examples/web/uppy.html),
// whose signRequest is clients/uppy/stsvend-uppy.js. Against s3s-fs (which checks every
// presigned URL and form policy) and the stand-in OSS with V4 and with V1 URLs (which checks
// every signature with oss2 and each temporary key's session policy): a small file as a PUT and
// as a form, a file of three parts, a pause and resume, an abort (the store holds no upload
// afterwards), a key presign-url chose, and a key under another user's prefix refused. Every
// upload's bytes are read back from the store's own files. Each with @uppy/aws-s3 6's
// signRequest (clients/uppy/stsvend-uppy.js), 6's companionEndpoint and Uppy 5's endpoint (both
// answered by presign-url's Companion routes); and, side by side, the real @uppy/companion 6.2.2
// from npm (bench/uppy) on the same s3s-fs, through the same page and cases.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const python = process.env.STSVEND_PYTHON ?? join(root, ".venv", "bin", "python");
const PREFIX = "uploads/anonymous/";
const MiB = 1024 * 1024;

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

// A small real PNG (the avatar profile's record-upload checks that it is one).
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, "latin1");
    data.copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = randomBytes((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) rows[y * (width * 3 + 1)] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

/** The playground (scripts/playground.py) for one store, and where it keeps the bucket's files. */
async function startPlayground(args) {
  const data = mkdtempSync(join(tmpdir(), "stsvend-uppy-"));
  const child = spawn(python, [join(root, "scripts", "playground.py"), "--port", String(await freePort()),
    "--data", data, ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(/playground: open (http:\/\/\S+)\//);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`playground exited ${code}: ${output}`)));
  });
  const stopped = new Promise((resolve) => child.on("exit", () => resolve(output)));
  return { child, stopped, data, origin: await ready };
}

let browser;
before(async () => {
  assert.ok(existsSync(join(here, "dist", "uppy.mjs")), "run `npm run build` first (npm test does)");
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
});
after(async () => {
  await browser?.close();
});

const stores = [
  { id: "aws", name: "s3s-fs (S3)", provider: "aws", args: ["--provider", "aws"] },
  // Without the upload callback: with one, OSS answers a completion with the callback's JSON,
  // which @uppy/aws-s3 cannot read (clients/uppy/README.md).
  { id: "aliyun-v4", name: "stand-in OSS, V4", provider: "aliyun", args: ["--provider", "aliyun", "--no-upload-callback"] },
  { id: "aliyun-v1", name: "stand-in OSS, V1", provider: "aliyun", v1: true,
    args: ["--provider", "aliyun", "--no-upload-callback", "--oss-signature-version", "v1"] },
  // Side by side: the real Companion from npm (bench/uppy/package-lock.json) on the same s3s-fs,
  // through the same page and the same cases. It keeps no caller's prefix: its keys are
  // `<uuid>-<name>` at the bucket's root, and no key is refused.
  { id: "companion", name: "the real @uppy/companion 6.2.2, on s3s-fs", provider: "aws", realCompanion: true,
    args: ["--provider", "aws"] },
];

/** The real Companion (bench/uppy), signing for s3s-fs through the playground's origin. */
async function startCompanion(origin, data) {
  const bin = join(root, "bench", "uppy", "node_modules", ".bin", "companion");
  assert.ok(existsSync(bin), "install Companion: (cd bench/uppy && npm ci)");
  const port = await freePort();
  const child = spawn(bin, [], {
    cwd: join(root, "bench", "uppy"), stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH, NODE_ENV: "production", COMPANION_PORT: String(port),
      COMPANION_DOMAIN: `127.0.0.1:${port}`, COMPANION_PROTOCOL: "http", COMPANION_DATADIR: data,
      COMPANION_SECRET: "companion-test-secret-0123456789", COMPANION_PREAUTH_SECRET: "companion-test-preauth-0123456789",
      COMPANION_UPLOAD_URLS: `${origin}/`, COMPANION_CLIENT_ORIGINS: origin,
      // s3s-fs's key pair (scripts/playground.py STORE_KEY), and the playground's origin, which
      // passes /playground/… on to s3s-fs, as the S3 endpoint, path-style.
      COMPANION_AWS_KEY: "playground-test-access-key", COMPANION_AWS_SECRET: "playground-local-secret",
      COMPANION_AWS_BUCKET: "playground", COMPANION_AWS_REGION: "us-east-1", COMPANION_AWS_ENDPOINT: origin,
      COMPANION_AWS_FORCE_PATH_STYLE: "true",
    },
  });
  let output = "";
  child.stdout.on("data", (chunk) => { output += chunk; });
  child.stderr.on("data", (chunk) => { output += chunk; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    const up = await fetch(`${url}/s3/params?filename=probe&type=text/plain`).then((r) => r.ok, () => false);
    if (up) return { child, url, output: () => output };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGTERM");
  throw new Error(`Companion did not start: ${output}`);
}

// UPPY_STORES=aws,aliyun-v4,aliyun-v1 runs some of them (while working on one).
const only = process.env.UPPY_STORES?.split(",");
for (const store of stores.filter((s) => !only || only.includes(s.id))) {
  describe(`Uppy through presign-url, ${store.name}`, { timeout: 300_000 }, () => {
    let playground, companionServer;
    // The prefix every key lies under (the real Companion keeps none).
    const prefix = store.realCompanion ? "" : PREFIX;
    before(async () => {
      playground = await startPlayground(store.args);
      if (store.realCompanion) companionServer = await startCompanion(playground.origin, playground.data);
    });
    after(async () => {
      companionServer?.child.kill("SIGTERM");
      playground?.child.kill("SIGTERM");
      const output = await playground?.stopped;
      if (playground) rmSync(playground.data, { recursive: true, force: true });
      assert.match(output ?? "", /playground stopped/, "the playground stops cleanly");
    });

    const stored = (key) => readFileSync(join(playground.data, store.provider, "playground", key));
    const findStored = (name) => {
      const folder = join(playground.data, store.provider, "playground", prefix);
      const found = readdirSync(folder).filter((entry) => entry.endsWith(`-${name}`));
      assert.equal(found.length, 1, `one stored file named *-${name}: ${found}`);
      return prefix + found[0];
    };
    const isStored = (key) => existsSync(join(playground.data, store.provider, "playground", key));

    /** presign-url asked directly, as a script would. */
    async function presign(body) {
      const answer = await fetch(`${playground.origin}/${store.provider}/presign`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      return answer.json();
    }

    /** The Uppy page with `query`, the requests it sends, and Uppy's events. */
    async function openUppy(query = "", mode = "signRequest") {
      let extra = { companion: "companion=1", uppy5: "uppy=5" }[mode];
      if (extra && store.realCompanion) extra += `&companionUrl=${encodeURIComponent(companionServer.url)}`;
      if (extra) query = query ? `${query}&${extra}` : `?${extra}`;
      const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
      const requests = [];
      page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
      page.on("pageerror", (error) => requests.push(`pageerror ${error.message}`));
      page.on("console", (message) => message.type() === "error" && requests.push(`console ${message.text()}`));
      await page.goto(`${playground.origin}/${store.provider}/uppy.html${query}`);
      await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
      await page.evaluate(() => {
        window.events = [];
        for (const name of ["upload-success", "upload-error", "s3-multipart:part-uploaded", "upload-progress"]) {
          window.uppy.on(name, (file, detail) => window.events.push({
            name, file: file?.name, body: detail?.body, error: detail?.message ?? String(detail ?? ""),
            part: detail?.PartNumber ?? detail?.partNumber,
          }));
        }
        window.uppy.on("upload-error", (file, error) => window.events.push({ name: "error", file: file?.name, error: error.message }));
      });
      return { page, requests };
    }

    async function addAndUpload(page, file) {
      await page.setInputFiles(".uppy-Dashboard-input >> nth=0", file);
      await page.click(".uppy-StatusBar-actionBtn--upload");
    }

    async function outcome(page, name) {
      await page.waitForFunction((n) => window.events.some((e) => (e.name === "upload-success" || e.name === "error") && e.file === n),
        name, { timeout: 60_000 });
      return page.evaluate((n) => window.events.find((e) => (e.name === "upload-success" || e.name === "error") && e.file === n), name);
    }

    async function uploaded(page, file) {
      const result = await outcome(page, file.name);
      assert.equal(result.name, "upload-success", `${file.name}: ${result.error}`);
      // Uppy 5 reports a form upload's response headers, without the key: found in the store.
      const key = result.body.key ?? findStored(file.name);
      assert.deepEqual(stored(key), file.buffer, `${file.name}: the bytes in the store`);
      return key;
    }

    /** The stored object's Content-Type, from a HEAD presign-url signed (the real Companion's
     * keys lie outside the caller's prefix: not read there, `expected` given back). */
    async function storedType(key, expected) {
      if (store.realCompanion) return expected;
      const head = await presign({ key, method: "HEAD" });
      return (await fetch(head.URL, { method: "HEAD" })).headers.get("content-type");
    }

    const storeRequests = (requests, method) =>
      requests.filter((r) => r.startsWith(`${method} `) && !r.includes(`/${store.provider}/`));

    // @uppy/aws-s3 6 with signRequest and with companionEndpoint, and 5 with endpoint (the
    // last two: presign-url answering Companion's routes).
    for (const mode of store.realCompanion ? ["companion", "uppy5"] : ["signRequest", "companion", "uppy5"]) {
    const companion = mode !== "signRequest";
    test(`${mode}: a small file goes up as one presigned PUT (Companion: a form)`, async () => {
      const { page, requests } = await openUppy("", mode);
      try {
        const file = { name: "notes +1 ünï.txt", mimeType: "text/plain", buffer: randomBytes(300_000) };
        await addAndUpload(page, file);
        const key = await uploaded(page, file);
        assert.ok(key.startsWith(prefix) && key.endsWith("-notes +1 ünï.txt"), key);
        assert.equal(storeRequests(requests, companion ? "POST" : "PUT").length, 1, requests.join("\n"));
        assert.match(await storedType(key, "text/plain"), /^text\/plain/);
      } finally {
        await page.close();
      }
    });

    test(`${mode}: a small file goes up as a form (POST policy)`, { skip: companion && "Companion's small files are forms (above)" }, async () => {
      const { page, requests } = await openUppy("?form=1", mode);
      try {
        const file = { name: "form upload.bin", mimeType: "application/octet-stream", buffer: randomBytes(200_000) };
        await addAndUpload(page, file);
        const key = await uploaded(page, file);
        assert.ok(key.startsWith(prefix), key);
        assert.equal(storeRequests(requests, "POST").length, 1, requests.join("\n"));
        assert.equal(storeRequests(requests, "PUT").length, 0, requests.join("\n"));
      } finally {
        await page.close();
      }
    });

    test(`${mode}: a file of three parts goes up as a multipart upload, its type set at initiate`, async () => {
      const { page, requests } = await openUppy("?multipart=1", mode);
      try {
        const file = { name: "video 1+2.mp4", mimeType: "video/mp4", buffer: randomBytes(10 * MiB + 123_457) };
        await addAndUpload(page, file);
        const key = await uploaded(page, file);
        const parts = storeRequests(requests, "PUT").filter((r) => /partNumber=/.test(r));
        assert.deepEqual(parts.map((r) => Number(r.match(/partNumber=(\d+)/)[1])).sort(), [1, 2, 3], requests.join("\n"));
        assert.equal(await storedType(key, "video/mp4"), "video/mp4");
      } finally {
        await page.close();
      }
    });

    test(`${mode}: a multipart upload paused after a part resumes and completes`, async () => {
      const { page, requests } = await openUppy("?multipart=1", mode);
      try {
        // Part 2 is held until the upload is paused, so the pause falls between parts.
        let held;
        await page.route(/partNumber=2(&|$)/, (route) => { held = route; });
        const file = { name: "paused.bin", mimeType: "application/octet-stream", buffer: randomBytes(10 * MiB + 1) };
        await addAndUpload(page, file);
        await page.waitForFunction(() => window.events.some((e) => e.name === "s3-multipart:part-uploaded"), null, { timeout: 60_000 });
        await page.evaluate(() => window.uppy.pauseAll());
        await held?.abort().catch(() => {});
        await page.unroute(/partNumber=2(&|$)/);
        assert.equal(await page.evaluate(() => window.events.some((e) => e.name === "upload-success")), false);
        await page.evaluate(() => window.uppy.resumeAll());
        await uploaded(page, file);
        // The part the store held at the pause (Uppy 6 sends parts in order, Uppy 5 several at
        // once) was not sent again: the resumed upload went on from what the store had.
        const done = await page.evaluate(() => window.events.find((e) => e.name === "s3-multipart:part-uploaded").part);
        assert.ok(Number.isInteger(done), `the part-uploaded event names its part: ${done}`);
        const again = storeRequests(requests, "PUT").filter((r) => new RegExp(`partNumber=${done}(&|$)`).test(r));
        assert.equal(again.length, 1, `part ${done} went up once: ${requests.join("\n")}`);
      } finally {
        await page.close();
      }
    });

    test(`${mode}: an aborted multipart upload leaves no upload in the store`, async () => {
      const { page, requests } = await openUppy("?multipart=1", mode);
      try {
        await page.route(/partNumber=2(&|$)/, () => {}); // never answered: the upload is mid-way
        const file = { name: "aborted.bin", mimeType: "application/octet-stream", buffer: randomBytes(10 * MiB + 1) };
        await addAndUpload(page, file);
        await page.waitForFunction(() => window.events.some((e) => e.name === "s3-multipart:part-uploaded"), null, { timeout: 60_000 });
        const { key, uploadId } = await page.evaluate(() => window.uppy.getFiles()[0].s3Multipart);
        assert.ok(key.startsWith(prefix) && uploadId, `${key} ${uploadId}`);
        await page.evaluate(() => window.uppy.cancelAll());
        // Signed for the browser to send, or, with Companion, sent by presign-url itself.
        const deletes = () => (companion ? requests.filter((r) => r.startsWith("DELETE ") && r.includes("/s3/multipart/"))
          : storeRequests(requests, "DELETE"));
        const aborted = () => deletes().some((r) => r.includes(encodeURIComponent(uploadId)) || r.includes(uploadId));
        for (let i = 0; i < 100 && !aborted(); i += 1) await new Promise((r) => setTimeout(r, 100));
        assert.ok(aborted(), `Uppy sent AbortMultipartUpload: ${requests.join("\n")}`);
        // The store no longer knows the upload: it lists no part of it, and refuses a part
        // sent to it (OSS and S3: 404 NoSuchUpload; s3s-fs, which keeps no record of an aborted
        // upload to name, 403); s3s-fs keeps no file of it either.
        // (Uppy does not wait for the answer to its abort, which may still be on its way.)
        // Keys outside the caller's prefix (the real Companion's) are read from s3s-fs's files.
        if (store.realCompanion) {
          const left = () => readdirSync(join(playground.data, "aws")).filter((name) => name.includes(uploadId));
          for (let i = 0; i < 50 && left().length > 0; i += 1) await new Promise((r) => setTimeout(r, 100));
          assert.deepEqual(left(), [], "s3s-fs's files of the upload");
          assert.equal(isStored(key), false, "no object either");
          return;
        }
        let listed, listing;
        for (let i = 0; i < 50; i += 1) {
          const list = await presign({ key, multipart: "list", uploadId });
          listed = await fetch(list.URL);
          listing = await listed.text();
          if (listed.status === 404 || !/<Part>/.test(listing)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(listed.status === 404 || !/<Part>/.test(listing), `${listed.status} ${listing}`);
        const part = await presign({ key, method: "PUT", uploadId, partNumber: 3 });
        const sent = await fetch(part.URL, { method: "PUT", body: "late part" });
        const refusal = await sent.text();
        assert.ok([403, 404].includes(sent.status), `a part after the abort: ${sent.status} ${refusal}`);
        if (sent.status === 404) assert.match(refusal, /NoSuchUpload/);
        if (store.provider === "aws") {
          const left = readdirSync(join(playground.data, "aws")).filter((name) => name.includes(uploadId));
          assert.deepEqual(left, [], "s3s-fs's files of the upload");
        }
        assert.equal(isStored(key), false, "no object either");
      } finally {
        await page.close();
      }
    });

    test(`${mode}: a profile photo goes up under the key presign-url chose`, { skip: store.realCompanion && "Companion has no profiles" }, async () => {
      // The avatar profile serves its files inline (a signed Content-Disposition), which OSS V1
      // cannot sign into a PUT: there it goes up as a form.
      const { page } = await openUppy(store.v1 ? "?profile=avatar&form=1" : "?profile=avatar", mode);
      try {
        const file = { name: "me.png", mimeType: "image/png", buffer: png(64, 48) };
        await addAndUpload(page, file);
        const key = await uploaded(page, file);
        assert.match(key, /^avatars\/anonymous\/[0-9a-f-]{32,36}\.png$/, key);
      } finally {
        await page.close();
      }
    });

    test(`${mode}: a key under another user's prefix is refused`, { skip: companion && "Companion's keys are chosen by the server (below)" }, async () => {
      const { page, requests } = await openUppy(`?prefix=${encodeURIComponent("uploads/bob/")}`, mode);
      try {
        const file = { name: "not mine.txt", mimeType: "text/plain", buffer: randomBytes(1000) };
        await addAndUpload(page, file);
        const result = await outcome(page, file.name);
        assert.equal(result.name, "error");
        assert.match(result.error, /KeyOutsidePrefix/);
        assert.equal(storeRequests(requests, "PUT").length, 0, "nothing reached the store");
        assert.equal(isStored("uploads/bob"), false);
      } finally {
        await page.close();
      }
    });
    }

    test("Companion: a key under another user's prefix is refused, and nothing reaches the store", { skip: store.realCompanion && "the real Companion keeps no caller's prefix (uppy#3527)" }, async () => {
      const base = `${playground.origin}/${store.provider}/presign/s3/multipart`;
      for (const [method, path, body] of [
        ["GET", `/U1?key=${encodeURIComponent("uploads/bob/a.bin")}`],
        ["GET", `/U1/1?key=${encodeURIComponent("uploads/bob/a.bin")}`],
        ["DELETE", `/U1?key=${encodeURIComponent("uploads/bob/a.bin")}`],
        ["POST", `/U1/complete?key=${encodeURIComponent("uploads/bob/a.bin")}`, JSON.stringify({ parts: [{ PartNumber: 1, ETag: "\"e\"" }] })],
      ]) {
        const answer = await fetch(`${base}${path}`, { method, body, headers: { "Content-Type": "application/json" } });
        assert.equal(answer.status, 403, `${method} ${path}`);
        assert.match((await answer.json()).error, /^KeyOutsidePrefix: /);
      }
    });
  });
}
