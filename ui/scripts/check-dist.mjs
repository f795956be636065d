// Fails when the committed dist/ is not what `npm run build` makes from the sources now, so a
// UI change cannot be committed without its build (the hub embeds dist/, and `cargo run` must
// work with only Rust installed). Builds into a temporary folder and compares byte for byte.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { build } from "vite";

const uiDir = join(import.meta.dirname, "..");

async function files(dir) {
  const out = new Map();
  async function walk(current) {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(dir, path), await readFile(path));
    }
  }
  await walk(dir).catch(() => {});
  return out;
}

const fresh = await mkdtemp(join(tmpdir(), "synchub-ui-dist-"));
try {
  await build({ root: uiDir, logLevel: "warn", build: { outDir: fresh, emptyOutDir: true } });
  const want = await files(fresh);
  const have = await files(join(uiDir, "dist"));
  const problems = [];
  for (const [name, bytes] of want) {
    const current = have.get(name);
    if (current === undefined) problems.push(`missing: dist/${name}`);
    else if (!current.equals(bytes)) problems.push(`differs: dist/${name}`);
  }
  for (const name of have.keys()) if (!want.has(name)) problems.push(`left over: dist/${name}`);
  if (problems.length > 0) {
    console.error(`ui/dist is not the build of the current sources; run \`npm run build\`:\n  ${problems.join("\n  ")}`);
    process.exitCode = 1;
  } else {
    console.log(`ui/dist matches a fresh build (${want.size} files)`);
  }
} finally {
  await rm(fresh, { recursive: true, force: true });
}
