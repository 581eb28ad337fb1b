// Copies NiiVue's self-contained ES module (and its source map, which Django's manifest storage
// follows) to where Django serves static files. Runs after every `npm ci`.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "..", "node_modules", "@niivue", "niivue");
const dest = join(here, "..", "static", "vendor", "niivue");
const version = JSON.parse(readFileSync(join(src, "package.json"), "utf8")).version;
if (version !== "0.69.0") {
  throw new Error(`NiiVue ${version} is installed; Brainscribe is written against exactly 0.69.0`);
}
mkdirSync(dest, { recursive: true });
for (const name of ["index.js", "index.js.map"]) {
  copyFileSync(join(src, "dist", name), join(dest, name));
}
console.log(`vendored NiiVue ${version} into ${dest}`);
