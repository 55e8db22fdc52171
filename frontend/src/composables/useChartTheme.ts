import { computed } from 'vue'
import { useThemeStore } from '@/stores/theme'

/** Series colours: the console's blue first, then distinct hues that read on both themes. */
export const PALETTE_LIGHT = ['#2563eb', '#10b981', '#f59e0b', '#8b5cf6', '#ef4444', '#06b6d4', '#ec4899', '#94a3b8']
export const PALETTE_DARK = ['#4f9cf9', '#34d399', '#fbbf24', '#a78bfa', '#f87171', '#22d3ee', '#f472b6', '#94a3b8']

/** The console's font stack (a canvas font cannot `inherit`). */
export const CHART_FONT =
  'Inter, ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif'

export interface ChartTheme {
  dark: boolean
  /** false when the user asks for reduced motion */
  animation: boolean
  palette: string[]
  primary: string
  text: string
  subtext: string
  axisLine: string
  splitLine: string
  tooltipBg: string
  tooltipBorder: string
  surface: string
}

/** ECharts colours that follow the console's light/dark theme (charts keep a transparent background). */
export function chartTheme(dark: boolean, animation = true): ChartTheme {
  return dark
    ? {
        dark,
        animation,
        palette: PALETTE_DARK,
        primary: PALETTE_DARK[0],
        text: 'rgba(255, 255, 255, 0.86)',
        subtext: 'rgba(255, 255, 255, 0.52)',
        axisLine: 'rgba(255, 255, 255, 0.18)',
        splitLine: 'rgba(255, 255, 255, 0.07)',
        tooltipBg: 'rgba(38, 38, 46, 0.96)',
        tooltipBorder: 'rgba(255, 255, 255, 0.10)',
        surface: '#18181c',
      }
    : {
        dark,
        animation,
        palette: PALETTE_LIGHT,
        primary: PALETTE_LIGHT[0],
        text: '#1f2937',
        subtext: '#6b7280',
        axisLine: '#e5e7eb',
        splitLine: '#f1f3f7',
        tooltipBg: 'rgba(255, 255, 255, 0.98)',
        tooltipBorder: '#e5e7eb',
        surface: '#ffffff',
      }
}

export function useChartTheme() {
  const theme = useThemeStore()
  const reduced =
    typeof window !== 'undefined' && Boolean(window.matchMedia?.('(prefers-reduced-motion: reduce)').matches)
  const colors = computed(() => chartTheme(theme.dark, !reduced))
  /** For vue-echarts' `loading-options`. */
  const loadingOptions = computed(() => ({
    text: '',
    color: colors.value.primary,
    maskColor: theme.dark ? 'rgba(24, 24, 28, 0.72)' : 'rgba(255, 255, 255, 0.72)',
    spinnerRadius: 12,
    lineWidth: 3,
  }))
  return { colors, loadingOptions }
}
