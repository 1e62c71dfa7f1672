import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { JobView } from './lib/backend';
import { connectKnown, demoHost, list, pane, renderApp, row, rowNames, rowsOf } from './test/helpers';

const known = { hosts: [demoHost], knownHosts: ['demo.example.com:22'] };

type EnqueueCall = { req: { sessionId: string; direction: string; sources: string[]; destDir: string } };
function enqueued(mock: { calls: [string, unknown][] }): EnqueueCall['req'][] {
  return mock.calls.filter(([n]) => n === 'enqueue').map(([, a]) => (a as EnqueueCall).req);
}

function rect(left: number, top: number, width: number, height: number): DOMRect {
  return { left, top, width, height, right: left + width, bottom: top + height, x: left, y: top, toJSON: () => ({}) } as DOMRect;
}

/** Lays the panes out as in a 1280 x 800 window (jsdom has no layout). */
function layOut() {
  vi.spyOn(pane('local'), 'getBoundingClientRect').mockReturnValue(rect(10, 60, 620, 500));
  vi.spyOn(list('local'), 'getBoundingClientRect').mockReturnValue(rect(10, 150, 620, 380));
  vi.spyOn(pane('remote'), 'getBoundingClientRect').mockReturnValue(rect(650, 60, 620, 500));
  vi.spyOn(list('remote'), 'getBoundingClientRect').mockReturnValue(rect(650, 150, 620, 380));
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('F5 copies the selection into the other pane', () => {
  it('uploads from the local pane and downloads from the remote pane', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    await fireEvent.click(row('local', 'report.pdf'));
    await fireEvent.click(row('local', 'Pictures'), { ctrlKey: true });
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    await waitFor(() => expect(enqueued(mock)).toHaveLength(1));
    expect(enqueued(mock)[0]).toMatchObject({ direction: 'upload', destDir: '/home/demo' });
    expect(enqueued(mock)[0].sources.sort()).toEqual(['/home/you/Pictures', '/home/you/report.pdf']);

    await fireEvent.click(row('remote', 'readme.md'));
    await fireEvent.keyDown(list('remote'), { key: 'F5' });
    await waitFor(() => expect(enqueued(mock)).toHaveLength(2));
    expect(enqueued(mock)[1]).toMatchObject({ direction: 'download', sources: ['/home/demo/readme.md'], destDir: '/home/you' });
  });

  it('into the folder the other pane shows', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    await fireEvent.dblClick(row('remote', 'public_html'));
    await waitFor(() => expect(rowNames('remote')).toContain('app.js'));
    await fireEvent.click(row('local', 'notes.txt'));
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    await waitFor(() => expect(enqueued(mock)[0]).toMatchObject({ direction: 'upload', sources: ['/home/you/notes.txt'], destDir: '/home/demo/public_html' }));
  });

  it('needs a connection', async () => {
    const { mock } = await renderApp();
    await fireEvent.click(row('local', 'notes.txt'));
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    expect((await screen.findByTestId('error-banner')).textContent).toContain('Connect to a server first');
    expect(enqueued(mock)).toHaveLength(0);
  });
});

