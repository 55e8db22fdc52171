import { ref } from 'vue'

/**
 * Enter in a multiple, filterable, `tag` NSelect adds exactly what was typed. Naive UI's own
 * Enter takes the highlighted option instead: typing "vip" picked "svip" (the first match), and
 * typing "gpt-4o" with gpt-4o-mini chosen removed gpt-4o-mini. After the arrow keys moved to a
 * suggestion, Enter takes that suggestion as usual.
 *
 * Usage: wrap the select in an element with `@keydown.capture="enter.onKeydown"` and give the
 * select `@search="enter.onSearch"`; `add(typed)` is called with the trimmed text.
 */
export function useTypedEnter(add: (typed: string) => void) {
  const pattern = ref('')
  const arrowed = ref(false)

  function onSearch(v: string): void {
    pattern.value = v
    arrowed.value = false
  }

  function onKeydown(e: KeyboardEvent): void {
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      arrowed.value = true
      return
    }
    if (e.key !== 'Enter' || e.isComposing || arrowed.value) return
    const input = (e.currentTarget as HTMLElement | null)?.querySelector('input')
    const typed = (input?.value ?? pattern.value).trim()
    if (!typed) return
    e.preventDefault()
    e.stopPropagation()
    add(typed)
    // clear the select's search text (it listens to the input's input event)
    if (input) {
      input.value = ''
      input.dispatchEvent(new Event('input', { bubbles: true }))
    }
    pattern.value = ''
  }

  return { onSearch, onKeydown }
}
