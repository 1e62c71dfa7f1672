import { fireEvent, screen, waitFor, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { demoHost, list, pane, renderApp, row, rowNames, rowsOf } from './test/helpers';

describe('first run', () => {
  it('shows the welcome view with no saved host and no session', async () => {
    await renderApp();
    const welcome = await screen.findByTestId('welcome');
    expect(within(welcome).getByTestId('welcome-add-host')).toBeTruthy();
    expect(within(welcome).getByTestId('welcome-import')).toBeTruthy();
    expect(within(welcome).getByTestId('welcome-sandbox')).toBeTruthy();
    expect(screen.getByTestId('connection-status').textContent).toContain('Not connected');
    expect(screen.queryByTestId('pane-remote')).toBeNull();
  });

  it('imports hosts from ~/.ssh/config', async () => {
    await renderApp();
    await fireEvent.click(await screen.findByTestId('welcome-import'));
    const items = await screen.findAllByTestId('host-item');
    expect(items.map((i) => i.querySelector('.name')?.textContent)).toEqual(['web', 'pi']);
  });

  it('the sandbox starts and connects', async () => {
    const { mock } = await renderApp();
    await fireEvent.click(await screen.findByTestId('welcome-sandbox'));
    await waitFor(() => expect(rowsOf('remote').length).toBeGreaterThan(0));
    expect(mock.calls.some(([n]) => n === 'sandbox_start')).toBe(true);
    expect(screen.getByTestId('connection-status').dataset.state).toBe('connected');
  });
});

describe('saved hosts', () => {
  it('the host editor saves a host and it shows in the list', async () => {
    const { mock } = await renderApp();
    await fireEvent.click(await screen.findByTestId('welcome-add-host'));
    const editor = await screen.findByTestId('host-editor');
    await fireEvent.input(within(editor).getByTestId('host-name'), { target: { value: 'Backup box' } });
    await fireEvent.input(within(editor).getByTestId('host-host'), { target: { value: 'backup.example.org' } });
    await fireEvent.input(within(editor).getByTestId('host-port'), { target: { value: '2222' } });
    await fireEvent.input(within(editor).getByTestId('host-user'), { target: { value: 'ops' } });
    await fireEvent.change(within(editor).getByTestId('host-auth'), { target: { value: 'password' } });
    await fireEvent.input(within(editor).getByTestId('host-secret'), { target: { value: 's3cret' } });
    await fireEvent.click(within(editor).getByTestId('host-save'));

    const item = await screen.findByTestId('host-item');
    expect(item.dataset.hostId).toBeTruthy();
    expect(item.textContent).toContain('Backup box');
    expect(item.textContent).toContain('ops@backup.example.org:2222');
    expect(screen.queryByTestId('host-editor')).toBeNull();
    expect(screen.queryByTestId('welcome')).toBeNull();
    const saved = mock.calls.find(([n]) => n === 'host_save')![1] as { req: { profile: { port: number; auth: string; id: string }; secret: string | null } };
    expect(saved.req.profile).toMatchObject({ id: '', port: 2222, auth: 'password' });
    expect(saved.req.secret).toBe('s3cret');
  });

  it('refuses a host without an address', async () => {
    const { mock } = await renderApp();
    await fireEvent.click(await screen.findByTestId('welcome-add-host'));
    await fireEvent.click(screen.getByTestId('host-save'));
    expect(await screen.findByText('The address is needed.')).toBeTruthy();
    expect(mock.calls.some(([n]) => n === 'host_save')).toBe(false);
  });

  it('duplicates and deletes with confirmation', async () => {
    await renderApp({ hosts: [demoHost] });
    await fireEvent.click(await screen.findByTestId('host-duplicate'));
    await waitFor(() => expect(screen.getAllByTestId('host-item')).toHaveLength(2));
    await fireEvent.click(screen.getAllByTestId('host-delete')[1]);
    const dialog = await screen.findByTestId('confirm-dialog');
    expect(dialog.textContent).toContain('Demo server (copy)');
    await fireEvent.click(within(dialog).getByTestId('confirm-ok'));
    await waitFor(() => expect(screen.getAllByTestId('host-item')).toHaveLength(1));
  });
});

describe('connecting', () => {
  it('asks about an unknown host key; "Trust and save" connects and opens the remote pane', async () => {
    const { mock } = await renderApp({ hosts: [demoHost] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    const dialog = await screen.findByTestId('hostkey-dialog');
    expect(within(dialog).getByTestId('hostkey-fingerprint').textContent).toMatch(/^SHA256:/);
    expect(dialog.textContent).toContain('ssh-ed25519');
    expect(screen.getByTestId('connection-status').dataset.state).toBe('connecting');
    await fireEvent.click(within(dialog).getByTestId('hostkey-trust-save'));
    await waitFor(() => expect(rowsOf('remote').length).toBeGreaterThan(0));
    expect(screen.queryByTestId('hostkey-dialog')).toBeNull();
    expect(screen.getByTestId('connection-status').textContent).toContain('Connected to demo@demo.example.com:22');
    expect(within(pane('remote')).getByTestId('path-input')).toHaveProperty('value', '/home/demo');
    const answer = mock.calls.find(([n]) => n === 'answer_prompt')![1] as { answer: unknown };
    expect(answer.answer).toMatchObject({ kind: 'hostKey', decision: 'trustAndSave' });
    expect(mock.known.has('demo.example.com:22')).toBe(true);
  });

  it('"Cancel" on the host key does not connect', async () => {
    await renderApp({ hosts: [demoHost] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    await fireEvent.click(await screen.findByTestId('hostkey-cancel'));
    await waitFor(() => expect(screen.getByTestId('connection-status').dataset.state).toBe('disconnected'));
    expect(screen.queryByTestId('pane-remote')).toBeNull();
  });

  it('a changed host key shows the blocking warning with only Close', async () => {
    await renderApp({ hosts: [{ ...demoHost, host: 'changed.example.com' }] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    const dialog = await screen.findByTestId('hostkey-changed-dialog');
    expect(dialog.textContent).toContain('known_hosts line 7');
    expect(within(dialog).getAllByRole('button')).toHaveLength(1);
    await fireEvent.click(within(dialog).getByTestId('hostkey-changed-close'));
    expect(screen.queryByTestId('hostkey-changed-dialog')).toBeNull();
    expect(screen.queryByTestId('pane-remote')).toBeNull();
  });

  it('asks for a password, with "remember in keyring"', async () => {
    const { mock } = await renderApp({ hosts: [{ ...demoHost, auth: 'password' }], knownHosts: ['demo.example.com:22'] });
    await fireEvent.click(await screen.findByTestId('host-connect'));
    const dialog = await screen.findByTestId('prompt-dialog');
    await fireEvent.input(within(dialog).getByTestId('prompt-input'), { target: { value: 'pw' } });
    await fireEvent.click(within(dialog).getByTestId('prompt-remember'));
    await fireEvent.click(within(dialog).getByTestId('prompt-ok'));
    await waitFor(() => expect(rowsOf('remote').length).toBeGreaterThan(0));
    const answer = mock.calls.find(([n]) => n === 'answer_prompt')![1] as { answer: unknown };
    expect(answer.answer).toMatchObject({ kind: 'secret', value: 'pw', remember: true });
  });

  it('shows connection errors in the banner', async () => {
    await renderApp();
    await fireEvent.input(screen.getByTestId('quick-connect-input'), { target: { value: 'me@offline.example.net' } });
    await fireEvent.click(screen.getByTestId('quick-connect-go'));
    const banner = await screen.findByTestId('error-banner');
    expect(banner.textContent).toContain('no route to host');
  });
});

describe('panes', () => {
  it('sorting keeps folders first', async () => {
    await renderApp();
    const names = rowNames('local');
    expect(names.slice(0, 5)).toEqual(['big', 'docs-link', 'Documents', 'Downloads', 'Pictures']);
    // By size, largest first: folders still lead.
    await fireEvent.click(within(pane('local')).getByTestId('sort-size'));
    await fireEvent.click(within(pane('local')).getByTestId('sort-size'));
    const bySize = rowNames('local');
    expect(bySize.indexOf('projects')).toBeLessThan(bySize.indexOf('report.pdf'));
    const files = rowsOf('local').filter((r) => r.dataset.kind === 'file').map((r) => r.dataset.name);
    expect(files[0]).toBe('report.pdf');
    expect(within(pane('local')).getByTestId('pane-status').textContent).toMatch(/^\d+ items/);
  });

  it('hidden files toggle and quick filter', async () => {
    await renderApp();
    expect(rowNames('local')).not.toContain('.bashrc');
    await fireEvent.click(within(pane('local')).getByTestId('hidden-toggle'));
    expect(rowNames('local')).toContain('.bashrc');
    await fireEvent.input(within(pane('local')).getByTestId('filter-input'), { target: { value: 'NOTE' } });
    expect(rowNames('local')).toEqual(['notes.txt']);
    expect(within(pane('local')).getByTestId('pane-status').textContent).toContain('1 item');
  });

  it('selects with click, Ctrl+click and Shift+click', async () => {
    await renderApp();
    const names = rowNames('local');
    await fireEvent.click(row('local', names[1]));
    await fireEvent.click(row('local', names[4]), { shiftKey: true });
    const selected = () => rowsOf('local').filter((r) => r.getAttribute('aria-selected') === 'true').map((r) => r.dataset.name);
    expect(selected()).toEqual(names.slice(1, 5));
    await fireEvent.click(row('local', names[2]), { ctrlKey: true });
    expect(selected()).toEqual([names[1], names[3], names[4]]);
    await fireEvent.click(row('local', names[7]), { ctrlKey: true });
    expect(selected()).toEqual([names[1], names[3], names[4], names[7]]);
    await fireEvent.click(row('local', names[0]));
    expect(selected()).toEqual([names[0]]);
    expect(within(pane('local')).getByTestId('pane-status').textContent).toContain('1 selected');
  });

  it('navigates with the path field, Enter and Backspace', async () => {
    await renderApp();
    const input = within(pane('local')).getByTestId('path-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: '/home/you/projects' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(rowNames('local')).toEqual(['website', 'README.md']));
    await fireEvent.click(row('local', 'website'));
    await fireEvent.keyDown(list('local'), { key: 'Enter' });
    await waitFor(() => expect(rowNames('local')).toContain('index.html'));
    expect(input.value).toBe('/home/you/projects/website');
    await fireEvent.keyDown(list('local'), { key: 'Backspace' });
    await waitFor(() => expect(input.value).toBe('/home/you/projects'));
    // The folder we came from has the cursor.
    await waitFor(() => expect(row('local', 'website').getAttribute('aria-selected')).toBe('true'));
  });

  it('a path that does not exist reports an error and stays put', async () => {
    await renderApp();
    const input = within(pane('local')).getByTestId('path-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: '/nope' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect((await screen.findByTestId('error-banner')).textContent).toContain('/nope does not exist');
    expect(input.value).toBe('/home/you');
  });

  it('F7 makes a folder, F2 renames, Delete deletes after confirming', async () => {
    await renderApp();
    await fireEvent.keyDown(list('local'), { key: 'F7' });
    const nameDialog = await screen.findByTestId('name-dialog');
    await fireEvent.input(within(nameDialog).getByTestId('name-input'), { target: { value: 'fresh' } });
    await fireEvent.click(within(nameDialog).getByTestId('name-ok'));
    await waitFor(() => expect(rowNames('local')).toContain('fresh'));
    expect(row('local', 'fresh').getAttribute('aria-selected')).toBe('true');

    await fireEvent.keyDown(list('local'), { key: 'F2' });
    const rename = await screen.findByTestId('name-dialog');
    await fireEvent.input(within(rename).getByTestId('name-input'), { target: { value: 'renamed' } });
    await fireEvent.click(within(rename).getByTestId('name-ok'));
    await waitFor(() => expect(rowNames('local')).toContain('renamed'));
    expect(rowNames('local')).not.toContain('fresh');

    await fireEvent.keyDown(list('local'), { key: 'Delete' });
    const confirm = await screen.findByTestId('confirm-dialog');
    expect(confirm.textContent).toContain('renamed');
    await fireEvent.click(within(confirm).getByTestId('confirm-ok'));
    await waitFor(() => expect(rowNames('local')).not.toContain('renamed'));
  });

  it('right click opens the context menu; chmod applies the mode', async () => {
    const { mock } = await renderApp();
    await fireEvent.contextMenu(row('local', 'notes.txt'));
    const menu = await screen.findByTestId('context-menu');
    expect(within(menu).getByText('Copy path')).toBeTruthy();
    await fireEvent.click(within(menu).getByTestId('menu-chmod'));
    const dialog = await screen.findByTestId('chmod-dialog');
    expect((within(dialog).getByTestId('chmod-octal') as HTMLInputElement).value).toBe('644');
    await fireEvent.click(within(dialog).getByTestId('chmod-owner-execute'));
    expect((within(dialog).getByTestId('chmod-octal') as HTMLInputElement).value).toBe('744');
    await fireEvent.click(within(dialog).getByTestId('chmod-ok'));
    await waitFor(() => expect(mock.calls.some(([n, a]) => n === 'change_mode' && (a as { mode: number }).mode === 0o744)).toBe(true));
    await waitFor(() => expect(row('local', 'notes.txt').textContent).toContain('-rwxr--r--'));
  });
});
