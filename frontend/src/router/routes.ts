import type { RouteRecordRaw } from 'vue-router'

/**
 * The console's routes (One API's default theme, REFERENCE.md §8). `meta.auth` is the
 * least role a page needs: 'user', 'admin' or 'root'; pages without it are public.
 * `meta.guestOnly` pages (login, register) send a logged-in user to the dashboard.
 */
declare module 'vue-router' {
  interface RouteMeta {
    title?: string
    auth?: 'user' | 'admin' | 'root'
    guestOnly?: boolean
    /** full-width page without the console padding (chat iframe, home iframe) */
    bare?: boolean
  }
}

export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('@/pages/home/HomePage.vue'), meta: { title: 'Home' } },
  { path: '/about', name: 'about', component: () => import('@/pages/about/AboutPage.vue'), meta: { title: 'About' } },
  { path: '/login', name: 'login', component: () => import('@/pages/auth/LoginPage.vue'), meta: { title: 'Log in', guestOnly: true } },
  { path: '/register', name: 'register', component: () => import('@/pages/auth/RegisterPage.vue'), meta: { title: 'Sign up', guestOnly: true } },
  { path: '/reset', name: 'reset', component: () => import('@/pages/auth/ResetPage.vue'), meta: { title: 'Reset password' } },
  { path: '/user/reset', name: 'reset-confirm', component: () => import('@/pages/auth/ResetConfirmPage.vue'), meta: { title: 'Reset password' } },
  { path: '/oauth/:provider(github|lark|oidc)', name: 'oauth', component: () => import('@/pages/auth/OAuthCallback.vue'), meta: { title: 'Signing in' } },

  { path: '/dashboard', name: 'dashboard', component: () => import('@/pages/dashboard/DashboardPage.vue'), meta: { title: 'Dashboard', auth: 'user' } },
  { path: '/channel', name: 'channels', component: () => import('@/pages/channel/ChannelList.vue'), meta: { title: 'Channels', auth: 'admin' } },
  { path: '/channel/add', name: 'channel-add', component: () => import('@/pages/channel/ChannelEdit.vue'), meta: { title: 'Add channel', auth: 'admin' } },
  { path: '/channel/edit/:id(\\d+)', name: 'channel-edit', component: () => import('@/pages/channel/ChannelEdit.vue'), meta: { title: 'Edit channel', auth: 'admin' } },
  { path: '/token', name: 'tokens', component: () => import('@/pages/token/TokenList.vue'), meta: { title: 'Tokens', auth: 'user' } },
  { path: '/token/add', name: 'token-add', component: () => import('@/pages/token/TokenEdit.vue'), meta: { title: 'Add token', auth: 'user' } },
  { path: '/token/edit/:id(\\d+)', name: 'token-edit', component: () => import('@/pages/token/TokenEdit.vue'), meta: { title: 'Edit token', auth: 'user' } },
  { path: '/log', name: 'logs', component: () => import('@/pages/log/LogPage.vue'), meta: { title: 'Logs', auth: 'user' } },
  { path: '/user', name: 'users', component: () => import('@/pages/user/UserList.vue'), meta: { title: 'Users', auth: 'admin' } },
  { path: '/user/add', name: 'user-add', component: () => import('@/pages/user/UserEdit.vue'), meta: { title: 'Add user', auth: 'admin' } },
  { path: '/user/edit/:id(\\d+)', name: 'user-edit', component: () => import('@/pages/user/UserEdit.vue'), meta: { title: 'Edit user', auth: 'admin' } },
  { path: '/user/edit', name: 'self-edit', component: () => import('@/pages/setting/SelfEditPage.vue'), meta: { title: 'Edit profile', auth: 'user' } },
  { path: '/redemption', name: 'redemptions', component: () => import('@/pages/redemption/RedemptionList.vue'), meta: { title: 'Redemptions', auth: 'admin' } },
  { path: '/redemption/add', name: 'redemption-add', component: () => import('@/pages/redemption/RedemptionEdit.vue'), meta: { title: 'Create codes', auth: 'admin' } },
  { path: '/redemption/edit/:id(\\d+)', name: 'redemption-edit', component: () => import('@/pages/redemption/RedemptionEdit.vue'), meta: { title: 'Edit code', auth: 'admin' } },
  { path: '/topup', name: 'topup', component: () => import('@/pages/topup/TopUpPage.vue'), meta: { title: 'Top up', auth: 'user' } },
  { path: '/setting', name: 'settings', component: () => import('@/pages/setting/SettingsPage.vue'), meta: { title: 'Settings', auth: 'user' } },
  { path: '/chat', name: 'chat', component: () => import('@/pages/chat/ChatPage.vue'), meta: { title: 'Chat', auth: 'user', bare: true } },
  { path: '/:pathMatch(.*)*', name: 'not-found', component: () => import('@/pages/notfound/NotFound.vue'), meta: { title: 'Not found' } },
]
