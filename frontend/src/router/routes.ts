import type { RouteRecordRaw } from 'vue-router'
import type { MessageKey } from '@/i18n'

/**
 * The console's routes (One API's default theme, REFERENCE.md §8). `meta.auth` is the
 * least role a page needs: 'user', 'admin' or 'root'; pages without it are public.
 * `meta.guestOnly` pages (login, register) send a logged-in user to the dashboard.
 */
declare module 'vue-router' {
  interface RouteMeta {
    /** message key of the page title (translated where shown) */
    title?: MessageKey
    auth?: 'user' | 'admin' | 'root'
    guestOnly?: boolean
    /** full-width page without the console padding (chat iframe, home iframe) */
    bare?: boolean
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('@/pages/home/HomePage.vue'), meta: { title: 'shell.routes.home' } },
  { path: '/about', name: 'about', component: () => import('@/pages/about/AboutPage.vue'), meta: { title: 'shell.routes.about' } },
  { path: '/login', name: 'login', component: () => import('@/pages/auth/LoginPage.vue'), meta: { title: 'shell.routes.login', guestOnly: true } },
  { path: '/register', name: 'register', component: () => import('@/pages/auth/RegisterPage.vue'), meta: { title: 'shell.routes.register', guestOnly: true } },
  { path: '/reset', name: 'reset', component: () => import('@/pages/auth/ResetPage.vue'), meta: { title: 'shell.routes.reset' } },
  { path: '/user/reset', name: 'reset-confirm', component: () => import('@/pages/auth/ResetConfirmPage.vue'), meta: { title: 'shell.routes.reset' } },
  { path: '/oauth/:provider(github|lark|oidc)', name: 'oauth', component: () => import('@/pages/auth/OAuthCallback.vue'), meta: { title: 'shell.routes.oauth' } },

  { path: '/dashboard', name: 'dashboard', component: () => import('@/pages/dashboard/DashboardPage.vue'), meta: { title: 'shell.routes.dashboard', auth: 'user' } },
  { path: '/channel', name: 'channels', component: () => import('@/pages/channel/ChannelList.vue'), meta: { title: 'shell.routes.channels', auth: 'admin' } },
  { path: '/channel/add', name: 'channel-add', component: () => import('@/pages/channel/ChannelEdit.vue'), meta: { title: 'shell.routes.channelAdd', auth: 'admin' } },
  { path: '/channel/edit/:id(\\d+)', name: 'channel-edit', component: () => import('@/pages/channel/ChannelEdit.vue'), meta: { title: 'shell.routes.channelEdit', auth: 'admin' } },
  { path: '/token', name: 'tokens', component: () => import('@/pages/token/TokenList.vue'), meta: { title: 'shell.routes.tokens', auth: 'user' } },
  { path: '/token/add', name: 'token-add', component: () => import('@/pages/token/TokenEdit.vue'), meta: { title: 'shell.routes.tokenAdd', auth: 'user' } },
  { path: '/token/edit/:id(\\d+)', name: 'token-edit', component: () => import('@/pages/token/TokenEdit.vue'), meta: { title: 'shell.routes.tokenEdit', auth: 'user' } },
  { path: '/log', name: 'logs', component: () => import('@/pages/log/LogPage.vue'), meta: { title: 'shell.routes.logs', auth: 'user' } },
  { path: '/user', name: 'users', component: () => import('@/pages/user/UserList.vue'), meta: { title: 'shell.routes.users', auth: 'admin' } },
  { path: '/user/add', name: 'user-add', component: () => import('@/pages/user/UserEdit.vue'), meta: { title: 'shell.routes.userAdd', auth: 'admin' } },
  { path: '/user/edit/:id(\\d+)', name: 'user-edit', component: () => import('@/pages/user/UserEdit.vue'), meta: { title: 'shell.routes.userEdit', auth: 'admin' } },
  { path: '/user/edit', name: 'self-edit', component: () => import('@/pages/setting/SelfEditPage.vue'), meta: { title: 'shell.routes.selfEdit', auth: 'user' } },
  { path: '/redemption', name: 'redemptions', component: () => import('@/pages/redemption/RedemptionList.vue'), meta: { title: 'shell.routes.redemptions', auth: 'admin' } },
  { path: '/redemption/add', name: 'redemption-add', component: () => import('@/pages/redemption/RedemptionEdit.vue'), meta: { title: 'shell.routes.redemptionAdd', auth: 'admin' } },
  { path: '/redemption/edit/:id(\\d+)', name: 'redemption-edit', component: () => import('@/pages/redemption/RedemptionEdit.vue'), meta: { title: 'shell.routes.redemptionEdit', auth: 'admin' } },
  { path: '/topup', name: 'topup', component: () => import('@/pages/topup/TopUpPage.vue'), meta: { title: 'shell.routes.topup', auth: 'user' } },
  { path: '/setting', name: 'settings', component: () => import('@/pages/setting/SettingsPage.vue'), meta: { title: 'shell.routes.settings', auth: 'user' } },
  { path: '/chat', name: 'chat', component: () => import('@/pages/chat/ChatPage.vue'), meta: { title: 'shell.routes.chat', auth: 'user', bare: true } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/pages/notfound/NotFound.vue'), meta: { title: 'shell.routes.notFound' } },
]
