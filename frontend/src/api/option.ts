/**
 * Root-only system options (handlers/api/misc.py) and the log clean-up.
 *
 * `GET /api/option/` lists every option as `{key, value}` strings, except the secrets
 * (keys ending in Token, Secret or SecretKey), which the server never sends back.
 * `PUT /api/option/ {key, value}` changes one option; values travel as strings
 * (booleans as "true"/"false"), and the server validates them (models/options.py).
 */
import { http } from './http'
import type { OptionItem } from './types'

export type OptionValue = string | number | boolean

/** One option value as the server stores it: booleans as "true"/"false", numbers in decimal. */
export function optionString(value: OptionValue | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return String(value)
}

/** `GET /api/option/`: every (non-secret) option. */
export const getOptions = () => http.get<OptionItem[]>('/api/option/')

/** The options as a key → value map. */
export async function getOptionMap(): Promise<Record<string, string>> {
  const list = (await getOptions()) ?? []
  const out: Record<string, string> = {}
  for (const item of list) out[item.key] = item.value ?? ''
  return out
}

/** `PUT /api/option/ {key, value}` with the value as a string. */
export const updateOption = (key: string, value: OptionValue) =>
  http.put<void>('/api/option/', { key, value: optionString(value) })

/** `DELETE /api/log/?target_timestamp=`: deletes the logs created before that unix time; → how many. */
export async function deleteLogsBefore(unixSeconds: number): Promise<number> {
  const n = await http.del<number>('/api/log/', { target_timestamp: Math.floor(unixSeconds) })
  return Number(n) || 0
}
