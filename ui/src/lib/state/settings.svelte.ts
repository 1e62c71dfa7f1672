// The settings as saved by the backend: loaded at start-up, saved from the settings dialog.
// Showing hidden files is also a per-pane toggle: the saved choice reaches the panes when the
// settings load and when a save changes it, not on every save.
import { toAppError, type Backend, type Settings } from '../backend';
import type { Reporter } from './ports';

export const DEFAULT_SETTINGS: Settings = { filesInFlight: 64, speedLimit: null, overwrite: 'ask', showHidden: false, theme: 'system' };

export type SettingsBackend = Pick<Backend, 'settingsGet' | 'settingsSave'>;

export class SettingsState {
  current = $state.raw<Settings>(DEFAULT_SETTINGS);
  private readonly backend: SettingsBackend;
  private readonly reporter: Pick<Reporter, 'showError'>;
  private readonly onShowHidden: (show: boolean) => void;

  /** `onShowHidden` gives the panes the saved "show hidden files" choice. */
  constructor(backend: SettingsBackend, reporter: Pick<Reporter, 'showError'>, onShowHidden: (show: boolean) => void) {
    this.backend = backend;
    this.reporter = reporter;
    this.onShowHidden = onShowHidden;
  }

  async load() {
    try {
      this.apply(await this.backend.settingsGet(), true);
    } catch (e) {
      this.reporter.showError(toAppError(e));
    }
  }

  /** Saves `s`; false (and the error shown) when the backend refused. */
  async save(s: Settings): Promise<boolean> {
    try {
      await this.backend.settingsSave(s);
      this.apply(s, false);
      return true;
    } catch (e) {
      this.reporter.showError(toAppError(e));
      return false;
    }
  }

  private apply(s: Settings, initial: boolean) {
    const hiddenChanged = s.showHidden !== this.current.showHidden;
    this.current = s;
    if (hiddenChanged || initial) this.onShowHidden(s.showHidden);
  }
}
