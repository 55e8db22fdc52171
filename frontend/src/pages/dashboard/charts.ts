/** ECharts options for the dashboard, built from `Usage` and the current chart theme. */
import type { EChartsCoreOption } from 'echarts/core'
import { CHART_FONT, type ChartTheme } from '@/composables/useChartTheme'
import { compactNumber } from '@/utils/quota'
import { formatNumber } from '@/utils/format'
import { t as tr } from '@/i18n'
import { dayLabel, type Usage } from './usage'

export interface QuotaFormat {
  /** quota → display number (USD or tokens) for the axis */
  toDisplay: (quota: number) => number
  /** quota → `$1.23` / `1,234` */
  format: (quota: number) => string
  currency: boolean
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

function base(t: ChartTheme): EChartsCoreOption {
  return {
    backgroundColor: 'transparent',
    color: t.palette,
    textStyle: { color: t.text, fontFamily: CHART_FONT, fontSize: 12 },
    animation: t.animation,
    animationDuration: 500,
  }
}

function tooltip(t: ChartTheme, extra: Record<string, unknown> = {}) {
  return {
    backgroundColor: t.tooltipBg,
    borderColor: t.tooltipBorder,
    borderWidth: 1,
    padding: [8, 12],
    textStyle: { color: t.text, fontSize: 12, fontFamily: CHART_FONT },
    extraCssText: 'border-radius: 8px; box-shadow: 0 6px 20px rgba(0,0,0,' + (t.dark ? '0.45' : '0.10') + ');',
    confine: true,
    ...extra,
  }
}

function categoryAxis(t: ChartTheme, days: string[]) {
  return {
    type: 'category',
    data: days.map((d) => dayLabel(d)),
    axisLine: { lineStyle: { color: t.axisLine } },
    axisTick: { show: false },
    axisLabel: { color: t.subtext, hideOverlap: true },
  }
}

function valueAxis(t: ChartTheme, formatter: (v: number) => string) {
  return {
    type: 'value',
    minInterval: 0,
    splitNumber: 4,
    axisLabel: { color: t.subtext, formatter },
    splitLine: { lineStyle: { color: t.splitLine } },
  }
}

function legend(t: ChartTheme, names: string[]) {
  return {
    type: 'scroll',
    data: names,
    top: 0,
    left: 0,
    icon: 'roundRect',
    itemWidth: 10,
    itemHeight: 10,
    itemGap: 14,
    textStyle: { color: t.subtext, fontSize: 12 },
    pageTextStyle: { color: t.subtext },
    pageIconColor: t.primary,
    pageIconInactiveColor: t.axisLine,
  }
}

/** `$0.1234` axis labels: as few digits as the tick needs. */
export function axisMoney(currency: boolean): (v: number) => string {
  if (!currency) return (v) => compactNumber(v)
  return (v) => {
    if (v === 0) return '$0'
    const abs = Math.abs(v)
    const digits = abs >= 100 ? 0 : abs >= 1 ? 2 : Math.min(6, Math.ceil(-Math.log10(abs)) + 1)
    return '$' + formatNumber(Number(v.toFixed(digits)), { maximumFractionDigits: digits })
  }
}

interface AxisParam {
  dataIndex: number
  seriesName?: string
  marker?: string
}

function dot(color: string): string {
  return `<span style="display:inline-block;width:8px;height:8px;border-radius:2px;margin-right:6px;background:${color}"></span>`
}

function row(left: string, right: string, bold = false): string {
  return (
    `<div style="display:flex;justify-content:space-between;gap:20px;line-height:1.7${bold ? ';font-weight:600' : ''}">` +
    `<span>${left}</span><span style="font-variant-numeric:tabular-nums">${right}</span></div>`
  )
}

/** (1) Consumption per day, stacked by model. */
export function consumptionOption(u: Usage, t: ChartTheme, q: QuotaFormat): EChartsCoreOption {
  const last = u.models.length - 1
  return {
    ...base(t),
    legend: legend(t, u.models.map((m) => m.name)),
    grid: { left: 4, right: 8, top: 40, bottom: 4 },
    tooltip: tooltip(t, {
      trigger: 'axis',
      axisPointer: { type: 'shadow', shadowStyle: { color: t.dark ? 'rgba(255,255,255,0.04)' : 'rgba(37,99,235,0.05)' } },
      formatter: (params: AxisParam[]) => {
        const i = params[0]?.dataIndex ?? 0
        const lines = u.models
          .map((m, k) => ({ m, k }))
          .filter(({ m }) => m.quota[i] > 0 || m.requests[i] > 0)
          .map(({ m, k }) => row(dot(t.palette[k % t.palette.length]) + escapeHtml(m.name), q.format(m.quota[i])))
        return (
          `<div style="font-weight:600;margin-bottom:4px">${escapeHtml(dayLabel(u.days[i]))}</div>` +
          (lines.length ? lines.join('') : `<div style="opacity:.6">${escapeHtml(tr('dashboard.charts.noUsage'))}</div>`) +
          (lines.length > 1 ? `<div style="border-top:1px solid ${t.tooltipBorder};margin-top:4px;padding-top:2px">` + row(escapeHtml(tr('dashboard.charts.total')), q.format(u.perDay.quota[i]), true) + '</div>' : '')
        )
      },
    }),
    xAxis: categoryAxis(t, u.days),
    yAxis: valueAxis(t, axisMoney(q.currency)),
    series: u.models.map((m, k) => ({
      name: m.name,
      type: 'bar',
      stack: 'quota',
      barMaxWidth: 36,
      emphasis: { focus: 'series' },
      itemStyle: { borderRadius: k === last ? [4, 4, 0, 0] : 0 },
      data: m.quota.map((v) => q.toDisplay(v)),
    })),
  }
}

/** (2) Requests per day (smooth line with a soft area). */
export function requestsOption(u: Usage, t: ChartTheme): EChartsCoreOption {
  const c = t.palette[0]
  return {
    ...base(t),
    grid: { left: 4, right: 12, top: 16, bottom: 4 },
    tooltip: tooltip(t, {
      trigger: 'axis',
      axisPointer: { type: 'line', lineStyle: { color: t.axisLine } },
      formatter: (params: AxisParam[]) => {
        const i = params[0]?.dataIndex ?? 0
        return (
          `<div style="font-weight:600;margin-bottom:4px">${escapeHtml(dayLabel(u.days[i]))}</div>` +
          row(dot(c) + escapeHtml(tr('dashboard.charts.requestsSeries')), formatNumber(u.perDay.requests[i]))
        )
      },
    }),
    xAxis: { ...categoryAxis(t, u.days), boundaryGap: false },
    yAxis: { ...valueAxis(t, (v) => compactNumber(v)), minInterval: 1 },
    series: [
      {
        name: tr('dashboard.charts.requestsSeries'),
        type: 'line',
        smooth: 0.3,
        smoothMonotone: 'x',
        symbol: 'circle',
        symbolSize: 7,
        showSymbol: true,
        lineStyle: { width: 2.5, color: c },
        itemStyle: { color: c, borderColor: t.surface, borderWidth: 2 },
        areaStyle: {
          color: {
            type: 'linear', x: 0, y: 0, x2: 0, y2: 1,
            colorStops: [{ offset: 0, color: c + '55' }, { offset: 1, color: c + '05' }],
          },
        },
        data: u.perDay.requests,
      },
    ],
  }
}

/** (3) Share of the consumption by model (by requests when everything was free); the page lists the legend. */
export function shareOption(u: Usage, t: ChartTheme, q: QuotaFormat): EChartsCoreOption {
  const byQuota = u.totals.quota > 0
  const data = u.models
    .map((m, k) => ({
      name: m.name,
      value: byQuota ? m.totalQuota : m.totalRequests,
      itemStyle: { color: t.palette[k % t.palette.length] },
    }))
    .filter((d) => d.value > 0)
  const total = byQuota ? q.format(u.totals.quota) : formatNumber(u.totals.requests)
  return {
    ...base(t),
    title: {
      text: total,
      subtext: byQuota ? tr('dashboard.charts.spend7') : tr('dashboard.charts.requestsUnit'),
      left: 'center',
      top: 'middle',
      itemGap: 4,
      textStyle: { color: t.text, fontSize: 17, fontWeight: 600, fontFamily: CHART_FONT },
      subtextStyle: { color: t.subtext, fontSize: 11.5, fontFamily: CHART_FONT },
    },
    tooltip: tooltip(t, {
      trigger: 'item',
      formatter: (p: { name: string; value: number; percent: number; color: string }) =>
        `<div style="font-weight:600;margin-bottom:4px">${dot(p.color)}${escapeHtml(p.name)}</div>` +
        row(escapeHtml(byQuota ? tr('dashboard.charts.spend') : tr('dashboard.charts.requestsSeries')), byQuota ? q.format(p.value) : formatNumber(p.value)) +
        row(escapeHtml(tr('dashboard.charts.shareLabel')), `${p.percent.toFixed(1)}%`),
    }),
    series: [
      {
        name: byQuota ? tr('dashboard.charts.spend') : tr('dashboard.charts.requestsSeries'),
        type: 'pie',
        radius: ['66%', '92%'],
        center: ['50%', '50%'],
        padAngle: data.length > 1 ? 1.5 : 0,
        itemStyle: { borderRadius: 5 },
        label: { show: false },
        labelLine: { show: false },
        emphasis: { scale: true, scaleSize: 3, label: { show: false } },
        data,
      },
    ],
  }
}

/** (4) Tokens per day: prompt vs completion, stacked. */
export function tokensOption(u: Usage, t: ChartTheme): EChartsCoreOption {
  const colors = [t.palette[5], t.palette[3]]
  const prompt = tr('dashboard.charts.prompt')
  const completion = tr('dashboard.charts.completion')
  return {
    ...base(t),
    color: colors,
    legend: legend(t, [prompt, completion]),
    grid: { left: 4, right: 8, top: 40, bottom: 4 },
    tooltip: tooltip(t, {
      trigger: 'axis',
      axisPointer: { type: 'shadow', shadowStyle: { color: t.dark ? 'rgba(255,255,255,0.04)' : 'rgba(37,99,235,0.05)' } },
      formatter: (params: AxisParam[]) => {
        const i = params[0]?.dataIndex ?? 0
        const p = u.perDay.prompt[i]
        const c = u.perDay.completion[i]
        return (
          `<div style="font-weight:600;margin-bottom:4px">${escapeHtml(dayLabel(u.days[i]))}</div>` +
          row(dot(colors[0]) + escapeHtml(prompt), formatNumber(p)) +
          row(dot(colors[1]) + escapeHtml(completion), formatNumber(c)) +
          row(escapeHtml(tr('dashboard.charts.total')), formatNumber(p + c), true)
        )
      },
    }),
    xAxis: categoryAxis(t, u.days),
    yAxis: valueAxis(t, (v) => compactNumber(v)),
    series: [
      { name: prompt, type: 'bar', stack: 'tokens', barMaxWidth: 36, data: u.perDay.prompt },
      {
        name: completion, type: 'bar', stack: 'tokens', barMaxWidth: 36,
        itemStyle: { borderRadius: [4, 4, 0, 0] }, data: u.perDay.completion,
      },
    ],
  }
}
