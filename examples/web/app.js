// The upload page: a file goes from this browser straight into the bucket, four ways (a
// presigned PUT, a form POST, a resumable multipart upload signed in batches, and the official
// ali-oss SDK with issue-token's credentials), and the page shows the caller's own files, the
// records record-upload delivers, and the temporary credentials, masked.
//
// Settings come from config.js (window.STSVEND); every one has a default below. The page tells
// listeners what happens: `stsvend:progress` ({how, key, loaded, total}) while bytes go up and
// `stsvend:uploaded` ({how, key, size}) when the store has them, both on `document`.
"use strict";

const config = Object.assign({
  provider: "aliyun",          // "aliyun" (OSS) or "aws" (S3): what the store's answers look like
  tokenUrl: "/token",          // issue-token
  presignUrl: "/presign",      // presign-url
  recordsUrl: "",              // where the app lists record-upload's records ("" hides them)
  prefix: "uploads/anonymous/", // the caller's prefix (OBJECT_PREFIX, rendered for this caller)
  bucket: "",
  region: "oss-cn-hangzhou",   // ali-oss: the bucket's region
  ossOptions: {},              // more ali-oss options: {endpoint, secure, sldEnable, cname}
  partSize: 5 * 1024 * 1024,   // S3's smallest part but the last; OSS's is 100 KiB
  thumbnail: "image/resize,w_240,h_240,m_lfit", // OSS image processing for thumbnails
  cdn: false,                  // presign-url has CDN_DOMAIN: downloads through the CDN ("via":"cdn")
  cdnCookies: false,           // CloudFront: thumbnails by plain CDN URLs under signed cookies ("cookies":true)
  headers: {},                 // sent to the functions, e.g. {Authorization: "Bearer <ID token>"}
  notice: "",                  // a banner, e.g. that the store is a local stand-in
  links: [],                   // [{href, label, current}] other pages
  refreshSTSTokenInterval: 5 * 60 * 1000, // below TOKEN_DURATION_SECONDS (see the README)
}, window.STSVEND || {});

