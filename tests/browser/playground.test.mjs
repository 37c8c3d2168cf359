// The local playground in a real browser, for both providers: Debian's Chromium, driven by
// playwright-core, uploads through every path of the page (presigned PUT, form POST, a resumable
// multipart upload paused, reloaded and resumed, and, on Alibaba's side, ali-oss with issue-token's
// credentials), and the test checks the bytes each store wrote, the progress events the page
// emitted, the file list with its thumbnails, record-upload's records, the masked credentials and
// an error shown in words. On Alibaba's side the store is the stand-in OSS, which verified every
// request with oss2 and the session policy the stand-in STS issued; on AWS's it is s3s-fs. The
// seeds' own ali-oss page uploads to the stand-in too. A profile photo goes up under a key
// presign-url chose, and an HTML page sent as one is deleted and explained. Downloads also go
// through each side's stand-in CDN, which refuses a tampered URL. The user's quota
// usage shows on the page. Screenshots of each provider's page after
// the uploads are kept at target/playground-aliyun.png and target/playground-aws.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const python = process.env.STSVEND_PYTHON ?? join(root, ".venv", "bin", "python");
const PREFIX = "uploads/anonymous/";
const PART = 5 * 1024 * 1024; // the page's part size

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

// A real PNG (a gradient with noise in blue, so it does not compress to nothing), so that
// thumbnails and x-oss-process resizes have an image.
function png(width, height) {
  const noise = randomBytes(width * height);
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
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      rows.set([(x * 255) / width, (y * 255) / height, noise[y * width + x]], y * (width * 3 + 1) + 1 + x * 3);
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

let playground, origin, data, browser;

before(async () => {
  data = mkdtempSync(join(tmpdir(), "stsvend-playground-"));
  const child = spawn(python, [join(root, "scripts", "playground.py"), "--port", String(await freePort()), "--data", data], {
    cwd: root, stdio: ["ignore", "pipe", "inherit"],
  });
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
  playground = { child, stopped };
  origin = await ready;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  playground?.child.kill("SIGTERM");
  const output = await playground?.stopped;
  rmSync(data, { recursive: true, force: true });
  assert.match(output ?? "", /playground stopped/, "the playground stops cleanly");
});

const stored = (provider, key) => readFileSync(join(data, provider, "playground", key));

async function openPage(provider) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.addInitScript(() => {
    window.pageEvents = [];
    for (const name of ["progress", "uploaded"]) {
      document.addEventListener(`stsvend:${name}`, (event) => window.pageEvents.push({ type: name, ...event.detail }));
    }
  });
  const requests = [];
  page.on("request", (request) => requests.push(`${request.method()} ${request.url()}`));
  // Uploads at 4 MB/s (Chromium's own throttling), so that progress has something to show.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4_000_000 });
  await page.goto(`${origin}/${provider}/`);
  return { page, requests };
}

async function upload(page, button, file) {
  await page.setInputFiles("#file", file);
  await page.click(button);
}

const transfer = (how, name) => `#transfers li[data-how="${how}"][data-key="${PREFIX}${name}"]`;
async function finished(page, how, name) {
  const row = transfer(how, name);
  await page.waitForSelector(`${row}[data-state]`, { timeout: 60_000 });
  const state = await page.getAttribute(row, "data-state");
  assert.equal(state, "done", `${how} ${name}: ${await page.textContent(row)}`);
}

// The progress events of one upload (since the page last loaded): never going back, ending at
// the file's size, with events on the way. `bytes`: some of them fall inside a part, so they
// came from the browser's upload progress, not from the page counting finished parts (ali-oss
// reports whole parts only).
async function checkProgress(page, how, name, size, bytes = true) {
  const events = (await page.evaluate(() => window.pageEvents)).filter((e) => e.type === "progress" && e.how === how && e.key === PREFIX + name);
  const seen = JSON.stringify(events.map((e) => e.loaded));
  for (let i = 1; i < events.length; i += 1) assert.ok(events[i].loaded >= events[i - 1].loaded, `${how}: progress goes back: ${seen}`);
  assert.ok(events.every((e) => e.total === size), `${how}: every event names the file's size`);
  assert.equal(events.at(-1)?.loaded, size, `${how}: the last event is the whole file: ${seen}`);
  const middle = events.filter((e) => e.loaded > 0 && e.loaded < size && (!bytes || e.loaded % PART !== 0));
  assert.ok(middle.length >= 1, `${how}: no progress on the way: ${seen}`);
}