describe('the queue', () => {
  it('a job that finishes shows 100% and the remote pane lists the new file', async () => {
    await renderApp(known);
    await connectKnown();
    expect(rowNames('remote')).not.toContain('report.pdf');
    await fireEvent.click(row('local', 'report.pdf'));
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    const job = await screen.findByTestId('job-row');
    await waitFor(() => expect(job.dataset.state).toBe('done'));
    expect(within(job).getByTestId('job-progress').textContent).toBe('100%');
    expect(job.textContent).toContain('report.pdf');
    await waitFor(() => expect(rowNames('remote')).toContain('report.pdf'));
  });

  it('the overwrite question, answered for all files of the job', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    await fireEvent.dblClick(row('local', 'projects'));
    await waitFor(() => expect(rowNames('local')).toContain('website'));
    await fireEvent.click(row('local', 'website'));
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    await waitFor(() => expect(screen.getAllByTestId('job-row')[0].dataset.state).toBe('done'));
    // The same folder again: all three files exist now.
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    const dialog = await screen.findByTestId('overwrite-dialog');
    expect(dialog.textContent).toContain('/home/demo/website/');
    await fireEvent.click(within(dialog).getByTestId('overwrite-apply-all'));
    await fireEvent.click(within(dialog).getByTestId('overwrite-skip'));
    await waitFor(() => expect(screen.getAllByTestId('job-row')[1].dataset.state).toBe('done'));
    expect(screen.queryByTestId('overwrite-dialog')).toBeNull();
    const replies = mock.calls.filter(([n]) => n === 'answer_overwrite').map(([, a]) => (a as { reply: unknown }).reply);
    expect(replies).toEqual([{ question: expect.any(Number), choice: 'skip', applyToAll: true }]);
  });

  it('pause, resume, cancel and retry go to the backend', async () => {
    const { mock } = await renderApp({ ...known, bytesPerSecond: 1024 });
    await connectKnown();
    await fireEvent.click(row('local', 'report.pdf'));
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    const job = await screen.findByTestId('job-row');
    await fireEvent.click(within(job).getByTestId('job-pause'));
    await waitFor(() => expect(screen.getByTestId('job-row').dataset.state).toBe('paused'));
    await fireEvent.click(within(screen.getByTestId('job-row')).getByTestId('job-resume'));
    await waitFor(() => expect(['queued', 'running']).toContain(screen.getByTestId('job-row').dataset.state));
    await fireEvent.click(within(screen.getByTestId('job-row')).getByTestId('job-cancel'));
    await waitFor(() => expect(screen.getByTestId('job-row').dataset.state).toBe('cancelled'));
    await fireEvent.click(within(screen.getByTestId('job-row')).getByTestId('job-retry'));
    await waitFor(() => expect(screen.getByTestId('job-row').dataset.state).not.toBe('cancelled'));
    const actions = mock.calls.filter(([n]) => n === 'job_action').map(([, a]) => (a as { action: string }).action);
    expect(actions).toEqual(['pause', 'resume', 'cancel', 'retry']);
    mock.stop();
  });

  it('a failed job shows its error under "Failed"; "Clear finished" keeps it', async () => {
    await renderApp(known);
    await connectKnown();
    await fireEvent.click(row('local', 'unreadable-fail.bin'));
    await fireEvent.click(row('local', 'notes.txt'), { ctrlKey: true });
    await fireEvent.click(row('local', 'report.pdf'), { ctrlKey: true });
    await fireEvent.keyDown(list('local'), { key: 'F5' });
    // notes.txt exists remotely: skip it.
    await fireEvent.click(await screen.findByTestId('overwrite-skip'));
    await waitFor(() => {
      const states = screen.getAllByTestId('job-row').map((j) => j.dataset.state);
      expect(states.sort()).toEqual(['done', 'done', 'failed']);
    });
    await fireEvent.click(screen.getByTestId('queue-filter-failed'));
    const failed = screen.getAllByTestId('job-row');
    expect(failed).toHaveLength(1);
    expect(failed[0].textContent).toContain('permission denied');
    await fireEvent.click(screen.getByTestId('queue-filter-all'));
    await fireEvent.click(screen.getByTestId('queue-clear'));
    await waitFor(() => expect(screen.getAllByTestId('job-row')).toHaveLength(1));
    expect(screen.getByTestId('job-row').dataset.state).toBe('failed');
  });

  it('stays small in the DOM with 1,500 jobs', async () => {
    const { mock } = await renderApp(known);
    const jobs: JobView[] = Array.from({ length: 1500 }, (_, i) => ({
      id: i + 1,
      direction: i % 2 ? 'upload' : 'download',
      name: `file-${i}.bin`,
      host: 'demo@demo.example.com:22',
      localPath: `/home/you/file-${i}.bin`,
      remotePath: `/home/demo/file-${i}.bin`,
      state: 'queued',
      error: null,
      retries: 0,
      priority: 0,
      bytesDone: 0,
      bytesTotal: 1000,
      filesDone: 0,
      filesTotal: 1,
      filesFailed: 0,
    }));
    mock.emit({ type: 'jobs', jobs });
    await waitFor(() => expect(screen.getAllByTestId('job-row').length).toBeGreaterThan(0));
    expect(screen.getAllByTestId('job-row').length).toBeLessThan(60);
    expect(screen.getByTestId('queue-filter-all').textContent).toContain('1500');
    mock.emit({ type: 'progress', jobs: [{ id: 1, bytesDone: 420, bytesTotal: 1000, filesDone: 0, filesTotal: 1, speed: 2048, etaSecs: 1 }], bytesDone: 420, bytesTotal: 1_500_000, speed: 2048 });
    await waitFor(() => expect(within(screen.getAllByTestId('job-row')[0]).getByTestId('job-progress').textContent).toBe('42%'));
    expect(screen.getByTestId('throughput-graph').querySelector('polyline')).not.toBeNull();
  });
});

