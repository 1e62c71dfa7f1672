// The queue database did not open: the window says so, names the file and the error, and
// offers to move it aside or quit, blocking everything else until answered.
import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { renderApp } from './test/helpers';

const corrupt = {
  path: '/home/you/.local/share/skiff/queue.sqlite3',
  message:
    'the queue database at /home/you/.local/share/skiff/queue.sqlite3 is corrupt (file is not a database) (while trying to set the busy timeout); move it away and skiff will start a new, empty queue',
  canMoveAside: true,
};

describe('a queue database that cannot be opened', () => {
  it('is named in a dialog with the error, and moving it aside starts a new queue', async () => {
    const { mock } = await renderApp({ queueTrouble: corrupt });
    const dialog = await screen.findByTestId('queue-trouble-dialog');
    expect(within(dialog).getByTestId('queue-trouble-path').textContent).toBe(corrupt.path);
    expect(within(dialog).getByTestId('queue-trouble-message').textContent).toBe(corrupt.message);
    expect(within(dialog).queryByTestId('queue-trouble-retry')).toBeNull();
    // Must be answered: Escape does not close it.
    await fireEvent.keyDown(dialog, { key: 'Escape' });
    expect(screen.getByTestId('queue-trouble-dialog')).toBeTruthy();

    await fireEvent.click(within(dialog).getByTestId('queue-trouble-move-aside'));
    await waitFor(() => expect(screen.queryByTestId('queue-trouble-dialog')).toBeNull());
    expect(mock.calls.filter(([n]) => n === 'queue_trouble_answer').map(([, a]) => a)).toEqual([{ choice: 'moveAside' }]);
  });

  it('quits when asked, leaving the file alone', async () => {
    const { mock } = await renderApp({ queueTrouble: corrupt });
    await fireEvent.click(await screen.findByTestId('queue-trouble-quit'));
    await waitFor(() => expect(mock.calls.some(([n]) => n === 'queue_trouble_answer')).toBe(true));
    expect(mock.calls.find(([n]) => n === 'queue_trouble_answer')![1]).toEqual({ choice: 'quit' });
  });

  it('offers to try again, not to move aside, when the file is only locked', async () => {
    const locked = {
      path: '/q.sqlite3',
      message: 'the queue database at /q.sqlite3 is locked by another skiff (while trying to open the database); wait for it to finish or quit it, then try again',
      canMoveAside: false,
    };
    await renderApp({ queueTrouble: locked });
    const dialog = await screen.findByTestId('queue-trouble-dialog');
    expect(within(dialog).queryByTestId('queue-trouble-move-aside')).toBeNull();
    expect(within(dialog).getByTestId('queue-trouble-retry')).toBeTruthy();
  });

  it('shows markup in a file name as text, never as HTML', async () => {
    const path = '/tmp/<img src=x onerror=alert(1)>.sqlite3';
    await renderApp({ queueTrouble: { ...corrupt, path, message: `the queue database at ${path} is corrupt` } });
    const dialog = await screen.findByTestId('queue-trouble-dialog');
    expect(within(dialog).getByTestId('queue-trouble-path').textContent).toBe(path);
    expect(dialog.querySelector('img')).toBeNull();
  });

  it('does not appear when the queue opened', async () => {
    await renderApp();
    expect(screen.queryByTestId('queue-trouble-dialog')).toBeNull();
  });
});
