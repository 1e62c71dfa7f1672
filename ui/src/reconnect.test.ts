// A connection that drops: "Reconnecting…" in the top bar, then either connected again (the
// remote pane re-listed) or lost, with the error saying what to do and a Reconnect button.
import { fireEvent, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { connectKnown, demoHost, renderApp, rowNames, rowsOf } from './test/helpers';

const known = { hosts: [demoHost], knownHosts: ['demo.example.com:22'] };

function status() {
  return screen.getByTestId('connection-status');
}

describe('a dropped connection', () => {
  it('reconnected in the background: connected again and the remote pane re-listed', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    const id = [...mock.sessions.keys()][0];
    const lists = () => mock.calls.filter(([n, a]) => n === 'list_dir' && (a as { side: { side: string } }).side.side === 'remote').length;
    const before = lists();
    mock.simulateReconnect(id);
    await waitFor(() => expect(status().dataset.state).toBe('reconnecting'));
    expect(status().textContent).toContain('Reconnecting to');
    await waitFor(() => expect(status().dataset.state).toBe('connected'));
    await waitFor(() => expect(lists()).toBeGreaterThan(before));
    expect(screen.queryByTestId('reconnect')).toBeNull();
  });

  it('lost for good: the error names the host and what to do, and Reconnect connects again', async () => {
    const { mock } = await renderApp(known);
    await connectKnown();
    const id = [...mock.sessions.keys()][0];
    mock.simulateDrop(id);
    await waitFor(() => expect(status().dataset.state).toBe('disconnected'));
    expect(await screen.findByText(/press Reconnect/)).toBeTruthy();
    expect(screen.getByText(/Lost the connection to demo@demo\.example\.com:22/)).toBeTruthy();
    expect(rowsOf('remote')).toHaveLength(0);
    // The backend's session is let go.
    await waitFor(() => expect(mock.calls.some(([n, a]) => n === 'disconnect' && (a as { sessionId: string }).sessionId === id)).toBe(true));
    await waitFor(() => expect(mock.sessions.has(id)).toBe(false));

    await fireEvent.click(screen.getByTestId('reconnect'));
    await waitFor(() => expect(status().dataset.state).toBe('connected'));
    await waitFor(() => expect(rowNames('remote').length).toBeGreaterThan(0));
    expect(screen.queryByTestId('reconnect')).toBeNull();
    expect(screen.getByTestId('disconnect')).toBeTruthy();
  });

  it('no Reconnect button after the person disconnects', async () => {
    await renderApp(known);
    await connectKnown();
    await fireEvent.click(screen.getByTestId('disconnect'));
    await waitFor(() => expect(status().dataset.state).toBe('disconnected'));
    expect(screen.queryByTestId('reconnect')).toBeNull();
  });
});