describe('drag and drop', () => {
  it("an OS drop (Tauri's payload, physical pixels) uploads into the folder under the pointer", async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    layOut();
    Object.defineProperty(window, 'devicePixelRatio', { value: 2, configurable: true });
    const index = rowNames('remote').indexOf('public_html');
    expect(index).toBeGreaterThanOrEqual(0);
    const y = 150 + index * 26 + 13; // the middle of that row, in CSS pixels
    mock.simulateOsDragDrop({ type: 'over', position: { x: 900 * 2, y: y * 2 } });
    await waitFor(() => expect(row('remote', 'public_html').classList.contains('dropping')).toBe(true));
    mock.simulateOsDragDrop({ type: 'drop', paths: ['/home/you/Pictures/holiday-001.jpg', '/home/you/notes.txt'], position: { x: 900 * 2, y: y * 2 } });
    await waitFor(() => expect(enqueued(mock)).toHaveLength(1));
    expect(enqueued(mock)[0]).toMatchObject({ direction: 'upload', sources: ['/home/you/Pictures/holiday-001.jpg', '/home/you/notes.txt'], destDir: '/home/demo/public_html' });

    // Below the last row: the pane's own folder.
    mock.simulateOsDragDrop({ type: 'drop', paths: ['/home/you/report.pdf'], position: { x: 900 * 2, y: 520 * 2 } });
    await waitFor(() => expect(enqueued(mock)).toHaveLength(2));
    expect(enqueued(mock)[1]).toMatchObject({ destDir: '/home/demo' });
    Object.defineProperty(window, 'devicePixelRatio', { value: 1, configurable: true });
  });

  it('dragging rows from the remote pane onto a local folder downloads them there', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    layOut();
    const target = rowNames('local').indexOf('Documents');
    await fireEvent.pointerDown(row('remote', 'readme.md'), { button: 0, clientX: 700, clientY: 400, pointerId: 1 });
    await fireEvent.pointerMove(window, { clientX: 500, clientY: 300, pointerId: 1, buttons: 1 });
    await fireEvent.pointerMove(window, { clientX: 300, clientY: 150 + target * 26 + 5, pointerId: 1, buttons: 1 });
    await waitFor(() => expect(row('local', 'Documents').classList.contains('dropping')).toBe(true));
    await fireEvent.pointerUp(window, { clientX: 300, clientY: 150 + target * 26 + 5, pointerId: 1 });
    await waitFor(() => expect(enqueued(mock)).toHaveLength(1));
    expect(enqueued(mock)[0]).toMatchObject({ direction: 'download', sources: ['/home/demo/readme.md'], destDir: '/home/you/Documents' });
  });

  it('a press whose release never arrived does not turn the next pointer move into a drag', async () => {
    // A double-click that opens a folder replaces the row under the pointer; WebKit may then
    // deliver the release nowhere. Moving with no button held must not show a drag ghost.
    const { mock } = await renderApp(known);
    await connectKnown();
    layOut();
    await fireEvent.pointerDown(row('remote', 'readme.md'), { button: 0, clientX: 700, clientY: 400, pointerId: 1 });
    await fireEvent.pointerMove(window, { clientX: 300, clientY: 200, pointerId: 1, buttons: 0 });
    expect(document.querySelector('div.ghost')).toBeNull();
    await fireEvent.pointerUp(window, { clientX: 300, clientY: 200, pointerId: 1 });
    expect(enqueued(mock)).toHaveLength(0);
  });

  it('a click without movement is not a drag', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    layOut();
    await fireEvent.pointerDown(row('remote', 'readme.md'), { button: 0, clientX: 700, clientY: 400 });
    await fireEvent.pointerUp(window, { clientX: 701, clientY: 401 });
    expect(enqueued(mock)).toHaveLength(0);
  });
});

