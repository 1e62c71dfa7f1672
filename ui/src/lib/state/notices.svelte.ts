// What the window tells the person unasked: the error banner (the last error, until
// dismissed), the changed-host-key warning (its own dialog, never a banner) and the toast
// (a short note that goes away by itself).
import type { AppError } from '../backend';
import type { Reporter } from './ports';

/** How long a toast stays. */
export const NOTICE_MS = 3500;

export class Notices implements Reporter {
  error = $state.raw<AppError | null>(null);
  hostKeyChanged = $state.raw<AppError | null>(null);
  notice = $state<string | null>(null);
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;

  showError(e: AppError) {
    if (e.code === 'hostKeyChanged') {
      this.hostKeyChanged = e;
      return;
    }
    this.error = e;
  }

  dismissError() {
    this.error = null;
  }

  dismissHostKeyChanged() {
    this.hostKeyChanged = null;
  }

  notify(text: string) {
    this.notice = text;
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => (this.notice = null), NOTICE_MS);
  }

  dispose() {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
  }
}
