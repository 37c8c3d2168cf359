// The playground's Uppy page: @uppy/core, @uppy/dashboard and @uppy/aws-s3 6 from npm (bundled
// locally into vendor/uppy.mjs, no CDN), signing through presign-url with stsvend-uppy.js.
// The browser test (tests/uppy) drives this page; `window.uppy` is Uppy itself.
import { stsvendSignRequest } from "./stsvend-uppy.js";

const config = window.STSVEND;
const params = new URLSearchParams(location.search);
const MiB = 1024 * 1024;

document.getElementById("bucket").textContent = config.bucket;
if (config.notice) {
  document.getElementById("notice").textContent = config.notice;
  document.getElementById("notice").hidden = false;
}
document.getElementById("links").replaceChildren(...config.links.map((link) => {
  const a = document.createElement("a");
  a.href = link.href;
  a.textContent = link.label;
  return a;
}));

// `?uppy=5`: Uppy 5, whose @uppy/aws-s3 speaks Companion's protocol (`endpoint`).
const five = params.get("uppy") === "5";
if (five) document.getElementById("uppy-css").href = "vendor/uppy5.css";
let Uppy, Dashboard, AwsS3;
try {
  ({ Uppy, Dashboard, AwsS3 } = await import(five ? "./vendor/uppy5.mjs" : "./vendor/uppy.mjs"));
} catch {
  document.getElementById("missing").hidden = false;
  throw new Error("vendor/uppy.mjs is missing");
}

const profile = params.get("profile") ?? undefined;
const signRequest = stsvendSignRequest({
  presignUrl: config.presignUrl,
  profile,
  // The playground runs AUTH_MODE=none; a deployment sends the user's token here.
  headers: () => ({}),
  prefix: params.get("prefix") ?? (profile ? "" : config.prefix),
  form: params.get("form") === "1",
});

// `?companion=1`: Uppy's Companion protocol instead, which presign-url answers too (its path
// `…/presign[/PROFILE]/s3/…`).
// `?companionUrl=`: another Companion (the side-by-side test runs the real one).
const companionUrl = params.get("companionUrl")
  ?? (profile ? `${config.presignUrl}/${profile}` : config.presignUrl);
const signing = five ? { endpoint: companionUrl, headers: {} }
  : params.get("companion") === "1" ? { companionEndpoint: companionUrl }
  : { signRequest, generateObjectKey: signRequest.generateObjectKey };
const uppy = new Uppy({ id: "stsvend", autoProceed: false, debug: false })
  .use(Dashboard, { inline: true, target: "#uppy", height: 420, proudlyDisplayPoweredByUppy: false })
  .use(AwsS3, {
    ...signing,
    shouldUseMultipart: (file) => params.get("multipart") === "1" || file.size > 100 * MiB,
    getChunkSize: () => 5 * MiB,
  });

uppy.on("upload-success", (file, response) => {
  const li = document.createElement("li");
  li.dataset.key = response.body.key;
  li.textContent = `${file.name} → ${response.body.key}`;
  document.getElementById("done").append(li);
});
window.uppy = uppy;
document.body.dataset.ready = "true";
