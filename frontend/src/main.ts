import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router, goLogin } from './router'
import { setUnauthorizedHandler } from './api/http'
import { useUserStore } from './stores/user'
import { useStatusStore } from './stores/status'
import { useThemeStore } from './stores/theme'
import { loadDarkTheme } from './composables/useNaiveTheme'
import { installChunkRecovery } from './utils/chunkReload'
import { i18n } from './i18n'
import './styles.css'

const app = createApp(App)
app.use(createPinia())
app.use(i18n)

setUnauthorizedHandler(() => {
  useUserStore().clear()
  goLogin()
})

// a failed lazy chunk (new deploy, rate limit, network) reloads the page once instead of sticking
installChunkRecovery(router)

useStatusStore().load()
app.use(router)

// starting dark: wait for Naive's dark theme so the first paint is not light
const ready = useThemeStore().dark ? loadDarkTheme().catch(() => undefined) : Promise.resolve()
void ready.then(() => app.mount('#app'))
