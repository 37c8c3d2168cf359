// The local playground in a real browser: Debian's Chromium, driven by playwright-core, picks a
// file and uploads it through each path (presigned PUT, form POST) straight into s3s-fs; the
// test then reads both objects back from the store and compares bytes. A screenshot of the page
// after the uploads is kept at target/playground.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const python = process.env.STSVEND_PYTHON ?? join(root, ".venv", "bin", "python");

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

function startPlayground(port, data) {
  const child = spawn(python, [join(root, "scripts", "playground.py"), "--port", String(port), "--data", data], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(/open (http:\/\/\S+)\//);
      if (match) resolve(match[1]);
    });
    child.on("exit", (code) => reject(new Error(`playground exited ${code}: ${output}`)));
  });
  const stopped = new Promise((resolve) => child.on("exit", () => resolve(output)));
  return { child, ready, stopped };
}

test("a file uploaded from the page by each path lands in the store byte for byte", { timeout: 120_000 }, async () => {
  const data = mkdtempSync(join(tmpdir(), "stsvend-playground-"));
  const playground = startPlayground(await freePort(), data);
  const origin = await playground.ready;
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/`);
    const bytes = randomBytes(300_000);
    const name = "holiday photo+1 ünï.bin";
    await page.setInputFiles("#file", { name, mimeType: "application/octet-stream", buffer: bytes });

    await page.click("#put");
    await page.waitForSelector("#put-result.ok", { timeout: 30_000 });
    await page.click("#post");
    await page.waitForSelector("#post-result.ok", { timeout: 30_000 });
    // record-upload's records, delivered to the page's webhook, appear as they arrive.
    await page.waitForFunction(() => document.querySelectorAll("#records li.record").length >= 2, null, { timeout: 30_000 });
    const shown = await page.textContent("#records");
    for (const how of ["put", "post"]) assert.ok(shown.includes(`uploads/anonymous/${how}/${name}`), shown);
    assert.ok(shown.includes("by anonymous"), shown);
    await page.click("#token");
    await page.waitForFunction(() => document.querySelector("#token-result").textContent.includes("ASIA"));
    await page.screenshot({ path: join(root, "target", "playground.png"), fullPage: true });

    for (const how of ["put", "post"]) {
      const key = `uploads/anonymous/${how}/${name}`;
      // Read back through a presigned GET from the store...
      const get = await (await fetch(`${origin}/presign`, { method: "POST", body: JSON.stringify({ key }) })).json();
      assert.equal(get.StatusCode, 200, JSON.stringify(get));
      const answer = await fetch(get.URL);
      assert.equal(answer.status, 200, how);
      assert.deepEqual(Buffer.from(await answer.arrayBuffer()), bytes, `${how}: the bytes that came back`);
      // ...and as the file s3s-fs wrote.
      assert.deepEqual(readFileSync(join(data, "playground", key)), bytes, `${how}: the stored file`);
    }
  } finally {
    await browser.close();
    playground.child.kill("SIGTERM");
    const output = await playground.stopped;
    rmSync(data, { recursive: true, force: true });
    assert.match(output, /playground stopped/, "stops cleanly");
  }
});
