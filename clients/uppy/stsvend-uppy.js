// stsvend for Uppy: `@uppy/aws-s3` 6.x's `signRequest`, answered by stsvend's presign-url.
//
// No dependencies, no build step: an ES module a page imports as it is. Works with OSS (V4 and
// V1 URLs) and S3 alike, since presign-url signs for whichever store it is deployed for.
//
//   import Uppy from "@uppy/core";
//   import AwsS3 from "@uppy/aws-s3";
//   import { stsvendSignRequest } from "./stsvend-uppy.js";
//
//   const signRequest = stsvendSignRequest({
//     presignUrl: "https://api.example.com/presign",
//     headers: () => ({ Authorization: `Bearer ${idToken}` }),
//     prefix: `uploads/${userId}/`,          // the caller's prefix (not for server-chosen keys)
//   });
//   new Uppy().use(AwsS3, { signRequest, generateObjectKey: signRequest.generateObjectKey });
//
// What each request Uppy signs becomes (see README.md beside this file):
//
// | Uppy asks (`method`, with)      | S3 operation            | presign-url request                      |
// |---------------------------------|-------------------------|------------------------------------------|
// | `PUT` key, contentType          | PutObject               | `method: "PUT"` (`"POST"`, a form, with `form: true`) |
// | `POST` key                      | CreateMultipartUpload   | `multipart: "initiate"`, `contentType` the file's |
// | `PUT` key, uploadId, partNumber | UploadPart              | `method: "PUT"`, `uploadId`, `partNumber` |
// | `GET` key, uploadId             | ListParts               | `multipart: "list"`                      |
// | `POST` key, uploadId            | CompleteMultipartUpload | `multipart: "complete"`, `contentType: "application/xml"` |
// | `DELETE` key, uploadId          | AbortMultipartUpload    | `multipart: "abort"`                     |
// | `DELETE` key                    | DeleteObject            | `method: "DELETE"`                       |
//
// Every header presign-url pins (create-only, the uploader's metadata, tags, encryption,
// Content-Disposition, the type) comes back in `headers`, which Uppy (6.2 and later) sends, so
// the store enforces the deployment's rules on what Uppy uploads.

/** The media type Uppy sends when a file has none (`@uppy/aws-s3`'s `DEFAULT_STREAM_CONTENT_TYPE`). */
const DEFAULT_TYPE = "application/octet-stream";
/** The type Uppy sends with a completion's XML body (`@uppy/aws-s3`'s `XML_CONTENT_TYPE`). */
const XML_TYPE = "application/xml";