const $ = (id) => document.getElementById(id);
const element = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
};
const emit = (name, detail) => document.dispatchEvent(new CustomEvent(`stsvend:${name}`, { detail }));
const sizeText = (bytes) => {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes, unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
  if (unit === 0) return bytes === 1 ? "1 byte" : `${bytes} bytes`;
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
};
const typeOf = (file) => file.type || "application/octet-stream";
const keyFor = (file) => config.prefix + file.name;
// A name as it is, not as it pretends: invisible format characters (a bidi override makes
// "invoice\u202Egpj.exe" look like "invoiceexe.jpg") are shown as their code points.
// The joiners (U+200C, U+200D) stay: emoji sequences and Persian and Indic words need them.
const shown = (text) => text.replace(/(?![\u200C\u200D])[\p{Cf}\u180E]/gu,
  (c) => `<U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);
const nameOf = (key) => shown(key.startsWith(config.prefix) ? key.slice(config.prefix.length) : key);

// ---- Problems, in words ---------------------------------------------------------------------

// What a refusal means to the person at the keyboard, and what to do about it. The codes are
// stsvend's (JSON `ErrorCode`) and the stores' (XML `<Code>`, ali-oss's `error.code`).
const ADVICE = {
  KeyOutsidePrefix: ["That file would land outside your folder.", "Upload it under your own folder."],
  InvalidKey: ["This file name can't be used in the bucket.", "Rename the file (no control or invisible characters, no '.' or '..' folders) and try again."],
  InvalidField: ["The request held a value stsvend refuses.", "Rename the file or change its type, and try again."],
  MethodNotPermitted: ["This deployment doesn't allow this way of uploading.", "Try another way, or ask the app's owner."],
  ContentTypeNotAllowed: ["This type of file isn't accepted here.", "Check which file types the app takes."],
  ContentTypeRequired: ["The file's type is needed for this upload.", "Pick a file with a known type (an extension)."],
  Unauthorized: ["You are not signed in, or your session ended.", "Sign in again and retry."],
  MissingToken: ["You are not signed in, or your session ended.", "Sign in again and retry."],
  InvalidToken: ["You are not signed in, or your session ended.", "Sign in again and retry."],
  StsUnavailable: ["The credential service could not be reached.", "Wait a moment and try again."],
  SignatureDoesNotMatch: ["The store didn't accept the request's signature.", "The request changed after it was signed. Reload the page and try again."],
  AccessDenied: ["The store refused: the permission has expired or doesn't cover this file.", "Try again; if it keeps failing, the file is outside what you may write."],
  FileAlreadyExists: ["A file with this name is already there, and this bucket never replaces files.", "Rename the file and upload it again."],
  PreconditionFailed: ["A file with this name is already there, and this bucket never replaces files.", "Rename the file and upload it again."],
  EntityTooLarge: ["The file is larger than this bucket accepts.", "Upload a smaller file."],
  EntityTooSmall: ["A part was smaller than the store's minimum.", "Upload the file again from the start."],
  NoSuchUpload: ["That unfinished upload is gone: it was completed, cancelled or expired.", "Start the upload again."],
  InvalidPart: ["A part the store expected is missing or changed.", "Pick the same file again to resume, or start over."],
  InvalidAccessKeyId: ["The temporary credentials are not valid any more.", "Reload the page to get new ones."],
  SecurityTokenExpired: ["The temporary credentials have expired.", "Reload the page to get new ones."],
  InvalidSecurityToken: ["The temporary credentials are not valid any more.", "Reload the page to get new ones."],
  ExpiredToken: ["The temporary credentials have expired.", "Reload the page to get new ones."],
  RequestTimeTooSkewed: ["This device's clock is wrong.", "Set the right time and try again."],
  CallbackFailed: ["The file is stored, but the app was not told about it.", "It will be picked up later; upload again if it doesn't show."],
  UploadRejected: ["The file was refused: it is not what this kind of upload takes, and it was removed.", "Pick a file of the right kind and size, and try again."],
  NetworkError: ["The store or the API could not be reached.", "Check the connection and try again (for a bucket on another site, its CORS rule must allow this page)."],
  NotTheSameFile: ["That is not the file this upload started with.", "Pick the same file, unchanged (or discard the unfinished upload and start again)."],
  ListTruncated: ["The store holds more parts of this upload than the page can list.", "Discard the unfinished upload and start again."],
};

class Problem extends Error {
  constructor(code, status, detail) {
    super(`${code}${detail ? `: ${detail}` : ""}`);
    Object.assign(this, { code, status, detail });
  }

  render() {
    const [what, todo] = ADVICE[this.code] ?? (/expired/i.test(this.detail ?? "")
      ? ["The permission for this request has expired.", "Try again."]
      : ["Something went wrong.", "Try again; if it keeps failing, tell the app's owner the code below."]);
    return element("div", { class: "problem", role: "alert" }, element("b", {}, what), `${todo} `,
      element("small", { class: "code" }, `(${this.code}${this.status ? `, HTTP ${this.status}` : ""}${this.detail ? `: ${this.detail}` : ""})`));
  }
}
class Paused extends Error {}

// A store's XML error (OSS and S3 share the shape), or the status alone (a HEAD has no body).
function storeProblem(answer) {
  const xml = new DOMParser().parseFromString(answer.text || "<none/>", "application/xml");
  const text = (name) => xml.querySelector(`Error > ${name}`)?.textContent;
  return new Problem(text("Code") || `HTTP${answer.status}`, answer.status, text("Message") || "");
}
const xmlText = (text, name) => new DOMParser().parseFromString(text, "application/xml").querySelector(name)?.textContent;

// ---- The functions and the store --------------------------------------------------------------

async function callFunction(url, init = {}) {
  let answer;
  try {
    answer = await fetch(url, { ...init, headers: { ...config.headers, ...(init.headers || {}) } });
  } catch {
    throw new Problem("NetworkError", 0, `could not reach ${url}`);
  }
  const json = await answer.json().catch(() => ({}));
  if (json.StatusCode !== 200) throw new Problem(json.ErrorCode || `HTTP${answer.status}`, answer.status, json.ErrorMessage || "");
  return json;
}
const presign = (ask) => callFunction(config.presignUrl, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(ask),
});

// One request to the store with XMLHttpRequest, which reports upload progress (fetch doesn't).
function send({ method, url, headers = {}, body = null, onProgress, signal }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total);
    xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, header: (name) => xhr.getResponseHeader(name) });
    xhr.onerror = () => reject(new Problem("NetworkError", 0, `could not reach ${new URL(url, location.href).host}`));
    xhr.onabort = () => reject(new Paused("paused"));
    if (signal) {
      if (signal.aborted) return reject(new Paused("paused"));
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}
const sendSigned = (signed, extra = {}) => send({ method: signed.Method, url: signed.URL, headers: signed.Headers || {}, ...extra });

// What the store answered a finished upload: OSS relays record-upload's answer to a pinned
// callback as JSON; S3 may answer a completion 200 with an <Error> inside.
function finished(answer) {
  if (answer.status === 203) {
    // OSS relays what record-upload answered its callback; a profile's refusal names itself.
    const message = xmlText(answer.text, "Message") || "";
    throw new Problem(/UploadRejected/.test(message) ? "UploadRejected" : "CallbackFailed", 203, message);
  }
  if (answer.status < 200 || answer.status > 299 || /<Error>/.test(answer.text.slice(0, 200))) throw storeProblem(answer);
  try { return JSON.parse(answer.text); } catch { return null; }
}

// ---- One transfer on the page -------------------------------------------------------------------

class Transfer {
  constructor(how, key, total) {
    Object.assign(this, { how, key, total, loaded: 0 });
    this.bar = element("progress", { max: String(Math.max(total, 1)), value: "0", "aria-label": `${shown(key)}: ${how}` });
    this.numbers = element("span", { class: "numbers" });
    this.status = element("div", { class: "status", role: "status" }); // announced: done, paused, failed
    this.controls = element("span", { class: "controls" });
    this.node = element("li", { class: "transfer", "data-how": how, "data-key": key },
      element("div", { class: "what" }, element("span", { class: "name" }, nameOf(key)), element("span", { class: "how" }, how)),
      this.bar, element("div", { class: "what" }, this.numbers, this.controls), this.status);
    $("transfers").prepend(this.node);
    this.progress(0);
  }

  progress(loaded) {
    this.loaded = Math.min(loaded, this.total);
    const percent = this.total ? Math.floor((this.loaded / this.total) * 100) : 100;
    this.bar.value = this.loaded;
    this.numbers.textContent = `${sizeText(this.loaded)} of ${sizeText(this.total)} (${percent}%)`;
    emit("progress", { how: this.how, key: this.key, loaded: this.loaded, total: this.total });
  }

  done(answer) {
    this.progress(this.total);
    this.node.dataset.state = "done";
    this.controls.replaceChildren();
    const recorded = answer && answer.Uploader ? ` Recorded for ${answer.Uploader.sub ?? "you"}${answer.App?.fileId ? ` as ${answer.App.fileId}` : ""}.` : "";
    this.status.replaceChildren(element("span", { class: "ok" }, `Uploaded.${recorded}`));
    emit("uploaded", { how: this.how, key: this.key, size: this.total });
    refreshFiles();
  }

  failed(error) {
    if (error instanceof Paused) return this.pausedState();
    this.node.dataset.state = "failed";
    this.controls.replaceChildren();
    const problem = error instanceof Problem ? error : new Problem(error?.code || error?.name || "Error", error?.status || 0, error?.message || String(error));
    this.status.replaceChildren(problem.render());
  }

  pausedState() {
    this.node.dataset.state = "paused";
    this.status.replaceChildren("Paused. Resume here, or later, even after closing the page.");
  }

  buttons(...buttons) { this.controls.replaceChildren(...buttons); }
}

function chosenFile() {
  const file = $("file").files[0];
  if (!file) $("file").focus();
  return file;
}

// ---- Presigned PUT and form POST ---------------------------------------------------------------

async function putUpload(file) {
  const transfer = new Transfer("Presigned PUT", keyFor(file), file.size);
  try {
    // On S3 the exact length is signed: the store holds the upload to it, and a quota reserves it.
    const signed = await presign({ key: transfer.key, method: "PUT", contentType: typeOf(file),
      ...(config.provider === "aws" ? { contentLength: file.size } : {}) });
    const answer = await sendSigned(signed, { body: file, onProgress: (n) => transfer.progress(n) });
    transfer.done(finished(answer));
  } catch (error) { transfer.failed(error); }
}

async function postUpload(file) {
  const transfer = new Transfer("Form POST", keyFor(file), file.size);
  try {
    const signed = await presign({ key: transfer.key, method: "POST", contentType: typeOf(file) });
    const form = new FormData();
    for (const [name, value] of Object.entries(signed.Fields)) form.append(name, value);
    form.append("file", file); // the file goes last
    // The form's fields and boundaries are sent too, before the file: they are not counted.
    const answer = await send({ method: "POST", url: signed.URL, body: form,
      onProgress: (sent, total) => transfer.progress(Math.max(0, sent - (total - file.size))) });
    transfer.done(finished(answer));
  } catch (error) { transfer.failed(error); }
}

// A profile photo: the `avatar` profile of the playground's profiles file. presign-url chooses
// the key (the answer's `Key`) from the file's name; the store holds the size to the profile's
// bounds where it can (an S3 PUT signs its `Content-Length`), and record-upload checks the rest
// afterwards (the type the content really is), deleting what breaks the profile's rules.
async function avatarUpload(file) {
  let transfer;
  try {
    const signed = await presign({ profile: "avatar", filename: file.name, method: "PUT", contentType: typeOf(file),
      ...(config.provider === "aws" ? { contentLength: file.size } : {}) });
    transfer = new Transfer("Profile photo", signed.Key, file.size);
    const answer = await sendSigned(signed, { body: file, onProgress: (n) => transfer.progress(n) });
    transfer.done(finished(answer));
  } catch (error) { (transfer ?? new Transfer("Profile photo", `avatars/…/${file.name}`, file.size)).failed(error); }
}

// ---- Resumable multipart, parts signed in batches -----------------------------------------------

// Unfinished uploads are kept in localStorage, so an upload resumes after a reload or a crash:
// presign-url keeps no state, the store has the parts, and the uploadId names them.
const unfinished = {
  slot: `stsvend:unfinished:${config.provider}:${config.bucket}:${config.prefix}`,
  all() { try { return JSON.parse(localStorage.getItem(this.slot) || "[]"); } catch { return []; } },
  save(state) { localStorage.setItem(this.slot, JSON.stringify([...this.all().filter((s) => s.uploadId !== state.uploadId), state])); showUnfinished(); },
  drop(state) { localStorage.setItem(this.slot, JSON.stringify(this.all().filter((s) => s.uploadId !== state.uploadId))); showUnfinished(); },
};

async function startMultipart(file) {
  const key = keyFor(file);
  const transfer = new Transfer("Resumable (multipart)", key, file.size);
  try {
    const initiate = await presign({ key, multipart: "initiate", contentType: typeOf(file) });
    const answer = await sendSigned(initiate);
    if (answer.status !== 200) throw storeProblem(answer);
    // At most 1,000 parts, so that one ListParts page names them all when the upload resumes.
    const partSize = Math.max(config.partSize, Math.ceil(file.size / 1000));
    const state = { key, uploadId: xmlText(answer.text, "UploadId"), name: file.name, size: file.size, partSize,
      started: new Date().toISOString(), etags: {}, digests: {} };
    unfinished.save(state);
    await runMultipart(file, state, transfer);
  } catch (error) { transfer.failed(error); }
}

// SHA-256 of a part, kept with the upload, so that a resumed upload proves each part the store
// holds came from the file picked now (null where WebCrypto is missing: the part is sent again).
async function digest(blob) {
  if (!crypto.subtle) return null;
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The parts the store holds that came from this file (checked against the digests kept when
// they were sent); the others are sent (again). A held part that differs means another file.
async function partsToSend(file, state, held, slice) {
  const count = Math.max(1, Math.ceil(state.size / state.partSize));
  const missing = [];
  let done = 0;
  for (let n = 1; n <= count; n += 1) {
    const part = held.get(n);
    const kept = state.digests?.[n];
    if (!part || part.size !== slice(n).size || !kept) { missing.push(n); continue; }
    if (await digest(slice(n)) !== kept) throw new Problem("NotTheSameFile", 0, `part ${n} of ${file.name} is not the part uploaded before`);
    done += part.size;
  }
  return { missing, done };
}

// Uploads the parts the store does not have yet, then completes. Pausing aborts the part in
// flight; resuming (here, or after a reload) asks the store which parts it holds.
async function runMultipart(file, state, transfer) {
  const controller = new AbortController();
  transfer.buttons(element("button", { class: "small pause", onclick: () => controller.abort() }, "Pause"));
  try {
    const slice = (n) => file.slice((n - 1) * state.partSize, Math.min(n * state.partSize, state.size));
    const held = await partsHeld(state);
    let { missing, done } = await partsToSend(file, state, held, slice);
    state.etags = Object.fromEntries([...held].map(([n, part]) => [n, part.etag]));
    state.digests = Object.fromEntries(Object.entries(state.digests || {}).filter(([n]) => !missing.includes(Number(n))));
    transfer.progress(done);
    for (let i = 0; i < missing.length; i += 1000) {
      const batch = await presign({ key: state.key, method: "PUT", uploadId: state.uploadId, partNumbers: missing.slice(i, i + 1000) });
      for (const part of batch.Parts) {
        const body = slice(part.PartNumber);
        const sum = await digest(body);
        const answer = await send({ method: "PUT", url: part.URL, headers: part.Headers, body, signal: controller.signal,
          onProgress: (n) => transfer.progress(done + n) });
        if (answer.status !== 200) throw storeProblem(answer);
        state.etags[part.PartNumber] = answer.header("ETag"); // S3-compatible stores may list parts without one
        state.digests[part.PartNumber] = sum;
        unfinished.save(state);
        done += body.size;
        transfer.progress(done);
      }
    }
    transfer.done(await completeMultipart(state));
    unfinished.drop(state);
  } catch (error) {
    transfer.failed(error);
    if (error instanceof Paused) {
      transfer.buttons(element("button", { class: "small resume", onclick: () => runMultipart(file, state, transfer) }, "Resume"));
    }
  }
}

// The parts the store already has: number -> {etag, size} (ListParts, one page of up to 1,000).
// A part's ETag is the store's, or the one this page kept when it sent the part (some
// S3-compatible stores list parts without ETags); a part with neither is sent again.
async function partsHeld(state) {
  const list = await presign({ key: state.key, multipart: "list", uploadId: state.uploadId });
  const answer = await sendSigned(list);
  if (answer.status !== 200) throw storeProblem(answer);
  const xml = new DOMParser().parseFromString(answer.text, "application/xml");
  if (xml.querySelector("IsTruncated")?.textContent === "true") throw new Problem("ListTruncated", 0, state.uploadId);
  const held = new Map();
  for (const part of xml.querySelectorAll("Part")) {
    const n = Number(part.querySelector("PartNumber")?.textContent);
    const etag = part.querySelector("ETag")?.textContent || state.etags?.[n];
    if (n && etag) held.set(n, { etag, size: Number(part.querySelector("Size")?.textContent) });
  }
  return held;
}

// Completes with the ETag of every part: the store's (listed when the upload (re)started) or
// the one each part's upload answered.
async function completeMultipart(state) {
  const parts = Object.entries(state.etags).map(([n, etag]) => [Number(n), etag]).sort((a, b) => a[0] - b[0])
    .map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</ETag></Part>`).join("");
  const complete = await presign({ key: state.key, multipart: "complete", uploadId: state.uploadId });
  // A Blob without a type: no Content-Type is sent, as the signed completion expects.
  return finished(await sendSigned(complete, { body: new Blob([`<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`]) }));
}

