import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { list, pane, renderApp, rowNames, rowsOf } from './test/helpers';

async function open(path: string) {
  const input = within(pane('local')).getByTestId('path-input');
  await fireEvent.input(input, { target: { value: path } });
  await fireEvent.keyDown(input, { key: 'Enter' });
}

describe('the virtual list', () => {
  it('renders only the rows in view of a 100,000-entry folder, and scrolling changes them', async () => {
    await renderApp();
    await open('/home/you/big');
    const status = within(pane('local')).getByTestId('pane-status');
    await waitFor(() => expect(status.textContent).toMatch(/^100000 items/), { timeout: 10_000 });
    expect(status.textContent).not.toContain('listing');
    expect(rowsOf('local').length).toBeGreaterThan(10);
    expect(rowsOf('local').length).toBeLessThanOrEqual(60);
    expect(rowNames('local')[0]).toBe('file-000001.dat');

    const viewport = list('local');
    viewport.scrollTop = 26 * 50_000;
    await fireEvent.scroll(viewport);
    await waitFor(() => expect(rowNames('local')).toContain('file-050001.dat'));
    expect(rowNames('local')).not.toContain('file-000001.dat');
    expect(rowsOf('local').length).toBeLessThanOrEqual(60);
    const spacer = viewport.firstElementChild as HTMLElement;
    expect(spacer.style.height).toBe(`${100_000 * 26}px`);
  }, 30_000);

  it('shows the first rows before the listing ends', async () => {
    await renderApp({ chunkDelayMs: 25 });
    await open('/home/you/big');
    const status = within(pane('local')).getByTestId('pane-status');
    await waitFor(() => expect(rowNames('local')[0]).toBe('file-000001.dat'));
    expect(status.textContent).toContain('listing…');
    const partial = Number(status.textContent!.split(' ')[0]);
    expect(partial).toBeLessThan(100_000);
  });

  it('End and Home move through all rows, keeping the cursor in view', async () => {
    await renderApp();
    await open('/home/you/big');
    await waitFor(() => expect(within(pane('local')).getByTestId('pane-status').textContent).toMatch(/^100000 items/), { timeout: 10_000 });
    await fireEvent.keyDown(list('local'), { key: 'End' });
    await waitFor(() => expect(rowNames('local')).toContain('file-100000.dat'));
    expect(screen.getAllByText('file-100000.dat')[0].closest('[data-testid=row]')?.getAttribute('aria-selected')).toBe('true');
    await fireEvent.keyDown(list('local'), { key: 'Home' });
    await waitFor(() => expect(rowNames('local')).toContain('file-000001.dat'));
  }, 30_000);
});
