// Fails when src/generated/ no longer matches docs/protocol/schema/: the wire types changed in
// crates/protocol and `npm run gen:types` was not run (or a generated file was edited by hand).
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations.
import { constantsOf, generateAll, generatedDir } from "./gen-types.mjs";
import { coherenceBands } from "../src/generated/coherence_bands";

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

describe("constants from the schemas", () => {
  it("are the coherence bands' thresholds, as the hub uses them", () => {
    expect(coherenceBands).toEqual({ mediumMinScore: 40, highMinScore: 60 });
  });

  it("come only from schemas whose properties are all const", () => {
    const shape = { title: "Health", properties: { status: { type: "string" }, timestamp: { type: "integer" } } };
    expect(constantsOf(shape)).toBe("");
    const mixed = { title: "Mixed", properties: { a: { const: 1 }, b: { type: "string" } } };
    expect(constantsOf(mixed)).toBe("");
    const constants = { title: "Limits", properties: { maxBytes: { const: 65536 } } };
    expect(constantsOf(constants)).toBe("\nexport const limits: Limits = {\n  maxBytes: 65536,\n};\n");
  });
});