function showUnfinished() {
  const states = unfinished.all();
  $("unfinished-box").hidden = states.length === 0;
  $("unfinished").replaceChildren(...states.map((state) => {
    const picker = element("input", { type: "file", "aria-label": `Pick ${state.name} again` });
    picker.addEventListener("change", () => {
      const file = picker.files[0];
      if (!file) return;
      const transfer = new Transfer("Resumable (multipart)", state.key, state.size);
      if (file.size !== state.size) {
        return transfer.failed(new Problem("NotTheSameFile", 0, `${file.name}, ${sizeText(file.size)}`));
      }
      runMultipart(file, state, transfer);
    });
    const discard = element("button", { class: "small", onclick: () => abortMultipart(state) }, "Discard");
    return element("li", { "data-upload-id": state.uploadId },
      element("div", {}, element("b", {}, state.name), ` (${sizeText(state.size)}), started ${new Date(state.started).toLocaleString()}`),
      element("label", {}, "Resume with: ", picker), " ", discard);
  }));
}

async function abortMultipart(state) {
  try {
    const abort = await presign({ key: state.key, multipart: "abort", uploadId: state.uploadId });
    const answer = await sendSigned(abort);
    if (answer.status !== 204 && answer.status !== 404) throw storeProblem(answer);
  } catch { /* the store lets an abandoned upload expire (a lifecycle rule) */ }
  unfinished.drop(state);
}

