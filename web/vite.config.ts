// Vite builds the app into dist/, which the `web` function and todo-local serve (WEB_DIR):
// the app (index.html) and the API's docs page (docs.html, served at /docs). No framework
// plugin: esbuild compiles the TSX for Preact directly. `npm run dev` proxies the API to a
// todo-local on :8080.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const api = process.env.TODO_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2022",
    // Everything from this origin (the CSP allows nothing else): no inlined data: scripts.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    rollupOptions: {
      input: {
        index: fileURLToPath(new URL("./index.html", import.meta.url)),
        docs: fileURLToPath(new URL("./docs.html", import.meta.url)),
      },
    },
  },
  server: {
    proxy: {
      "/api": api,
      "/dev": api,
      "/config.json": api,
      "/openapi.json": api,
      "/docs/openapi.json": api,
    },
  },
});
