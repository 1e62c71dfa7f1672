// The app state travels to components through Svelte context (set once in App.svelte);
// components take the parts they use from it (`const { session, dialogs } = useApp()`).
import { getContext, setContext } from 'svelte';
import type { AppState } from './app.svelte';

const KEY = Symbol('skiff-app');

export function provideApp(app: AppState): AppState {
  setContext(KEY, app);
  return app;
}

export function useApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('useApp() outside <App>');
  return app;
}
