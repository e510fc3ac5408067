import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// `npm run dev` serves the app with hot reload and proxies the API (and the tutor socket) to Lyceum.
const api = process.env.LYCEUM_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      "/v1": { target: api, ws: true, changeOrigin: false },
      "/schema": api,
      "/health": api,
    },
  },
  build: {
    outDir: "dist",
    sourcemap: true,
    target: "es2022",
    chunkSizeWarningLimit: 400,
  },
  test: {
    // Node by default: a jsdom window costs seconds per file; files that need the DOM say
    // `// @vitest-environment jsdom` in their first line.
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