/** A refusal from presign-url: its `ErrorCode` as `code`, its HTTP status as `status`. */
export class StsvendError extends Error {
  constructor(status, code, message) {
    super(`stsvend presign-url: ${code}: ${message}`);
    this.name = "StsvendError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Uppy 6's `signRequest`, answered by presign-url.
 *
 * @param {object} options
 * @param {string} options.presignUrl presign-url's address.
 * @param {string} [options.profile] the upload profile (`PROFILES_FILE`); none for the default.
 * @param {object|function} [options.headers] headers for presign-url (`Authorization`), or a
 *   function returning them (or a promise of them), called for each request.
 * @param {string} [options.prefix] what `generateObjectKey` puts before each key: the caller's
 *   prefix (`uploads/${userId}/`) when the profile lets the client name keys.
 * @param {boolean} [options.form] small files as a browser form (POST policy) instead of a PUT.
 * @param {boolean} [options.serverKey] whether the profile chooses keys (a profile with `key`);
 *   unset: learnt from presign-url's first `KeyChosenByServer` answer.
 * @param {typeof fetch} [options.fetch] the fetch to call presign-url with.
 * @returns {function} the `signRequest` function, with `generateObjectKey` beside it.
 */
export function stsvendSignRequest({
  presignUrl,
  profile,
  headers,
  prefix = "",
  form = false,
  serverKey,
  fetch: fetchImpl = globalThis.fetch.bind(globalThis),
} = {}) {
  if (typeof presignUrl !== "string" || presignUrl === "") {
    throw new TypeError("stsvendSignRequest: presignUrl is required");
  }
  // What `generateObjectKey` saw of each file, by the key it made: the type Uppy will send on
  // CreateMultipartUpload (which Uppy does not pass to signRequest) and the file's own name (a
  // server-chosen key is made from it).
  const files = new Map();
  let chooses = serverKey;
  let sizes = false;

  async function ask(body) {
    const extra = typeof headers === "function" ? await headers() : headers;
    const response = await fetchImpl(presignUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(extra ?? {}) },
      body: JSON.stringify(profile === undefined ? body : { profile, ...body }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok || answer.StatusCode !== 200) {
      throw new StsvendError(
        response.status,
        answer.ErrorCode ?? "Unknown",
        answer.ErrorMessage ?? `HTTP ${response.status}`,
      );
    }
    return answer;
  }

  /**
   * The first request of an upload: it names the key, or, where the profile chooses it, the
   * file; and, for an S3 PUT where the deployment bounds sizes, the file's size.
   */
  async function create(body, key) {
    const file = files.get(key);
    const sized = sizes && body.method === "PUT" && file ? { contentLength: file.size } : {};
    const named = { ...body, ...sized, ...(chooses ? { filename: file?.name ?? lastSegment(key) } : { key }) };
    try {
      const answer = await ask(named);
      chooses ??= false;
      return answer;
    } catch (error) {
      if (!(error instanceof StsvendError)) throw error;
      // Learnt once from presign-url's answer: the profile names keys itself, or S3 PUTs must
      // sign their size (`SizeRequired`, a profile with min_bytes or max_bytes).
      if (error.code === "KeyChosenByServer" && chooses === undefined) chooses = true;
      else if (error.code === "SizeRequired" && !sizes && file?.size !== undefined) sizes = true;
      else throw error;
      return create(body, key);
    }
  }

  async function signRequest(request) {
    const { method, key, uploadId, partNumber, contentType, expiresIn } = request;
    const expires = expiresIn === undefined ? {} : { expires: expiresIn };
    if (uploadId === undefined) {
      if (method === "PUT") {
        const type = contentType ?? files.get(key)?.type ?? DEFAULT_TYPE;
        const answer = await create({ method: form ? "POST" : "PUT", contentType: type, ...expires }, key);
        return form ? { url: answer.URL, fields: answer.Fields } : urlAnswer(answer);
      }
      if (method === "POST") {
        // Uppy sends the file's type on CreateMultipartUpload; OSS signs it, so it must be
        // signed as sent, and the answer's Content-Type is what Uppy then sends.
        const type = files.get(key)?.type ?? DEFAULT_TYPE;
        return urlAnswer(await create({ multipart: "initiate", contentType: type, ...expires }, key));
      }
      if (method === "DELETE") return urlAnswer(await ask({ method: "DELETE", key, ...expires }));
    } else {
      if (method === "PUT" && partNumber !== undefined) {
        return urlAnswer(await ask({ method: "PUT", key, uploadId, partNumber, ...expires }));
      }
      const step = { GET: "list", POST: "complete", DELETE: "abort" }[method];
      if (step === "complete") {
        return urlAnswer(await ask({ multipart: step, key, uploadId, contentType: XML_TYPE, ...expires }));
      }
      if (step) return urlAnswer(await ask({ multipart: step, key, uploadId, ...expires }));
    }
    throw new TypeError(`stsvendSignRequest: no presign-url request for ${method} ${uploadId ? "with" : "without"} uploadId`);
  }

  /**
   * `@uppy/aws-s3`'s `generateObjectKey`: `prefix` + a random id + the file's name (where the
   * profile chooses keys, presign-url is sent the file's name instead). It also remembers the
   * file's type for CreateMultipartUpload.
   */
  signRequest.generateObjectKey = (file) => {
    const name = String(file.name ?? "file").replaceAll("/", "_");
    const key = `${prefix}${crypto.randomUUID()}-${name}`;
    files.set(key, { type: file.type || DEFAULT_TYPE, name, size: file.size ?? file.data?.size });
    return key;
  };
  return signRequest;
}

/**
 * Uppy's `PresignedResponse` for presign-url's URL answer. A signed `Content-Length` is left
 * out: a browser refuses to set it, and sends the body's own length, which is the one signed.
 */
function urlAnswer(answer) {
  const headers = Object.fromEntries(
    Object.entries(answer.Headers ?? {}).filter(([name]) => name.toLowerCase() !== "content-length"),
  );
  const out = { url: answer.URL, headers };
  if (answer.Key) out.key = answer.Key;
  return out;
}

function lastSegment(key) {
  return String(key).split("/").pop() || "file";
}
