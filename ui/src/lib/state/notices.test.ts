// The banner, the changed-host-key warning and the toast.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NOTICE_MS, Notices } from './notices.svelte';

describe('Notices', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a changed host key goes to its own warning, never to the banner', () => {
    const n = new Notices();
    n.showError({ code: 'network', message: 'connection reset' });
    n.showError({ code: 'hostKeyChanged', message: 'REMOTE HOST IDENTIFICATION HAS CHANGED' });
    expect(n.error?.code).toBe('network');
    expect(n.hostKeyChanged?.message).toContain('HAS CHANGED');
    n.dismissHostKeyChanged();
    n.dismissError();
    expect([n.error, n.hostKeyChanged]).toEqual([null, null]);
  });

  it('a toast goes after a while; a newer one restarts the clock', () => {
    vi.useFakeTimers();
    const n = new Notices();
    n.notify('first');
    vi.advanceTimersByTime(NOTICE_MS - 100);
    n.notify('second');
    vi.advanceTimersByTime(NOTICE_MS - 100);
    expect(n.notice).toBe('second');
    vi.advanceTimersByTime(200);
    expect(n.notice).toBeNull();
  });
});