describe('settings', () => {
  it('saves every field and applies theme and hidden files', async () => {
    const { mock } = await renderApp();
    await fireEvent.click(screen.getByTestId('settings-open'));
    const dialog = await screen.findByTestId('settings-dialog');
    await fireEvent.input(within(dialog).getByTestId('settings-files-in-flight'), { target: { value: '8' } });
    await fireEvent.input(within(dialog).getByTestId('settings-speed-limit'), { target: { value: '2' } });
    await fireEvent.change(within(dialog).getByTestId('settings-speed-unit'), { target: { value: 'MiB' } });
    await fireEvent.change(within(dialog).getByTestId('settings-overwrite'), { target: { value: 'overwriteIfNewer' } });
    await fireEvent.click(within(dialog).getByTestId('settings-show-hidden'));
    await fireEvent.click(within(dialog).getByTestId('settings-theme-dark'));
    await fireEvent.click(within(dialog).getByTestId('settings-save'));
    await waitFor(() => expect(screen.queryByTestId('settings-dialog')).toBeNull());
    const saved = mock.calls.find(([n]) => n === 'settings_save')![1] as { settings: unknown };
    expect(saved.settings).toEqual({ filesInFlight: 8, speedLimit: 2 * 1024 * 1024, overwrite: 'overwriteIfNewer', showHidden: true, theme: 'dark' });
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(rowNames('local')).toContain('.bashrc');
  });

  it('an empty speed limit is unlimited; KiB/s converts', async () => {
    const { mock } = await renderApp({ settings: { speedLimit: 512 * 1024 } });
    await fireEvent.click(screen.getByTestId('settings-open'));
    const dialog = await screen.findByTestId('settings-dialog');
    const limit = within(dialog).getByTestId('settings-speed-limit') as HTMLInputElement;
    expect(limit.value).toBe('512');
    expect((within(dialog).getByTestId('settings-speed-unit') as HTMLSelectElement).value).toBe('KiB');
    await fireEvent.input(limit, { target: { value: '' } });
    await fireEvent.click(within(dialog).getByTestId('settings-save'));
    await waitFor(() => expect(mock.calls.some(([n]) => n === 'settings_save')).toBe(true));
    expect((mock.calls.find(([n]) => n === 'settings_save')![1] as { settings: { speedLimit: unknown } }).settings.speedLimit).toBeNull();
  });
});

describe('the remote pane', () => {
  it('shows the host list when disconnected and the pane when connected', async () => {
    await renderApp(known);
    expect(screen.getByTestId('host-list')).toBeTruthy();
    await connectKnown();
    expect(screen.queryByTestId('host-list')).toBeNull();
    expect(rowsOf('remote').length).toBeGreaterThan(0);
    await fireEvent.click(screen.getByTestId('disconnect'));
    await waitFor(() => expect(screen.queryByTestId('pane-remote')).toBeNull());
    expect(screen.getByTestId('host-list')).toBeTruthy();
  });
});

describe('keyboard and live updates', () => {
  it('Tab moves between the panes; Ctrl+R lists again', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    list('local').focus();
    await fireEvent.keyDown(list('local'), { key: 'Tab' });
    expect(document.activeElement).toBe(list('remote'));
    await fireEvent.keyDown(list('remote'), { key: 'Tab' });
    expect(document.activeElement).toBe(list('local'));
    const before = mock.calls.filter(([n]) => n === 'list_dir').length;
    await fireEvent.keyDown(list('local'), { key: 'r', ctrlKey: true });
    await waitFor(() => expect(mock.calls.filter(([n]) => n === 'list_dir').length).toBe(before + 1));
  });

  it('the local pane watches its folder and lists again on localChanged', async () => {
    const { mock } = await renderApp();
    await waitFor(() => expect(mock.calls.some(([n, a]) => n === 'watch_local' && (a as { path: string }).path === '/home/you')).toBe(true));
    mock.local.add('/home/you/arrived.txt', { name: 'arrived.txt', kind: 'file', size: 5, mtime: 1, mode: 0o644 });
    mock.emit({ type: 'localChanged', path: '/home/you' });
    await waitFor(() => expect(rowNames('local')).toContain('arrived.txt'));
    // Another folder's change does nothing.
    const lists = mock.calls.filter(([n]) => n === 'list_dir').length;
    mock.emit({ type: 'localChanged', path: '/tmp' });
    await new Promise((r) => setTimeout(r, 200));
    expect(mock.calls.filter(([n]) => n === 'list_dir').length).toBe(lists);
  });

  it('a dropped connection shows "reconnecting", then connected again', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    const id = [...mock.sessions.keys()][0];
    mock.simulateReconnect(id);
    await waitFor(() => expect(screen.getByTestId('connection-status').dataset.state).toBe('reconnecting'));
    await waitFor(() => expect(screen.getByTestId('connection-status').dataset.state).toBe('connected'));
  });
});
