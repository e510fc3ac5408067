// The API docs page (/schema) renders with Swagger UI 5 (OpenAPI 3.1), served by Lyceum from
// dist/swagger-ui: bundled at build time so the docs work with no network at all.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const source = dirname(require.resolve("swagger-ui-dist/package.json"));
const target = new URL("../dist/swagger-ui/", import.meta.url).pathname;
const FILES = [
  "swagger-ui-bundle.js",
  "swagger-ui-standalone-preset.js",
  "swagger-ui.css",
  "favicon-32x32.png",
  "LICENSE",
  "NOTICE",
];
mkdirSync(target, { recursive: true });
for (const name of FILES) copyFileSync(join(source, name), join(target, name));
const { version } = require("swagger-ui-dist/package.json");
console.log(`swagger-ui-dist ${version}: copied ${FILES.length} files to dist/swagger-ui/`);