async function resumable(page, requests, provider, name, bytes) {
  // Part 2 is held until the upload is paused: part 1 is in the store, part 2 is not.
  let held;
  await page.route(/partNumber=2(&|$)/, (route) => { held = route; });
  await upload(page, "#multipart", { name, mimeType: "application/octet-stream", buffer: bytes });
  await page.waitForFunction((n) => window.pageEvents.some((e) => e.how === "Resumable (multipart)" && e.loaded >= n), PART, { timeout: 30_000 });
  await page.waitForFunction(() => document.querySelector("#transfers .pause"));
  await page.click("#transfers .pause");
  await page.waitForSelector(`${transfer("Resumable (multipart)", name)}[data-state="paused"]`);
  await held?.abort().catch(() => {});
  await page.unroute(/partNumber=2(&|$)/);

  // A reload: the page remembers the upload; picking the same file uploads the rest.
  await page.reload();
  await page.waitForSelector("#unfinished li");
  assert.match(await page.textContent("#unfinished"), new RegExp(name.replace(/[+.]/g, "\\$&")));
  // Another file of the same size and name: its first part is not the part the store holds.
  const other = Buffer.from(bytes);
  other[10] ^= 0xff;
  await page.setInputFiles("#unfinished li input[type=file]", { name, mimeType: "application/octet-stream", buffer: other });
  await page.waitForSelector(`${transfer("Resumable (multipart)", name)}[data-state="failed"]`);
  assert.match(await page.textContent(`${transfer("Resumable (multipart)", name)} .problem`), /NotTheSameFile/);
  await page.evaluate(() => document.querySelector("#transfers").replaceChildren());
  await page.setInputFiles("#unfinished li input[type=file]", { name, mimeType: "application/octet-stream", buffer: bytes });
  await finished(page, "Resumable (multipart)", name);
  await page.waitForFunction(() => !document.querySelector("#unfinished li"));
  const partOne = requests.filter((r) => r.startsWith("PUT ") && /partNumber=1(&|$)/.test(r));
  assert.equal(partOne.length, 1, "part 1 was sent once: the resumed upload asked the store which parts it had");
  assert.deepEqual(stored(provider, PREFIX + name), bytes, "the resumed upload's bytes in the store");
}

