// Transfers between the panes: what is queued, where, and which pane lists again after.
import { describe, expect, it, vi } from 'vitest';
import type { Entry, JobView, SessionInfo } from '../backend';
import type { PaneSide } from '../util/drop';
import type { TransferPane } from './ports';
import { TransfersState } from './transfers.svelte';

const file = (name: string): Entry => ({ name, kind: 'file', linkToDir: false, size: 1, mtime: null, mode: null });

function fakePane(path: string, picked: string[]): TransferPane & { refreshes: number } {
  return {
    path,
    refreshes: 0,
    targets: () => picked.map(file),
    fullPath: (n) => `${path}/${n}`,
    zone: null,
    showsWorkOf(dest) {
      return dest.startsWith(`${this.path}/`);
    },
    requestRefresh() {
      this.refreshes++;
    },
  };
}

function setup(info: SessionInfo | null) {
  const backend = { enqueue: vi.fn(async () => [7]) };
  const reporter = { showError: vi.fn(), dismissError: vi.fn(), notify: vi.fn() };
  const panes = { local: fakePane('/home/me', ['a.txt', 'b.txt']), remote: fakePane('/srv', []) };
  const transfers = new TransfersState(backend, { info }, reporter, (side: PaneSide) => panes[side]);
  return { transfers, backend, reporter, panes };
}

const info: SessionInfo = { sessionId: 's1', label: 'me@box:22', profileId: null, startPath: '/srv' };

describe('TransfersState', () => {
  it('F5 queues the selection into the other pane’s folder and says so', async () => {
    const { transfers, backend, reporter } = setup(info);
    await transfers.transfer('local');
    expect(backend.enqueue).toHaveBeenCalledWith({ sessionId: 's1', direction: 'upload', sources: ['/home/me/a.txt', '/home/me/b.txt'], destDir: '/srv' });
    expect(reporter.notify).toHaveBeenCalledWith('Uploading 2 items to /srv');
  });

  it('without a session nothing is queued and the person is told to connect', async () => {
    const { transfers, backend, reporter } = setup(null);
    await transfers.transfer('local', ['a.txt']);
    expect(backend.enqueue).not.toHaveBeenCalled();
    expect(reporter.showError.mock.calls[0][0]).toMatchObject({ code: 'config' });
  });

  it('a row dropped on its own pane does nothing', async () => {
    const { transfers, backend } = setup(info);
    await transfers.dropRows('local', ['a.txt'], { side: 'local', dir: '/home/me', row: null });
    expect(backend.enqueue).not.toHaveBeenCalled();
  });

  it('a finished job refreshes the pane it wrote into, and only that one', () => {
    const { transfers, panes } = setup(info);
    transfers.jobFinished({ direction: 'download', localPath: '/home/me/x', remotePath: '/srv/x' } as JobView);
    expect([panes.local.refreshes, panes.remote.refreshes]).toEqual([1, 0]);
    transfers.jobFinished({ direction: 'upload', localPath: '/home/me/x', remotePath: '/elsewhere/x' } as JobView);
    expect(panes.remote.refreshes).toBe(0);
  });
});
