/** Split point for Naive UI's dark theme (see useNaiveTheme). */
export { darkTheme } from 'naive-ui'
