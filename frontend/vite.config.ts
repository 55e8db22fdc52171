/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import type { Plugin } from 'vite'
// @ts-expect-error plain JS helper shared with the CLI (scripts/bundle-size.mjs)
import { report } from './scripts/bundle-size.mjs'

// `npm run dev` proxies the API to a OneRelay on :3000 (override with ONERELAY_URL).
const backend = process.env.ONERELAY_URL || 'http://127.0.0.1:3000'

/** Prints the gzip size of the chunks and the JS each entry route loads, after `vite build`. */
function bundleReport(): Plugin {
  let outDir = 'dist'
  return {
    name: 'onerelay-bundle-report',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir
    },
    closeBundle() {
      try {
        const r = report(fileURLToPath(new URL(outDir, 'file://' + process.cwd() + '/')))
        console.log(r.text)
        if (r.over.length) console.warn(`\u26a0 over the JS budget: ${r.over.join(', ')}`)
      } catch (e) {
        console.warn('bundle report skipped: ' + (e as Error).message)
      }
    },
  }
}

export default defineConfig({
  plugins: [vue(), bundleReport()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    proxy: {
      '/api': { target: backend, changeOrigin: true },
      '/v1': { target: backend, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1500,
    // the manifest lets the size report (and its test) walk each route's imports
    manifest: true,
    // no forced vendor chunks: Naive UI components and ECharts ship with the pages that use them
  },
  test: {
    environment: 'jsdom',
    include: ['tests/unit/**/*.spec.ts'],
  },
})
