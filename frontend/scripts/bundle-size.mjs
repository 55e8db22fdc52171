/**
 * Bundle size report: the gzip size of every JS chunk of a build and the JavaScript each
 * entry route needs (the entry chunk, the route's lazy page chunk and everything they import
 * statically), read from Vite's manifest (`build.manifest`, dist/.vite/manifest.json).
 *
 *   node scripts/bundle-size.mjs [dist]        prints the report; exit 1 when a route is over budget
 *
 * The Vite build prints the same report (the `bundleReport` plugin in vite.config.ts), and
 * tests/e2e/test_shell_polish.py guards the budget of /login and /.
 */
import { readFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

/** kB (1000 bytes) of gzip JavaScript that /login and / may load. */
export const BUDGET_KB = 250

/** Entry routes and the source file of their lazy page component (src/router/routes.ts). */
export const ROUTES = {
  '/login': 'src/pages/auth/LoginPage.vue',
  '/': 'src/pages/home/HomePage.vue',
  '/register': 'src/pages/auth/RegisterPage.vue',
  '/dashboard': 'src/pages/dashboard/DashboardPage.vue',
  '/setting': 'src/pages/setting/SettingsPage.vue',
  '/channel': 'src/pages/channel/ChannelList.vue',
  '/log': 'src/pages/log/LogPage.vue',
}
/** Routes held to BUDGET_KB. */
export const GUARDED = ['/login', '/']

export function readManifest(dist) {
  const p = join(dist, '.vite', 'manifest.json')
  if (!existsSync(p)) throw new Error(`${p} is missing: build with build.manifest enabled`)
  return JSON.parse(readFileSync(p, 'utf8'))
}

const gzCache = new Map()
export function gzipKb(dist, file) {
  if (!gzCache.has(file)) gzCache.set(file, gzipSync(readFileSync(join(dist, file)), { level: 9 }).length / 1000)
  return gzCache.get(file)
}

/** The JS files a manifest key loads before it runs: itself and its static imports, recursively. */
export function staticClosure(manifest, keys) {
  const seen = new Set()
  const files = new Set()
  const walk = (k) => {
    if (seen.has(k) || !manifest[k]) return
    seen.add(k)
    const c = manifest[k]
    if (c.file.endsWith('.js')) files.add(c.file)
    for (const i of c.imports ?? []) walk(i)
  }
  keys.forEach(walk)
  return files
}

export function entryKey(manifest) {
  const k = Object.keys(manifest).find((x) => manifest[x].isEntry)
  if (!k) throw new Error('no entry in the manifest')
  return k
}

/** { route: { kb, files } } for every known route present in the build. */
export function routeSizes(dist) {
  const m = readManifest(dist)
  const entry = entryKey(m)
  const out = {}
  for (const [route, src] of Object.entries(ROUTES)) {
    if (!m[src]) continue
    const files = staticClosure(m, [entry, src])
    let kb = 0
    for (const f of files) kb += gzipKb(dist, f)
    out[route] = { kb, files: [...files] }
  }
  return out
}

export function report(dist) {
  const m = readManifest(dist)
  const chunks = [...new Set(Object.values(m).map((c) => c.file).filter((f) => f.endsWith('.js')))]
    .map((f) => ({ f, kb: gzipKb(dist, f) }))
    .sort((a, b) => b.kb - a.kb)
  const lines = ['', 'Bundle size (gzip, level 9):']
  for (const c of chunks.slice(0, 15)) lines.push(`  ${c.kb.toFixed(1).padStart(7)} kB  ${c.f}`)
  if (chunks.length > 15) lines.push(`  … ${chunks.length - 15} smaller chunks`)
  lines.push(`  ${chunks.reduce((s, c) => s + c.kb, 0).toFixed(1).padStart(7)} kB  all JS`)
  lines.push('JavaScript needed per entry route (entry + page chunk + static imports):')
  const sizes = routeSizes(dist)
  let over = []
  for (const [route, s] of Object.entries(sizes)) {
    const guarded = GUARDED.includes(route)
    const bad = guarded && s.kb > BUDGET_KB
    if (bad) over.push(route)
    lines.push(`  ${s.kb.toFixed(1).padStart(7)} kB  ${route}${guarded ? `  (budget ${BUDGET_KB} kB${bad ? ': OVER' : ''})` : ''}`)
  }
  return { text: lines.join('\n'), over }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  const dist = resolve(process.argv[2] || 'dist')
  const r = report(dist)
  console.log(r.text)
  if (r.over.length) {
    console.error(`over the ${BUDGET_KB} kB budget: ${r.over.join(', ')}`)
    process.exit(1)
  }
}
