// Two pages, one bundle graph: the console (index.html, served at `/`) and the participants'
// join page (join.html, served at `/join`). `base: './'` makes every asset URL relative, so the
// same dist/ works from the hub (`/`, `/join`) and from the desktop app (tauri://localhost/).
// dist/ is committed (the hub embeds it, and `cargo run` must work with only Rust installed),
// so the build must be deterministic: content hashes, no timestamps, no absolute paths.
import { defineConfig } from "vite";

const hub = process.env.SYNCHUB_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { index: "index.html", join: "join.html" },
      output: {
        // Besides the two entries there are only two chunks: what both pages share (Preact,
        // socket.io-client, the helpers) and the Tauri API, loaded only inside the desktop app.
        // Name them for that rather than after whichever module the bundler picked.
        chunkFileNames: (chunk) => (chunk.moduleIds.some((id) => id.includes("@tauri-apps")) ? "assets/tauri-[hash].js" : "assets/shared-[hash].js"),
        assetFileNames: (asset) => (asset.names.some((name) => name.endsWith(".css")) && !asset.names.some((name) => /^(index|join)\.css$/.test(name)) ? "assets/shared-[hash][extname]" : "assets/[name]-[hash][extname]"),
      },
    },
  },
  server: {
    // `npm run dev` against a running hub: SYNCHUB_URL=http://127.0.0.1:PORT npm run dev
    proxy: {
      "/api": hub,
      "/health": hub,
      "/socket.io": { target: hub, ws: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx", "scripts/**/*.test.ts"],
    environment: "node",
  },
});