// ---- ali-oss with issue-token's credentials -----------------------------------------------------

let credentials = null;
async function fetchToken() {
  credentials = await callFunction(config.tokenUrl);
  showCredentials(credentials);
  return credentials; // ali-oss reads AccessKeyId, AccessKeySecret and SecurityToken as they are
}

let ossClient = null;
async function aliOss() {
  if (ossClient) return ossClient;
  const first = await fetchToken();
  ossClient = new window.OSS({
    region: config.region, bucket: config.bucket, secure: true, authorizationV4: true,
    accessKeyId: first.AccessKeyId, accessKeySecret: first.AccessKeySecret, stsToken: first.SecurityToken,
    refreshSTSToken: fetchToken, refreshSTSTokenInterval: config.refreshSTSTokenInterval,
    ...config.ossOptions,
  });
  return ossClient;
}

async function aliOssUpload(file) {
  const transfer = new Transfer("ali-oss with STS", keyFor(file), file.size);
  try {
    const client = await aliOss();
    await client.multipartUpload(transfer.key, file, {
      partSize: Math.max(config.partSize, 100 * 1024), mime: typeOf(file),
      progress: (fraction) => transfer.progress(Math.round(fraction * file.size)),
    });
    transfer.done(null);
  } catch (error) { transfer.failed(error); } // ali-oss's errors carry `code` and `status`, as Transfer reads them
}

