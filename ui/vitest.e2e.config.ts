// End-to-end tests: a real `synchub serve`, simulated participants from `synchub-sim`, and
// Debian's Chromium driven by playwright-core. One file at a time (each starts its own hub).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
