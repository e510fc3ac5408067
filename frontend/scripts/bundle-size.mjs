// Report the initial JavaScript the browser downloads (index.html's entry and its static imports), gzipped.
// Lazy route chunks are listed separately; the budget (150 KB gzipped) applies to the initial load.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const initial = new Set(
  [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]),
);
const sizes = readdirSync(join(dist, "assets"))
  .filter((f) => f.endsWith(".js"))
  .map((f) => {
    const bytes = readFileSync(join(dist, "assets", f));
    return { file: `assets/${f}`, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  });
const kb = (n) => (n / 1024).toFixed(1);
const initialGzip = sizes.filter((s) => initial.has(s.file)).reduce((sum, s) => sum + s.gzip, 0);
for (const s of sizes.sort((a, b) => b.gzip - a.gzip)) {
  console.log(`${initial.has(s.file) ? "initial" : "lazy   "}  ${kb(s.gzip).padStart(7)} KB gz  ${kb(s.raw).padStart(7)} KB  ${s.file}`);
}
console.log(`initial JavaScript: ${kb(initialGzip)} KB gzipped (budget 150 KB)`);
writeFileSync(join(dist, "bundle-size.json"), JSON.stringify({ initialGzipBytes: initialGzip, files: sizes }, null, 2));
if (initialGzip > 150 * 1024) {
  console.error("initial JavaScript is over the 150 KB budget");
  process.exit(1);
}
