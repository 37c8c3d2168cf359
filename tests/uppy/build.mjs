// Uppy's bundle for the pages that load it (the playground's Uppy page and this test), from the
// packages package-lock.json pins: one ES module exporting Uppy, Dashboard and AwsS3, and the
// two style sheets, into dist/. No CDN: the browser loads them from the page's own origin.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
mkdirSync(dist, { recursive: true });

/** One Uppy's bundle and styles, from the packages installed in `from`, as `name`.mjs/.css. */
async function bundle(from, name) {
  await build({
    stdin: {
      contents: [
        'export { default as Uppy } from "@uppy/core";',
        'export { default as Dashboard } from "@uppy/dashboard";',
        'export { default as AwsS3 } from "@uppy/aws-s3";',
      ].join("\n"),
      resolveDir: from,
      loader: "js",
    },
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    outfile: join(dist, `${name}.mjs`),
    logLevel: "warning",
  });
  const css = ["@uppy/core/dist/style.min.css", "@uppy/dashboard/dist/style.min.css"]
    .map((file) => readFileSync(join(from, "node_modules", file), "utf8"));
  writeFileSync(join(dist, `${name}.css`), css.join("\n"));
  console.log(`built ${join(dist, `${name}.mjs`)} and ${name}.css`);
}

// Uppy 6 (package.json here) and Uppy 5 (v5/package.json: @uppy/aws-s3 5's Companion `endpoint`).
await bundle(here, "uppy");
await bundle(join(here, "v5"), "uppy5");
