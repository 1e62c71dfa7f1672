// The panes follow the queue: jobs finishing into the folder a pane shows make it list again,
// once per burst, with every row (also when a listing's answer overtakes its chunks, as over
// Tauri's channel); and a finished job keeps its full byte count whatever progress arrives
// late.
import { screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { listingUntilDone, type JobView, type ListingChunk } from './lib/backend';
import type { MockBackend } from './lib/backend/mock';
import { humanSize } from './lib/util/format';
import { connectKnown, demoHost, pane, renderApp, row, rowNames } from './test/helpers';

const known = { hosts: [demoHost], knownHosts: ['demo.example.com:22'] };

function remoteLists(mock: MockBackend, path: string): number {
  return mock.calls.filter(([n, a]) => {
    const args = a as { side: { side: string }; path: string | null };
    return n === 'list_dir' && args.side.side === 'remote' && args.path === path;
  }).length;
}

function job(id: number, over: Partial<JobView>): JobView {
  return {
    id,
    direction: 'upload',
    name: `up-${id}.dat`,
    host: 'demo@demo.example.com:22',
    localPath: `/home/you/up-${id}.dat`,
    remotePath: `/home/demo/up-${id}.dat`,
    state: 'done',
    error: null,
    retries: 0,
    priority: 0,
    bytesDone: 12,
    bytesTotal: 12,
    filesDone: 1,
    filesTotal: 1,
    filesFailed: 0,
    ...over,
  };
}

function itemCount(): number {
  const text = within(pane('remote')).getByTestId('pane-status').textContent ?? '';
  return Number(/([\d,]+) items?/.exec(text)?.[1].replace(/,/g, '') ?? -1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('listings whose answer overtakes their chunks', () => {
  it('resolve only after the last chunk', async () => {
    const got: string[] = [];
    let resolved = false;
    const p = listingUntilDone(async (deliver) => {
      // The reply first, the chunks later (Tauri fetches a big channel message afterwards).
      setTimeout(() => deliver({ path: '/d', entries: [], done: false }), 5);
      setTimeout(() => deliver({ path: '/d', entries: [], done: true }), 10);
      return '/d';
    }, (c: ListingChunk) => got.push(String(c.done)));
    void p.then(() => (resolved = true));
    await sleep(2);
    expect(resolved).toBe(false);
    expect(await p).toBe('/d');
    expect(got).toEqual(['false', 'true']);
  });

  it('reject at once when the call fails', async () => {
    await expect(listingUntilDone(async () => Promise.reject({ code: 'notFound', message: 'gone' }), () => {})).rejects.toMatchObject({ code: 'notFound' });
  });
});

describe('jobs finishing into the folder a pane shows', () => {
  it('1,000 uploads finishing in a burst: one re-list, every row, selection kept', async () => {
    const { mock } = await renderApp({ ...known, lateChunks: true, chunkSize: 50 });
    await connectKnown();
    await waitFor(() => expect(itemCount()).toBeGreaterThan(0));
    const before = itemCount();
    row('remote', 'readme.md').click();
    await waitFor(() => expect(row('remote', 'readme.md').getAttribute('aria-selected')).toBe('true'));
    const lists = remoteLists(mock, '/home/demo');
    // The files land, and their `done` rows come in batches as the backend flushes them.
    const ids = Array.from({ length: 1000 }, (_, i) => 10_000 + i);
    for (const id of ids) mock.remote.add(`/home/demo/up-${id}.dat`, { name: `up-${id}.dat`, kind: 'file', size: 12, mtime: 1, mode: 0o644 });
    for (let b = 0; b < 10; b++) {
      mock.emit({ type: 'jobs', jobs: ids.slice(b * 100, b * 100 + 100).map((id) => job(id, {})) });
      await sleep(10);
    }
    await waitFor(() => expect(itemCount()).toBe(before + 1000));
    await sleep(1500);
    expect(remoteLists(mock, '/home/demo') - lists).toBe(1);
    expect(row('remote', 'readme.md').getAttribute('aria-selected')).toBe('true');
  });

  it('a folder tree (destination: the folder it copies into), a failed and a cancelled job', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    mock.remote.add('/home/demo/photos', { name: 'photos', kind: 'dir', size: 4096, mtime: 1, mode: 0o755, children: new Map() });
    mock.emit({ type: 'jobs', jobs: [job(1, { name: 'photos', localPath: '/home/you/photos', remotePath: '/home/demo', filesTotal: 3, filesDone: 3 })] });
    await waitFor(() => expect(rowNames('remote')).toContain('photos'));

    await sleep(1100);
    mock.remote.add('/home/demo/partial.bin', { name: 'partial.bin', kind: 'file', size: 3, mtime: 1, mode: 0o644 });
    mock.emit({ type: 'jobs', jobs: [job(2, { state: 'failed', error: 'Writing /home/demo/partial.bin: disk full.', remotePath: '/home/demo/partial.bin' })] });
    await waitFor(() => expect(rowNames('remote')).toContain('partial.bin'));

    // Somewhere else: nothing to list.
    await sleep(1100);
    const lists = remoteLists(mock, '/home/demo');
    mock.emit({ type: 'jobs', jobs: [job(3, { state: 'cancelled', remotePath: '/srv/elsewhere/x.bin' })] });
    await sleep(1300);
    expect(remoteLists(mock, '/home/demo')).toBe(lists);
  });
});

describe('a finished job', () => {
  it('shows its full size when a stale progress snapshot arrives with or after its done row', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    const stale = { id: 77, bytesDone: 0, bytesTotal: 12, filesDone: 0, filesTotal: 1, speed: 0, etaSecs: null };
    mock.emit({ type: 'jobs', jobs: [job(77, { state: 'running', bytesDone: 0 })] });
    mock.emit({ type: 'progress', jobs: [stale], bytesDone: 0, bytesTotal: 12, speed: 0 });
    mock.emit({ type: 'jobs', jobs: [job(77, {})] });
    mock.emit({ type: 'progress', jobs: [stale], bytesDone: 0, bytesTotal: 12, speed: 0 });
    const r = await screen.findByTestId('job-row');
    await waitFor(() => expect(r.dataset.state).toBe('done'));
    expect(r.textContent).toContain(`${humanSize(12)} / ${humanSize(12)}`);
    expect(r.textContent).not.toContain(`${humanSize(0)} / ${humanSize(12)}`);
    expect(within(r).getByTestId('job-progress').textContent).toBe('100%');
  });
});
