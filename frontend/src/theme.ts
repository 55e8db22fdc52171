/**
 * Naive UI theme overrides. Besides the console's blue and radii, they lift the colours
 * that fall short of WCAG AA (4.5:1 for text): placeholders, tertiary text and the text of
 * light-mode tags (Naive's success/warning/info text on their tinted fills is 2.9-3.4:1).
 */
import type { GlobalThemeOverrides } from 'naive-ui'

export const FONT =
  'Inter, ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif'

/** Tag text colours that read at ≥ 4.5:1 on their own tinted fill over a white or #f5f7fb page. */
const LIGHT_TAG_TEXT = {
  textColorPrimary: '#1d4ed8',
  textColorInfo: '#1d4ed8',
  textColorSuccess: '#0b6b3a',
  textColorWarning: '#8a4b00',
  textColorError: '#b4213f',
}

export function themeOverrides(dark: boolean): GlobalThemeOverrides {
  return {
    common: {
      primaryColor: dark ? '#4f9cf9' : '#2563eb',
      primaryColorHover: dark ? '#6aaefb' : '#3b76f0',
      primaryColorPressed: dark ? '#3c86e0' : '#1d4ed8',
      primaryColorSuppl: dark ? '#4f9cf9' : '#2563eb',
      borderRadius: '8px',
      fontFamily: FONT,
      // AA for secondary text and placeholders (Naive: 4.3:1 and 1.8:1 in light, 3.4:1 dark)
      textColor3: dark ? 'rgba(255, 255, 255, 0.62)' : '#5f656d',
      placeholderColor: dark ? 'rgba(255, 255, 255, 0.55)' : '#6b7079',
    },
    Card: { borderRadius: '12px' },
    Layout: dark ? { color: '#101014' } : { color: '#f5f7fb', headerColor: '#ffffff', siderColor: '#ffffff' },
    DataTable: { thFontWeight: '600' },
    Tag: dark ? {} : LIGHT_TAG_TEXT,
    Form: dark ? {} : { feedbackTextColorWarning: '#8a4b00' },
    Menu: dark ? {} : { itemTextColorActive: '#1d4ed8', itemIconColorActive: '#1d4ed8', itemTextColorActiveHover: '#1d4ed8', itemIconColorActiveHover: '#1d4ed8' },
  }
}