// ---- My files ---------------------------------------------------------------------------------

const IMAGE = /\.(jpe?g|png|gif|webp|bmp)$/i;
let listing = null;
function refreshFiles() {
  listing = listing || Promise.all([showFiles(), showUsage()]).finally(() => { listing = null; });
  return listing;
}

async function showFiles() {
  try {
    const signed = await presign({ list: true, maxKeys: 100 });
    const answer = await sendSigned(signed);
    if (answer.status !== 200) throw storeProblem(answer);
    const xml = new DOMParser().parseFromString(answer.text, "application/xml");
    const files = [...xml.querySelectorAll("Contents")].map((item) => ({
      key: item.querySelector("Key").textContent,
      size: Number(item.querySelector("Size").textContent),
      modified: new Date(item.querySelector("LastModified").textContent),
    })).sort((a, b) => b.modified - a.modified);
    const cards = await Promise.all(files.map(fileCard));
    $("files").replaceChildren(...cards);
    $("files-status").replaceChildren(files.length ? `${files.length} file${files.length === 1 ? "" : "s"} in your folder${xmlText(answer.text, "IsTruncated") === "true" ? " (the newest 100 shown)" : ""}.` : "No file in your folder yet.");
  } catch (error) {
    const problem = error instanceof Problem ? error : new Problem("Error", 0, String(error));
    $("files-status").replaceChildren(problem.render());
  }
}

