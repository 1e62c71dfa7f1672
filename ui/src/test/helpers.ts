// Rendering the whole window against the in-memory backend.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { expect } from 'vitest';
import App from '../App.svelte';
import { MockBackend, type MockOptions } from '../lib/backend/mock';
import type { HostProfile } from '../lib/backend';

export const demoHost: HostProfile = {
  id: 'h-demo',
  name: 'Demo server',
  host: 'demo.example.com',
  port: 22,
  user: 'demo',
  auth: 'auto',
  keyPath: null,
  localStart: null,
  remoteStart: null,
  hasSecret: false,
};

export async function renderApp(options: MockOptions = {}) {
  const mock = new MockBackend(options);
  const result = render(App, { props: { backend: mock } });
  await waitFor(() => expect(rowsOf('local').length).toBeGreaterThan(0));
  return { mock, ...result };
}

export function pane(side: 'local' | 'remote'): HTMLElement {
  return screen.getByTestId(`pane-${side}`);
}

export function rowsOf(side: 'local' | 'remote'): HTMLElement[] {
  const p = screen.queryByTestId(`pane-${side}`);
  return p ? within(p).queryAllByTestId('row') : [];
}

export function rowNames(side: 'local' | 'remote'): string[] {
  return rowsOf(side).map((r) => r.dataset.name ?? '');
}

export function row(side: 'local' | 'remote', name: string): HTMLElement {
  const r = rowsOf(side).find((x) => x.dataset.name === name);
  if (!r) throw new Error(`no row ${name} in ${side}: ${rowNames(side).join(', ')}`);
  return r;
}

export function list(side: 'local' | 'remote'): HTMLElement {
  return within(pane(side)).getByTestId('pane-list');
}

/** Connects to a saved host whose key is known (no dialog) and waits for the remote rows. */
export async function connectKnown() {
  await fireEvent.click(await screen.findByTestId('host-connect'));
  await waitFor(() => expect(rowsOf('remote').length).toBeGreaterThan(0));
}
