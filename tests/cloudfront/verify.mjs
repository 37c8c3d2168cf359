// presign-url's CloudFront URLs and cookies, checked with AWS's own signer,
// @aws-sdk/cloudfront-signer (and node:crypto for ECDSA, whose signatures are random).
// Reads the records of scripts/oracles/cloudfront.py verify on stdin; exits 1 on the first
// that disagrees. functions/presign-url/tests/it/cloudfront.rs runs it.

import { createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { getSignedCookies, getSignedUrl } from "@aws-sdk/cloudfront-signer";

const unsafe = (text) => Buffer.from(text.replace(/-/g, "+").replace(/_/g, "=").replace(/~/g, "/"), "base64");

function policyOf(resource, expires) {
  return JSON.stringify({ Statement: [{ Resource: resource, Condition: { DateLessThan: { "AWS:EpochTime": expires } } }] });
}

function checkSignature(privateKey, signature, message, hash) {
  const publicKey = createPublicKey(privateKey);
  const ok = verify(hash === "SHA256" ? "sha256" : "sha1", Buffer.from(message), publicKey, signature);
  if (!ok) throw new Error("the signature does not verify");
}

function check(record) {
  const privateKey = readFileSync(record.key_file, "utf8");
  const rsa = createPublicKey(privateKey).asymmetricKeyType === "rsa";
  const algorithm = record.hash === "SHA256" ? "SHA256" : undefined;
  const common = { keyPairId: record.key_pair_id, privateKey, algorithm };
  if (record.kind === "url") {
    const url = record.answer.URL;
    const policy = policyOf(record.url, record.expires);
    if (rsa) {
      const expected = getSignedUrl({ ...common, url: record.url, dateLessThan: new Date(record.expires * 1000).toISOString() });
      // The same URL and the same parameters; their order is each signer's own (CloudFront
      // reads them by name).
      const [ours, theirs] = [new URL(url), new URL(expected)];
      const sorted = (u) => JSON.stringify([...u.searchParams].sort());
      if (ours.origin + ours.pathname !== theirs.origin + theirs.pathname || sorted(ours) !== sorted(theirs)) {
        throw new Error(`${url}\n  @aws-sdk/cloudfront-signer: ${expected}`);
      }
      return;
    }
    const query = new URL(url).searchParams;
    checkSignature(privateKey, unsafe(query.get("Signature")), policy, record.hash);
    return;
  }
  const policy = policyOf(record.resource, record.expires);
  const cookies = record.answer.Cookies;
  if (unsafe(cookies["CloudFront-Policy"]).toString() !== policy) throw new Error(`policy ${cookies["CloudFront-Policy"]}`);
  if (rsa) {
    const expected = getSignedCookies({ ...common, policy });
    for (const [name, value] of Object.entries(expected)) {
      if (cookies[name] !== value) throw new Error(`${name}: ${cookies[name]} != ${value}`);
    }
    if (Object.keys(expected).length !== Object.keys(cookies).length) throw new Error(`cookies ${Object.keys(cookies)}`);
    return;
  }
  checkSignature(privateKey, unsafe(cookies["CloudFront-Signature"]), policy, record.hash);
}

const lines = readFileSync(0, "utf8").split("\n").filter((line) => line.trim());
for (const line of lines) {
  const record = JSON.parse(line);
  try {
    check(record);
  } catch (error) {
    console.error(`MISMATCH ${record.case}: ${error.message}`);
    process.exit(1);
  }
}
console.error(`${lines.length} CloudFront answers agree with @aws-sdk/cloudfront-signer`);
process.exit(lines.length ? 0 : 1);