// The user's quota (presign-url's {"usage": true}): hidden when the profile has none.
async function showUsage() {
  try {
    const usage = await presign({ usage: true });
    const bytes = usage.QuotaBytes ? ` of ${usage.QuotaBytes}` : "";
    const files = usage.QuotaFiles ? ` of ${usage.QuotaFiles}` : "";
    const share = usage.QuotaBytes ? ` (${Math.floor((100 * (usage.UsedBytes + usage.ReservedBytes)) / usage.QuotaBytes)} % used)` : "";
    $("usage").textContent = `Quota: ${usage.UsedBytes}${bytes} bytes stored, ${usage.ReservedBytes} reserved; ${usage.Files}${files} files${share}.`;
    $("usage").hidden = false;
  } catch (error) {
    $("usage").hidden = !(error instanceof Problem) || error.code === "NoQuota";
    if (!$("usage").hidden) $("usage").replaceChildren(error.render());
  }
}

// CloudFront signed cookies for the caller's whole prefix: one answer, then every file under it
// loads by its plain CDN URL. Here the page sets them itself (cookies name a host, not a port, so
// the local CDN on another port of 127.0.0.1 receives them); an app on its own domain sets them
// from its server for the CDN's domain. Asked again a minute before they expire.
let cdnCookies = null;
async function cookieResource() {
  if (cdnCookies && cdnCookies.expires - 60_000 > Date.now()) return cdnCookies.resource;
  const answer = await presign({ cookies: true });
  for (const [name, value] of Object.entries(answer.Cookies)) {
    document.cookie = `${name}=${value}; path=/; SameSite=Lax`;
  }
  cdnCookies = { resource: answer.Resource, expires: Date.parse(answer.Expiration) };
  return cdnCookies.resource;
}

