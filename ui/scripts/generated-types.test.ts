// Fails when src/generated/ no longer matches docs/protocol/schema/: the wire types changed in
// crates/protocol and `npm run gen:types` was not run (or a generated file was edited by hand).
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations.
import { generateAll, generatedDir } from "./gen-types.mjs";

describe("generated wire types", () => {
  it("match the committed JSON Schemas", async () => {
    const wanted = (await generateAll()) as Map<string, string>;
    const present = (await readdir(generatedDir)).filter((name) => name.endsWith(".ts")).sort();
    expect(present).toEqual([...wanted.keys()].sort());
    for (const [name, contents] of wanted) {
      expect(await readFile(join(generatedDir, name), "utf8"), `${name} is stale: run npm run gen:types`).toBe(contents);
    }
  }, 30_000);
});
