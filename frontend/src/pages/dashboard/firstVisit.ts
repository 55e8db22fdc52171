/**
 * Whether this is the user's first dashboard visit in this browser (right after sign-up the
 * page says "Welcome", not "Welcome back"). The first call for a user marks the visit.
 */
const KEY = 'onerelay.dashboardSeen'

export function isFirstVisit(userId: number, storage: Pick<Storage, 'getItem' | 'setItem'> | null = safeStorage()): boolean {
  if (!userId || !storage) return false
  let seen: number[] = []
  try {
    const raw = JSON.parse(storage.getItem(KEY) || '[]')
    if (Array.isArray(raw)) seen = raw.filter((x) => typeof x === 'number')
  } catch {
    /* a broken value counts as nothing seen */
  }
  if (seen.includes(userId)) return false
  try {
    storage.setItem(KEY, JSON.stringify([...seen, userId].slice(-20)))
  } catch {
    /* ignore */
  }
  return true
}

function safeStorage(): Storage | null {
  try {
    return localStorage
  } catch {
    return null
  }
}