// The plain CDN URL of `key` under the cookies' resource (`https://cdn/<prefix>*`), each path
// segment encoded.
async function cookieUrl(key) {
  const resource = await cookieResource();
  const rest = key.slice(config.prefix.length).split("/").map(encodeURIComponent).join("/");
  return { URL: resource.slice(0, -1) + rest };
}

// A file's card: a thumbnail (resized by OSS; on S3 the image itself, through the CDN when
// there is one, under signed cookies with CloudFront), its type from a HEAD, a download link, and
// with a CDN a "View via CDN" link. Each is a signed URL of its own.
async function fileCard(file) {
  const name = nameOf(file.key);
  const resized = config.provider === "aliyun";
  const thumbAsk = resized ? { process: config.thumbnail } : config.cdn ? { via: "cdn" } : {};
  const thumbnail = () => (config.cdnCookies && !resized && file.key.startsWith(config.prefix)
    ? cookieUrl(file.key) : presign({ key: file.key, ...thumbAsk }));
  const [download, head, thumb, viaCdn] = await Promise.all([
    presign({ key: file.key, responseContentDisposition: "attachment" }).catch(() => null),
    presign({ key: file.key, method: "HEAD" }).then(sendSigned).catch(() => null),
    IMAGE.test(name) ? thumbnail().catch(() => null) : null,
    config.cdn ? presign({ key: file.key, via: "cdn" }).catch(() => null) : null,
  ]);
  const type = head && head.status === 200 ? head.header("Content-Type") : "";
  const picture = thumb ? element("img", { src: thumb.URL, alt: name, loading: "lazy" }) : (type.split("/")[1] || "file").slice(0, 12);
  return element("li", { "data-key": file.key },
    element("div", { class: "thumb" }, picture),
    element("span", { class: "name" }, name),
    element("span", { class: "meta" }, `${sizeText(file.size)}${type ? `, ${type}` : ""}`),
    element("time", { class: "meta", datetime: file.modified.toISOString() }, file.modified.toLocaleString()),
    download ? element("a", { href: download.URL, download: name.split("/").pop() }, "Download")
      : element("span", { class: "meta" }, "no download link: stsvend refuses this name"),
    viaCdn ? element("a", { class: "cdn", href: viaCdn.URL, target: "_blank", rel: "noopener" }, "View via CDN") : null);
}

// ---- Records and credentials ------------------------------------------------------------------

// One line per upload: a callback and a bucket event of the same upload share a webhook id
// (record-upload derives it from the bucket, key and ETag), so they make one line, with what
// each source told (a callback names the type and image size; an event does not).
const shownRecords = new Map(); // webhook id -> {record, sources, line}
let recordsSeen = 0;
async function pollRecords() {
  const answer = await fetch(config.recordsUrl).catch(() => null);
  if (!answer || !answer.ok) return;
  const records = (await answer.json()).reverse(); // oldest first
  for (const record of records.slice(recordsSeen)) {
    let shown = shownRecords.get(record.webhookId);
    if (!shown) {
      shown = { record: {}, sources: [], line: element("li", { class: "record", "data-key": record.key }) };
      shownRecords.set(record.webhookId, shown);
      $("records").querySelector(".empty")?.remove();
      $("records").prepend(shown.line);
    }
    for (const [name, value] of Object.entries(record)) if (value !== undefined && value !== null) shown.record[name] = value;
    shown.sources.push(`${record.source} at ${record.time}`);
    renderRecord(shown);
  }
  recordsSeen = records.length;
}