for (const provider of ["aliyun", "aws"]) {
  test(`${provider}: every way up, with progress, the file list, the records`, { timeout: 240_000 }, async () => {
    const { page, requests } = await openPage(provider);
    try {
      await page.waitForSelector("#notice:not([hidden])");
      assert.match(await page.textContent("#notice"), /stand-in/i, "the page says its store is a stand-in");

      const photo = { name: `photo ${provider}.png`, mimeType: "image/png", buffer: png(640, 480) };
      await upload(page, "#put", photo);
      await finished(page, "Presigned PUT", photo.name);
      await checkProgress(page, "Presigned PUT", photo.name, photo.buffer.length);

      const notes = { name: "notes +1 ünï.bin", mimeType: "application/octet-stream", buffer: randomBytes(900_000) };
      await upload(page, "#post", notes);
      await finished(page, "Form POST", notes.name);
      await checkProgress(page, "Form POST", notes.name, notes.buffer.length);

      const big = randomBytes(2 * PART + 1_234_567);
      await resumable(page, requests, provider, "video 12MB.bin", big);
      await checkProgress(page, "Resumable (multipart)", "video 12MB.bin", big.length);

      const uploads = [photo, notes, { name: "video 12MB.bin", buffer: big }];
      if (provider === "aliyun") {
        assert.ok(await page.isVisible("#alioss"), "ali-oss is offered on Alibaba's page");
        const sdk = { name: "ali-oss upload.bin", mimeType: "application/octet-stream", buffer: randomBytes(PART + 300_000) };
        await upload(page, "#alioss", sdk);
        await finished(page, "ali-oss with STS", sdk.name);
        await checkProgress(page, "ali-oss with STS", sdk.name, sdk.buffer.length, false);
        uploads.push(sdk);
      } else {
        assert.equal(await page.isVisible("#alioss"), false, "no ali-oss on S3");
      }
      for (const file of uploads) assert.deepEqual(stored(provider, PREFIX + file.name), file.buffer, `${file.name}: the stored bytes`);

      // A file name presign-url refuses, explained in words.
      await upload(page, "#put", { name: "invoice\u202Egpj.exe", mimeType: "application/octet-stream", buffer: Buffer.from("x") });
      await page.waitForSelector('#transfers li[data-state="failed"] .problem');
      const problem = await page.textContent('#transfers li[data-state="failed"] .problem');
      assert.match(problem, /can't be used/, problem);
      assert.match(problem, /InvalidKey/, problem);

      // My files: every upload, with its size and type, a download link, and the photo's
      // thumbnail (OSS resized it: 640 px wide at the source, at most 240 px in the card).
      await page.click("#refresh");
      await page.waitForFunction((n) => document.querySelectorAll("#files li").length >= n, uploads.length, { timeout: 30_000 });
      for (const file of uploads) {
        const card = `#files li[data-key="${PREFIX}${file.name}"]`;
        assert.ok(await page.isVisible(card), `${file.name} is listed`);
        assert.ok((await page.getAttribute(`${card} a`, "href")).startsWith("http"), "a download link");
      }
      const photoCard = `#files li[data-key="${PREFIX}${photo.name}"]`;
      assert.match(await page.textContent(photoCard), /image\/png/);
      // Read in the same step that sees the image loaded: the list may be drawn again between
      // two steps, and a new <img> starts at width 0.
      const loaded = await page.waitForFunction((card) => {
        const img = document.querySelector(`${card} img`);
        return img?.complete && img.naturalWidth > 0 ? img.naturalWidth : null;
      }, photoCard, { timeout: 15_000 });
      const width = await loaded.jsonValue();
      assert.equal(width, provider === "aliyun" ? 240 : 640, "the thumbnail's width (x-oss-process resize on OSS)");
      const download = await (await fetch(await page.getAttribute(`#files li[data-key="${PREFIX}${notes.name}"] a`, "href"))).arrayBuffer();
      assert.deepEqual(Buffer.from(download), notes.buffer, "the download link gives the file back");

      // Through the stand-in CDN (tests/standins/standin/cdn.py: Alibaba Cloud CDN type A on
      // Alibaba's side, CloudFront on AWS's), which checks each signature as the CDN does: the
      // card's "View via CDN" link serves the bytes, the same URL tampered is refused, and on S3
      // the thumbnail itself loaded through it.
      const viaCdn = await page.getAttribute(`#files li[data-key="${PREFIX}${notes.name}"] a.cdn`, "href");
      assert.ok(!viaCdn.startsWith(origin), `a CDN URL, not the page's origin: ${viaCdn}`);
      const served = await fetch(viaCdn);
      assert.equal(served.status, 200, `the CDN serves ${viaCdn}`);
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), notes.buffer, "the CDN serves the file's bytes");
      const tampered = provider === "aliyun"
        ? viaCdn.replace(/-([0-9a-f])([0-9a-f]{31})$/, (_, c, rest) => `-${c === "0" ? "1" : "0"}${rest}`)
        : viaCdn.replace("Expires=", "Expires=1");
      assert.notEqual(tampered, viaCdn);
      assert.equal((await fetch(tampered)).status, 403, "a tampered CDN URL is refused");
      if (provider === "aws") {
        // The thumbnails' plain CDN URLs, which the CloudFront cookies of one answer cover.
        const src = await page.getAttribute(`${photoCard} img`, "src");
        assert.equal(new URL(src).origin, new URL(viaCdn).origin, `the thumbnail loads through the CDN: ${src}`);
        assert.equal(new URL(src).search, "", `a plain URL, signed by the cookies: ${src}`);
        assert.equal((await fetch(src)).status, 403, "without the cookies the CDN refuses it");
        const cookies = (await page.context().cookies(src)).map((c) => c.name).sort();
        assert.deepEqual(cookies, ["CloudFront-Key-Pair-Id", "CloudFront-Policy", "CloudFront-Signature"]);
      }

      // record-upload's records, one per upload (callbacks and events share a webhook id).
      await page.waitForFunction((n) => document.querySelectorAll("#records li.record").length >= n, uploads.length, { timeout: 30_000 });
      const records = await page.textContent("#records");
      for (const file of uploads) {
        const lines = await page.locator(`#records li.record[data-key="${PREFIX}${file.name}"]`).count();
        assert.equal(lines, 1, `${file.name}: one record line (a callback and an event of one upload share a webhook id): ${records}`);
      }
      if (provider === "aliyun") {
        // Uploads presign-url signed were recorded twice, by their pinned callback and by the bucket
        // event; ali-oss's, which carries no callback, by the event alone.
        const photoRecord = await page.textContent(`#records li.record[data-key="${PREFIX}${photo.name}"]`);
        assert.match(photoRecord, /oss-callback.*; oss-event|oss-event.*; oss-callback/, photoRecord);
        assert.match(photoRecord, /640×480/, "the callback carried OSS's image info");
      }
      assert.match(records, /by anonymous/);

      // The user's quota (`attachment`: 1000 files; bytes counted, not limited), from presign-url's {"usage": true}.
      // Alibaba's callbacks settled each upload presign-url signed (ali-oss's, recorded by the
      // event function that plays Function Compute, is not counted); on AWS nothing settles
      // here, and the grants stay reserved: the exact lengths of the PUT, the form's and the
      // multipart upload's maximum.
      await page.click("#refresh");
      await page.waitForSelector("#usage:not([hidden])", { timeout: 15_000 });
      const usage = await page.textContent("#usage");
      if (provider === "aliyun") {
        const settled = photo.buffer.length + notes.buffer.length + big.length;
        assert.match(usage, new RegExp(`^Quota: ${settled} bytes stored, 0 reserved; 3 of 1000 files`), usage);
      } else {
        const reserved = photo.buffer.length + 2 * 104857600;
        assert.match(usage, new RegExp(`^Quota: 0 bytes stored, ${reserved} reserved; 0 of 1000 files`), usage);
      }

      // Upload profiles: a profile photo (the `avatar` profile) gets a key presign-url chose; an
      // HTML page sent as a PNG is refused by record-upload, deleted from the store, and the page
      // says why in words. (On OSS the pinned callback refuses it to the uploader at once; on S3
      // the upload succeeds and the bucket event's check deletes it.)
      const avatarRow = '#transfers li[data-how="Profile photo"]';
      const face = { name: "face.png", mimeType: "image/png", buffer: png(64, 64) };
      await upload(page, "#avatar", face);
      await page.waitForSelector(`${avatarRow}[data-state]`, { timeout: 60_000 });
      assert.equal(await page.getAttribute(avatarRow, "data-state"), "done", await page.textContent(avatarRow));
      const faceKey = await page.getAttribute(avatarRow, "data-key");
      assert.match(faceKey, /^avatars\/anonymous\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.png$/);
      assert.deepEqual(stored(provider, faceKey), face.buffer, "the profile photo's bytes in the store");
      await page.waitForSelector(`#records li.record[data-key="${faceKey}"]`, { timeout: 30_000 });
      assert.match(await page.textContent(`#records li.record[data-key="${faceKey}"]`), /as avatar, by anonymous/);

      await page.evaluate(() => document.querySelector("#transfers").replaceChildren());
      const fake = { name: "fake.png", mimeType: "image/png", buffer: Buffer.from("<!DOCTYPE html><script>alert(document.domain)</script>") };
      await upload(page, "#avatar", fake);
      await page.waitForSelector(`${avatarRow}[data-state]`, { timeout: 60_000 });
      const fakeKey = await page.getAttribute(avatarRow, "data-key");
      assert.match(fakeKey, /^avatars\/anonymous\/[0-9a-f-]{36}\.png$/);
      const refusal = `#records li.record.rejected[data-key="${fakeKey}"]`;
      await page.waitForSelector(refusal, { timeout: 30_000 });
      const said = await page.textContent(refusal);
      assert.match(said, /refused as avatar, because its content is not what its type says/, said);
      assert.match(said, /deleted from the bucket/, said);
      const gone = await (async () => {
        for (let i = 0; i < 50; i += 1) {
          try { stored(provider, fakeKey); } catch (error) { if (error.code === "ENOENT") return true; throw error; }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        return false;
      })();
      assert.ok(gone, `${fakeKey}: deleted from the store`);

      // The credentials, masked.
      const [tokenAnswer] = await Promise.all([
        page.waitForResponse((response) => response.url() === `${origin}/${provider}/token`),
        page.click("#token"),
      ]);
      const vended = await tokenAnswer.json();
      await page.waitForSelector("#credentials dd");
      const shown = await page.textContent("#credentials");
      assert.ok(!shown.includes(vended.AccessKeySecret) && !shown.includes(vended.SecurityToken), "no secret on the page");
      assert.match(shown, /hidden \(\d+ characters\)/);

      mkdirSync(join(root, "target"), { recursive: true });
      await page.screenshot({ path: join(root, "target", `playground-${provider}.png`), fullPage: true });

      // Readable on a phone: nothing wider than the screen.
      await page.setViewportSize({ width: 375, height: 740 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
    } finally {
      await page.close();
    }
  });
}

test("the seeds' ali-oss page uploads to the stand-in OSS; IMM says it is not available here", { timeout: 120_000 }, async () => {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/aliyun/seed.html`);
    const bytes = randomBytes(40_000);
    await page.setInputFiles("#file", { name: "seed face.jpg", mimeType: "image/jpeg", buffer: bytes });
    await page.click("#upload");
    await page.waitForSelector("#oss-result.ok", { timeout: 30_000 });
    assert.deepEqual(stored("aliyun", `${PREFIX}seed face.jpg`), bytes, "the seed page's upload, in the stand-in's store");
    await page.click("#detect");
    await page.waitForSelector("#imm-result.err", { timeout: 30_000 });
    assert.match(await page.textContent("#imm-result"), /NotAvailableLocally/);
  } finally {
    await page.close();
  }
});
