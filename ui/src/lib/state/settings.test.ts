// Settings reach the panes' "show hidden files" when loaded and when a save changes it.
import { describe, expect, it, vi } from 'vitest';
import type { Settings } from '../backend';
import { DEFAULT_SETTINGS, SettingsState } from './settings.svelte';

function setup(saved: Settings, refuse = false) {
  const backend = { settingsGet: vi.fn(async () => saved), settingsSave: vi.fn(async () => (refuse ? Promise.reject({ code: 'localIo', message: 'disk full' }) : undefined)) };
  const reporter = { showError: vi.fn() };
  const shown: boolean[] = [];
  return { settings: new SettingsState(backend, reporter, (s) => shown.push(s)), shown, reporter };
}

describe('SettingsState', () => {
  it('load passes the saved choice on even when it is the default; a save only when it changes', async () => {
    const { settings, shown } = setup(DEFAULT_SETTINGS);
    await settings.load();
    expect(shown).toEqual([false]);
    expect(await settings.save({ ...DEFAULT_SETTINGS, filesInFlight: 8 })).toBe(true);
    expect(shown).toEqual([false]);
    await settings.save({ ...DEFAULT_SETTINGS, showHidden: true });
    expect(shown).toEqual([false, true]);
    expect(settings.current.showHidden).toBe(true);
  });

  it('a refused save keeps what was there and says why', async () => {
    const { settings, reporter } = setup(DEFAULT_SETTINGS, true);
    expect(await settings.save({ ...DEFAULT_SETTINGS, theme: 'dark' })).toBe(false);
    expect(settings.current.theme).toBe('system');
    expect(reporter.showError).toHaveBeenCalledWith({ code: 'localIo', message: 'disk full' });
  });
});
