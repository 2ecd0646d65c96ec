// Vite builds the app into dist/, which the `web` function and todo-local serve (WEB_DIR).
// No framework plugin: esbuild compiles the TSX for Preact directly. `npm run dev` proxies
// the API to a todo-local on :8080.
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
  },
  server: {
    proxy: {
      "/api": api,
      "/dev": api,
      "/config.json": api,
    },
  },
});
