/**
 * Admin: every channel's name and models, fetched once per page visit (pages of
 * `/api/channel/?p=`, at most 50 pages), for the logs' channel names, the channel filter
 * and the model suggestions.
 */
import { listChannels } from '@/api/channel'
import { PAGE_SIZE, type Channel } from '@/api/types'

export interface ChannelDirectory {
  names: Map<number, string>
  models: string[]
}

export async function loadChannelDirectory(maxPages = 50): Promise<ChannelDirectory> {
  const all: Channel[] = []
  for (let p = 0; p < maxPages; p++) {
    const rows = (await listChannels(p)) ?? []
    all.push(...rows)
    if (rows.length < PAGE_SIZE) break
  }
  const names = new Map<number, string>()
  const models = new Set<string>()
  for (const c of all) {
    names.set(c.id, c.name || '#' + c.id)
    for (const m of (c.models || '').split(',')) if (m.trim()) models.add(m.trim())
  }
  return { names, models: [...models].sort() }
}