// Why record-upload refused an upload, in words (its `upload.rejected` reasons).
const REJECTED = {
  TooLarge: "it is larger than this kind of upload takes",
  TooSmall: "it is smaller than this kind of upload takes",
  ContentTypeNotAllowed: "its type is not one this kind of upload takes",
  ContentNotOfType: "its content is not what its type says",
  MetadataMissing: "it lacks the uploader's stamp",
  KeyNotOfProfile: "its name is not one presign-url chose",
  NoProfile: "it is outside every kind of upload",
  InvalidKey: "its name is one presign-url would never sign",
};

function renderRecord({ record, sources, line }) {
  if (record.reason) {
    const done = record.action === "deleted" ? "It was deleted from the bucket." : "It was left in the bucket and reported.";
    line.className = "record rejected";
    line.replaceChildren(element("code", {}, nameOf(record.key)), ` ${sizeText(record.size)}${record.contentType ? `, sent as ${record.contentType}` : ""}: `,
      element("b", {}, `refused${record.profile ? ` as ${record.profile}` : ""}, because ${REJECTED[record.reason] ?? record.reason}.`),
      ` ${done}`, element("div", { class: "meta" }, `${record.reason}${record.detectedType ? ` (the content is ${record.detectedType})` : ""}: ${record.detail ?? ""}; ${record.webhookId}: ${sources.join("; ")}`));
    return;
  }
  const image = record.image ? `, ${record.image.width}×${record.image.height}` : "";
  line.replaceChildren(element("code", {}, nameOf(record.key)),
    ` ${sizeText(record.size)}${record.contentType ? `, ${record.contentType}` : ""}${image}${record.profile ? `, as ${record.profile}` : ""}, by `,
    element("b", {}, record.uploader?.sub ?? "?"),
    element("div", { class: "meta" }, `${record.webhookId}: ${sources.join("; ")}`));
}

const mask = (value) => value.length > 12 ? `${value.slice(0, 6)}…${value.slice(-4)}` : "…";
function showCredentials(answer) {
  const rows = [["Access key id", mask(answer.AccessKeyId || "")]];
  for (const [name, value] of Object.entries(answer)) {
    if (/secret|token/i.test(name) && typeof value === "string") rows.push([name, `hidden (${value.length} characters)`]);
  }
  const expires = new Date(answer.Expiration);
  rows.push(["Expires", `${expires.toLocaleTimeString()} (in ${Math.round((expires - Date.now()) / 60000)} min)`]);
  $("credentials").replaceChildren(...rows.flatMap(([name, value]) => [element("dt", {}, name), element("dd", {}, value)]));
}

// ---- Wiring ------------------------------------------------------------------------------------

function start() {
  if (config.bucket) $("bucket").textContent = config.bucket;
  if (config.notice) { $("notice").textContent = config.notice; $("notice").hidden = false; }
  $("links").replaceChildren(...config.links.map((link) => element("a", { href: link.href, ...(link.current ? { "aria-current": "page" } : {}) }, link.label)));
  $("alioss").hidden = !(config.provider === "aliyun" && window.OSS);
  const withFile = (upload) => () => { const file = chosenFile(); if (file) upload(file); };
  $("put").addEventListener("click", withFile(putUpload));
  $("post").addEventListener("click", withFile(postUpload));
  $("avatar").addEventListener("click", withFile(avatarUpload));
  $("multipart").addEventListener("click", withFile(startMultipart));
  $("alioss").addEventListener("click", withFile(aliOssUpload));
  $("refresh").addEventListener("click", refreshFiles);
  $("token").addEventListener("click", () => fetchToken().catch((error) => $("credentials").replaceChildren(error.render ? error.render() : String(error))));
  showUnfinished();
  refreshFiles();
  if (config.recordsUrl) { pollRecords(); setInterval(pollRecords, 1000); } else $("records-title").parentElement.hidden = true;
}
start();
