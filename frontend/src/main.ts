import { createApp } from 'vue'
import { createPinia } from 'pinia'
import App from './App.vue'
import { router, goLogin } from './router'
import { setUnauthorizedHandler } from './api/http'
import { useUserStore } from './stores/user'
import { useStatusStore } from './stores/status'
import { i18n } from './i18n'
import './styles.css'

const app = createApp(App)
app.use(createPinia())
app.use(i18n)

setUnauthorizedHandler(() => {
  useUserStore().clear()
  goLogin()
})

useStatusStore().load()
app.use(router)
app.mount('#app')
